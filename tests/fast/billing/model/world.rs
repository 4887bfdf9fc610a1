//! The system under test and what the model knows about it. Each operation
//! runs the same service function the API handler, the scheduler or the
//! node role calls; what the model can predict of its answer is checked at
//! once, the rest by the invariants after the step.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pushbill::billing::engine::Scope;
use pushbill::billing::lifecycle::{self, NewSubscription};
use pushbill::billing::payments::{self, PaymentRejection, Settlement};
use pushbill::billing::{engine, invoicing};
use pushbill::catalog::policy::PlanRules;
use pushbill::clock::{Clock, Clocks, TestClock};
use pushbill::domain::{Msat, ScheduleError, SubscriptionStatus};
use pushbill::error::Error;
use pushbill::store::{
    self, customers, invoices, merchants, payment_requests, plans, subscriptions,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::ops::{Op, Pay};
use super::setup::{CaseDatabase, ENDING_PLAN, Template, usable_plans};

use super::fail;
use crate::support::app::{TestIssuer, sat};

pub type Outcome = Result<(), String>;

/// What the model remembers of a subscription.
#[derive(Debug, Clone)]
pub struct ModelSub {
    pub id: String,
    /// Set by the first cancel-at-period-end: (the period end it named, when
    /// it was asked). No invoice may start at or after that end once asked.
    pub cancel_at: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Was ever seen paused or unpaid: its periods may have a gap.
    pub interrupted: bool,
}

pub struct World {
    pub db: DatabaseConnection,
    pub clock: Arc<TestClock>,
    pub merchants: Vec<merchants::Model>,
    /// Per merchant, in the order of the template's plans.
    plans: Vec<Vec<plans::Model>>,
    /// (merchant index, customer).
    customers: Vec<(usize, customers::Model)>,
    pub subs: Vec<ModelSub>,
    /// Every msat the merchant's node claimed.
    pub received_msat: i64,
    /// The engine has run since the clock last moved.
    pub caught_up: bool,
    database: CaseDatabase,
}

impl World {
    pub async fn new(template: &Template, start: DateTime<Utc>) -> World {
        let database = template.copy().await;
        let db = store::connect(database.url(), 2).await.unwrap();
        World {
            db,
            clock: Arc::new(TestClock::new(start)),
            merchants: template.merchants.clone(),
            plans: template.plans.clone(),
            customers: template.customers.clone(),
            subs: Vec::new(),
            received_msat: 0,
            caught_up: true,
            database,
        }
    }

    /// Closes the connections and drops the case's PostgreSQL database.
    pub async fn close(self) {
        self.db.close().await.unwrap();
        self.database.drop_database().await;
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// One clock for every merchant (as off the sandbox): what the node's
    /// settling dates a payment with.
    fn clocks(&self) -> Clocks {
        Clocks::One(self.clock.clone())
    }

    pub async fn apply(&mut self, op: &Op) -> Outcome {
        match *op {
            Op::Subscribe {
                customer,
                plan,
                trial_days,
                anchor_hours,
            } => {
                self.subscribe(customer, plan, trial_days, anchor_hours)
                    .await
            }
            Op::OneOff {
                customer,
                amount_sat,
            } => self.one_off(customer, amount_sat).await,
            Op::Cancel { sub } => self.cancel(sub, false).await,
            Op::CancelAtPeriodEnd { sub } => self.cancel(sub, true).await,
            Op::Pause { sub } => self.pause(sub).await,
            Op::Resume { sub } => self.resume(sub).await,
            Op::ChangePlan { sub, plan } => self.change_plan(sub, plan).await,
            Op::Advance { secs } => {
                self.clock.advance(Duration::seconds(secs)).unwrap();
                self.caught_up = false;
                Ok(())
            }
            Op::RunEngine { per_merchant } => {
                let scopes = match per_merchant {
                    false => vec![Scope::All],
                    true => self
                        .merchants
                        .iter()
                        .map(|m| Scope::Merchant(m.id.clone()))
                        .collect(),
                };
                for scope in &scopes {
                    engine::run_due(&self.db, self.now(), 50, scope)
                        .await
                        .map_err(|e| format!("the billing run failed (defect 1?): {e}"))?;
                }
                self.caught_up = true;
                Ok(())
            }
            Op::NodeIssues { expiry_hours } => {
                self.issue(Duration::hours(expiry_hours.into())).await
            }
            Op::Pay { invoice, how } => self.pay(invoice, how).await,
            Op::PayWithdrawn { request } => self.pay_withdrawn(request).await,
            Op::Void { invoice } => self.void(invoice).await,
        }
    }

    async fn subscribe(
        &mut self,
        customer: usize,
        plan: usize,
        trial_days: Option<u8>,
        anchor_hours: Option<u16>,
    ) -> Outcome {
        let (m, customer) = self.customers[customer % self.customers.len()].clone();
        let plan_index = plan % usable_plans();
        let plan = self.plans[m][plan_index].clone();
        let now = self.now();
        let trial = trial_days.map(|d| Duration::days(d.into()));
        // Anchors up to six days ahead: less than the shortest period.
        let anchor = anchor_hours
            .filter(|_| plan.cron_expression.is_none())
            .map(|h| now + Duration::hours(h.into()));
        let new = NewSubscription {
            customer_id: customer.id.clone(),
            plan_id: plan.id.clone(),
            trial,
            billing_anchor: anchor,
            metadata: None,
        };
        let created = lifecycle::create(&self.db, now, &self.merchants[m].id, new).await;
        let (sub, invoice) = match created {
            Ok(c) => c,
            // A schedule with no fire time left may be refused, naming the plan.
            Err(Error::Invalid { param, .. }) if plan_index == ENDING_PLAN && param == "plan" => {
                return Ok(());
            }
            Err(e) => return fail(format!("subscribing failed: {e}")),
        };
        let trial = trial.unwrap_or(Duration::seconds(plan.trial_period_secs));
        if trial > Duration::zero() {
            check(sub.status == "trialing", "a trial starts trialing")?;
            check(sub.trial_end == Some(now + trial), "the trial ends on time")?;
            check(invoice.is_none(), "a trial is not invoiced")?;
        } else {
            check(sub.status == "active", "no trial: active at once")?;
            let invoice = invoice.ok_or("no trial: the first period is invoiced at once")?;
            check(
                invoice.period_start == Some(now) && invoice.amount_msat == plan.amount_msat,
                "the first invoice starts now at the plan's price",
            )?;
        }
        self.subs.push(ModelSub {
            id: sub.id,
            cancel_at: None,
            interrupted: false,
        });
        Ok(())
    }

    async fn one_off(&mut self, customer: usize, amount_sat: u32) -> Outcome {
        let (m, customer) = self.customers[customer % self.customers.len()].clone();
        let credit = customers::Entity::find_by_id(&customer.id)
            .one(&self.db)
            .await
            .unwrap()
            .expect("the model's customer exists")
            .balance_msat;
        let invoice = invoicing::create_one_off(
            &self.db,
            self.now(),
            &self.merchants[m].id,
            &customer.id,
            sat(amount_sat.into()),
            Some("One-off".into()),
            Duration::hours(4),
        )
        .await
        .map_err(|e| format!("a one-off invoice failed: {e}"))?;
        // Credit that covers the whole amount pays it at once.
        let expected = if credit >= invoice.amount_msat {
            "paid"
        } else {
            "open"
        };
        check(
            invoice.status == expected,
            &format!("a one-off invoice with {credit} msat of credit is {expected}"),
        )
    }

    /// The subscription an operation targets, and its row now.
    async fn target(&self, sub: usize) -> Option<(usize, subscriptions::Model)> {
        if self.subs.is_empty() {
            return None;
        }
        let i = sub % self.subs.len();
        Some((i, self.subscription(&self.subs[i].id).await))
    }

    pub async fn subscription(&self, id: &str) -> subscriptions::Model {
        subscriptions::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
    }

    async fn invoice(&self, id: &str) -> invoices::Model {
        invoices::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// The subscription's invoices, oldest first.
    async fn invoices_of(&self, sub_id: &str) -> Vec<invoices::Model> {
        invoices::Entity::find()
            .filter(invoices::Column::SubscriptionId.eq(sub_id))
            .order_by_asc(invoices::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    async fn payment_requests_of(&self, invoice_id: &str) -> Vec<payment_requests::Model> {
        payment_requests::Entity::find()
            .filter(payment_requests::Column::InvoiceId.eq(invoice_id))
            .order_by_asc(payment_requests::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    async fn cancel(&mut self, sub: usize, at_period_end: bool) -> Outcome {
        let Some((i, before)) = self.target(sub).await else {
            return Ok(());
        };
        let now = self.now();
        let result = lifecycle::cancel(
            &self.db,
            now,
            &before.merchant_id,
            &before.id,
            at_period_end,
        )
        .await;
        if status(&before) == SubscriptionStatus::Canceled {
            return self.refused(result, &before).await;
        }
        let after = result.map_err(|e| format!("cancel refused: {e}"))?;
        if at_period_end {
            check(
                after.status == before.status,
                "cancel at period end keeps the status",
            )?;
            check(after.cancel_at_period_end, "cancel_at_period_end is set")?;
            self.subs[i]
                .cancel_at
                .get_or_insert((before.current_period_end, now));
        } else {
            check(after.status == "canceled", "cancel now cancels")?;
            check(after.ended_at == Some(now), "cancel now ends now")?;
        }
        Ok(())
    }

    async fn pause(&mut self, sub: usize) -> Outcome {
        let Some((_, before)) = self.target(sub).await else {
            return Ok(());
        };
        let result = lifecycle::pause(&self.db, self.now(), &before.merchant_id, &before.id).await;
        if !status(&before).bills() {
            return self.refused(result, &before).await;
        }
        let after = result.map_err(|e| format!("pause refused: {e}"))?;
        check(after.status == "paused", "pause pauses")?;
        check(
            after.current_period_end == before.current_period_end,
            "pause keeps the period",
        )
    }

    /// Whether the plan `sub` bills on once its period ended (the next plan
    /// of a plan change, else its own) has no period starting at `from`: a
    /// cron schedule that fires no more. Such a subscription ends.
    fn schedule_over(&self, sub: &subscriptions::Model, from: DateTime<Utc>) -> bool {
        let plan_id = sub.next_plan_id.as_ref().unwrap_or(&sub.plan_id);
        let plan = self.plans.iter().flatten().find(|p| &p.id == plan_id);
        let plan = plan.expect("the subscription's plan is one of the model's");
        let rules = PlanRules::from_model(plan).expect("the model's plans are readable");
        let next = rules.schedule.next_boundary_after(sub.billing_anchor, from);
        matches!(next, Err(ScheduleError::CronNeverFires(_)))
    }

    async fn resume(&mut self, sub: usize) -> Outcome {
        let Some((_, before)) = self.target(sub).await else {
            return Ok(());
        };
        let now = self.now();
        let paused = status(&before) == SubscriptionStatus::Paused;
        let ended = before.current_period_end <= now;
        let overdue_invoices = self.overdue_open_invoices(&before.id, None).await;
        let overdue = !overdue_invoices.is_empty();
        // An overdue invoice whose dunning ran out while paused: grace is over.
        let grace_over = overdue_invoices.iter().any(|i| i.next_dunning_at.is_none());
        let in_trial = before.trial_end.is_some_and(|end| end > now)
            && before.current_period_end == before.trial_end.unwrap();
        let result = lifecycle::resume(&self.db, now, &before.merchant_id, &before.id).await;
        if !paused {
            return self.refused(result, &before).await;
        }
        let after = result.map_err(|e| format!("resume refused: {e}"))?;
        // Unpaid does not bill, so it does not end either until it is paid;
        // a billing status whose period ended ends if nothing follows it.
        let ends = ended && (before.cancel_at_period_end || self.schedule_over(&before, now));
        let expected = if grace_over {
            "unpaid"
        } else if ends {
            "canceled"
        } else if overdue {
            "past_due"
        } else if in_trial {
            "trialing"
        } else {
            "active"
        };
        check(
            after.status == expected,
            &format!("resume gives {expected}, got {}", after.status),
        )?;
        if !ended {
            check(
                after.current_period_start == before.current_period_start
                    && after.current_period_end == before.current_period_end,
                "resume within the period keeps the period",
            )?;
        }
        Ok(())
    }

    async fn change_plan(&mut self, sub: usize, plan: usize) -> Outcome {
        let Some((_, before)) = self.target(sub).await else {
            return Ok(());
        };
        let m = self.merchant_index(&before.merchant_id);
        let plan = self.plans[m][plan % usable_plans()].clone();
        let result = lifecycle::change_plan(
            &self.db,
            self.now(),
            &before.merchant_id,
            &before.id,
            &plan.id,
        )
        .await;
        if status(&before) == SubscriptionStatus::Canceled {
            return self.refused(result, &before).await;
        }
        let after = result.map_err(|e| format!("change plan refused: {e}"))?;
        let pending = (plan.id != before.plan_id).then_some(plan.id);
        check(after.next_plan_id == pending, "the new plan is pending")?;
        check(
            after.status == before.status,
            "a plan change keeps the status",
        )
    }

    /// A refused lifecycle change answers a conflict and changes nothing.
    async fn refused(
        &self,
        result: pushbill::error::Result<subscriptions::Model>,
        before: &subscriptions::Model,
    ) -> Outcome {
        match result {
            Err(Error::Conflict { .. }) => {}
            Ok(_) => return fail(format!("a {} subscription accepted it", before.status)),
            Err(e) => return fail(format!("refused with the wrong error: {e}")),
        }
        check(
            self.subscription(&before.id).await == *before,
            "a refused change changed the subscription",
        )
    }

    fn merchant_index(&self, merchant_id: &str) -> usize {
        self.merchants
            .iter()
            .position(|m| m.id == merchant_id)
            .unwrap()
    }

    async fn issue(&self, expiry: Duration) -> Outcome {
        let issuer = TestIssuer {
            clock: self.clock.clone(),
        };
        payments::issue_pending(&self.db, &issuer, self.now(), expiry, 1000)
            .await
            .map(|_| ())
            .map_err(|e| format!("issuing payment requests failed: {e}"))
    }

    /// Open invoices of the subscription past their due time, but `except`.
    async fn overdue_open_invoices(
        &self,
        sub_id: &str,
        except: Option<&str>,
    ) -> Vec<invoices::Model> {
        let now = self.now();
        self.invoices_of(sub_id)
            .await
            .into_iter()
            .filter(|i| i.status == "open" && i.due_at <= now && Some(i.id.as_str()) != except)
            .collect()
    }

    /// Invoices in one of `statuses`, oldest first.
    async fn invoices_in(&self, statuses: &[&str]) -> Vec<invoices::Model> {
        invoices::Entity::find()
            .filter(invoices::Column::Status.is_in(statuses.iter().copied()))
            .order_by_asc(invoices::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    async fn pay(&mut self, invoice: usize, how: Pay) -> Outcome {
        let payable = self.invoices_in(&["open", "uncollectible"]).await;
        if payable.is_empty() {
            return Ok(());
        }
        let invoice = payable[invoice % payable.len()].clone();
        let now = self.now();
        let sub_before = match &invoice.subscription_id {
            Some(id) => Some(self.subscription(id).await),
            None => None,
        };
        self.issue(Duration::hours(24)).await?;
        let Some(req) = self
            .payment_requests_of(&invoice.id)
            .await
            .into_iter()
            .find(|r| r.status == "issued")
        else {
            return Ok(()); // nothing to pay with (an uncollectible invoice)
        };
        if req.expires_at.is_some_and(|t| t <= now) {
            return Ok(()); // a wallet does not pay an expired BOLT11
        }
        let hash = req.payment_hash.clone().unwrap();
        let amount = req.amount_msat;
        let db = &self.db;
        if how == Pay::Partial {
            let short = Msat::from_msat((amount - 1) as u64).unwrap();
            let checked = payments::check_payment(db, &hash, short)
                .await
                .map_err(|e| format!("check_payment failed: {e}"))?;
            return check(
                matches!(checked, Err(PaymentRejection::AmountTooSmall { .. })),
                "a partial payment is refused before it is claimed",
            );
        }
        let sent = if how == Pay::Over {
            amount + amount / 10 + 1
        } else {
            amount
        };
        let sent_msat = Msat::from_msat(sent as u64).unwrap();
        let checked = payments::check_payment(db, &hash, sent_msat)
            .await
            .map_err(|e| format!("check_payment failed: {e}"))?;
        check(
            checked == Ok(()),
            &format!("a live request of a payable invoice is claimable: {checked:?}"),
        )?;
        let other_overdue = match &invoice.subscription_id {
            Some(id) => self.overdue_open_invoices(id, Some(&invoice.id)).await,
            None => Vec::new(),
        };
        let settled = payments::settle(db, &self.clocks(), &hash, sent_msat)
            .await
            .map_err(|e| format!("settle failed (defect 1?): {e}"))?;
        self.received_msat += sent;
        check(
            settled
                == Settlement::InvoicePaid {
                    invoice_id: invoice.id.clone(),
                },
            &format!("the payment pays the invoice: {settled:?}"),
        )?;
        if how == Pay::Twice {
            let again = payments::settle(db, &self.clocks(), &hash, sent_msat)
                .await
                .map_err(|e| format!("settle failed: {e}"))?;
            check(
                again == Settlement::AlreadySettled,
                "settling a payment hash twice changes nothing",
            )?;
        }
        check(
            self.invoice(&invoice.id).await.status == "paid",
            "the invoice is paid",
        )?;
        if let Some(before) = sub_before {
            let after = self.subscription(&before.id).await;
            let recovering = matches!(before.status.as_str(), "past_due" | "unpaid");
            if recovering && other_overdue.is_empty() {
                // Ended at its period's end when asked to; an unpaid one
                // also when its schedule has no next period (a past-due one
                // finds that out at its next roll).
                let unpaid = before.status == "unpaid";
                let ended = before.current_period_end <= now
                    && (before.cancel_at_period_end
                        || (unpaid && self.schedule_over(&before, now)));
                let expected = if ended { "canceled" } else { "active" };
                check(
                    after.status == expected,
                    &format!("paying the last overdue invoice gives {expected}"),
                )?;
            } else {
                check(
                    after.status == before.status,
                    "a payment that leaves an overdue invoice keeps the status",
                )?;
            }
        }
        Ok(())
    }

    async fn pay_withdrawn(&mut self, request: usize) -> Outcome {
        let withdrawn = payment_requests::Entity::find()
            .filter(payment_requests::Column::Status.is_in(["expired", "canceled"]))
            .filter(payment_requests::Column::PaymentHash.is_not_null())
            .order_by_asc(payment_requests::Column::Id)
            .all(&self.db)
            .await
            .unwrap();
        if withdrawn.is_empty() {
            return Ok(());
        }
        let req = &withdrawn[request % withdrawn.len()];
        let amount = Msat::from_msat(req.amount_msat as u64).unwrap();
        let hash = req.payment_hash.as_deref().unwrap();
        payments::settle(&self.db, &self.clocks(), hash, amount)
            .await
            .map_err(|e| format!("settle failed: {e}"))?;
        self.received_msat += req.amount_msat;
        Ok(())
    }

    async fn void(&mut self, invoice: usize) -> Outcome {
        let voidable = self.invoices_in(&["open", "uncollectible"]).await;
        if voidable.is_empty() {
            return Ok(());
        }
        let invoice = voidable[invoice % voidable.len()].clone();
        let voided = lifecycle::void(&self.db, self.now(), &invoice.merchant_id, &invoice.id)
            .await
            .map_err(|e| format!("void failed: {e}"))?;
        check(voided.status == "void", "void voids")
    }
}

pub fn status(sub: &subscriptions::Model) -> SubscriptionStatus {
    SubscriptionStatus::parse(&sub.status).unwrap()
}

pub fn check(ok: bool, what: &str) -> Outcome {
    if ok { Ok(()) } else { fail(what.to_owned()) }
}
