//! The scheduler role: it decides when money is due. Period rolls, invoices,
//! dunning, the subscription lifecycle, payment requests (and what the pay
//! page shows of them), recording payments, and what the customer portal
//! shows and does (`portal`).

pub mod balance;
pub mod delivery;
pub mod dunning;
pub mod engine;
pub mod grants;
pub mod invoicing;
pub mod lifecycle;
pub mod pay_page;
pub mod payment_methods;
pub mod payment_requests;
pub mod payments;
pub mod periods;
pub mod portal;
pub mod scheduler;
pub mod scope;
pub mod signup;
pub mod trials;
