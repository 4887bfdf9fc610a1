//! The public JSON shape of each resource: what the REST API returns and what
//! event payloads (and so webhooks) carry. One shape per resource.
//!
//! `livemode` (false on the sandbox, true on every other network: see
//! `auth::api_keys::Mode`) is a fact of the deployment, not of a row: a
//! database belongs to one network (`store::deployment_network`). So the
//! shapes below are mode-free snapshots, and `livemode` is added where an
//! object leaves the service: [`Live`] around every object the API answers,
//! and [`with_livemode`] on every event's data when the event is read (API
//! and webhooks alike), so events stored before `livemode` existed carry it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::{
    api_keys, customers, events, grants, invoices, payment_requests, plans, push_attempts,
    subscribe_codes, subscriptions, wallet_connections, webhook_deliveries,
    webhook_delivery_attempts, webhook_endpoints,
};

pub const CURRENCY: &str = "BTC";

/// An object as the API answers it: its own fields and `livemode`. Lists
/// (`{"object": "list", ...}`) and the stubs of deleted objects carry no
/// `livemode`; the objects inside a list do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live<T> {
    #[serde(flatten)]
    pub object: T,
    /// `false` on the sandbox (test keys `pb_test_`, the sandbox's simulated
    /// chain: no real money), `true` on every other network.
    pub livemode: bool,
}

impl<T> Live<T> {
    pub fn new(object: T, livemode: bool) -> Self {
        Self { object, livemode }
    }
}

/// An event payload (a stored snapshot) with `livemode` set: the one place
/// event data gains it, for the API's events and webhook bodies alike.
/// Anything but a JSON object is answered as it is.
pub fn with_livemode(data: &Value, livemode: bool) -> Value {
    let mut data = data.clone();
    if let Value::Object(fields) = &mut data {
        fields.insert("livemode".to_owned(), Value::Bool(livemode));
    }
    data
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    pub id: String,
    pub object: &'static str,
    pub name: String,
    pub description: Option<String>,
    pub amount_msat: i64,
    pub currency: &'static str,
    /// day, week, month, year or cron.
    pub interval: String,
    pub interval_count: i32,
    pub cron_expression: Option<String>,
    pub trial_period_days: i64,
    pub payment_due_secs: i64,
    /// Seconds after the due time at which an unpaid invoice is pushed again.
    #[schema(value_type = Vec<i64>)]
    pub retry_schedule_secs: Value,
    /// Seconds after the due time before `grace_action`.
    pub grace_period_secs: i64,
    pub grace_action: String,
    /// active or archived.
    pub status: String,
    /// The plan's hosted signup page (absolute, under the deployment's
    /// `app.base_url`): share it with customers. Its slug is unguessable;
    /// an archived plan's page answers 404.
    pub signup_url: String,
    /// Your key-value strings.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The absolute address of a plan's hosted signup page.
pub fn signup_url(base_url: &str, signup_link: &str) -> String {
    format!("{}/s/{signup_link}", base_url.trim_end_matches('/'))
}

impl Plan {
    /// The plan as the API shows it; `base_url` is the deployment's public
    /// address (`app.base_url`).
    pub fn new(m: &plans::Model, base_url: &str) -> Self {
        Self {
            id: m.id.clone(),
            object: "plan",
            name: m.name.clone(),
            description: m.description.clone(),
            amount_msat: m.amount_msat,
            currency: CURRENCY,
            interval: m.interval_unit.clone(),
            interval_count: m.interval_count,
            cron_expression: m.cron_expression.clone(),
            trial_period_days: m.trial_period_secs / 86_400,
            payment_due_secs: m.payment_due_secs,
            retry_schedule_secs: m.retry_schedule_secs.clone(),
            grace_period_secs: m.grace_period_secs,
            grace_action: m.grace_action.clone(),
            status: m.status.clone(),
            signup_url: signup_url(base_url, &m.signup_link),
            metadata: m.metadata.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    pub object: &'static str,
    pub email: Option<String>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub node_id: Option<String>,
    pub node_address: Option<String>,
    /// Whether `node_id` was proven by the customer's node in a subscribe
    /// handshake. A node id typed into the API is not: pushes to it commit
    /// to no grant, so the subscriber's node can only hold them for approval.
    pub node_id_verified: bool,
    /// Credit held for the customer: money received that no invoice took
    /// (an overpayment, or a payment that reached an invoice already paid or
    /// voided). It is taken off their next invoice.
    pub balance_msat: i64,
    /// Your key-value strings.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&customers::Model> for Customer {
    fn from(m: &customers::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "customer",
            email: m.email.clone(),
            name: m.name.clone(),
            external_id: m.external_id.clone(),
            node_id: m.node_id.clone(),
            node_address: m.node_address.clone(),
            node_id_verified: m.node_id_verified,
            balance_msat: m.balance_msat,
            metadata: m.metadata.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What DELETE answers: the object is gone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub object: &'static str,
    pub deleted: bool,
}

/// A sign-in link to the customer portal for one customer (like Stripe's
/// billing portal session). The `url` holds a secret token: it is answered
/// once and only its hash is stored. It works once, until `expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalLink {
    /// Always `portal_link`.
    pub object: &'static str,
    /// The customer it signs in as.
    pub customer: String,
    /// `{base_url}/portal/login/{token}`: send it to the customer.
    pub url: String,
    /// 15 minutes after it was made, on the merchant's clock.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    pub object: &'static str,
    pub customer: String,
    pub plan: String,
    /// The plan that takes over when the current period ends.
    pub pending_plan: Option<String>,
    pub status: String,
    pub billing_anchor: DateTime<Utc>,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub trial_start: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<String>,
    /// Why billing this subscription failed (it is not billed until you
    /// change it: change plan, pause and resume, or cancel); `null` normally.
    pub billing_error: Option<String>,
    /// How its invoices are paid: `push` (to the customer's node; without
    /// one, the pay page), `nwc` (the subscriber's wallet, Nostr Wallet
    /// Connect) or `manual` (email and the pay page).
    pub payment_method: String,
    /// Your key-value strings.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&subscriptions::Model> for Subscription {
    fn from(m: &subscriptions::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "subscription",
            customer: m.customer_id.clone(),
            plan: m.plan_id.clone(),
            pending_plan: m.next_plan_id.clone(),
            status: m.status.clone(),
            billing_anchor: m.billing_anchor,
            current_period_start: m.current_period_start,
            current_period_end: m.current_period_end,
            trial_start: m.trial_start,
            trial_end: m.trial_end,
            cancel_at_period_end: m.cancel_at_period_end,
            canceled_at: m.canceled_at,
            ended_at: m.ended_at,
            paused_at: m.paused_at,
            cancellation_reason: m.cancellation_reason.clone(),
            billing_error: m.billing_error.clone(),
            payment_method: m.payment_method.clone(),
            metadata: m.metadata.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    pub id: String,
    pub object: &'static str,
    pub number: String,
    pub customer: String,
    pub subscription: Option<String>,
    pub plan: Option<String>,
    pub description: Option<String>,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub amount_msat: i64,
    /// The part of `amount_msat` paid from the customer's balance when the
    /// invoice was created.
    pub credit_applied_msat: i64,
    /// What the customer is asked to pay: `amount_msat - credit_applied_msat`.
    pub amount_due_msat: i64,
    pub currency: &'static str,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub marked_uncollectible_at: Option<DateTime<Utc>>,
    pub attempt_count: i32,
    /// When dunning acts next on this invoice, if it is still unpaid.
    pub next_payment_attempt: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&invoices::Model> for Invoice {
    fn from(m: &invoices::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "invoice",
            number: m.number.clone(),
            customer: m.customer_id.clone(),
            subscription: m.subscription_id.clone(),
            plan: m.plan_id.clone(),
            description: m.description.clone(),
            period_start: m.period_start,
            period_end: m.period_end,
            amount_msat: m.amount_msat,
            credit_applied_msat: m.credit_applied_msat,
            amount_due_msat: m.amount_due_msat(),
            currency: CURRENCY,
            status: m.status.clone(),
            due_at: m.due_at,
            paid_at: m.paid_at,
            voided_at: m.voided_at,
            marked_uncollectible_at: m.marked_uncollectible_at,
            attempt_count: m.attempt_count,
            next_payment_attempt: m.next_dunning_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRequest {
    pub id: String,
    pub object: &'static str,
    pub invoice: String,
    pub amount_msat: i64,
    pub currency: &'static str,
    pub status: String,
    pub push: bool,
    pub bolt11: Option<String>,
    pub payment_hash: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Why the node could not issue it, when `status` is `failed`.
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&payment_requests::Model> for PaymentRequest {
    fn from(m: &payment_requests::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "payment_request",
            invoice: m.invoice_id.clone(),
            amount_msat: m.amount_msat,
            currency: CURRENCY,
            status: m.status.clone(),
            push: m.push,
            bolt11: m.bolt11.clone(),
            payment_hash: m.payment_hash.clone(),
            expires_at: m.expires_at,
            issued_at: m.issued_at,
            paid_at: m.paid_at,
            failure_reason: m.failure_reason.clone(),
            created_at: m.created_at,
        }
    }
}

/// Money received that no invoice took, now in the customer's balance
/// (the data of `payment.unapplied`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnappliedPayment {
    pub object: &'static str,
    /// The payment request that was paid (`pr_...`).
    pub payment_request: String,
    pub invoice: String,
    pub customer: String,
    /// What the payment brought in.
    pub amount_received_msat: i64,
    /// The part of it that went to the customer's balance.
    pub amount_unapplied_msat: i64,
    pub currency: &'static str,
    /// `overpayment`, or why the invoice could not take it: `invoice_paid`,
    /// `invoice_void`, `invoice_uncollectible`.
    pub reason: String,
}

/// One delivery of a payment request to the customer's Lightning node.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushAttempt {
    pub id: String,
    pub object: &'static str,
    pub payment_request: String,
    /// `push` (to the customer's node) or `nwc` (to the subscription's
    /// wallet connection, as NIP-47 `pay_invoice`).
    pub method: String,
    /// The wallet connection (`wc_...`), for `nwc`.
    pub wallet_connection: Option<String>,
    /// queued | accepted | pending_approval | paid | rejected | failed | dropped
    pub status: String,
    /// The customer's node id (`push`), or the wallet service's public key (`nwc`).
    pub node_id: String,
    pub reason: Option<String>,
    /// Deliveries tried so far.
    pub tries: i32,
    pub attempted_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&push_attempts::Model> for PushAttempt {
    fn from(m: &push_attempts::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "push_attempt",
            payment_request: m.payment_request_id.clone(),
            method: m.method.clone(),
            wallet_connection: m.wallet_connection_id.clone(),
            status: m.status.clone(),
            node_id: m.node_id.clone(),
            reason: m.reason.clone(),
            tries: m.tries,
            attempted_at: m.attempted_at,
            replied_at: m.replied_at,
            created_at: m.created_at,
        }
    }
}

/// A subscriber's Nostr Wallet Connect connection for one subscription.
/// Its secret is never shown: it is sealed at rest and erased on removal.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletConnection {
    pub id: String,
    pub object: &'static str,
    pub subscription: String,
    pub customer: String,
    /// `active` or `removed`.
    pub status: String,
    /// The wallet service's public key (hex).
    pub wallet_pubkey: String,
    pub relays: Vec<String>,
    /// The name the wallet gave itself, if any.
    pub wallet_alias: Option<String>,
    /// The NIP-47 methods the wallet offered.
    pub wallet_methods: Vec<String>,
    /// The connection's budget as the wallet reported it when it was
    /// connected (`get_budget`, NWC-13); `null` when it does not say.
    pub budget: Option<WalletBudget>,
    pub created_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

/// A wallet connection's budget per renewal period, as the wallet said.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletBudget {
    pub total_msat: i64,
    /// Spent of it when the connection was made.
    pub used_msat: i64,
    /// `daily`, `weekly`, `monthly`, `yearly` or `never`; `null` if not said.
    pub renewal: Option<String>,
}

impl WalletBudget {
    pub fn of(m: &wallet_connections::Model) -> Option<WalletBudget> {
        Some(WalletBudget {
            total_msat: m.budget_total_msat?,
            used_msat: m.budget_used_msat.unwrap_or(0),
            renewal: m.budget_renewal.clone(),
        })
    }
}

impl From<&wallet_connections::Model> for WalletConnection {
    fn from(m: &wallet_connections::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "wallet_connection",
            subscription: m.subscription_id.clone(),
            customer: m.customer_id.clone(),
            status: m.status.clone(),
            wallet_pubkey: m.wallet_pubkey.clone(),
            relays: m.relays(),
            wallet_alias: m.wallet_alias.clone(),
            wallet_methods: m.methods(),
            budget: WalletBudget::of(m),
            created_at: m.created_at,
            removed_at: m.removed_at,
        }
    }
}

/// A subscription's payment method, with its wallet connection for `nwc`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethod {
    pub object: &'static str,
    pub subscription: String,
    /// `push`, `nwc` or `manual`.
    pub method: String,
    pub wallet_connection: Option<WalletConnection>,
}

impl PaymentMethod {
    pub fn new(
        subscription: &subscriptions::Model,
        wallet: Option<&wallet_connections::Model>,
    ) -> Self {
        Self {
            object: "payment_method",
            subscription: subscription.id.clone(),
            method: subscription.payment_method.clone(),
            wallet_connection: wallet.map(WalletConnection::from),
        }
    }
}

/// A subscriber's consent, made by their node in the subscribe handshake:
/// invoices of this merchant for the subscription (or, for an account
/// grant, the customer's one-off invoices) commit to it, and the
/// subscriber's node pays them automatically within the caps.
#[derive(Debug, Serialize, ToSchema)]
pub struct Grant {
    pub id: String,
    pub object: &'static str,
    /// The grant id the subscriber's node chose (32 hex digits), as the
    /// invoices' descriptions name it (`pushbill-grant:<key>`).
    pub grant_key: String,
    pub customer: String,
    /// `null` for an account grant.
    pub subscription: Option<String>,
    /// The subscriber's node (proven by the handshake).
    pub node_id: String,
    /// The most the subscriber's node pays per window.
    pub cap_msat: i64,
    /// minute | hour | day | week | month (calendar windows, UTC)
    pub window: String,
    pub per_invoice_max_msat: Option<i64>,
    pub ends_at: Option<DateTime<Utc>>,
    /// active | ended
    pub status: String,
    /// subscriber | merchant, once ended
    pub ended_by: Option<String>,
    /// Ended here, and the subscriber's node has not acknowledged it yet.
    pub end_notice_pending: bool,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<&grants::Model> for Grant {
    fn from(m: &grants::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "grant",
            grant_key: m.grant_key.clone(),
            customer: m.customer_id.clone(),
            subscription: m.subscription_id.clone(),
            node_id: m.node_id.clone(),
            cap_msat: m.cap_msat,
            window: m.window.clone(),
            per_invoice_max_msat: m.per_invoice_max_msat,
            ends_at: m.ends_at,
            status: m.status.clone(),
            ended_by: m.ended_by.clone(),
            end_notice_pending: m.end_notice_pending,
            created_at: m.created_at,
            ended_at: m.ended_at,
        }
    }
}

/// What a subscriber gives their node (`pushbill payer subscribe CODE`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscribeCode {
    pub object: &'static str,
    /// `<code>@<merchant node id>@<host:port>`
    pub code: String,
    /// A plan code: each subscriber gets a customer and a subscription.
    pub plan: Option<String>,
    /// An account code: links this customer (once).
    pub customer: Option<String>,
    /// The cap per window suggested to the subscriber (`null`: the plan's
    /// amount per the window matching its schedule).
    pub cap_msat: Option<i64>,
    pub window: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl SubscribeCode {
    /// `full`: the code with the node id and address.
    pub fn new(m: &subscribe_codes::Model, full: String) -> Self {
        Self {
            object: "subscribe_code",
            code: full,
            plan: m.plan_id.clone(),
            customer: m.customer_id.clone(),
            cap_msat: m.cap_msat,
            window: m.window.clone(),
            expires_at: m.expires_at,
            used_at: m.used_at,
            created_at: m.created_at,
        }
    }
}

/// The payload of `invoice.pushed` and `invoice.push_failed`: the invoice,
/// and the push it is about (its status, or why it failed).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePush {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub push: PushAttempt,
}

/// A payment request with its push attempts, oldest first (the API's view;
/// event payloads carry the plain [`PaymentRequest`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRequestWithAttempts {
    #[serde(flatten)]
    pub request: PaymentRequest,
    pub push_attempts: Vec<PushAttempt>,
}

/// Something that happened, with a snapshot of the object it happened to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    pub object: &'static str,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `false` on the sandbox, `true` on every other network; the object in
    /// `data` carries the same.
    pub livemode: bool,
    pub data: EventData,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventData {
    /// The object as it was right after the event, with `livemode`.
    #[schema(value_type = Object)]
    pub object: Value,
}

impl Event {
    pub fn new(m: &events::Model, livemode: bool) -> Self {
        Self {
            id: m.id.clone(),
            object: "event",
            event_type: m.event_type.clone(),
            livemode,
            data: EventData {
                object: with_livemode(&m.data, livemode),
            },
            created_at: m.created_at,
        }
    }
}

/// An API key as listed: never its secret nor the secret's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub object: &'static str,
    pub name: String,
    /// test or live.
    pub mode: String,
    /// The secret's first characters, for recognising it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&api_keys::Model> for ApiKey {
    fn from(m: &api_keys::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "api_key",
            name: m.name.clone(),
            mode: m.mode.clone(),
            prefix: m.prefix.clone(),
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A key just created: the one answer that carries its secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

/// A merchant's sandbox test clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestClock {
    pub object: &'static str,
    pub now: DateTime<Utc>,
}

/// A merchant's webhook endpoint, never with its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: String,
    pub object: &'static str,
    pub url: String,
    pub description: Option<String>,
    /// `["*"]` (every event) or a list of event types.
    #[schema(value_type = Vec<String>)]
    pub enabled_events: Value,
    /// enabled or disabled.
    pub status: String,
    /// Why it is disabled: `manual`, or what the worker saw (410 Gone, or
    /// every delivery failing for 5 days).
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed, if they have.
    pub failing_since: Option<DateTime<Utc>>,
    /// While a rotated-out secret still signs (both signatures are sent).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&webhook_endpoints::Model> for WebhookEndpoint {
    fn from(m: &webhook_endpoints::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "webhook_endpoint",
            url: m.url.clone(),
            description: m.description.clone(),
            enabled_events: m.event_types.clone(),
            status: m.status.clone(),
            disabled_reason: m.disabled_reason.clone(),
            failing_since: m.failing_since,
            previous_secret_expires_at: m
                .previous_secret
                .as_ref()
                .and(m.previous_secret_expires_at),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// An endpoint just created, or its secret just rotated: the one answer that
/// carries the signing secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_...`), shown in this answer only.
    pub secret: String,
}

/// One event on its way to one endpoint, with its last attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: String,
    pub object: &'static str,
    pub endpoint: String,
    /// The event sent; also the `webhook-id` header of every attempt.
    pub event: String,
    /// pending, succeeded or failed.
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_latency_ms: Option<i64>,
    /// The first KiB of the endpoint's last answer.
    pub last_response_excerpt: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One attempt of a webhook delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryAttempt {
    pub id: String,
    pub object: &'static str,
    pub delivery: String,
    pub endpoint: String,
    /// 1 for the first attempt, 2 for the next...
    pub attempt_number: i32,
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status, when the endpoint answered.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The first KiB of the endpoint's answer.
    pub response_excerpt: Option<String>,
    /// Why it failed without an answer (timeout, refused address...).
    pub error: Option<String>,
    /// The delivery's status after this attempt: pending (to be retried),
    /// succeeded or failed.
    pub outcome: String,
}

impl From<&webhook_delivery_attempts::Model> for WebhookDeliveryAttempt {
    fn from(m: &webhook_delivery_attempts::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "webhook_delivery_attempt",
            delivery: m.delivery_id.clone(),
            endpoint: m.endpoint_id.clone(),
            attempt_number: m.attempt_number,
            attempted_at: m.attempted_at,
            status_code: m.status_code,
            latency_ms: m.latency_ms,
            response_excerpt: m.response_excerpt.clone(),
            error: m.error.clone(),
            outcome: m.outcome.clone(),
        }
    }
}

impl From<&webhook_deliveries::Model> for WebhookDelivery {
    fn from(m: &webhook_deliveries::Model) -> Self {
        Self {
            id: m.id.clone(),
            object: "webhook_delivery",
            endpoint: m.endpoint_id.clone(),
            event: m.event_id.clone(),
            status: m.status.clone(),
            attempt_count: m.attempt_count,
            next_attempt_at: m.next_attempt_at,
            last_attempt_at: m.last_attempt_at,
            last_status_code: m.last_status_code,
            last_latency_ms: m.last_latency_ms,
            last_response_excerpt: m.last_response_excerpt.clone(),
            last_error: m.last_error.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The deployment's Lightning node at a glance (`GET /v1/node`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Node {
    /// Always `node`.
    pub object: &'static str,
    /// The node's public key (66 hex characters).
    pub node_id: String,
    /// Where the node listens for peers, `host:port`.
    pub listen_addr: String,
    /// bitcoin, testnet, signet or regtest.
    pub network: String,
    /// Height of the chain tip the node has synced to.
    pub block_height: u32,
    pub block_hash: String,
    pub num_peers: usize,
    pub num_channels: usize,
    /// Channels that can carry payments now.
    pub num_usable_channels: usize,
}

impl From<ln_node::operations::NodeInfo> for Node {
    fn from(n: ln_node::operations::NodeInfo) -> Self {
        Self {
            object: "node",
            node_id: n.node_id,
            listen_addr: n.listen_addr,
            network: n.network,
            block_height: n.block_height,
            block_hash: n.block_hash,
            num_peers: n.num_peers,
            num_channels: n.num_channels,
            num_usable_channels: n.num_usable_channels,
        }
    }
}

/// A peer the node is connected to.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodePeer {
    /// Always `node_peer`.
    pub object: &'static str,
    pub node_id: String,
    /// The peer's address, `host:port`, when known.
    pub address: Option<String>,
}

impl From<ln_node::operations::PeerInfo> for NodePeer {
    fn from(p: ln_node::operations::PeerInfo) -> Self {
        Self {
            object: "node_peer",
            node_id: p.node_id,
            address: p.address,
        }
    }
}

/// A channel of the node, with its balances.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeChannel {
    /// Always `node_channel`.
    pub object: &'static str,
    /// 64 hex characters. Temporary until the funding transaction exists.
    pub channel_id: String,
    /// The peer at the other end.
    pub counterparty_node_id: String,
    /// The funding transaction, once it exists.
    pub funding_txid: Option<String>,
    /// The channel's total size in sat.
    pub capacity_sat: u64,
    /// What the node can send now, in msat.
    pub outbound_capacity_msat: u64,
    /// What the node can receive now, in msat: the limit on payments to it.
    pub inbound_capacity_msat: u64,
    /// Confirmations of the funding transaction, once known.
    pub confirmations: Option<u32>,
    /// Confirmations needed before the channel is ready.
    pub confirmations_required: Option<u32>,
    /// The node opened (and funded) this channel.
    pub is_outbound: bool,
    /// Funded deep enough and both sides agreed it is ready.
    pub is_channel_ready: bool,
    /// Ready, the peer is connected and the channel is not closing: payments can flow.
    pub is_usable: bool,
}

impl From<ln_node::operations::ChannelInfo> for NodeChannel {
    fn from(c: ln_node::operations::ChannelInfo) -> Self {
        Self {
            object: "node_channel",
            channel_id: c.channel_id,
            counterparty_node_id: c.counterparty_node_id,
            funding_txid: c.funding_txid,
            capacity_sat: c.capacity_sat,
            outbound_capacity_msat: c.outbound_capacity_msat,
            inbound_capacity_msat: c.inbound_capacity_msat,
            confirmations: c.confirmations,
            confirmations_required: c.confirmations_required,
            is_outbound: c.is_outbound,
            is_channel_ready: c.is_channel_ready,
            is_usable: c.is_usable,
        }
    }
}

/// The rate the merchant's signup pages show each price's fiat value at
/// (all null when they show sat alone). Prices and invoices stay in msat.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiatSettings {
    /// `fiat_settings`.
    pub object: &'static str,
    /// An ISO 4217 code (`USD`), or null.
    pub currency: Option<&'static str>,
    /// The price of one bitcoin in the currency's minor units (cents):
    /// 9750000 for 97,500.00 USD.
    pub minor_per_btc: Option<i64>,
    /// When the merchant set the rate (the pages show its date).
    pub set_at: Option<DateTime<Utc>>,
}

/// The merchant's email settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSettings {
    /// `email_settings`.
    pub object: &'static str,
    /// Each email to customers: on (true) or off.
    pub customer_emails: CustomerEmails,
    /// Where the merchant's own emails go (unpaid invoices, disabled webhook
    /// endpoints); when null, the oldest dashboard user's address.
    pub merchant_address: Option<String>,
    /// How the merchant hears about unpaid invoices: `immediate` (one email
    /// each), `daily` (one summary a day) or `off`.
    #[schema(value_type = String)]
    pub unpaid_summary: &'static str,
    /// The hour (UTC, 0 to 23) the daily summary is sent at.
    pub unpaid_summary_hour: u32,
}

/// Each email to customers, on or off.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerEmails {
    /// When an invoice is pushed.
    pub payment_request: bool,
    /// When a dunning step fails to collect.
    pub payment_failed: bool,
    /// When the grace period ends unpaid.
    pub invoice_unpaid: bool,
    /// When an invoice is paid.
    pub receipt: bool,
    /// When a subscription is canceled.
    pub subscription_canceled: bool,
    /// Three days before a trial ends.
    pub trial_ending: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_adds_livemode_to_the_object_fields() {
        let clock = TestClock {
            object: "test_clock",
            now: "2027-12-01T00:00:00Z".parse().unwrap(),
        };
        let json = serde_json::to_value(Live::new(clock, false)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"object": "test_clock", "now": "2027-12-01T00:00:00Z", "livemode": false})
        );
    }

    #[test]
    fn event_data_gains_livemode_when_read() {
        let stored = serde_json::json!({"id": "inv_1", "object": "invoice"});
        assert_eq!(with_livemode(&stored, true)["livemode"], true);
        assert_eq!(with_livemode(&stored, false)["livemode"], false);
        // A snapshot stored with another value is answered with the deployment's.
        let odd = serde_json::json!({"id": "inv_1", "livemode": true});
        assert_eq!(with_livemode(&odd, false)["livemode"], false);
        assert_eq!(with_livemode(&Value::Null, true), Value::Null);
    }
}
