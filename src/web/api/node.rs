//! /v1/node: the deployment's Lightning node, for an operator merchant only
//! (the node is shared by every merchant). Thin: the work is in
//! [`ln_node::operations`].

use std::sync::Arc;

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::PathId;
use super::auth::Merchant;
use super::error::{ApiError, ErrorBody};
use super::json::ApiJson;
use super::pagination::List;
use crate::catalog;
use crate::context::Context;
use crate::objects;
use crate::web::WebState;
use ln_node::Node;
use ln_node::operations::OpenChannel;

/// The node, when `merchant` is an operator (403 otherwise) and this process
/// runs the node role (503 otherwise).
async fn operator_node(
    state: &Context,
    web_state: &WebState,
    merchant: &Merchant,
) -> Result<Arc<Node>, ApiError> {
    if !catalog::merchants::is_node_operator(&state.db, &merchant.id).await? {
        return Err(ApiError::forbidden(
            "node_operator_only",
            "Only a node operator merchant may use the Lightning node: it is shared by \
             every merchant of this deployment (`pushbill merchant create --node-operator`).",
        ));
    }
    web_state.node.clone().ok_or_else(|| {
        ApiError::unavailable(
            "node_unavailable",
            "The Lightning node runs in another process: this one does not run the node role. \
             Send node requests to the process started with `--roles` including `node`.",
        )
    })
}

/// Get the node
///
/// Node id, listening address, network, chain tip, and how many peers and
/// channels. Node operators only (403 otherwise); 503 when this process does
/// not run the node role.
#[utoipa::path(
    tag = "Node",
    operation_id = "get_node",
    responses(
        (status = 200, description = "The node.", body = objects::Live<objects::Node>),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[get("/node")]
pub async fn get(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::Node::from(node.info()))))
}

/// List the node's peers
///
/// Every connected peer, in one list (`has_more` is always false).
#[utoipa::path(
    tag = "Node",
    operation_id = "list_node_peers",
    responses(
        (status = 200, description = "The connected peers.", body = List<objects::Live<objects::NodePeer>>),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[get("/node/peers")]
pub async fn peers(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    let peers = node
        .list_peers()
        .into_iter()
        .map(|p| merchant.live(objects::NodePeer::from(p)));
    Ok(HttpResponse::Ok().json(List::whole("/v1/node/peers", peers.collect())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectPeer {
    /// The peer's node id (66 hex characters).
    node_id: String,
    /// Where it listens: `host:port` (IPv4, bracketed IPv6 or DNS name).
    address: String,
}

/// Connect to a peer
///
/// The node remembers the address and reconnects after a restart while it
/// shares a channel with the peer. 409 `peer_unreachable` when the connection fails.
#[utoipa::path(
    tag = "Node",
    operation_id = "connect_node_peer",
    request_body = ConnectPeer,
    responses(
        (status = 200, description = "The connected peer.", body = objects::Live<objects::NodePeer>),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[post("/node/peers")]
pub async fn connect(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<ConnectPeer>,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    let peer = node.connect(&body.node_id, &body.address).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::NodePeer::from(peer))))
}

/// Disconnect a peer
///
/// 404 when the node is not connected to it. A peer the node shares a
/// channel with is reconnected later.
#[utoipa::path(
    tag = "Node",
    operation_id = "disconnect_node_peer",
    params(("id" = String, Path, description = "The peer's node id.")),
    responses(
        (status = 200, description = "The peer is disconnected.", body = objects::Deleted),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[delete("/node/peers/{id}")]
pub async fn disconnect(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    node.disconnect(&id)?;
    Ok(HttpResponse::Ok().json(objects::Deleted {
        id: id.to_ascii_lowercase(),
        object: "node_peer",
        deleted: true,
    }))
}

/// List the node's channels
///
/// Every channel, opening and closing ones included, with its balances and
/// inbound capacity, in one list (`has_more` is always false).
#[utoipa::path(
    tag = "Node",
    operation_id = "list_node_channels",
    responses(
        (status = 200, description = "The channels.", body = List<objects::Live<objects::NodeChannel>>),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[get("/node/channels")]
pub async fn channels(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    let channels = node
        .list_channels()
        .into_iter()
        .map(|c| merchant.live(objects::NodeChannel::from(c)));
    Ok(HttpResponse::Ok().json(List::whole("/v1/node/channels", channels.collect())))
}

/// 20,000 to 16,777,215 sat (no "wumbo" channels).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenChannelBody {
    /// The peer's node id (66 hex characters).
    node_id: String,
    /// `host:port`: connect to the peer first. Without it the node must
    /// already be connected.
    address: Option<String>,
    /// The channel's size in sat, 20,000 to 16,777,215.
    amount_sat: u64,
    /// Given to the peer in the opening, in msat (at most `amount_sat * 1000`). Default 0.
    push_msat: Option<u64>,
}

/// Open a channel
///
/// Funded from the chain backend's wallet (bitcoind's, or the simulator's in
/// the sandbox). The answer's `channel_id` is temporary until the funding
/// transaction exists; the channel is usable once it has the peer's required
/// confirmations. 409 `channel_open_failed` when the node or the peer refuses.
#[utoipa::path(
    tag = "Node",
    operation_id = "open_node_channel",
    request_body = OpenChannelBody,
    responses(
        (status = 200, description = "The new channel.", body = objects::Live<objects::NodeChannel>),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[post("/node/channels")]
pub async fn open(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<OpenChannelBody>,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    let channel = node
        .open(OpenChannel {
            node_id: body.node_id,
            address: body.address,
            amount_sat: body.amount_sat,
            push_msat: body.push_msat.unwrap_or(0),
        })
        .await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::NodeChannel::from(channel))))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseChannel {
    /// Broadcast the node's latest commitment instead of agreeing a close
    /// with the peer (when the peer is gone). The node's funds are then
    /// locked for the channel's delay. Default false.
    #[serde(default)]
    force: bool,
}

/// Close a channel
///
/// Cooperatively by default, or `force`d. The answer is the channel as it is
/// now (closing); it leaves the list once the close is on chain.
#[utoipa::path(
    tag = "Node",
    operation_id = "close_node_channel",
    params(("id" = String, Path, description = "The channel's id (64 hex characters).")),
    request_body(content = CloseChannel, description = "`{}` or no body for a cooperative close."),
    responses(
        (status = 200, description = "The closing channel.", body = objects::Live<objects::NodeChannel>),
        (status = 403, description = "Not a node operator (`node_operator_only`).", body = ErrorBody),
        (status = 503, description = "The node runs in another process (`node_unavailable`).", body = ErrorBody),
    ),
)]
#[post("/node/channels/{id}/close")]
pub async fn close(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<CloseChannel>,
) -> Result<HttpResponse, ApiError> {
    let node = operator_node(&state, &web_state, &merchant).await?;
    let channel = node.close(&id, body.force)?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::NodeChannel::from(channel))))
}
