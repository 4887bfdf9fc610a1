//! The `subscriptions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub customer_id: String,
    pub plan_id: String,
    pub next_plan_id: Option<String>,
    pub status: String,
    pub billing_anchor: DateTimeUtc,
    pub current_period_start: DateTimeUtc,
    pub current_period_end: DateTimeUtc,
    /// Derived: see [`Model::with_queue_key`]. Never set by hand.
    pub next_roll_at: Option<DateTimeUtc>,
    pub trial_start: Option<DateTimeUtc>,
    pub trial_end: Option<DateTimeUtc>,
    /// When `subscription.trial_will_end` is due; `None` once recorded or
    /// when the subscription is no longer trialing (see [`Model::with_queue_key`]).
    pub trial_notice_at: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub paused_at: Option<DateTimeUtc>,
    pub cancellation_reason: Option<String>,
    /// Why the engine could not bill it; while set, it is out of the roll
    /// queue (see [`Model::with_queue_key`]). A merchant's change clears it.
    pub billing_error: Option<String>,
    /// How its invoices are paid: `push`, `nwc` or `manual`
    /// ([`crate::domain::PaymentMethod`]).
    pub payment_method: String,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Sets `next_roll_at`, the scheduler's queue key, from status, period
    /// and billing error, and drops a pending trial notice once the trial is over.
    /// A subscription that bills rolls at its period end; an unpaid or
    /// paused one set to cancel at period end is ended there.
    pub fn with_queue_key(mut self) -> Self {
        use crate::domain::SubscriptionStatus as S;
        let status = S::parse(&self.status).ok();
        let ends_at_period_end =
            self.cancel_at_period_end && matches!(status, Some(S::Unpaid | S::Paused));
        let rolls = status.is_some_and(|s| s.bills()) || ends_at_period_end;
        self.next_roll_at =
            (rolls && self.billing_error.is_none()).then_some(self.current_period_end);
        if status != Some(S::Trialing) {
            self.trial_notice_at = None;
        }
        self
    }
}

/// Inserts a new subscription.
pub async fn insert(db: &impl sea_orm::ConnectionTrait, row: Model) -> Result<(), DbErr> {
    use sea_orm::IntoActiveModel;
    Entity::insert(row.with_queue_key().into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Writes back one changed subscription.
pub async fn save(db: &impl sea_orm::ConnectionTrait, row: Model) -> Result<(), DbErr> {
    save_all(db, vec![row]).await
}

/// Inserts or writes back subscriptions in bulk (an upsert on the primary
/// key: one statement per chunk on both backends).
pub async fn save_all(db: &impl sea_orm::ConnectionTrait, rows: Vec<Model>) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let rows: Vec<ActiveModel> = rows
        .into_iter()
        .map(|m| m.with_queue_key().into_active_model().reset_all())
        .collect();
    super::update_columns(
        db,
        rows,
        Column::Id,
        &[
            Column::PlanId,
            Column::NextPlanId,
            Column::Status,
            Column::BillingAnchor,
            Column::CurrentPeriodStart,
            Column::CurrentPeriodEnd,
            Column::NextRollAt,
            Column::TrialNoticeAt,
            Column::CancelAtPeriodEnd,
            Column::CanceledAt,
            Column::EndedAt,
            Column::PausedAt,
            Column::CancellationReason,
            Column::BillingError,
            Column::UpdatedAt,
        ],
    )
    .await
}
