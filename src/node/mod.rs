//! The node role: the merchant's Lightning node (the `ln-node` crate) put to
//! work for the books. Runs in exactly one process.
//!
//! - `issuer`: issues a BOLT11 for each pending payment request, and checks
//!   and settles incoming payments against the books (`BillingSink`)
//! - `push_queue`: the merchant's pushes in the database (claim, outcome + event)
//! - `push_sender`: the loop delivering them to subscribers' nodes
//! - `nwc_sender`: the loop sending the `nwc` ones to subscribers' wallets
//! - `send_loop`: the loop both run (claim, try each on its own task, record)
//! - `subscribe`: the merchant's side of the subscribe handshake (terms,
//!   accept: customer, subscription and grant in one transaction)
//! - `grants`: the loop answering grant messages and announcing grant ends
//! - `role`: starts the chain access (bitcoind, or the sandbox's simnet), the
//!   node and the loops above

pub mod grants;
pub mod issuer;
pub mod nwc_sender;
pub mod push_queue;
pub mod push_sender;
pub mod role;
pub mod send_loop;
pub mod subscribe;
