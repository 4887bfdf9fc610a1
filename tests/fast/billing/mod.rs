//! The books: subscription lifecycle, a year of periods, dunning, payments.

mod balance;
mod dunning;
mod lifecycle;
mod payments;
mod year;
