//! The books: subscription lifecycle, a year of periods, dunning, payments.

mod bad_rows;
mod balance;
mod dormant;
mod dunning;
mod lifecycle;
mod payments;
mod year;
