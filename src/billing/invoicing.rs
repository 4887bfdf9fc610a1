//! Creating invoices: numbering, the first payment request, the events.
//! Used by the period roll, by subscription start and by one-off invoices, so
//! every invoice is born the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::balance::{self, Credit};
use super::payment_requests;
use crate::domain::ids::InvoiceId;
use crate::domain::{EventType, InvoiceStatus, Msat, Period};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, invoices, merchants};

/// An invoice to create.
#[derive(Debug, Clone)]
pub struct InvoiceDraft {
    pub merchant_id: String,
    pub customer_id: String,
    pub subscription_id: Option<String>,
    pub plan_id: Option<String>,
    pub description: Option<String>,
    pub period: Option<Period>,
    pub amount: Msat,
    pub due_at: DateTime<Utc>,
    /// Push the payment request to the customer's node once it is issued.
    pub push: bool,
}

/// Creates the invoices, each open with a pending payment request for the
/// Lightning node to issue, and records `invoice.created` events. The
/// customer's credit balance is taken off first (`customer.balance_updated`):
/// the payment request asks for the rest, and an invoice the credit covers
/// (or a zero amount) is paid at once (`invoice.paid`). Call inside a
/// transaction.
pub async fn create_invoices(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    drafts: Vec<InvoiceDraft>,
    events: &mut EventBatch,
) -> Result<Vec<invoices::Model>> {
    let mut numbers = reserve_numbers(db, &drafts).await?;
    let customer_ids = drafts.iter().map(|d| d.customer_id.clone()).collect();
    let mut credit = Credit::of(db, customer_ids).await?;
    let mut invoice_rows = Vec::with_capacity(drafts.len());
    let mut request_rows = Vec::with_capacity(drafts.len());
    let mut created = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let number = numbers
            .get_mut(&draft.merchant_id)
            .and_then(Iterator::next)
            .ok_or_else(|| Error::corrupt(format!("merchant {}", draft.merchant_id)))?;
        let mut model = invoices::Model {
            id: InvoiceId::new().to_string(),
            merchant_id: draft.merchant_id,
            customer_id: draft.customer_id,
            subscription_id: draft.subscription_id,
            plan_id: draft.plan_id,
            number,
            description: draft.description,
            period_start: draft.period.map(|p| p.start),
            period_end: draft.period.map(|p| p.end),
            amount_msat: draft.amount.to_i64(),
            credit_applied_msat: 0,
            status: InvoiceStatus::Open.as_str().to_owned(),
            due_at: draft.due_at,
            paid_at: None,
            voided_at: None,
            marked_uncollectible_at: None,
            attempt_count: 1,
            dunning_step: 0,
            next_dunning_at: Some(draft.due_at),
            created_at: now,
            updated_at: now,
        };
        let credited = credit.take(db, now, &model).await?;
        if let Some((taken, _)) = &credited {
            model.credit_applied_msat = *taken;
        }
        let paid = model.amount_due_msat() == 0;
        if paid {
            model.status = InvoiceStatus::Paid.as_str().to_owned();
            model.paid_at = Some(now);
            model.attempt_count = 0;
            model.next_dunning_at = None;
        }
        let object = objects::Invoice::from(&model);
        events.push(
            &model.merchant_id,
            EventType::InvoiceCreated,
            "invoice",
            &model.id,
            &object,
            now,
        );
        if let Some((_, customer)) = &credited {
            balance::record_update(customer, now, events);
        }
        if paid {
            events.push(
                &model.merchant_id,
                EventType::InvoicePaid,
                "invoice",
                &model.id,
                &object,
                now,
            );
        } else {
            request_rows.push(payment_requests::pending(&model, draft.push, now));
        }
        invoice_rows.push(invoices::ActiveModel::from(model.clone()));
        created.push(model);
    }
    store::insert_all(db, invoice_rows).await?;
    store::insert_all(db, request_rows).await?;
    Ok(created)
}

/// Takes the next invoice numbers of each merchant in the drafts: one UPDATE
/// per merchant, which also serialises concurrent numbering on PostgreSQL.
async fn reserve_numbers(
    db: &impl ConnectionTrait,
    drafts: &[InvoiceDraft],
) -> Result<BTreeMap<String, std::vec::IntoIter<String>>> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for d in drafts {
        *counts.entry(d.merchant_id.as_str()).or_default() += 1;
    }
    let mut numbers = BTreeMap::new();
    for (merchant_id, count) in counts {
        let update = Query::update()
            .table(merchants::Entity)
            .value(
                merchants::Column::NextInvoiceNumber,
                Expr::col(merchants::Column::NextInvoiceNumber).add(count),
            )
            .and_where(Expr::col(merchants::Column::Id).eq(merchant_id))
            .returning(Query::returning().columns([
                merchants::Column::NextInvoiceNumber,
                merchants::Column::InvoicePrefix,
            ]))
            .to_owned();
        let row = db
            .query_one(&update)
            .await?
            .ok_or_else(|| Error::not_found("merchant", merchant_id))?;
        let next: i64 = row.try_get("", "next_invoice_number")?;
        let prefix: String = row.try_get("", "invoice_prefix")?;
        let list: Vec<String> = (next - count..next)
            .map(|n| format!("{prefix}-{n:06}"))
            .collect();
        numbers.insert(merchant_id.to_owned(), list.into_iter());
    }
    Ok(numbers)
}

/// A one-off invoice (a payment request outside any subscription), due
/// `due_in` from now. It goes through the same payment and push path, and is
/// chased with the default dunning policy.
pub async fn create_one_off(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer_id: &str,
    amount: Msat,
    description: Option<String>,
    due_in: chrono::Duration,
) -> Result<invoices::Model> {
    if amount == Msat::ZERO {
        return Err(Error::invalid("amount_msat", "must be at least 1 msat"));
    }
    amount
        .check_invoiceable()
        .map_err(|e| Error::invalid("amount_msat", e.to_string()))?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500)
    {
        return Err(Error::invalid("description", "at most 500 characters"));
    }
    if due_in < chrono::Duration::zero() || due_in > chrono::Duration::days(90) {
        return Err(Error::invalid("due_in_secs", "must be 0 to 90 days"));
    }
    let txn = store::begin_write(db).await?;
    let customer = crate::catalog::customers::get(&txn, merchant_id, customer_id)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => {
                Error::invalid("customer", format!("no such customer: {customer_id}"))
            }
            other => other,
        })?;
    let draft = InvoiceDraft {
        merchant_id: merchant_id.to_owned(),
        customer_id: customer.id,
        subscription_id: None,
        plan_id: None,
        description,
        period: None,
        amount,
        due_at: now + due_in,
        push: customer.node_id.is_some(),
    };
    let mut events = EventBatch::new();
    let invoice = create_invoices(&txn, now, vec![draft], &mut events)
        .await?
        .pop()
        .ok_or_else(|| Error::corrupt("one-off invoice not created"))?;
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(invoice)
}
