//! The test vectors of docs/push-invoices.md section 1, as data: payloads
//! (hex, after the message type) that must decode, that must fail and why,
//! and for each failing one the same payload with its one defect repaired
//! (which must decode: so each vector fails for its own rule only).
//! The crate's tests check them against the decoders and the spec's text;
//! another implementation can run them against its own decoder.

use crate::wire::{PUSH_INVOICE_TYPE, PUSH_REPLY_TYPE, PushInvoice, PushReply, WireError};

/// Which message a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    PushInvoice,
    PushReply,
}

impl Message {
    pub fn type_id(self) -> u16 {
        match self {
            Self::PushInvoice => PUSH_INVOICE_TYPE,
            Self::PushReply => PUSH_REPLY_TYPE,
        }
    }

    /// Decodes `payload` as this message and encodes it again (so two
    /// payloads can be compared by what they mean).
    pub fn reencode(self, payload: &[u8]) -> Result<Vec<u8>, WireError> {
        match self {
            Self::PushInvoice => PushInvoice::decode(payload).map(|m| m.encode()),
            Self::PushReply => PushReply::decode(payload).map(|m| m.encode()),
        }
    }
}

/// A payload that decodes, and encodes back to the same bytes.
#[derive(Debug, Clone, Copy)]
pub struct Valid {
    pub name: &'static str,
    pub message: Message,
    pub payload_hex: &'static str,
}

/// A payload that must fail with `error`; `repaired_hex` is it with the
/// defect fixed, and decodes.
#[derive(Debug, Clone)]
pub struct MustFail {
    pub rule: &'static str,
    pub message: Message,
    pub payload_hex: &'static str,
    pub error: WireError,
    pub repaired_hex: &'static str,
}

/// A payload that must decode to what `same_as_hex` decodes to.
#[derive(Debug, Clone, Copy)]
pub struct MustAccept {
    pub rule: &'static str,
    pub message: Message,
    pub payload_hex: &'static str,
    pub same_as_hex: &'static str,
}

macro_rules! id_11 {
    () => {
        "1111111111111111111111111111111111111111111111111111111111111111"
    };
}
macro_rules! id_22 {
    () => {
        "2222222222222222222222222222222222222222222222222222222222222222"
    };
}
macro_rules! vector_1 {
    () => {
        concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "040401406f40",
            "0607426f62666c6978",
            "0808424f422d30303031",
            "09074d6f6e74686c79",
            "0b046b0e0e00",
            "0d046b36ec80",
        )
    };
}
macro_rules! vector_2 {
    () => {
        concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "0400",
            "0600",
            "0800"
        )
    };
}

/// Vector 1's payload: `push_invoice` with every field.
pub const VECTOR_1: &str = vector_1!();
/// Record boundaries of vector 1 after which a prefix decodes (the end of
/// `invoice_number`, `plan_name`, `period_start`, and the whole payload).
pub const VECTOR_1_VALID_CUTS: [usize; 4] = [72, 81, 87, 93];
/// Record boundaries of vector 1 before `invoice_number` ends, and the
/// required type missing when the payload is cut there.
pub const VECTOR_1_MISSING_AT: [(usize, u64); 5] = [(0, 0), (34, 2), (47, 4), (53, 6), (62, 8)];

pub const VALID: &[Valid] = &[
    Valid {
        name: "push_invoice, every field",
        message: Message::PushInvoice,
        payload_hex: VECTOR_1,
    },
    Valid {
        name: "push_invoice, required fields only, amount 0, empty texts",
        message: Message::PushInvoice,
        payload_hex: vector_2!(),
    },
    Valid {
        name: "push_reply, paid",
        message: Message::PushReply,
        payload_hex: concat!("0020", id_22!(), "020102"),
    },
    Valid {
        name: "push_reply, rejected, unknown_payee, with a message",
        message: Message::PushReply,
        payload_hex: concat!(
            "0020",
            id_22!(),
            "020103",
            "04020005",
            "050d756e6b6e6f776e207061796565"
        ),
    },
];

pub const MUST_FAIL: &[MustFail] = &[
    MustFail {
        rule: "unknown even type 498",
        message: Message::PushInvoice,
        payload_hex: concat!(vector_1!(), "fd01f20161"),
        error: WireError::UnknownEvenType(498),
        repaired_hex: concat!(vector_1!(), "fd01f30161"),
    },
    MustFail {
        rule: "types not increasing (8 before 6)",
        message: Message::PushInvoice,
        payload_hex: concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "0400",
            "0800",
            "0600"
        ),
        error: WireError::NotIncreasing(6),
        repaired_hex: vector_2!(),
    },
    MustFail {
        rule: "type 13 repeated",
        message: Message::PushInvoice,
        payload_hex: concat!(vector_1!(), "0d0101"),
        error: WireError::NotIncreasing(13),
        repaired_hex: concat!(vector_1!(), "0f0101"),
    },
    MustFail {
        rule: "non-minimal BigSize (type 17 as fd0011)",
        message: Message::PushInvoice,
        payload_hex: concat!(vector_1!(), "fd00110161"),
        error: WireError::NonCanonical,
        repaired_hex: concat!(vector_1!(), "110161"),
    },
    MustFail {
        rule: "record longer than what is left",
        message: Message::PushInvoice,
        payload_hex: concat!(vector_1!(), "0f056161"),
        error: WireError::Truncated,
        repaired_hex: concat!(vector_1!(), "0f026161"),
    },
    MustFail {
        rule: "length 2^60 (fails without allocating)",
        message: Message::PushInvoice,
        payload_hex: concat!(vector_1!(), "0fff100000000000000061"),
        error: WireError::Truncated,
        repaired_hex: concat!(vector_1!(), "0f0161"),
    },
    MustFail {
        rule: "tu64 with a leading zero",
        message: Message::PushInvoice,
        payload_hex: concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "04020001",
            "0600",
            "0800"
        ),
        error: WireError::NonMinimalTu64(4),
        repaired_hex: concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "040101",
            "0600",
            "0800"
        ),
    },
    MustFail {
        rule: "invalid UTF-8",
        message: Message::PushInvoice,
        payload_hex: concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "0400",
            "0601ff",
            "0800"
        ),
        error: WireError::BadUtf8(6),
        repaired_hex: concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "0400",
            "060161",
            "0800"
        ),
    },
    MustFail {
        rule: "push_id not 32 bytes (31)",
        message: Message::PushInvoice,
        payload_hex: concat!(
            "001f",
            "11111111111111111111111111111111111111111111111111111111111111",
            "020b6c6e626372743174657374",
            "0400",
            "0600",
            "0800"
        ),
        error: WireError::BadLength(0),
        repaired_hex: vector_2!(),
    },
    MustFail {
        rule: "required invoice_number missing",
        message: Message::PushInvoice,
        payload_hex: concat!(
            "0020",
            id_11!(),
            "020b6c6e626372743174657374",
            "0400",
            "0600"
        ),
        error: WireError::Missing(8),
        repaired_hex: vector_2!(),
    },
    MustFail {
        rule: "unknown status 9 (reply)",
        message: Message::PushReply,
        payload_hex: concat!("0020", id_22!(), "020109"),
        error: WireError::BadStatus(9),
        repaired_hex: concat!("0020", id_22!(), "020102"),
    },
    MustFail {
        rule: "status not 1 byte (reply)",
        message: Message::PushReply,
        payload_hex: concat!("0020", id_22!(), "02020002"),
        error: WireError::BadLength(2),
        repaired_hex: concat!("0020", id_22!(), "020102"),
    },
    MustFail {
        rule: "rejected without reason (reply)",
        message: Message::PushReply,
        payload_hex: concat!("0020", id_22!(), "020103"),
        error: WireError::Missing(4),
        repaired_hex: concat!("0020", id_22!(), "020103", "04020005"),
    },
];

pub const MUST_ACCEPT: &[MustAccept] = &[
    MustAccept {
        rule: "unknown odd type 499 is skipped",
        message: Message::PushInvoice,
        payload_hex: concat!(vector_1!(), "fd01f30161"),
        same_as_hex: vector_1!(),
    },
    MustAccept {
        rule: "a reason with a status other than rejected is ignored",
        message: Message::PushReply,
        payload_hex: concat!("0020", id_22!(), "020100", "04020005"),
        same_as_hex: concat!("0020", id_22!(), "020100"),
    },
];
