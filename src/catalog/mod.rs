//! Merchants, their plans and their customers: the things billing bills.

pub mod customers;
pub mod merchants;
pub mod plans;
