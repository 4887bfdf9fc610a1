//! Real LDK nodes over TCP on loopback, on the chain simulator.

mod consent;
mod node_api;
mod nwc;
mod payments;
mod push;
mod subscribe;
