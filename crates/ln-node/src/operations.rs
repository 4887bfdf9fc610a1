//! What the merchant (or a test) does with the node: peers, channels,
//! invoices, payments. Plain data in and out, so the CLI and the API can
//! share these calls.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail};
use bitcoin::secp256k1::PublicKey;
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::hashes::{Hash, sha256};
use lightning::ln::channelmanager::{
    Bolt11PaymentError, MIN_FINAL_CLTV_EXPIRY_DELTA, PaymentId, RecentPaymentDetails, Retry,
};
use lightning::routing::gossip::RoutingFees;
use lightning::routing::router::{RouteHint, RouteHintHop, RouteParametersConfig};
use lightning::sign::{NodeSigner, Recipient};
use lightning::types::payment::PaymentPreimage;
use lightning_invoice::{Bolt11Invoice, Currency, InvoiceBuilder};
use push_protocol::wire::truncate_utf8;

use crate::address::{NodeAddress, NodeError, NodeId};
use crate::node::Node;
use crate::peers;

/// Why an operation was refused: the caller's input (`param` names the
/// field), a missing peer or channel, or the node's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("{param}: {message}")]
    Invalid { param: String, message: String },
    #[error("no such {resource}: {id}")]
    NotFound { resource: &'static str, id: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
}

impl OpError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            param: param.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

/// BOLT11 descriptions are at most 639 bytes.
const MAX_DESCRIPTION_BYTES: usize = 639;

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub node_id: String,
    pub address: Option<String>,
}

/// The smallest channel the node opens, in sat. Smaller channels are
/// refused by most peers and mostly eaten by fees when closed.
pub const MIN_CHANNEL_SAT: u64 = 20_000;
/// The largest channel the node opens, in sat: 2^24 - 1, the BOLT 2 limit
/// without `option_support_large_channel` ("wumbo"), which pushbill does not
/// negotiate.
pub const MAX_CHANNEL_SAT: u64 = 16_777_215;

/// The node at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub node_id: String,
    pub listen_addr: String,
    /// bitcoin, testnet, signet or regtest.
    pub network: String,
    pub block_height: u32,
    pub block_hash: String,
    pub num_peers: usize,
    pub num_channels: usize,
    pub num_usable_channels: usize,
}

/// A channel to open, as the operator asks for it (fields unchecked).
#[derive(Debug, Clone, Default)]
pub struct OpenChannel {
    pub node_id: String,
    /// `host:port`: connect to the peer first.
    pub address: Option<String>,
    pub amount_sat: u64,
    /// Given to the peer in the opening, in msat (at most the channel's amount).
    pub push_msat: u64,
}

/// Why [`Node::create_invoice`] failed.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// No BOLT11 can be made as asked (an amount above `u64::MAX / 10` msat,
    /// an expiry out of range): asking again cannot help.
    #[error("{0}")]
    Refused(String),
    /// Signing failed: it may work next time.
    #[error("{0}")]
    Failed(String),
}

/// A BOLT11 invoice the node issued.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub bolt11: String,
    pub payment_hash: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Parses a node id, naming `param` when it is wrong.
pub fn parse_node_id(param: &str, node_id: &str) -> Result<PublicKey, OpError> {
    NodeId::parse(node_id.trim())
        .map(|id| id.to_public_key())
        .map_err(|e| OpError::invalid(param, e.to_string()))
}

/// Parses `host:port` (IPv4, bracketed IPv6 or DNS name) and resolves it.
pub async fn resolve_address(param: &str, address: &str) -> Result<SocketAddr, OpError> {
    // The domain's address rules, with a placeholder key (the generator point).
    const ANY_KEY: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    let parsed = NodeAddress::parse(&format!("{ANY_KEY}@{}", address.trim())).map_err(|e| {
        let message = match e {
            NodeError::BadHost => {
                "the host must be an IPv4 address, a bracketed IPv6 address or a DNS name"
            }
            NodeError::BadPort => "the port must be between 1 and 65535",
            _ => "must look like `host:port`",
        };
        OpError::invalid(param, message)
    })?;
    let mut addrs = tokio::net::lookup_host((parsed.host.as_str(), parsed.port))
        .await
        .map_err(|e| OpError::invalid(param, format!("cannot resolve {}: {e}", parsed.host)))?;
    addrs
        .next()
        .ok_or_else(|| OpError::invalid(param, format!("{} has no address", parsed.host)))
}

/// Checks a channel's size and push amount against the node's bounds.
pub fn check_channel_amounts(amount_sat: u64, push_msat: u64) -> Result<(), OpError> {
    if !(MIN_CHANNEL_SAT..=MAX_CHANNEL_SAT).contains(&amount_sat) {
        return Err(OpError::invalid(
            "amount_sat",
            format!("must be between {MIN_CHANNEL_SAT} and {MAX_CHANNEL_SAT} sat"),
        ));
    }
    if push_msat > amount_sat * 1000 {
        return Err(OpError::invalid(
            "push_msat",
            "must be at most the channel's amount (amount_sat * 1000)",
        ));
    }
    Ok(())
}

impl Node {
    /// Node id, address, chain tip, and how many peers and channels.
    pub fn info(&self) -> NodeInfo {
        let best = self.best_block();
        let channels = self.list_channels();
        NodeInfo {
            node_id: self.node_id().to_string(),
            listen_addr: self.listen_addr().to_string(),
            network: self.network().to_string(),
            block_height: best.height,
            block_hash: best.block_hash.to_string(),
            num_peers: self.list_peers().len(),
            num_usable_channels: channels.iter().filter(|c| c.is_usable).count(),
            num_channels: channels.len(),
        }
    }

    /// Connects to `node_id` at `address` (`host:port`), checking both first.
    pub async fn connect(&self, node_id: &str, address: &str) -> Result<PeerInfo, OpError> {
        let id = parse_node_id("node_id", node_id)?;
        let addr = resolve_address("address", address).await?;
        if id == self.node_id() {
            return Err(OpError::invalid("node_id", "this is the node's own id"));
        }
        self.connect_peer(id, addr).await.map_err(|e| {
            OpError::conflict(
                "peer_unreachable",
                format!("cannot connect to {id}@{addr}: {e:#}"),
            )
        })?;
        Ok(PeerInfo {
            node_id: id.to_string(),
            address: Some(addr.to_string()),
        })
    }

    /// Disconnects a connected peer (404 when it is not connected).
    pub fn disconnect(&self, node_id: &str) -> Result<(), OpError> {
        let id = parse_node_id("node_id", node_id)?;
        if self.peer_manager.peer_by_node_id(&id).is_none() {
            return Err(OpError::not_found("peer", id.to_string()));
        }
        self.peer_manager.disconnect_by_node_id(id);
        Ok(())
    }

    /// Opens a channel, connecting first when an address is given. Answers the
    /// new channel (its id is temporary until the funding transaction exists).
    pub async fn open(&self, req: OpenChannel) -> Result<ChannelInfo, OpError> {
        let id = parse_node_id("node_id", &req.node_id)?;
        check_channel_amounts(req.amount_sat, req.push_msat)?;
        if let Some(address) = &req.address {
            self.connect(&req.node_id, address).await?;
        } else if self.peer_manager.peer_by_node_id(&id).is_none() {
            return Err(OpError::invalid(
                "address",
                format!("not connected to {id}: give its `address` or connect first"),
            ));
        }
        let channel_id = self
            .open_channel(id, req.amount_sat, req.push_msat)
            .map_err(|e| OpError::conflict("channel_open_failed", format!("{e:#}")))?;
        self.list_channels()
            .into_iter()
            .find(|c| c.channel_id == channel_id)
            .ok_or_else(|| {
                OpError::conflict(
                    "channel_open_failed",
                    format!("the peer refused the channel {channel_id}"),
                )
            })
    }

    /// Closes a channel cooperatively, or by broadcasting our latest
    /// commitment when `force` is set (the peer is gone); answers it as it is now.
    pub fn close(&self, channel_id: &str, force: bool) -> Result<ChannelInfo, OpError> {
        let Some(channel) = self
            .channel_manager
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id.to_string() == channel_id)
        else {
            return Err(OpError::not_found("channel", channel_id));
        };
        let (id, counterparty) = (channel.channel_id, channel.counterparty.node_id);
        let closed = if force {
            self.channel_manager.force_close_broadcasting_latest_txn(
                &id,
                &counterparty,
                "closed by the merchant".into(),
            )
        } else {
            self.channel_manager.close_channel(&id, &counterparty)
        };
        closed.map_err(|e| OpError::conflict("channel_close_failed", format!("{e:?}")))?;
        let now = self
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id == channel_id);
        Ok(now.unwrap_or_else(|| ChannelInfo {
            is_usable: false,
            ..channel_info(channel)
        }))
    }

    pub async fn connect_peer(&self, node_id: PublicKey, addr: SocketAddr) -> anyhow::Result<()> {
        peers::connect(&self.peer_manager, node_id, addr).await?;
        self.peers.remember(node_id, addr)?;
        Ok(())
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
            .map(channel_info)
            .collect()
    }

    /// Opens a channel to a connected peer (LDK refuses others), funded from
    /// the chain backend's wallet when LDK asks for the funding transaction.
    /// Returns the temporary channel id.
    pub fn open_channel(
        &self,
        node_id: PublicKey,
        amount_sat: u64,
        push_msat: u64,
    ) -> anyhow::Result<String> {
        let user_channel_id: u128 = rand::random();
        let id = self
            .channel_manager
            .create_channel(node_id, amount_sat, push_msat, user_channel_id, None, None)
            .map_err(|e| anyhow!("cannot open the channel: {e:?}"))?;
        Ok(id.to_string())
    }

    /// Issues a BOLT11 invoice for `amount_msat`, built here rather than by
    /// `ChannelManager::create_bolt11_invoice` so that we choose its route
    /// hints: LDK's would name up to three of the node's private channels,
    /// i.e. other customers' node ids and channels. Only the node's usable
    /// channels with `payer` (the customer the invoice is for, when it has
    /// a node) are named; with no `payer`, none.
    pub fn create_invoice(
        &self,
        amount_msat: u64,
        description: &str,
        expiry: Duration,
        payer: Option<PublicKey>,
    ) -> Result<NewInvoice, InvoiceError> {
        let description = truncate_utf8(description, MAX_DESCRIPTION_BYTES).to_owned();
        let expiry_secs = u32::try_from(expiry.as_secs())
            .map_err(|_| InvoiceError::Refused("invoice expiry too long".into()))?;
        let (payment_hash, payment_secret) = self
            .channel_manager
            .create_inbound_payment(Some(amount_msat), expiry_secs, None)
            .map_err(|()| {
                InvoiceError::Refused("cannot create the invoice: invalid amount".into())
            })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| InvoiceError::Failed("the system clock is before 1970".into()))?;
        let mut builder = InvoiceBuilder::new(Currency::from(self.network()))
            .description(description)
            .duration_since_epoch(now)
            .payee_pub_key(self.node_id())
            .payment_hash(sha256::Hash::from_byte_array(payment_hash.0))
            .payment_secret(payment_secret)
            .basic_mpp()
            .min_final_cltv_expiry_delta(u64::from(MIN_FINAL_CLTV_EXPIRY_DELTA))
            .expiry_time(Duration::from_secs(u64::from(expiry_secs)))
            .amount_milli_satoshis(amount_msat);
        if let Some(payer) = payer {
            for hint in self.route_hints_for(payer) {
                builder = builder.private_route(hint);
            }
        }
        let raw = builder
            .build_raw()
            .map_err(|e| InvoiceError::Refused(format!("cannot create the invoice: {e}")))?;
        let signature = self
            .keys
            .sign_invoice(&raw, Recipient::Node)
            .map_err(|()| InvoiceError::Failed("cannot sign the invoice".into()))?;
        let signed = raw
            .sign::<_, ()>(|_| Ok(signature))
            .map_err(|()| InvoiceError::Failed("cannot sign the invoice".into()))?;
        let invoice = Bolt11Invoice::from_signed(signed)
            .map_err(|e| InvoiceError::Failed(format!("cannot sign the invoice: {e}")))?;
        let expires_at = invoice
            .expires_at()
            .map(|d| d.as_secs())
            .ok_or_else(|| InvoiceError::Refused("the invoice has no expiry".into()))?;
        Ok(NewInvoice {
            payment_hash: hex::encode(invoice.payment_hash()),
            bolt11: invoice.to_string(),
            expires_at,
        })
    }

    /// Route hints for the node's ready channels with `payer` (at most
    /// three), as LDK writes them: the hop from `payer` into the node.
    fn route_hints_for(&self, payer: PublicKey) -> Vec<RouteHint> {
        self.channel_manager
            .list_channels_with_counterparty(&payer)
            .into_iter()
            .filter(|c| c.is_channel_ready)
            .filter_map(|c| {
                let forwarding = c.counterparty.forwarding_info.as_ref()?;
                Some(RouteHint(vec![RouteHintHop {
                    src_node_id: c.counterparty.node_id,
                    short_channel_id: c.get_inbound_payment_scid()?,
                    fees: RoutingFees {
                        base_msat: forwarding.fee_base_msat,
                        proportional_millionths: forwarding.fee_proportional_millionths,
                    },
                    cltv_expiry_delta: forwarding.cltv_expiry_delta,
                    htlc_minimum_msat: c.inbound_htlc_minimum_msat,
                    htlc_maximum_msat: c.inbound_htlc_maximum_msat,
                }]))
            })
            .take(3)
            .collect()
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
        self.start_bolt11_payment(&invoice, timeout)
            .map_err(|e| anyhow!("cannot pay: {e:?}"))?;
        match tokio::time::timeout(timeout + Duration::from_secs(5), outcome).await {
            Ok(Ok(Ok(preimage))) => Ok(preimage),
            Ok(Ok(Err(reason))) => Err(anyhow!("payment failed: {reason}")),
            Ok(Err(_)) => Err(anyhow!("the node stopped before the payment ended")),
            Err(_) => Err(anyhow!("no outcome for the payment after {timeout:?}")),
        }
    }
}

impl Node {
    /// Hands a BOLT11 payment to LDK and returns at once (the outcome comes
    /// as an event). The payment id is the payment hash, so LDK refuses a
    /// second payment of one hash (`DuplicatePayment`).
    pub fn start_bolt11_payment(
        &self,
        invoice: &Bolt11Invoice,
        retry_for: Duration,
    ) -> Result<(), Bolt11PaymentError> {
        self.channel_manager.pay_for_bolt11_invoice(
            invoice,
            PaymentId(*invoice.payment_hash().as_ref()),
            None,
            RouteParametersConfig::default(),
            Retry::Timeout(retry_for),
        )
    }

    /// [`Self::start_bolt11_payment`], with a receiver for the payment's
    /// outcome (the preimage, or why it failed), told after the node's
    /// [`crate::PaymentSink`] has recorded it. `Err` when LDK refused to
    /// start it (`DuplicatePayment` for a payment hash it still knows).
    pub fn start_bolt11_payment_watched(
        &self,
        invoice: &Bolt11Invoice,
        retry_for: Duration,
    ) -> Result<tokio::sync::oneshot::Receiver<crate::events::PaymentOutcome>, Bolt11PaymentError>
    {
        let outcome = self
            .outbound
            .wait_for(PaymentId(*invoice.payment_hash().as_ref()));
        self.start_bolt11_payment(invoice, retry_for)?;
        Ok(outcome)
    }

    /// The ids of the outgoing payments LDK still knows about (pending,
    /// fulfilled, abandoned or awaiting an invoice).
    pub fn recent_payment_ids(&self) -> Vec<PaymentId> {
        self.channel_manager
            .list_recent_payments()
            .into_iter()
            .map(|p| match p {
                RecentPaymentDetails::Pending { payment_id, .. }
                | RecentPaymentDetails::Fulfilled { payment_id, .. }
                | RecentPaymentDetails::Abandoned { payment_id, .. }
                | RecentPaymentDetails::AwaitingInvoice { payment_id, .. } => payment_id,
            })
            .collect()
    }
}

fn channel_info(c: lightning::ln::channel_state::ChannelDetails) -> ChannelInfo {
    ChannelInfo {
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
    }
}
