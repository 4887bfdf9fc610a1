//! Database migrations for pushbill, one file per migration.
//!
//! The same migration set runs on SQLite and PostgreSQL: SeaQuery emits the DDL
//! for the connected backend. Migrations never depend on the application's
//! entities, so old migrations stay frozen as the code moves on.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_create_merchants;
mod m20261123_000002_create_plans;
mod m20261123_000003_create_customers;
mod m20261123_000004_create_subscriptions;
mod m20261123_000005_create_invoices;
mod m20261123_000006_create_payment_requests;
mod m20261123_000007_create_events;
mod m20261123_000008_create_webhooks;
mod m20261123_000009_create_outgoing_emails;
mod m20261123_000010_create_sandbox_clock;
mod m20261123_000011_create_idempotency_keys;
mod m20261123_000012_webhook_delivery_lease;
mod m20261123_000013_merchant_node_operator;
mod m20261123_000014_subscription_trial_notice;
mod m20261123_000015_notify_digests_pay_links_attempts;
mod m20261123_000016_push_delivery;
mod m20261202_000017_subscription_billing_error;
mod m20261202_000018_customer_balance;
mod m20261202_000019_grants;
mod m20261202_000020_subscribe_codes;
mod m20261202_000021_customer_node_id_verified;
mod m20261202_000022_node_identity;
mod m20261202_000023_sandbox_clock_per_merchant;
mod m20261202_000024_dashboard_accounts;
mod m20261203_000030_subscribe_offer_bounds;
mod m20261203_000031_deployment_network;
mod m20261203_000032_plan_signup_links;
mod m20261203_000033_customer_portal;
mod m20261203_000035_webhook_inspector;
mod m20261203_000036_overview_counters;
mod m20261203_000037_dashboard_list_indexes;
mod m20261207_000038_merchant_fiat_rate;
mod m20261207_000039_wallet_connections;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_merchants::Migration),
            Box::new(m20261123_000002_create_plans::Migration),
            Box::new(m20261123_000003_create_customers::Migration),
            Box::new(m20261123_000004_create_subscriptions::Migration),
            Box::new(m20261123_000005_create_invoices::Migration),
            Box::new(m20261123_000006_create_payment_requests::Migration),
            Box::new(m20261123_000007_create_events::Migration),
            Box::new(m20261123_000008_create_webhooks::Migration),
            Box::new(m20261123_000009_create_outgoing_emails::Migration),
            Box::new(m20261123_000010_create_sandbox_clock::Migration),
            Box::new(m20261123_000011_create_idempotency_keys::Migration),
            Box::new(m20261123_000012_webhook_delivery_lease::Migration),
            Box::new(m20261123_000013_merchant_node_operator::Migration),
            Box::new(m20261123_000014_subscription_trial_notice::Migration),
            Box::new(m20261123_000015_notify_digests_pay_links_attempts::Migration),
            Box::new(m20261123_000016_push_delivery::Migration),
            Box::new(m20261202_000017_subscription_billing_error::Migration),
            Box::new(m20261202_000018_customer_balance::Migration),
            Box::new(m20261202_000019_grants::Migration),
            Box::new(m20261202_000020_subscribe_codes::Migration),
            Box::new(m20261202_000021_customer_node_id_verified::Migration),
            Box::new(m20261202_000022_node_identity::Migration),
            Box::new(m20261202_000023_sandbox_clock_per_merchant::Migration),
            Box::new(m20261202_000024_dashboard_accounts::Migration),
            Box::new(m20261203_000030_subscribe_offer_bounds::Migration),
            Box::new(m20261203_000031_deployment_network::Migration),
            Box::new(m20261203_000032_plan_signup_links::Migration),
            Box::new(m20261203_000033_customer_portal::Migration),
            Box::new(m20261203_000035_webhook_inspector::Migration),
            Box::new(m20261203_000036_overview_counters::Migration),
            Box::new(m20261203_000037_dashboard_list_indexes::Migration),
            Box::new(m20261207_000038_merchant_fiat_rate::Migration),
            Box::new(m20261207_000039_wallet_connections::Migration),
        ]
    }
}
