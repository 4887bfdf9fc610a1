//! What the merchant (or a test) does with the node: peers, channels,
//! invoices, payments. Plain data in and out, so the CLI and the API can
//! share these calls.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bitcoin::secp256k1::PublicKey;
use lightning::ln::channelmanager::{Bolt11InvoiceParameters, PaymentId, Retry};
use lightning::ln::types::ChannelId;
use lightning::routing::router::RouteParametersConfig;
use lightning::types::payment::PaymentPreimage;
use lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};
use serde::Serialize;

use super::node::Node;
use super::peers;

/// BOLT11 descriptions are at most 639 bytes.
const MAX_DESCRIPTION_BYTES: usize = 639;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChannelInfo {
    pub channel_id: String,
    pub counterparty_node_id: String,
    pub funding_txid: Option<String>,
    pub capacity_sat: u64,
    pub outbound_capacity_msat: u64,
    pub inbound_capacity_msat: u64,
    pub confirmations: Option<u32>,
    pub confirmations_required: Option<u32>,
    pub is_outbound: bool,
    pub is_channel_ready: bool,
    pub is_usable: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeerInfo {
    pub node_id: String,
    pub address: Option<String>,
}

/// A BOLT11 invoice the node issued.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub bolt11: String,
    pub payment_hash: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl Node {
    pub async fn connect_peer(&self, node_id: PublicKey, addr: SocketAddr) -> anyhow::Result<()> {
        peers::connect(&self.peer_manager, node_id, addr).await?;
        self.peers.remember(node_id, addr)?;
        Ok(())
    }

    pub fn disconnect_peer(&self, node_id: &PublicKey) {
        self.peer_manager.disconnect_by_node_id(*node_id);
    }

    pub fn list_peers(&self) -> Vec<PeerInfo> {
        self.peer_manager
            .list_peers()
            .into_iter()
            .map(|p| PeerInfo {
                node_id: p.counterparty_node_id.to_string(),
                address: p.socket_address.map(|a| a.to_string()),
            })
            .collect()
    }

    pub fn list_channels(&self) -> Vec<ChannelInfo> {
        self.channel_manager
            .list_channels()
            .into_iter()
            .map(|c| ChannelInfo {
                channel_id: c.channel_id.to_string(),
                counterparty_node_id: c.counterparty.node_id.to_string(),
                funding_txid: c.funding_txo.map(|o| o.txid.to_string()),
                capacity_sat: c.channel_value_satoshis,
                outbound_capacity_msat: c.outbound_capacity_msat,
                inbound_capacity_msat: c.inbound_capacity_msat,
                confirmations: c.confirmations,
                confirmations_required: c.confirmations_required,
                is_outbound: c.is_outbound,
                is_channel_ready: c.is_channel_ready,
                is_usable: c.is_usable,
            })
            .collect()
    }

    /// Opens a channel to a connected peer, funded from the chain backend's
    /// wallet when LDK asks for the funding transaction. Returns the
    /// temporary channel id.
    pub fn open_channel(
        &self,
        node_id: PublicKey,
        amount_sat: u64,
        push_msat: u64,
    ) -> anyhow::Result<String> {
        if self.peer_manager.peer_by_node_id(&node_id).is_none() {
            bail!("not connected to {node_id}: connect to the peer first");
        }
        let user_channel_id: u128 = rand::random();
        let id = self
            .channel_manager
            .create_channel(node_id, amount_sat, push_msat, user_channel_id, None, None)
            .map_err(|e| anyhow!("cannot open the channel: {e:?}"))?;
        Ok(id.to_string())
    }

    /// Closes a channel cooperatively, or by broadcasting our latest
    /// commitment when `force` is set (the peer is gone).
    pub fn close_channel(&self, channel_id: &str, force: bool) -> anyhow::Result<()> {
        let channel = self
            .channel_manager
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id.to_string() == channel_id)
            .ok_or_else(|| anyhow!("no channel {channel_id}"))?;
        let counterparty = channel.counterparty.node_id;
        let id: ChannelId = channel.channel_id;
        let result = if force {
            self.channel_manager.force_close_broadcasting_latest_txn(
                &id,
                &counterparty,
                "closed by the merchant".into(),
            )
        } else {
            self.channel_manager.close_channel(&id, &counterparty)
        };
        result.map_err(|e| anyhow!("cannot close {channel_id}: {e:?}"))
    }

    /// Issues a BOLT11 invoice for `amount_msat`.
    pub fn create_invoice(
        &self,
        amount_msat: u64,
        description: &str,
        expiry: Duration,
    ) -> anyhow::Result<NewInvoice> {
        let description = Description::new(truncate(description, MAX_DESCRIPTION_BYTES).to_owned())
            .map_err(|e| anyhow!("invoice description: {e:?}"))?;
        let expiry_secs = u32::try_from(expiry.as_secs()).context("invoice expiry too long")?;
        let invoice = self
            .channel_manager
            .create_bolt11_invoice(Bolt11InvoiceParameters {
                amount_msats: Some(amount_msat),
                description: Bolt11InvoiceDescription::Direct(description),
                invoice_expiry_delta_secs: Some(expiry_secs),
                ..Default::default()
            })
            .map_err(|e| anyhow!("cannot create the invoice: {e:?}"))?;
        let expires_at = invoice
            .expires_at()
            .map(|d| d.as_secs())
            .ok_or_else(|| anyhow!("the invoice has no expiry"))?;
        Ok(NewInvoice {
            payment_hash: hex::encode(invoice.payment_hash()),
            bolt11: invoice.to_string(),
            expires_at,
        })
    }

    /// Pays a BOLT11 invoice and waits for the outcome. The payment id is the
    /// payment hash, so LDK refuses to pay the same hash twice.
    pub async fn pay_invoice(
        &self,
        bolt11: &str,
        timeout: Duration,
    ) -> anyhow::Result<PaymentPreimage> {
        let invoice =
            Bolt11Invoice::from_str(bolt11).map_err(|e| anyhow!("not a BOLT11 invoice: {e}"))?;
        if invoice.network() != self.network() {
            bail!(
                "the invoice is for {}, this node runs on {}",
                invoice.network(),
                self.network()
            );
        }
        let id = PaymentId(*invoice.payment_hash().as_ref());
        let outcome = self.outbound.wait_for(id);
        self.channel_manager
            .pay_for_bolt11_invoice(
                &invoice,
                id,
                None,
                RouteParametersConfig::default(),
                Retry::Timeout(timeout),
            )
            .map_err(|e| anyhow!("cannot pay: {e:?}"))?;
        match tokio::time::timeout(timeout + Duration::from_secs(5), outcome).await {
            Ok(Ok(Ok(preimage))) => Ok(preimage),
            Ok(Ok(Err(reason))) => Err(anyhow!("payment failed: {reason}")),
            Ok(Err(_)) => Err(anyhow!("the node stopped before the payment ended")),
            Err(_) => Err(anyhow!("no outcome for the payment after {timeout:?}")),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn descriptions_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("abc", 639), "abc");
        let long = "é".repeat(400); // 800 bytes
        let cut = truncate(&long, 639);
        assert_eq!(cut.len(), 638);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
