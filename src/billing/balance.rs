//! The customer's credit balance: money received that no invoice could take
//! (an overpayment, or a payment that reached an invoice already paid or
//! voided) is held for the customer and taken off their next invoices, so
//! every received msat is on exactly one invoice or in a balance. The one
//! owner of `customers.balance_msat` (`invoices.credit_applied_msat` records
//! what an invoice took).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::domain::EventType;
use crate::error::Result;
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{customers, invoices, payment_requests};

/// Why received money went to the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unapplied<'a> {
    /// More than the payment request asked for: the excess.
    Overpayment,
    /// The invoice could no longer be paid (its status): all of it.
    InvoiceNotPayable(&'a str),
}

impl Unapplied<'_> {
    fn reason(self) -> String {
        match self {
            Unapplied::Overpayment => "overpayment".to_owned(),
            Unapplied::InvoiceNotPayable(status) => format!("invoice_{status}"),
        }
    }
}

/// Puts `amount_msat` of the payment of `request` (for `invoice`) into the
/// customer's balance: `payment.unapplied` and `customer.balance_updated`.
pub async fn hold_unapplied(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    request: &payment_requests::Model,
    invoice: &invoices::Model,
    amount_msat: i64,
    why: Unapplied<'_>,
    events: &mut EventBatch,
) -> Result<()> {
    if amount_msat <= 0 {
        return Ok(());
    }
    tracing::info!(
        invoice = %invoice.id,
        payment_request = %request.id,
        amount_msat,
        reason = %why.reason(),
        "payment not applied to an invoice: held as the customer's credit"
    );
    let customer = customers::add_to_balance(db, now, &invoice.customer_id, amount_msat).await?;
    events.push(
        &invoice.merchant_id,
        EventType::PaymentUnapplied,
        "payment_request",
        &request.id,
        objects::UnappliedPayment {
            object: "unapplied_payment",
            payment_request: request.id.clone(),
            invoice: invoice.id.clone(),
            customer: invoice.customer_id.clone(),
            amount_received_msat: request.amount_received_msat.unwrap_or(amount_msat),
            amount_unapplied_msat: amount_msat,
            currency: objects::CURRENCY,
            reason: why.reason(),
        },
        now,
    );
    record_update(&customer, now, events);
    Ok(())
}

/// The credit of the customers invoices are being created for.
pub struct Credit {
    holders: HashSet<String>,
}

impl Credit {
    /// Looks up which of these customers hold credit (one query per 200).
    pub async fn of(db: &impl ConnectionTrait, customer_ids: Vec<String>) -> Result<Self> {
        Ok(Self {
            holders: customers::with_balance(db, customer_ids).await?,
        })
    }

    /// Takes what it can of `invoice`'s amount from its customer's balance:
    /// the amount taken and the customer as it now is (for
    /// [`record_update`]), `None` when the customer holds no credit.
    pub async fn take(
        &mut self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
        invoice: &invoices::Model,
    ) -> Result<Option<(i64, customers::Model)>> {
        if !self.holders.contains(&invoice.customer_id) {
            return Ok(None);
        }
        let taken =
            customers::take_from_balance(db, now, &invoice.customer_id, invoice.amount_msat)
                .await?;
        if taken.as_ref().is_none_or(|(_, c)| c.balance_msat == 0) {
            self.holders.remove(&invoice.customer_id);
        }
        Ok(taken)
    }
}

/// `customer.balance_updated`, with the customer and its new balance.
pub fn record_update(customer: &customers::Model, now: DateTime<Utc>, events: &mut EventBatch) {
    events.push(
        &customer.merchant_id,
        EventType::CustomerBalanceUpdated,
        "customer",
        &customer.id,
        objects::Customer::from(customer),
        now,
    );
}
