//! Lightning node (node operators only: the node is shared by every
//! merchant of the deployment): its id and address, chain height, channels
//! with their balances and inbound capacity, open and close. Through
//! `ln_node::operations`, as /v1/node.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::session::Signed;
use super::view::{self, FieldError, Shell, sat_amount};
use super::{PageError, PageResult, html, see_other};
use crate::error::Error;
use crate::web::WebState;
use ln_node::Node;
use ln_node::operations::{ChannelInfo, NodeInfo, OpenChannel};

struct ChannelRow {
    id: String,
    peer: String,
    capacity: String,
    local: String,
    remote: String,
    state: String,
    opened_by_us: bool,
}

impl From<ChannelInfo> for ChannelRow {
    fn from(c: ChannelInfo) -> Self {
        let state = if c.is_usable {
            "usable".to_owned()
        } else if c.is_channel_ready {
            "ready, peer offline".to_owned()
        } else {
            match (c.confirmations, c.confirmations_required) {
                (Some(n), Some(of)) => format!("opening: {n} of {of} confirmations"),
                (None, Some(of)) => format!("opening: 0 of {of} confirmations"),
                _ => "opening".to_owned(),
            }
        };
        Self {
            id: c.channel_id,
            peer: c.counterparty_node_id,
            capacity: sat_amount(c.capacity_sat.saturating_mul(1000) as i64),
            local: sat_amount(c.outbound_capacity_msat as i64),
            remote: sat_amount(c.inbound_capacity_msat as i64),
            state,
            opened_by_us: c.is_outbound,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/node.html")]
struct NodePage {
    shell: Shell,
    /// `None` when this process does not run the node role.
    info: Option<NodeInfo>,
    /// `node_id@host:port`, what a peer connects to, and its QR code.
    connection: String,
    connection_qr: String,
    channels: Vec<ChannelRow>,
    form: OpenForm,
    error: FieldError,
}

#[derive(Debug, Default, Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    amount_sat: String,
}

/// The node, for a node operator; a 403 page for any other merchant.
fn operator(signed: &Signed, web_state: &WebState) -> Result<Option<Arc<Node>>, PageError> {
    if !signed.merchant.node_operator {
        return Err(PageError::Forbidden(
            "Only the deployment's node operator sees the Lightning node: it is shared by \
             every merchant here (`pushbill merchant create --node-operator`)."
                .into(),
        ));
    }
    Ok(web_state.node.clone())
}

fn render(
    signed: &Signed,
    node: Option<Arc<Node>>,
    status: StatusCode,
    form: OpenForm,
    error: FieldError,
) -> PageResult {
    let info = node.as_ref().map(|n| n.info());
    let channels = node
        .as_ref()
        .map(|n| {
            n.list_channels()
                .into_iter()
                .map(ChannelRow::from)
                .collect()
        })
        .unwrap_or_default();
    let connection = info
        .as_ref()
        .map(|i| format!("{}@{}", i.node_id, i.listen_addr))
        .unwrap_or_default();
    Ok(html(
        status,
        &NodePage {
            shell: Shell::new(signed, "node"),
            info,
            connection_qr: crate::web::qr::svg(&connection),
            connection,
            channels,
            form,
            error,
        },
    ))
}

/// GET /dashboard/node
pub async fn page(signed: Signed, web_state: web::Data<WebState>) -> PageResult {
    let node = operator(&signed, &web_state)?;
    render(
        &signed,
        node,
        StatusCode::OK,
        OpenForm::default(),
        FieldError::none(),
    )
}

/// POST /dashboard/node/channels: opens a channel (connecting first when
/// an address is given); bad input is shown at its field.
pub async fn open(
    signed: Signed,
    web_state: web::Data<WebState>,
    web::Form(form): web::Form<OpenForm>,
) -> PageResult {
    let node = operator(&signed, &web_state)?.ok_or(PageError::NotFound)?;
    let opened = match form.amount_sat.trim().parse::<u64>() {
        Err(_) => Err(Error::invalid("amount_sat", "a whole number of sat")),
        Ok(amount_sat) => node
            .open(OpenChannel {
                node_id: form.node_id.trim().to_owned(),
                address: Some(form.address.trim().to_owned()).filter(|a| !a.is_empty()),
                amount_sat,
                push_msat: 0,
            })
            .await
            .map_err(Error::from),
    };
    match opened {
        Ok(_) => Ok(see_other("/dashboard/node")),
        Err(e) => {
            let error = view::field_error(e)?;
            render(&signed, Some(node), StatusCode::BAD_REQUEST, form, error)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    force: Option<String>,
}

/// POST /dashboard/node/channels/{id}/close: cooperative, or forced when
/// the box is ticked.
pub async fn close(
    signed: Signed,
    web_state: web::Data<WebState>,
    id: web::Path<String>,
    web::Form(form): web::Form<CloseForm>,
) -> PageResult {
    let node = operator(&signed, &web_state)?.ok_or(PageError::NotFound)?;
    node.close(&id, form.force.is_some()).map_err(Error::from)?;
    Ok(see_other("/dashboard/node"))
}
