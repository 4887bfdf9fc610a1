//! The billing engine in separate `pushbill serve` processes.

mod crash_and_concurrency;
