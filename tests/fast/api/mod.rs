//! The REST API (/v1): authentication, validation, resources, pagination.

mod auth;
mod body;
mod customers;
mod events;
mod grants;
mod idempotency;
mod invoices;
mod keys;
mod livemode;
mod malformed;
mod openapi;
mod pagination;
mod payment_methods;
mod plans;
mod rate_limit;
mod subscriptions;
mod tenancy;
mod test_clock;
