//! The push-invoice protocol (docs/push-invoices.md): a merchant's node sends
//! a BOLT11 invoice with its billing context straight to the subscriber's
//! node over the Lightning peer connection, and the subscriber's node replies.
//!
//! - [`wire`]: the two custom BOLT #1 messages, their TLV streams, reason
//!   codes and the init feature bit; bytes in and out, no I/O, no LDK
//! - [`grant`]: grant ids, the commitment in a BOLT11's description, and
//!   subscribe codes
//! - [`subscribe`]: the subscribe handshake and grant-end messages
//! - [`vectors`]: the spec's test vectors as data
//! - `handler` (feature `ldk`): LDK's `CustomMessageHandler` for those messages
//!
//! Another implementation (a Core Lightning plugin, an LND client) can depend
//! on this crate with default features off and get the wire format alone.

pub mod grant;
#[cfg(feature = "ldk")]
pub mod handler;
pub mod subscribe;
pub mod vectors;
pub mod wire;
