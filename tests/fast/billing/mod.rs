//! The books: subscription lifecycle, a year of periods, dunning, payments,
//! and the model-based property test of all of them (model/).

mod bad_rows;
mod balance;
mod dormant;
mod dunning;
mod lifecycle;
mod model;
mod payments;
mod year;
