//! `pushbill node ...`: a thin HTTP client of a running pushbill's /v1/node
//! API. Prints the answer's JSON; an error answer becomes one line.

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

/// One `pushbill node` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeCommand {
    Info,
    Peers,
    /// `<node_id>@<host:port>`
    Connect(String),
    Disconnect(String),
    Channels,
    Open {
        node_id: String,
        amount_sat: u64,
        address: Option<String>,
        push_msat: Option<u64>,
    },
    Close {
        channel_id: String,
        force: bool,
    },
}

/// Where the API is and the key to use.
pub struct NodeClient {
    base_url: String,
    api_key: String,
    http: reqwest::Client,
}

impl NodeClient {
    pub fn new(base_url: &str, api_key: &str) -> anyhow::Result<Self> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        url::Url::parse(&base_url).with_context(|| format!("--url {base_url:?} is not a URL"))?;
        if api_key.trim().is_empty() {
            bail!("no API key: pass --api-key or set PUSHBILL_API_KEY (a node operator's key)");
        }
        Ok(Self {
            base_url,
            api_key: api_key.trim().to_owned(),
            http: reqwest::Client::new(),
        })
    }

    /// Runs the command and answers the API's JSON.
    pub async fn run(&self, command: &NodeCommand) -> anyhow::Result<Value> {
        use reqwest::Method;
        let (method, path, body) = match command {
            NodeCommand::Info => (Method::GET, "/v1/node".to_owned(), None),
            NodeCommand::Peers => (Method::GET, "/v1/node/peers".to_owned(), None),
            NodeCommand::Connect(target) => {
                let (node_id, address) = target.split_once('@').ok_or_else(|| {
                    anyhow!("the peer must look like <node_id>@<host:port>, got {target:?}")
                })?;
                let body = json!({"node_id": node_id, "address": address});
                (Method::POST, "/v1/node/peers".to_owned(), Some(body))
            }
            NodeCommand::Disconnect(node_id) => (
                Method::DELETE,
                format!("/v1/node/peers/{}", segment(node_id)),
                None,
            ),
            NodeCommand::Channels => (Method::GET, "/v1/node/channels".to_owned(), None),
            NodeCommand::Open {
                node_id,
                amount_sat,
                address,
                push_msat,
            } => {
                let mut body = json!({"node_id": node_id, "amount_sat": amount_sat});
                if let Some(address) = address {
                    body["address"] = json!(address);
                }
                if let Some(push) = push_msat {
                    body["push_msat"] = json!(push);
                }
                (Method::POST, "/v1/node/channels".to_owned(), Some(body))
            }
            NodeCommand::Close { channel_id, force } => (
                Method::POST,
                format!("/v1/node/channels/{}/close", segment(channel_id)),
                Some(json!({"force": force})),
            ),
        };
        self.send(method, &path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base_url);
        let mut req = self.http.request(method, &url).bearer_auth(&self.api_key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach pushbill at {}: {e}", self.base_url))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| anyhow!("reading the answer from {url}: {e}"))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| anyhow!("{url} answered {status} with a body that is not JSON"))?;
        if status.is_success() {
            return Ok(value);
        }
        let error = &value["error"];
        let field = error["param"]
            .as_str()
            .map(|p| format!(" (field `{p}`)"))
            .unwrap_or_default();
        Err(anyhow!(
            "{} {}: {}{field}",
            status.as_u16(),
            error["code"].as_str().unwrap_or("error"),
            error["message"]
                .as_str()
                .unwrap_or("no message")
                .replace('\n', " "),
        ))
    }
}

/// A path segment: only the characters node and channel ids use pass as they are.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The API's URL from the configured HTTP listener.
pub fn default_url(host: &str, port: u16) -> String {
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "[::1]",
        h => h,
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_url_reaches_a_wildcard_listener_on_loopback() {
        assert_eq!(default_url("127.0.0.1", 8080), "http://127.0.0.1:8080");
        assert_eq!(default_url("0.0.0.0", 80), "http://127.0.0.1:80");
        assert_eq!(default_url("::", 80), "http://[::1]:80");
        assert_eq!(default_url("::1", 80), "http://[::1]:80");
        assert_eq!(default_url("example.com", 1), "http://example.com:1");
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("02abCD"), "02abCD");
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn a_client_needs_a_url_and_a_key() {
        assert!(NodeClient::new("not a url", "k").is_err());
        let err = NodeClient::new("http://127.0.0.1:1", " ").err().unwrap();
        assert!(err.to_string().contains("PUSHBILL_API_KEY"), "{err}");
    }
}
