//! LDK's side of the push-invoice protocol: a `CustomMessageHandler` that
//! reads and writes the two messages of [`crate::wire`] and the six of
//! [`crate::subscribe`], hands replies to whoever waits for them (the
//! merchant's sender), incoming pushes to the subscriber's payer and
//! incoming grant messages to whichever owner takes them (the merchant's
//! node role, the payer), each with the BOLT 8-authenticated peer's node id,
//! and advertises the feature bit when a payer is plugged in. Every node
//! answers `bench_ping` with `bench_pong` at once, from the handler (the
//! ceiling `pushbill bench push` measures pushes against).

use std::collections::HashMap;
use std::sync::Mutex;

use bitcoin::secp256k1::PublicKey;
use lightning::io;
use lightning::ln::msgs::{DecodeError, Init, LightningError};
use lightning::ln::peer_handler::CustomMessageHandler;
use lightning::ln::wire::{CustomMessageReader, Type};
use lightning::types::features::{InitFeatures, NodeFeatures};
use lightning::util::ser::{LengthLimitedRead, Writeable, Writer};
use tokio::sync::{mpsc, oneshot};

use crate::subscribe::GrantMessage;
use crate::wire::{
    BENCH_PING_TYPE, BENCH_PONG_TYPE, BenchPing, FEATURE_BIT, PUSH_INVOICE_TYPE, PUSH_REPLY_TYPE,
    PushId, PushInvoice, PushReply,
};

/// One of the protocol's messages: the two push messages, or one of the
/// subscribe handshake and grant-end messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushMessage {
    Invoice(PushInvoice),
    Reply(PushReply),
    Grant(GrantMessage),
    /// `bench_ping` (for `pushbill bench push` only).
    BenchPing(BenchPing),
    /// `bench_pong`, the echo of a `bench_ping`.
    BenchPong(BenchPing),
}

impl From<GrantMessage> for PushMessage {
    fn from(message: GrantMessage) -> Self {
        Self::Grant(message)
    }
}

impl Writeable for PushMessage {
    fn write<W: Writer>(&self, w: &mut W) -> Result<(), io::Error> {
        let bytes = match self {
            Self::Invoice(m) => m.encode(),
            Self::Reply(m) => m.encode(),
            Self::Grant(m) => m.encode(),
            Self::BenchPing(m) | Self::BenchPong(m) => m.encode(),
        };
        w.write_all(&bytes)
    }
}

impl Type for PushMessage {
    fn type_id(&self) -> u16 {
        match self {
            Self::Invoice(_) => PUSH_INVOICE_TYPE,
            Self::Reply(_) => PUSH_REPLY_TYPE,
            Self::Grant(m) => m.type_id(),
            Self::BenchPing(_) => BENCH_PING_TYPE,
            Self::BenchPong(_) => BENCH_PONG_TYPE,
        }
    }
}

/// A push invoice as it arrived: who delivered it, and what it says.
pub type IncomingPush = (PublicKey, PushInvoice);

/// A grant message as it arrived: the peer's node id (proven by the BOLT 8
/// handshake, the only trustworthy sender) and the message.
pub type IncomingGrantMessage = (PublicKey, GrantMessage);

#[derive(Default)]
pub struct PushHandler {
    outbox: Mutex<Vec<(PublicKey, PushMessage)>>,
    /// Replies someone waits for, by push id (and the peer it must come from).
    waiting: Mutex<HashMap<PushId, (PublicKey, oneshot::Sender<PushReply>)>>,
    /// Replies nobody waited for (e.g. `paid`, after `accepted`).
    late: Mutex<Vec<(PublicKey, PushReply)>>,
    /// Pongs someone waits for, by nonce (and the peer it must come from).
    pongs: Mutex<HashMap<u64, (PublicKey, oneshot::Sender<()>)>>,
    /// Where incoming pushes go: set on a subscriber's node, which then
    /// advertises the feature bit. A node without it ignores pushes.
    inbox: Option<mpsc::UnboundedSender<IncomingPush>>,
    /// Where incoming grant messages go; a node without it ignores them.
    grant_inbox: Option<mpsc::UnboundedSender<IncomingGrantMessage>>,
}

impl PushHandler {
    pub fn new(inbox: Option<mpsc::UnboundedSender<IncomingPush>>) -> Self {
        Self {
            inbox,
            ..Self::default()
        }
    }

    /// Incoming grant messages (subscribe handshake, grant end) go to `inbox`.
    pub fn with_grant_inbox(mut self, inbox: mpsc::UnboundedSender<IncomingGrantMessage>) -> Self {
        self.grant_inbox = Some(inbox);
        self
    }

    /// Queues a message; the peer manager sends it on its next `process_events`.
    pub fn queue(&self, to: PublicKey, message: PushMessage) {
        self.outbox.lock().expect("push outbox").push((to, message));
    }

    /// Waits for the reply to `push_id` from `from`.
    pub fn expect_reply(&self, push_id: PushId, from: PublicKey) -> oneshot::Receiver<PushReply> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .expect("push waiting")
            .insert(push_id, (from, tx));
        rx
    }

    pub fn forget_reply(&self, push_id: &PushId) {
        self.waiting.lock().expect("push waiting").remove(push_id);
    }

    /// Waits for the `bench_pong` of `nonce` from `from` (register before
    /// sending the ping).
    pub fn expect_pong(&self, nonce: u64, from: PublicKey) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.pongs
            .lock()
            .expect("bench pongs")
            .insert(nonce, (from, tx));
        rx
    }

    /// Replies that came when nobody waited, oldest first.
    pub fn take_late_replies(&self) -> Vec<(PublicKey, PushReply)> {
        std::mem::take(&mut *self.late.lock().expect("push late"))
    }
}

impl CustomMessageReader for PushHandler {
    type CustomMessage = PushMessage;

    fn read<R: LengthLimitedRead>(
        &self,
        message_type: u16,
        buffer: &mut R,
    ) -> Result<Option<PushMessage>, DecodeError> {
        if message_type != PUSH_INVOICE_TYPE
            && message_type != PUSH_REPLY_TYPE
            && message_type != BENCH_PING_TYPE
            && message_type != BENCH_PONG_TYPE
            && !GrantMessage::is_grant_type(message_type)
        {
            return Ok(None);
        }
        // BOLT #1 messages are at most 65535 bytes.
        let len = usize::try_from(buffer.remaining_bytes())
            .ok()
            .filter(|n| *n <= usize::from(u16::MAX))
            .ok_or(DecodeError::InvalidValue)?;
        let mut bytes = vec![0u8; len];
        buffer
            .read_exact(&mut bytes)
            .map_err(|_| DecodeError::ShortRead)?;
        let decoded = match message_type {
            PUSH_INVOICE_TYPE => PushInvoice::decode(&bytes).map(PushMessage::Invoice),
            PUSH_REPLY_TYPE => PushReply::decode(&bytes).map(PushMessage::Reply),
            BENCH_PING_TYPE => BenchPing::decode(&bytes).map(PushMessage::BenchPing),
            BENCH_PONG_TYPE => BenchPing::decode(&bytes).map(PushMessage::BenchPong),
            _ => match GrantMessage::decode(message_type, &bytes) {
                Some(decoded) => decoded.map(PushMessage::Grant),
                None => return Ok(None),
            },
        };
        match decoded {
            Ok(m) => Ok(Some(m)),
            Err(e) => {
                // An odd message the peer got wrong: ignore it, keep the connection.
                tracing::warn!(message_type, error = %e, "malformed push message ignored");
                Ok(None)
            }
        }
    }
}

impl CustomMessageHandler for PushHandler {
    fn handle_custom_message(
        &self,
        msg: PushMessage,
        sender_node_id: PublicKey,
    ) -> Result<(), LightningError> {
        match msg {
            PushMessage::Invoice(push) => match &self.inbox {
                Some(inbox) => {
                    let _ = inbox.send((sender_node_id, push));
                }
                None => {
                    tracing::debug!(peer = %sender_node_id, "push invoice ignored: this node takes none")
                }
            },
            PushMessage::Reply(reply) => {
                let mut waiting = self.waiting.lock().expect("push waiting");
                let ours = waiting
                    .get(&reply.push_id)
                    .is_some_and(|(from, _)| *from == sender_node_id);
                if ours && let Some((_, tx)) = waiting.remove(&reply.push_id) {
                    let _ = tx.send(reply);
                } else {
                    drop(waiting);
                    self.late
                        .lock()
                        .expect("push late")
                        .push((sender_node_id, reply));
                }
            }
            PushMessage::Grant(message) => match &self.grant_inbox {
                Some(inbox) => {
                    let _ = inbox.send((sender_node_id, message));
                }
                None => {
                    tracing::debug!(peer = %sender_node_id, message_type = message.type_id(), "grant message ignored: this node takes none")
                }
            },
            // Answered here, without a task in between: the pong goes out
            // on the `process_events` that follows reading the ping.
            PushMessage::BenchPing(ping) => {
                self.queue(sender_node_id, PushMessage::BenchPong(ping))
            }
            PushMessage::BenchPong(pong) => {
                let mut pongs = self.pongs.lock().expect("bench pongs");
                let ours = pongs
                    .get(&pong.nonce)
                    .is_some_and(|(from, _)| *from == sender_node_id);
                if ours && let Some((_, tx)) = pongs.remove(&pong.nonce) {
                    let _ = tx.send(());
                }
            }
        }
        Ok(())
    }

    fn get_and_clear_pending_msg(&self) -> Vec<(PublicKey, PushMessage)> {
        std::mem::take(&mut *self.outbox.lock().expect("push outbox"))
    }

    fn peer_disconnected(&self, _their_node_id: PublicKey) {}

    fn peer_connected(
        &self,
        _their_node_id: PublicKey,
        _msg: &Init,
        _inbound: bool,
    ) -> Result<(), ()> {
        // What a peer supports is read from the peer manager when needed.
        Ok(())
    }

    fn provided_node_features(&self) -> NodeFeatures {
        NodeFeatures::empty()
    }

    fn provided_init_features(&self, _their_node_id: PublicKey) -> InitFeatures {
        let mut features = InitFeatures::empty();
        if self.inbox.is_some() {
            features
                .set_optional_custom_bit(FEATURE_BIT)
                .expect("a custom bit above 255");
        }
        features
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ReplyStatus, supports_push};

    fn key(n: u8) -> PublicKey {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[n; 32]).unwrap();
        PublicKey::from_secret_key(&secp, &secret)
    }

    #[test]
    fn only_a_node_taking_pushes_advertises_the_feature_bit() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let taker = PushHandler::new(Some(tx));
        let flags = taker.provided_init_features(key(1));
        assert!(supports_push(flags.le_flags()));
        assert!(!supports_push(
            PushHandler::new(None)
                .provided_init_features(key(1))
                .le_flags()
        ));
    }

    #[test]
    fn a_reply_goes_to_its_waiter_only_from_the_right_peer() {
        let handler = PushHandler::new(None);
        let id = PushId([7; 32]);
        let mut rx = handler.expect_reply(id, key(1));
        let reply = PushReply {
            push_id: id,
            status: ReplyStatus::Accepted,
            message: None,
        };
        handler
            .handle_custom_message(PushMessage::Reply(reply.clone()), key(2))
            .unwrap();
        assert!(rx.try_recv().is_err(), "another peer cannot answer");
        assert_eq!(handler.take_late_replies(), vec![(key(2), reply.clone())]);
        handler
            .handle_custom_message(PushMessage::Reply(reply.clone()), key(1))
            .unwrap();
        assert_eq!(rx.try_recv().unwrap(), reply);
        assert!(handler.take_late_replies().is_empty());
    }

    #[test]
    fn grant_messages_go_to_the_grant_inbox_with_the_peer() {
        use crate::grant::GrantId;
        use crate::subscribe::{GRANT_END_ACK_TYPE, GrantEndAck, SUBSCRIBE_REQUEST_TYPE};
        let ack = GrantMessage::GrantEndAck(GrantEndAck {
            grant_id: GrantId([3; 16]),
        });
        // Without a grant inbox the message is dropped (and nothing panics).
        PushHandler::new(None)
            .handle_custom_message(ack.clone().into(), key(1))
            .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handler = PushHandler::new(None).with_grant_inbox(tx);
        let bytes = PushMessage::from(ack.clone()).encode();
        let read = handler
            .read(GRANT_END_ACK_TYPE, &mut bytes.as_slice())
            .unwrap()
            .expect("a grant message");
        assert_eq!(read.type_id(), GRANT_END_ACK_TYPE);
        handler.handle_custom_message(read, key(2)).unwrap();
        assert_eq!(rx.try_recv().unwrap(), (key(2), ack));
        // A malformed one is ignored, the connection kept.
        assert_eq!(
            handler
                .read(SUBSCRIBE_REQUEST_TYPE, &mut [0u8, 0].as_slice())
                .unwrap(),
            None
        );
        // Taking grant messages does not advertise the push feature bit.
        assert!(!supports_push(
            handler.provided_init_features(key(1)).le_flags()
        ));
    }

    #[test]
    fn a_bench_ping_is_answered_with_its_pong_which_wakes_its_waiter() {
        let payer = PushHandler::new(None);
        let ping = BenchPing { nonce: 9 };
        let bytes = PushMessage::BenchPing(ping).encode();
        let read = payer
            .read(BENCH_PING_TYPE, &mut bytes.as_slice())
            .unwrap()
            .expect("a ping");
        payer.handle_custom_message(read, key(1)).unwrap();
        let answer = payer.get_and_clear_pending_msg();
        assert_eq!(answer, vec![(key(1), PushMessage::BenchPong(ping))]);
        let merchant = PushHandler::new(None);
        let mut rx = merchant.expect_pong(9, key(2));
        merchant
            .handle_custom_message(PushMessage::BenchPong(ping), key(3))
            .unwrap();
        assert!(rx.try_recv().is_err(), "another peer cannot answer");
        merchant
            .handle_custom_message(PushMessage::BenchPong(ping), key(2))
            .unwrap();
        assert_eq!(rx.try_recv(), Ok(()));
    }

    #[test]
    fn messages_are_read_back_from_their_bytes() {
        let handler = PushHandler::new(None);
        let reply = PushMessage::Reply(PushReply {
            push_id: PushId([1; 32]),
            status: ReplyStatus::Paid,
            message: None,
        });
        let bytes = reply.encode();
        let read = handler
            .read(PUSH_REPLY_TYPE, &mut bytes.as_slice())
            .unwrap();
        assert_eq!(read, Some(reply));
        assert_eq!(handler.read(1, &mut [0u8; 0].as_slice()).unwrap(), None);
        assert_eq!(
            handler
                .read(PUSH_INVOICE_TYPE, &mut [0xffu8].as_slice())
                .unwrap(),
            None
        );
    }
}
