//! `subscription.trial_will_end`: recorded once per trial, three days before
//! it ends (at once for a shorter trial), so the merchant and the customer
//! hear of the first charge before it comes.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::scope::Scope;
use crate::domain::EventType;
use crate::error::Result;
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, queue, subscriptions};

/// Records the due trial notices of up to `batch` subscriptions in one
/// transaction (of `scope`'s merchants); returns how many.
pub async fn notify_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
    scope: &Scope,
) -> Result<usize> {
    let txn = store::begin_write(db).await?;
    let query = subscriptions::Entity::find()
        .filter(subscriptions::Column::TrialNoticeAt.lte(now))
        .order_by_asc(subscriptions::Column::TrialNoticeAt)
        .order_by_asc(subscriptions::Column::Id)
        .limit(batch);
    let query = scope.filter(query, subscriptions::Column::MerchantId);
    let due = queue::claim(query, &txn).await?;
    let count = due.len();
    let mut events = EventBatch::new();
    let mut changed = Vec::with_capacity(count);
    for mut sub in due {
        sub.trial_notice_at = None;
        events.push(
            &sub.merchant_id,
            EventType::SubscriptionTrialWillEnd,
            "subscription",
            &sub.id,
            objects::Subscription::from(&sub),
            now,
        );
        changed.push(sub);
    }
    subscriptions::save_all(&txn, changed).await?;
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(count)
}
