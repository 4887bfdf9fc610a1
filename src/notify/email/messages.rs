//! Which emails exist, which event sends which, and the merchant's choices
//! (kept in `merchants.settings` under `"email"`).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::store::merchants;

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
    /// To the merchant: a webhook endpoint was disabled.
    EndpointDisabled,
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
            Kind::EndpointDisabled => "endpoint_disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        CUSTOMER_KINDS
            .into_iter()
            .chain([Kind::MerchantUnpaid, Kind::EndpointDisabled])
            .find(|k| k.as_str() == s)
    }

    /// The emails an event type sends.
    pub fn for_event(event_type: &str) -> &'static [Kind] {
        match event_type {
            "invoice.pushed" => &[Kind::PaymentRequest],
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

/// The merchant's email choices: customer emails turned off, and where the
/// merchant's own emails go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub disabled: Vec<String>,
    pub merchant_address: Option<String>,
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
        }
    }

    /// Merchant emails are always sent when the merchant has an address.
    pub fn allows(&self, kind: Kind) -> bool {
        !self.disabled.iter().any(|d| d == kind.as_str())
    }
}

/// Turns one customer email on or off for a merchant.
pub async fn set_customer_email(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    merchant_id: &str,
    kind: &str,
    enabled: bool,
) -> Result<Preferences> {
    let kind = Kind::parse(kind)
        .filter(|k| CUSTOMER_KINDS.contains(k))
        .ok_or_else(|| {
            Error::invalid(
                "kind",
                "must be one of payment_request, payment_failed, invoice_unpaid, receipt, subscription_canceled, trial_ending",
            )
        })?;
    let merchant = load(db, merchant_id).await?;
    let mut settings = merchant.settings.clone();
    let mut prefs = Preferences::from_settings(&settings);
    prefs.disabled.retain(|d| d != kind.as_str());
    if !enabled {
        prefs.disabled.push(kind.as_str().to_owned());
        prefs.disabled.sort();
    }
    ensure_email_object(&mut settings)["disabled"] = json!(prefs.disabled);
    save(db, now, merchant, settings).await?;
    Ok(prefs)
}

/// Sets (or clears) the address the merchant's own emails go to.
pub async fn set_merchant_address(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    merchant_id: &str,
    address: Option<&str>,
) -> Result<Preferences> {
    let address = address
        .map(|a| {
            a.parse::<crate::domain::EmailAddress>()
                .map_err(|e| Error::invalid("merchant_address", e.to_string()))
        })
        .transpose()?;
    let merchant = load(db, merchant_id).await?;
    let mut settings = merchant.settings.clone();
    ensure_email_object(&mut settings)["merchant_address"] =
        address.map_or(Value::Null, |a| json!(a.to_string()));
    let prefs = Preferences::from_settings(&settings);
    save(db, now, merchant, settings).await?;
    Ok(prefs)
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
    }
}
