//! The hosted signup pages' service (`/s/{link}`, `web::signup`): the plan
//! behind a link, subscribe codes made from the page, "pay each invoice
//! myself" signups, and what the pages poll.
//!
//! - Only an active plan's link leads anywhere: an archived plan's or an
//!   unknown link is `None` (the page answers 404 either way).
//! - Codes and signups are throttled per plan and per client address
//!   (`auth::throttle`, wall-clock hours), so a bot can neither fill the
//!   `subscribe_codes` table nor the merchant's customers.
//! - A signup always creates a new customer, whatever the email: the page
//!   never looks customers up, so it tells nothing about who is already a
//!   customer and cannot attach a subscription (or anything) to an existing
//!   customer's account. The merchant sees two customers with that email.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};

use super::lifecycle::{self, NewSubscription};
use super::pay_page::{self, PayPage};
use super::payment_methods::{self, NewMethod, Owner, WalletCheck};
use crate::auth::throttle;
use crate::catalog;
use crate::catalog::customers::NewCustomer;
use crate::catalog::subscribe_codes::CodeFor;
use crate::clock::Clocks;
use crate::config::SignupSettings;
use crate::domain::{EmailAddress, InvoiceStatus, SubscriptionStatus, text};
use crate::error::{Error, Result};
use crate::store::{
    self, invoices, merchants, pay_links, plans, subscribe_codes, subscribe_offers, subscriptions,
};

/// How long a code made on the page works: long enough to run the command.
pub const CODE_LIFETIME: Duration = Duration::hours(1);

/// The throttles' window.
const WINDOW: Duration = Duration::hours(1);

/// The longest name kept (the catalog's limit).
const NAME_MAX: usize = 200;

/// A signup page: the plan and its merchant.
#[derive(Debug, Clone)]
pub struct Page {
    pub merchant: merchants::Model,
    pub plan: plans::Model,
}

/// What refused a code or a signup before it was made.
#[derive(Debug, Clone, Copy)]
pub struct Throttled {
    /// Until the window ends.
    pub wait: Duration,
}

/// The page behind `link`, if its plan takes subscriptions.
pub async fn page(db: &impl ConnectionTrait, link: &str) -> Result<Option<Page>> {
    let Some(plan) = catalog::plans::find_by_signup_link(db, link).await? else {
        return Ok(None);
    };
    if plan.status != catalog::plans::ACTIVE {
        return Ok(None);
    }
    let Some(merchant) = merchants::Entity::find_by_id(&plan.merchant_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Page { merchant, plan }))
}

/// Counts one use against the plan's key and the address's; the longer wait
/// when either is over its limit.
async fn check(db: &impl ConnectionTrait, keys: [(String, u32); 2]) -> Result<Option<Throttled>> {
    let now = Utc::now();
    let mut wait: Option<Duration> = None;
    for (key, limit) in keys {
        if let Some(w) = throttle::take(db, now, &key, limit, WINDOW).await? {
            wait = Some(wait.map_or(w, |v| v.max(w)));
        }
    }
    Ok(wait.map(|wait| Throttled { wait }))
}

/// A subscribe code for the page's plan (valid [`CODE_LIFETIME`]): the code
/// part (the page's address) and the whole code the payer takes.
pub async fn create_code(
    db: &DatabaseConnection,
    clocks: &Clocks,
    limits: &SignupSettings,
    page: &Page,
    address: &str,
) -> Result<std::result::Result<String, Throttled>> {
    let keys = [
        (
            format!("signup:codes:plan:{}", page.plan.id),
            limits.codes_per_plan_per_hour,
        ),
        (
            format!("signup:codes:address:{address}"),
            limits.per_address_per_hour,
        ),
    ];
    if let Some(t) = check(db, keys).await? {
        return Ok(Err(t));
    }
    let now = clocks.now_for(db, &page.merchant.id).await?;
    let (row, _) = catalog::subscribe_codes::create(
        db,
        now,
        &page.merchant.id,
        CodeFor::Plan(page.plan.id.clone()),
        None,
        Some(CODE_LIFETIME),
    )
    .await?;
    Ok(Ok(row.code))
}

/// Where a code made on the page stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// No subscriber has completed the handshake yet.
    Waiting,
    /// A subscriber has; its first invoice is not paid yet.
    Subscribed,
    /// Subscribed, and the first invoice is paid (or a trial started).
    Done,
    /// Expired before anyone subscribed.
    Expired,
}

impl CodeState {
    pub fn as_str(&self) -> &'static str {
        match self {
            CodeState::Waiting => "waiting",
            CodeState::Subscribed => "subscribed",
            CodeState::Done => "done",
            CodeState::Expired => "expired",
        }
    }
}

/// A code made on the page, as its page shows it.
#[derive(Debug, Clone)]
pub struct CodeView {
    /// `<code>@<node id>@<host:port>`.
    pub full: String,
    pub expires_at: DateTime<Utc>,
    pub state: CodeState,
    /// The subscription it made, once it made one.
    pub subscription: Option<subscriptions::Model>,
}

/// The page's code `code`; `None` unless it is a code of this page's plan.
pub async fn code(
    db: &impl ConnectionTrait,
    clocks: &Clocks,
    page: &Page,
    code: &str,
) -> Result<Option<CodeView>> {
    if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let Some(row) = subscribe_codes::Entity::find_by_id(code).one(db).await? else {
        return Ok(None);
    };
    if row.merchant_id != page.merchant.id || row.plan_id.as_deref() != Some(&page.plan.id) {
        return Ok(None);
    }
    let full = catalog::subscribe_codes::full(db, &row).await?;
    let offer = subscribe_offers::Entity::find()
        .filter(subscribe_offers::Column::Code.eq(&row.code))
        .filter(subscribe_offers::Column::SubscriptionId.is_not_null())
        .order_by_asc(subscribe_offers::Column::CreatedAt)
        .one(db)
        .await?;
    let subscription = match offer.and_then(|o| o.subscription_id) {
        Some(id) => subscriptions::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let state = match &subscription {
        Some(sub) if started(db, sub).await? => CodeState::Done,
        Some(_) => CodeState::Subscribed,
        None => {
            let now = clocks.now_for(db, &page.merchant.id).await?;
            if row.expires_at <= now {
                CodeState::Expired
            } else {
                CodeState::Waiting
            }
        }
    };
    Ok(Some(CodeView {
        full,
        expires_at: row.expires_at,
        state,
        subscription,
    }))
}

/// A subscription is under way: in its trial, or its first invoice is paid.
async fn started(db: &impl ConnectionTrait, sub: &subscriptions::Model) -> Result<bool> {
    if sub.status == SubscriptionStatus::Trialing.as_str() {
        return Ok(true);
    }
    Ok(first_invoice(db, &sub.id)
        .await?
        .is_some_and(|i| i.status == InvoiceStatus::Paid.as_str()))
}

async fn first_invoice(
    db: &impl ConnectionTrait,
    subscription_id: &str,
) -> Result<Option<invoices::Model>> {
    Ok(invoices::Entity::find()
        .filter(invoices::Column::SubscriptionId.eq(subscription_id))
        .order_by_asc(invoices::Column::CreatedAt)
        .order_by_asc(invoices::Column::Id)
        .one(db)
        .await?)
}

/// The "pay each invoice myself" form, as typed.
#[derive(Debug, Clone, Default)]
pub struct ManualSignup {
    pub email: String,
    pub name: String,
}

impl ManualSignup {
    /// The customer, or an error naming the field (`email`, `name`).
    fn parse(&self) -> Result<NewCustomer> {
        if text::has_nul(&self.email) {
            return Err(Error::invalid("email", text::NUL_REFUSED));
        }
        if text::has_nul(&self.name) {
            return Err(Error::invalid("name", text::NUL_REFUSED));
        }
        let email =
            EmailAddress::parse(&self.email).map_err(|e| Error::invalid("email", e.to_string()))?;
        let name = self.name.trim();
        if name.chars().count() > NAME_MAX {
            return Err(Error::invalid(
                "name",
                format!("at most {NAME_MAX} characters"),
            ));
        }
        if name.chars().any(|c| c.is_control()) {
            return Err(Error::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(NewCustomer {
            email: Some(email),
            name: (!name.is_empty()).then(|| name.to_owned()),
            metadata: Some(serde_json::json!({ "source": "signup_page" })),
            ..NewCustomer::default()
        })
    }
}

/// What a signup made.
#[derive(Debug, Clone)]
pub struct Signed {
    pub subscription: subscriptions::Model,
    /// The first invoice's pay-page token, when the plan bills up front
    /// (no trial): the page that shows its BOLT11.
    pub invoice_token: Option<String>,
}

/// Creates the customer (no node: invoices reach them by email with the
/// pay page), the subscription, and its first invoice when the plan bills
/// up front, in one transaction, through the API's own service functions.
/// A bad field is `Err(Invalid)` naming it; nothing is counted against the
/// throttles for it.
pub async fn subscribe_manual(
    db: &DatabaseConnection,
    clocks: &Clocks,
    limits: &SignupSettings,
    page: &Page,
    address: &str,
    form: &ManualSignup,
) -> Result<std::result::Result<Signed, Throttled>> {
    let customer = form.parse()?;
    if let Some(t) = check(db, signup_keys(limits, page, address)).await? {
        return Ok(Err(t));
    }
    create(db, clocks, page, customer).await.map(Ok)
}

/// As [`subscribe_manual`], paid by the subscriber's wallet (Nostr Wallet
/// Connect): the form's fields and the URI are checked, then the throttles,
/// then the wallet (`get_info`, so nothing is made for a wallet that cannot
/// pay); the subscription's payment method is then `nwc`, and its first
/// invoice is sent to the wallet once issued. A bad URI or wallet is
/// `Err(Invalid)` naming `nwc_uri`.
#[allow(clippy::too_many_arguments)]
pub async fn subscribe_with_wallet(
    db: &DatabaseConnection,
    clocks: &Clocks,
    limits: &SignupSettings,
    wallet: &WalletCheck<'_>,
    page: &Page,
    address: &str,
    form: &ManualSignup,
    nwc_uri: String,
) -> Result<std::result::Result<Signed, Throttled>> {
    let customer = form.parse()?;
    let method = NewMethod::parse("nwc", Some(nwc_uri))?;
    if let Some(t) = check(db, signup_keys(limits, page, address)).await? {
        return Ok(Err(t));
    }
    let prepared = payment_methods::prepare(wallet, method).await?;
    let signed = create(db, clocks, page, customer).await?;
    let now = clocks.now_for(db, &page.merchant.id).await?;
    let owner = Owner {
        merchant_id: &page.merchant.id,
        customer_id: Some(&signed.subscription.customer_id),
    };
    let with = payment_methods::apply(
        db,
        wallet.seal,
        now,
        owner,
        &signed.subscription.id,
        prepared,
    )
    .await?;
    Ok(Ok(Signed {
        subscription: with.subscription,
        ..signed
    }))
}

/// The hourly throttles of a signup from a page: per plan and per address.
fn signup_keys(limits: &SignupSettings, page: &Page, address: &str) -> [(String, u32); 2] {
    [
        (
            format!("signup:manual:plan:{}", page.plan.id),
            limits.signups_per_plan_per_hour,
        ),
        (
            format!("signup:manual:address:{address}"),
            limits.per_address_per_hour,
        ),
    ]
}

/// The customer, the subscription and its first invoice, in one transaction.
async fn create(
    db: &DatabaseConnection,
    clocks: &Clocks,
    page: &Page,
    customer: NewCustomer,
) -> Result<Signed> {
    let txn = store::begin_write(db).await?;
    let now = clocks.now_for(&txn, &page.merchant.id).await?;
    let customer =
        catalog::customers::create_in(&txn, now, &page.merchant.id, customer, false).await?;
    let (subscription, invoice) = lifecycle::create_in(
        &txn,
        now,
        &page.merchant.id,
        NewSubscription {
            customer_id: customer.id,
            plan_id: page.plan.id.clone(),
            metadata: Some(serde_json::json!({ "source": "signup_page" })),
            ..NewSubscription::default()
        },
    )
    .await?;
    let invoice_token = match &invoice {
        Some(inv) => Some(pay_links::token_for(&txn, now, inv).await?),
        None => None,
    };
    txn.commit().await?;
    Ok(Signed {
        subscription,
        invoice_token,
    })
}

/// The first invoice of a signup, by its pay-page token; `None` unless that
/// invoice bills this page's plan.
pub async fn invoice(
    db: &impl ConnectionTrait,
    clocks: &Clocks,
    page: &Page,
    token: &str,
) -> Result<Option<PayPage>> {
    let Some(p) = pay_page::load(db, clocks, token).await? else {
        return Ok(None);
    };
    if p.invoice.merchant_id != page.merchant.id {
        return Ok(None);
    }
    let Some(sub_id) = p.invoice.subscription_id.as_deref() else {
        return Ok(None);
    };
    let sub = subscriptions::Entity::find_by_id(sub_id).one(db).await?;
    if sub.is_none_or(|s| s.plan_id != page.plan.id) {
        return Ok(None);
    }
    Ok(Some(p))
}
