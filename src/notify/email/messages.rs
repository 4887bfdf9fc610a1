//! Which emails exist, which event sends which, and the merchant's choices
//! (kept in `merchants.settings` under `"email"`).

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::objects;
use crate::store::{merchant_users, merchants};

/// One kind of email. The storage string is the `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// To the customer: an invoice was pushed, here is how to pay it.
    PaymentRequest,
    /// To the customer: a dunning step failed to collect.
    PaymentFailed,
    /// To the customer: the grace period ended unpaid.
    InvoiceUnpaid,
    /// To the customer: the receipt.
    Receipt,
    /// To the customer: the subscription was canceled.
    SubscriptionCanceled,
    /// To the customer: the trial ends soon.
    TrialEnding,
    /// To the merchant: an invoice went unpaid.
    MerchantUnpaid,
    /// To the merchant: the day's summary of invoices that went unpaid.
    MerchantUnpaidSummary,
    /// To the merchant: a webhook endpoint was disabled.
    EndpointDisabled,
    /// To the customer, when they ask for it on the portal: a sign-in link.
    /// Not one of [`CUSTOMER_KINDS`]: a merchant cannot turn it off.
    PortalLink,
    /// To a teammate invited on the dashboard's Team page: the invitation
    /// link. Not one of [`CUSTOMER_KINDS`].
    Invitation,
}

/// Every customer email, the ones a merchant can turn off.
pub const CUSTOMER_KINDS: [Kind; 6] = [
    Kind::PaymentRequest,
    Kind::PaymentFailed,
    Kind::InvoiceUnpaid,
    Kind::Receipt,
    Kind::SubscriptionCanceled,
    Kind::TrialEnding,
];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PaymentRequest => "payment_request",
            Kind::PaymentFailed => "payment_failed",
            Kind::InvoiceUnpaid => "invoice_unpaid",
            Kind::Receipt => "receipt",
            Kind::SubscriptionCanceled => "subscription_canceled",
            Kind::TrialEnding => "trial_ending",
            Kind::MerchantUnpaid => "merchant_unpaid",
            Kind::MerchantUnpaidSummary => "merchant_unpaid_summary",
            Kind::EndpointDisabled => "endpoint_disabled",
            Kind::PortalLink => "portal_link",
            Kind::Invitation => "invitation",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        CUSTOMER_KINDS
            .into_iter()
            .chain([
                Kind::MerchantUnpaid,
                Kind::MerchantUnpaidSummary,
                Kind::EndpointDisabled,
                Kind::PortalLink,
                Kind::Invitation,
            ])
            .find(|k| k.as_str() == s)
    }

    /// Emails that ask the customer to pay an invoice: sent only while it is open.
    pub fn asks_for_payment(self) -> bool {
        matches!(
            self,
            Kind::PaymentRequest | Kind::PaymentFailed | Kind::InvoiceUnpaid
        )
    }

    /// The emails an event type sends.
    pub fn for_event(event_type: &str) -> &'static [Kind] {
        match event_type {
            // Pushed to the customer's node, or not deliverable there: either
            // way the customer gets the invoice to see or pay by hand.
            "invoice.pushed" | "invoice.push_failed" => &[Kind::PaymentRequest],
            "invoice.payment_failed" => &[Kind::PaymentFailed],
            "invoice.unpaid" => &[Kind::InvoiceUnpaid, Kind::MerchantUnpaid],
            "invoice.paid" => &[Kind::Receipt],
            "subscription.canceled" => &[Kind::SubscriptionCanceled],
            "subscription.trial_will_end" => &[Kind::TrialEnding],
            "webhook_endpoint.disabled" => &[Kind::EndpointDisabled],
            _ => &[],
        }
    }
}

/// How the merchant hears about unpaid invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnpaidSummary {
    /// One email per invoice as it goes unpaid.
    #[default]
    Immediate,
    /// One email a day at `unpaid_summary_hour` (UTC) listing the invoices
    /// that went unpaid since the previous one; none on a day without any.
    Daily,
    /// No email (webhooks still tell).
    Off,
}

impl UnpaidSummary {
    pub fn as_str(self) -> &'static str {
        match self {
            UnpaidSummary::Immediate => "immediate",
            UnpaidSummary::Daily => "daily",
            UnpaidSummary::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<UnpaidSummary> {
        [
            UnpaidSummary::Immediate,
            UnpaidSummary::Daily,
            UnpaidSummary::Off,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// The hour (UTC) of the daily summary when the merchant chose none.
pub const DEFAULT_SUMMARY_HOUR: u32 = 8;

/// The merchant's email choices: customer emails turned off, where the
/// merchant's own emails go, and how unpaid invoices are reported to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub disabled: Vec<String>,
    pub merchant_address: Option<String>,
    pub unpaid_summary: UnpaidSummary,
    /// 0 to 23.
    pub unpaid_summary_hour: u32,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            disabled: Vec::new(),
            merchant_address: None,
            unpaid_summary: UnpaidSummary::default(),
            unpaid_summary_hour: DEFAULT_SUMMARY_HOUR,
        }
    }
}

impl Preferences {
    pub fn from_settings(settings: &Value) -> Preferences {
        let email = &settings["email"];
        Preferences {
            disabled: email["disabled"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            merchant_address: email["merchant_address"].as_str().map(str::to_owned),
            unpaid_summary: email["unpaid_summary"]
                .as_str()
                .and_then(UnpaidSummary::parse)
                .unwrap_or_default(),
            unpaid_summary_hour: email["unpaid_summary_hour"]
                .as_u64()
                .filter(|h| *h < 24)
                .map_or(DEFAULT_SUMMARY_HOUR, |h| h as u32),
        }
    }

    /// Whether a customer email is on. Merchant emails are always sent when
    /// the merchant has an address (the unpaid one as `unpaid_summary` says).
    pub fn allows(&self, kind: Kind) -> bool {
        !self.disabled.iter().any(|d| d == kind.as_str())
    }

    fn write(&self, settings: &mut Value) {
        let email = ensure_email_object(settings);
        email["disabled"] = json!(self.disabled);
        email["merchant_address"] = self
            .merchant_address
            .as_ref()
            .map_or(Value::Null, |a| json!(a));
        email["unpaid_summary"] = json!(self.unpaid_summary.as_str());
        email["unpaid_summary_hour"] = json!(self.unpaid_summary_hour);
    }
}

/// A change to the merchant's email choices; `None` fields stay.
#[derive(Debug, Clone, Default)]
pub struct PreferencesUpdate {
    /// Customer email kinds (storage strings) to turn on (true) or off.
    pub customer_emails: Vec<(String, bool)>,
    /// `Some(None)` clears the address.
    pub merchant_address: Option<Option<String>>,
    pub unpaid_summary: Option<UnpaidSummary>,
    pub unpaid_summary_hour: Option<u32>,
}

/// The merchant's email choices.
pub async fn get(db: &impl ConnectionTrait, merchant_id: &str) -> Result<Preferences> {
    let merchant = load(db, merchant_id).await?;
    Ok(Preferences::from_settings(&merchant.settings))
}

/// Changes the merchant's email choices; every field is checked before
/// anything is saved. Errors name the field (`customer_emails.<kind>`,
/// `merchant_address`, `unpaid_summary_hour`).
pub async fn update(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    merchant_id: &str,
    change: PreferencesUpdate,
) -> Result<Preferences> {
    for (kind, _) in &change.customer_emails {
        if !Kind::parse(kind).is_some_and(|k| CUSTOMER_KINDS.contains(&k)) {
            return Err(Error::invalid(
                &format!("customer_emails.{kind}"),
                format!("not a customer email; one of {}", customer_kind_list()),
            ));
        }
    }
    let address = match change.merchant_address {
        Some(Some(a)) => Some(Some(
            a.parse::<crate::domain::EmailAddress>()
                .map_err(|e| Error::invalid("merchant_address", e.to_string()))?
                .to_string(),
        )),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(hour) = change.unpaid_summary_hour
        && hour > 23
    {
        return Err(Error::invalid(
            "unpaid_summary_hour",
            "must be an hour from 0 to 23 (UTC)",
        ));
    }
    let merchant = load(db, merchant_id).await?;
    let mut settings = merchant.settings.clone();
    let mut prefs = Preferences::from_settings(&settings);
    for (kind, enabled) in change.customer_emails {
        prefs.disabled.retain(|d| *d != kind);
        if !enabled {
            prefs.disabled.push(kind);
        }
    }
    prefs.disabled.sort();
    prefs.disabled.dedup();
    if let Some(address) = address {
        prefs.merchant_address = address;
    }
    if let Some(mode) = change.unpaid_summary {
        prefs.unpaid_summary = mode;
    }
    if let Some(hour) = change.unpaid_summary_hour {
        prefs.unpaid_summary_hour = hour;
    }
    prefs.write(&mut settings);
    save(db, now, merchant, settings).await?;
    Ok(prefs)
}

fn customer_kind_list() -> String {
    CUSTOMER_KINDS.map(Kind::as_str).join(", ")
}

/// Turns one customer email on or off for a merchant.
pub async fn set_customer_email(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    merchant_id: &str,
    kind: &str,
    enabled: bool,
) -> Result<Preferences> {
    let change = PreferencesUpdate {
        customer_emails: vec![(kind.to_owned(), enabled)],
        ..Default::default()
    };
    update(db, now, merchant_id, change).await
}

/// Sets (or clears) the address the merchant's own emails go to.
pub async fn set_merchant_address(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    merchant_id: &str,
    address: Option<&str>,
) -> Result<Preferences> {
    let change = PreferencesUpdate {
        merchant_address: Some(address.map(str::to_owned)),
        ..Default::default()
    };
    update(db, now, merchant_id, change).await
}

async fn load(db: &impl ConnectionTrait, merchant_id: &str) -> Result<merchants::Model> {
    merchants::Entity::find_by_id(merchant_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("merchant", merchant_id))
}

async fn save(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    merchant: merchants::Model,
    settings: Value,
) -> Result<()> {
    let mut row: merchants::ActiveModel = merchant.into();
    row.settings = Set(settings);
    row.updated_at = Set(now);
    row.update(db).await?;
    Ok(())
}

fn ensure_email_object(settings: &mut Value) -> &mut Value {
    if !settings.is_object() {
        *settings = json!({});
    }
    let email = &mut settings["email"];
    if !email.is_object() {
        *email = json!({});
    }
    email
}

impl From<&Preferences> for objects::EmailSettings {
    fn from(p: &Preferences) -> Self {
        Self {
            object: "email_settings",
            customer_emails: objects::CustomerEmails {
                payment_request: p.allows(Kind::PaymentRequest),
                payment_failed: p.allows(Kind::PaymentFailed),
                invoice_unpaid: p.allows(Kind::InvoiceUnpaid),
                receipt: p.allows(Kind::Receipt),
                subscription_canceled: p.allows(Kind::SubscriptionCanceled),
                trial_ending: p.allows(Kind::TrialEnding),
            },
            merchant_address: p.merchant_address.clone(),
            unpaid_summary: p.unpaid_summary.as_str(),
            unpaid_summary_hour: p.unpaid_summary_hour,
        }
    }
}

/// Where the merchant's own emails go: the address they set, else their
/// oldest dashboard user's; `None` when there is neither.
pub async fn merchant_address(
    db: &impl ConnectionTrait,
    merchant: &merchants::Model,
    prefs: &Preferences,
) -> Result<Option<String>, DbErr> {
    if let Some(a) = &prefs.merchant_address {
        return Ok(Some(a.clone()));
    }
    Ok(merchant_users::Entity::find()
        .filter(merchant_users::Column::MerchantId.eq(&merchant.id))
        .order_by_asc(merchant_users::Column::CreatedAt)
        .order_by_asc(merchant_users::Column::Id)
        .one(db)
        .await?
        .map(|u| u.email))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_events_map() {
        for k in CUSTOMER_KINDS {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(
            Kind::for_event("invoice.unpaid"),
            [Kind::InvoiceUnpaid, Kind::MerchantUnpaid]
        );
        assert!(Kind::for_event("customer.created").is_empty());
    }

    #[test]
    fn preferences_read_disabled_kinds() {
        let p = Preferences::from_settings(&json!({"email": {"disabled": ["receipt"]}}));
        assert!(!p.allows(Kind::Receipt));
        assert!(p.allows(Kind::InvoiceUnpaid));
        assert!(Preferences::from_settings(&json!({})).allows(Kind::Receipt));
        assert_eq!(p.unpaid_summary, UnpaidSummary::Immediate);
        assert_eq!(p.unpaid_summary_hour, DEFAULT_SUMMARY_HOUR);
    }

    #[test]
    fn preferences_round_trip_through_settings() {
        let p = Preferences {
            disabled: vec!["receipt".into()],
            merchant_address: Some("ops@example.com".into()),
            unpaid_summary: UnpaidSummary::Daily,
            unpaid_summary_hour: 17,
        };
        let mut settings = json!({"other": 1});
        p.write(&mut settings);
        assert_eq!(settings["other"], 1);
        assert_eq!(Preferences::from_settings(&settings), p);
        let odd = json!({"email": {"unpaid_summary": "weekly", "unpaid_summary_hour": 99}});
        assert_eq!(Preferences::from_settings(&odd), Preferences::default());
    }
}
