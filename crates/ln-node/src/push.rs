//! Sending and awaiting push-invoice messages (docs/push-invoices.md; the
//! wire format and LDK handler are the `push-protocol` crate).

use bitcoin::secp256k1::PublicKey;
use tokio::sync::oneshot;

use crate::Node;
use push_protocol::handler::PushMessage;
use push_protocol::subscribe::GrantMessage;
use push_protocol::wire::{BenchPing, PushId, PushReply, supports_push};

impl Node {
    /// `None` when `node_id` is not connected, else whether it advertises
    /// the push-invoice feature bit.
    pub fn peer_supports_push(&self, node_id: &PublicKey) -> Option<bool> {
        self.peer_manager
            .peer_by_node_id(node_id)
            .map(|p| supports_push(p.init_features.le_flags()))
    }

    /// Sends a push message to a connected peer now.
    pub fn send_push_message(&self, to: PublicKey, message: PushMessage) {
        self.push.queue(to, message);
        self.peer_manager.process_events();
    }

    /// Sends a subscribe handshake or grant-end message to a connected peer now.
    pub fn send_grant_message(&self, to: PublicKey, message: GrantMessage) {
        self.send_push_message(to, PushMessage::Grant(message));
    }

    /// Waits for the reply to `push_id` from `from` (register before sending).
    pub fn expect_push_reply(
        &self,
        push_id: PushId,
        from: PublicKey,
    ) -> oneshot::Receiver<PushReply> {
        self.push.expect_reply(push_id, from)
    }

    pub fn forget_push_reply(&self, push_id: &PushId) {
        self.push.forget_reply(push_id)
    }

    /// Sends `bench_ping` with `nonce` to a connected peer now; the receiver
    /// ends when its `bench_pong` arrives (`pushbill bench push` only).
    pub fn send_bench_ping(&self, to: PublicKey, nonce: u64) -> oneshot::Receiver<()> {
        let pong = self.push.expect_pong(nonce, to);
        self.send_push_message(to, PushMessage::BenchPing(BenchPing { nonce }));
        pong
    }

    /// Replies that arrived when nobody waited for them.
    pub fn take_late_push_replies(&self) -> Vec<(PublicKey, PushReply)> {
        self.push.take_late_replies()
    }
}

/// Whether a BOLT11 invoice has expired, by the wall clock (as payers check).
pub fn is_expired(invoice: &lightning_invoice::Bolt11Invoice) -> bool {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|now| invoice.would_expire(now))
        .unwrap_or(true)
}
