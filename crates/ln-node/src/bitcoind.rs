//! The node's only way to the chain: bitcoind's JSON-RPC (or the simnet, which
//! answers the same calls). Blocks through lightning-block-sync's `RpcClient`;
//! fee estimates (`estimatesmartfee`, floored), broadcasts
//! (`sendrawtransaction`) and channel funding through the bitcoind wallet
//! (`fundrawtransaction` + `signrawtransactionwithwallet`), as ldk-sample does.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use bitcoin::consensus::encode;
use bitcoin::{BlockHash, Transaction};
use lightning::chain::chaininterface::{BroadcasterInterface, ConfirmationTarget, FeeEstimator};
use lightning_block_sync::http::HttpEndpoint;
use lightning_block_sync::rpc::RpcClient;
use lightning_block_sync::{AsyncBlockSourceResult, BlockData, BlockHeaderData, BlockSource};
use serde_json::{Value, json};
use url::Url;

/// LDK's own floor: 1 sat/vB is 253 sat per 1000 weight units.
pub const MIN_FEERATE_SAT_PER_KW: u32 = 253;

/// Connection details for a bitcoind (or simnet) JSON-RPC server.
#[derive(Clone)]
pub struct RpcAuth {
    pub url: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for RpcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcAuth")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// Cheap to clone: the clones share one connection and one fee cache.
#[derive(Clone)]
pub struct BitcoindClient {
    rpc: Arc<RpcClient>,
    fees: Arc<RwLock<HashMap<ConfirmationTarget, u32>>>,
    runtime: tokio::runtime::Handle,
}

/// Which `estimatesmartfee` target and mode each LDK target uses.
const FEE_TARGETS: [(ConfirmationTarget, u16, &str); 8] = [
    (ConfirmationTarget::MaximumFeeEstimate, 1, "CONSERVATIVE"),
    (ConfirmationTarget::UrgentOnChainSweep, 6, "CONSERVATIVE"),
    (ConfirmationTarget::NonAnchorChannelFee, 6, "CONSERVATIVE"),
    (ConfirmationTarget::OutputSpendingFee, 12, "ECONOMICAL"),
    (ConfirmationTarget::AnchorChannelFee, 144, "ECONOMICAL"),
    (ConfirmationTarget::ChannelCloseMinimum, 1008, "ECONOMICAL"),
    (
        ConfirmationTarget::MinAllowedAnchorChannelRemoteFee,
        1008,
        "ECONOMICAL",
    ),
    (
        ConfirmationTarget::MinAllowedNonAnchorChannelRemoteFee,
        1008,
        "ECONOMICAL",
    ),
];

impl BitcoindClient {
    /// Connects and checks that the server answers; starts refreshing fees.
    pub async fn connect(auth: &RpcAuth) -> anyhow::Result<Arc<Self>> {
        let url = Url::parse(&auth.url).with_context(|| format!("bitcoind url {}", auth.url))?;
        let host = url
            .host_str()
            .ok_or_else(|| anyhow!("bitcoind url {} has no host", auth.url))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| anyhow!("bitcoind url {} has no port", auth.url))?;
        let endpoint = HttpEndpoint::for_host(host.to_owned())
            .with_port(port)
            .with_path(url.path().to_owned());
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", auth.user, auth.password));
        let client = Arc::new(Self {
            rpc: Arc::new(RpcClient::new(&credentials, endpoint)),
            fees: Arc::new(RwLock::new(HashMap::new())),
            runtime: tokio::runtime::Handle::current(),
        });
        let info = client
            .call("getblockchaininfo", &[])
            .await
            .with_context(|| format!("bitcoind at {} does not answer", auth.url))?;
        tracing::info!(chain = %info["chain"], blocks = %info["blocks"], "connected to bitcoind");
        client.refresh_fees().await;
        Ok(client)
    }

    pub async fn call(&self, method: &str, params: &[Value]) -> anyhow::Result<Value> {
        self.rpc
            .call_method::<Value>(method, params)
            .await
            .map_err(|e| anyhow!("bitcoind {method}: {e}"))
    }

    /// The chain bitcoind reports: "main", "test", "testnet4", "signet" or "regtest".
    pub async fn chain(&self) -> anyhow::Result<String> {
        let info = self.call("getblockchaininfo", &[]).await?;
        info["chain"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("getblockchaininfo: no chain"))
    }

    pub async fn refresh_fees(&self) {
        for (target, blocks, mode) in FEE_TARGETS {
            let rate = match self
                .call("estimatesmartfee", &[json!(blocks), json!(mode)])
                .await
            {
                Ok(v) => v["feerate"].as_f64().map(btc_per_kvb_to_sat_per_kw),
                Err(e) => {
                    tracing::warn!(error = %e, "fee estimate failed; keeping the last one");
                    continue;
                }
            };
            // No estimate yet (a young chain): the floor.
            let rate = rate.unwrap_or(MIN_FEERATE_SAT_PER_KW);
            self.fees.write().expect("fee cache").insert(target, rate);
        }
    }

    /// Refreshes fee estimates every `every` until the runtime ends.
    pub fn spawn_fee_updates(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let client = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                client.refresh_fees().await;
            }
        })
    }

    /// Adds inputs and change from the bitcoind wallet to `tx`, signs them,
    /// and returns the signed transaction (not broadcast).
    pub async fn fund_and_sign(&self, tx: &Transaction) -> anyhow::Result<Transaction> {
        let funded = self
            .call(
                "fundrawtransaction",
                &[
                    json!(encode::serialize_hex(tx)),
                    // Locked: funding two channels at once must not pick
                    // the same coin for both (the second would be refused).
                    json!({"replaceable": false, "lockUnspents": true}),
                ],
            )
            .await?;
        let hex = funded["hex"]
            .as_str()
            .ok_or_else(|| anyhow!("fundrawtransaction: no hex"))?;
        let signed = self
            .call("signrawtransactionwithwallet", &[json!(hex)])
            .await?;
        if signed["complete"].as_bool() != Some(true) {
            bail!("signrawtransactionwithwallet could not sign every input");
        }
        let hex = signed["hex"]
            .as_str()
            .ok_or_else(|| anyhow!("signrawtransactionwithwallet: no hex"))?;
        encode::deserialize_hex(hex).context("signrawtransactionwithwallet: bad transaction")
    }

    async fn send(&self, tx: &Transaction) -> anyhow::Result<()> {
        self.call("sendrawtransaction", &[json!(encode::serialize_hex(tx))])
            .await
            .map(|_| ())
    }
}

fn btc_per_kvb_to_sat_per_kw(btc_per_kvb: f64) -> u32 {
    // 1 BTC/kvB = 1e8 sat per 4000 weight units = 25,000,000 sat per 1000 WU.
    let rate = (btc_per_kvb * 25_000_000.0).round();
    if rate.is_finite() && rate > 0.0 {
        (rate.min(u32::MAX as f64) as u32).max(MIN_FEERATE_SAT_PER_KW)
    } else {
        MIN_FEERATE_SAT_PER_KW
    }
}

impl FeeEstimator for BitcoindClient {
    fn get_est_sat_per_1000_weight(&self, target: ConfirmationTarget) -> u32 {
        self.fees
            .read()
            .expect("fee cache")
            .get(&target)
            .copied()
            .unwrap_or(MIN_FEERATE_SAT_PER_KW)
    }
}

impl BroadcasterInterface for BitcoindClient {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        for tx in txs {
            let tx = (*tx).clone();
            let client = self.clone();
            self.runtime.spawn(async move {
                let txid = tx.compute_txid();
                match client.send(&tx).await {
                    Ok(()) => tracing::info!(%txid, "broadcast transaction"),
                    // Rebroadcasts of known or confirmed transactions end up here too.
                    Err(e) => tracing::warn!(%txid, error = %e, "broadcast refused"),
                }
            });
        }
    }
}

impl BlockSource for BitcoindClient {
    fn get_header<'a>(
        &'a self,
        header_hash: &'a BlockHash,
        height_hint: Option<u32>,
    ) -> AsyncBlockSourceResult<'a, BlockHeaderData> {
        self.rpc.get_header(header_hash, height_hint)
    }

    fn get_block<'a>(
        &'a self,
        header_hash: &'a BlockHash,
    ) -> AsyncBlockSourceResult<'a, BlockData> {
        self.rpc.get_block(header_hash)
    }

    fn get_best_block(&self) -> AsyncBlockSourceResult<'_, (BlockHash, Option<u32>)> {
        self.rpc.get_best_block()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rates_convert_to_sat_per_kw_with_the_floor() {
        // 0.0001 BTC/kvB = 10 sat/vB = 2500 sat/kw.
        assert_eq!(btc_per_kvb_to_sat_per_kw(0.0001), 2500);
        assert_eq!(btc_per_kvb_to_sat_per_kw(0.00001), 253);
        assert_eq!(btc_per_kvb_to_sat_per_kw(0.0), 253);
        assert_eq!(btc_per_kvb_to_sat_per_kw(f64::NAN), 253);
        assert_eq!(btc_per_kvb_to_sat_per_kw(-1.0), 253);
    }

    #[test]
    fn the_rpc_password_is_not_printed() {
        let auth = RpcAuth {
            url: "http://127.0.0.1:18443".into(),
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
