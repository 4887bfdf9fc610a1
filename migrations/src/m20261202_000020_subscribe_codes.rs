use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Subscribe codes and the terms offered for them (the subscribe handshake).
/// A plan code (`plan_id`) serves many subscribers until it expires; an
/// account code (`customer_id`) is used once (`used_at`). Every
/// `subscribe_terms` sent is an offer, kept with the peer it was made to and,
/// once accepted, the grant and ids it gave, so a re-sent accept is answered
/// the same.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("subscribe_codes")
                    .col(string_len("code", 128).primary_key())
                    .col(id_ref("merchant_id"))
                    .col(id_ref_null("plan_id"))
                    .col(id_ref_null("customer_id"))
                    // The cap the merchant suggests (for a plan code, the
                    // plan's amount per matching window when unset).
                    .col(big_integer_null("cap_msat"))
                    .col(string_len_null("window", 16))
                    .col(ts("expires_at"))
                    .col(ts_null("used_at"))
                    .col(ts("created_at"))
                    .foreign_key(&mut fk("subscribe_codes", "merchant_id", "merchants"))
                    .foreign_key(&mut fk("subscribe_codes", "plan_id", "plans"))
                    .foreign_key(&mut fk("subscribe_codes", "customer_id", "customers"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("subscribe_offers")
                    .col(string_len("offer_id", 32).primary_key())
                    .col(string_len("code", 128))
                    .col(id_ref("merchant_id"))
                    .col(string_len("node_id", 66))
                    .col(string_len_null("node_address", 256))
                    .col(json("terms"))
                    .col(string_len_null("grant_key", 32))
                    .col(id_ref_null("grant_id"))
                    .col(id_ref_null("customer_id"))
                    .col(id_ref_null("subscription_id"))
                    .col(ts("created_at"))
                    .foreign_key(&mut fk("subscribe_offers", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    "subscribe_codes",
                    "merchant",
                    &["merchant_id", "created_at"],
                ),
                index("subscribe_offers", "code", &["code"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["subscribe_offers", "subscribe_codes"]).await
    }
}
