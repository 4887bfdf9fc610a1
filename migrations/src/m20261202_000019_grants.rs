use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Grants (issue 13, docs/push-invoices.md section 4): a subscriber's
/// consent, made by their node in the subscribe handshake, to one merchant's
/// subscription (or account). `grant_key` is the 16-byte grant id the
/// subscriber's node chose (32 lowercase hex), the one invoices commit to.
/// `end_notice_pending`: the grant ended on the merchant's side and the
/// subscriber's node has not acknowledged `grant_end` yet.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("grants")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(id_ref("customer_id"))
                    .col(id_ref_null("subscription_id"))
                    .col(string_len("grant_key", 32))
                    .col(string_len("node_id", 66))
                    .col(msat("cap_msat"))
                    .col(string_len("window", 16))
                    .col(big_integer_null("per_invoice_max_msat"))
                    .col(ts_null("ends_at"))
                    .col(string_len("status", 16))
                    .col(string_len_null("ended_by", 16))
                    .col(boolean("end_notice_pending").default(false))
                    .col(ts("created_at"))
                    .col(ts_null("ended_at"))
                    .foreign_key(&mut fk("grants", "merchant_id", "merchants"))
                    .foreign_key(&mut fk("grants", "customer_id", "customers"))
                    .foreign_key(&mut fk("grants", "subscription_id", "subscriptions"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                unique_index("grants", "grant_key", &["grant_key"]),
                index("grants", "merchant", &["merchant_id", "id"]),
                index("grants", "subscription", &["subscription_id", "status"]),
                index("grants", "customer", &["customer_id", "status"]),
                index("grants", "end_notice", &["end_notice_pending"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["grants"]).await
    }
}
