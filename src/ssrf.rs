//! The SSRF guard: an address pushbill connects to for someone else (a
//! merchant's webhook endpoint, a subscriber's wallet relay) must be public.
//! Checked when an endpoint is created or changed, and again at every
//! delivery, where the client connects only to addresses that passed (see
//! [`GuardedResolver`]), so a DNS answer that changes between the check and
//! the connection cannot smuggle in an internal address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// What the guard allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Loopback, private and other internal addresses are allowed (tests, local development).
    pub allow_private: bool,
    /// Plain `http://` is allowed (sandbox and regtest, or `allow_private`).
    pub allow_http: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("must be an absolute http:// or https:// URL")]
    NotAUrl,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("the host {0} does not resolve")]
    Unresolvable(String),
    #[error("{0} is not a public address")]
    Internal(IpAddr),
}

/// Checks the URL's form: scheme, host, no credentials. Returns it parsed.
pub fn check_form(url: &str, policy: Policy) -> Result<Url, Refused> {
    let parsed = Url::parse(url.trim()).map_err(|_| Refused::NotAUrl)?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(Refused::NotHttps),
        _ => return Err(Refused::NotAUrl),
    }
    if parsed.host().is_none() {
        return Err(Refused::NotAUrl);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::Credentials);
    }
    Ok(parsed)
}

/// Checks the URL's form, resolves its host and checks every address.
pub async fn check(url: &str, policy: Policy) -> Result<Url, Refused> {
    let parsed = check_form(url, policy)?;
    resolve(&parsed, policy).await?;
    Ok(parsed)
}

/// The addresses to connect to for `url`, every one of them allowed.
pub async fn resolve(url: &Url, policy: Policy) -> Result<Vec<SocketAddr>, Refused> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => lookup(name, port).await?,
        None => return Err(Refused::NotAUrl),
    };
    check_addrs(&addrs, policy)?;
    Ok(addrs)
}

async fn lookup(name: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|_| Refused::Unresolvable(name.to_owned()))?
        .collect();
    if addrs.is_empty() {
        return Err(Refused::Unresolvable(name.to_owned()));
    }
    Ok(addrs)
}

/// Every address must be allowed: one internal answer refuses the host.
pub fn check_addrs(addrs: &[SocketAddr], policy: Policy) -> Result<(), Refused> {
    if policy.allow_private {
        return Ok(());
    }
    match addrs.iter().find(|a| is_internal(a.ip())) {
        Some(a) => Err(Refused::Internal(a.ip())),
        None => Ok(()),
    }
}

/// Loopback, private, link-local, CGNAT, unspecified, multicast, broadcast,
/// documentation, benchmarking, reserved, and cloud metadata addresses.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the metadata service
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let seg = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (fd00:ec2::254, the AWS metadata service)
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64, may reach IPv4 internals
        || (seg[0] == 0x2002) // 6to4, may embed an internal IPv4 address
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// reqwest's resolver for deliveries: resolves and refuses the host if any
/// address is internal, so the connection goes only to checked addresses.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub policy: Policy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let addrs = lookup(name.as_str(), 0).await?;
            check_addrs(&addrs, policy)?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Policy = Policy {
        allow_private: false,
        allow_http: false,
    };

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_internal(ip), "{ip} should be internal");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_internal(ip), "{ip} should be public");
        }
    }

    #[tokio::test]
    async fn internal_urls_are_refused_unless_allowed() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00:ec2::254]/",
            "https://[::1]:8443/",
            "https://localhost/hook",
        ] {
            assert!(
                matches!(check(url, STRICT).await, Err(Refused::Internal(_))),
                "{url}"
            );
            let open = Policy {
                allow_private: true,
                allow_http: true,
            };
            assert!(check(url, open).await.is_ok(), "{url}");
        }
        assert!(check("https://1.1.1.1/hook", STRICT).await.is_ok());
    }

    #[test]
    fn the_form_is_checked() {
        assert_eq!(
            check_form("http://1.1.1.1/", STRICT),
            Err(Refused::NotHttps)
        );
        let http_ok = Policy {
            allow_private: false,
            allow_http: true,
        };
        assert!(check_form("http://1.1.1.1/", http_ok).is_ok());
        for bad in [
            "",
            "hook",
            "ftp://1.1.1.1/",
            "file:///etc/passwd",
            "https://",
        ] {
            assert_eq!(check_form(bad, http_ok), Err(Refused::NotAUrl), "{bad}");
        }
        assert_eq!(
            check_form("https://u:p@1.1.1.1/", STRICT),
            Err(Refused::Credentials)
        );
    }
}
