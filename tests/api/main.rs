//! Integration tests: the real application on a fresh database per test.
//! SQLite by default; PostgreSQL when PUSHBILL_TEST_POSTGRES_URL is set.

mod helpers;

mod api_auth;
mod api_body;
mod api_customers;
mod api_events;
mod api_idempotency;
mod api_invoices;
mod api_keys;
mod api_malformed;
mod api_openapi;
mod api_pagination;
mod api_plans;
mod api_rate_limit;
mod api_subscriptions;
mod api_tenancy;
mod billing_lifecycle;
mod billing_year;
mod browser;
mod cli;
mod crash_and_concurrency;
mod dunning;
mod email;
mod email_digest;
mod email_settings;
mod email_smtpd;
mod health;
mod lightning;
mod ln_helpers;
mod node_api;
mod pay_page;
mod payments;
mod push;
mod webhooks;
mod webhooks_api;
mod webhooks_crash;
mod webhooks_receiver;
