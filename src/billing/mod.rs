//! The scheduler role: period rolls, invoices and dunning.

pub mod scheduler;
