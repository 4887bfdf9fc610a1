//! The push-invoice wire format (docs/push-invoices.md): two custom BOLT #1
//! messages carrying TLV streams, and the init feature bit that advertises
//! support. Pure encoding and decoding, no I/O.
//!
//! Beside them, `bench_ping` and `bench_pong` ([`BenchPing`]): a minimal
//! message and its echo, used only by `pushbill bench push` to time plain
//! BOLT 8 round trips of a custom message (the ceiling of pushes).
//!
//! A message on the wire is `type (u16, big-endian) || payload`; the
//! functions here encode and decode the payload, LDK writes the type.

use std::fmt;

/// `push_invoice`: odd, so a peer that does not know it ignores it.
pub const PUSH_INVOICE_TYPE: u16 = 44_471;
/// `push_reply`: odd as well.
pub const PUSH_REPLY_TYPE: u16 = 44_473;
/// The init feature bit advertising "I accept push invoices" (optional, odd).
pub const FEATURE_BIT: usize = 453;
/// `bench_ping`: odd; every pushbill node answers it with `bench_pong`.
pub const BENCH_PING_TYPE: u16 = 44_487;
/// `bench_pong`: odd as well.
pub const BENCH_PONG_TYPE: u16 = 44_489;

// Odd ("it's OK to be odd") and in the custom ranges, checked at compile time.
const _: () = assert!(PUSH_INVOICE_TYPE % 2 == 1 && PUSH_INVOICE_TYPE >= 32768);
const _: () = assert!(PUSH_REPLY_TYPE % 2 == 1 && PUSH_REPLY_TYPE >= 32768);
const _: () = assert!(FEATURE_BIT % 2 == 1 && FEATURE_BIT >= 256);
const _: () = assert!(BENCH_PING_TYPE % 2 == 1 && BENCH_PING_TYPE >= 32768);
const _: () = assert!(BENCH_PONG_TYPE % 2 == 1 && BENCH_PONG_TYPE >= 32768);

/// Longest BOLT11 string accepted (route hints make invoices long, 8 KiB is plenty).
pub const MAX_INVOICE_BYTES: usize = 8192;
/// Longest text field (names, numbers, messages).
pub const MAX_TEXT_BYTES: usize = 1024;

/// `s` cut to at most `max` bytes, on a character boundary (so still UTF-8).
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Why a payload could not be decoded. Decoding never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated")]
    Truncated,
    #[error("non-minimal BigSize")]
    NonCanonical,
    #[error("TLV type {0}: tu64 with a leading zero byte")]
    NonMinimalTu64(u64),
    #[error("TLV types are not strictly increasing at type {0}")]
    NotIncreasing(u64),
    #[error("unknown even TLV type {0}")]
    UnknownEvenType(u64),
    #[error("TLV type {0} is missing")]
    Missing(u64),
    #[error("TLV type {0} has a bad length")]
    BadLength(u64),
    #[error("TLV type {0} is not UTF-8")]
    BadUtf8(u64),
    #[error("TLV type {0} is too long")]
    TooLong(u64),
    #[error("unknown status {0}")]
    BadStatus(u8),
    #[error("unknown window {0}")]
    BadWindow(u8),
    #[error("unknown ended_by {0}")]
    BadEndedBy(u8),
    #[error("TLV type {0} must not be zero")]
    Zero(u64),
}

/// A 32-byte id chosen by the sender, the same on every re-send of one push.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PushId(pub [u8; 32]);

impl PushId {
    pub fn random() -> Self {
        Self(rand::random())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for PushId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PushId({})", self.to_hex())
    }
}

impl fmt::Display for PushId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `push_invoice`: a BOLT11 invoice and the billing context a wallet shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushInvoice {
    /// type 0
    pub push_id: PushId,
    /// type 2: the BOLT11 string.
    pub invoice: String,
    /// type 4 (tu64): the amount the invoice asks, in msat.
    pub amount_msat: u64,
    /// type 6
    pub merchant_name: String,
    /// type 8
    pub invoice_number: String,
    /// type 9 (optional): subscription plan or invoice description.
    pub plan_name: Option<String>,
    /// type 11 (optional, tu64): period start, unix seconds.
    pub period_start: Option<u64>,
    /// type 13 (optional, tu64): period end, unix seconds.
    pub period_end: Option<u64>,
}

/// What the subscriber's node did with a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    Accepted,
    PendingApproval,
    Paid,
    Rejected(RejectReason),
}

impl ReplyStatus {
    /// The name used in pushbill's records and events.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::PendingApproval => "pending_approval",
            Self::Paid => "paid",
            Self::Rejected(_) => "rejected",
        }
    }
}

/// Why a push was rejected (u16 on the wire; unknown codes are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    Malformed,
    WrongNetwork,
    Expired,
    AmountMismatch,
    NoGrant,
    OverGrant,
    DuplicatePaymentHash,
    Declined,
    PaymentFailed,
    RequestLimit,
    Other(u16),
}

impl RejectReason {
    pub fn code(self) -> u16 {
        match self {
            Self::Malformed => 1,
            Self::WrongNetwork => 2,
            Self::Expired => 3,
            Self::AmountMismatch => 4,
            Self::NoGrant => 5,
            Self::OverGrant => 6,
            Self::DuplicatePaymentHash => 7,
            Self::Declined => 8,
            Self::PaymentFailed => 9,
            Self::RequestLimit => 10,
            Self::Other(n) => n,
        }
    }

    pub fn from_code(code: u16) -> Self {
        match code {
            1 => Self::Malformed,
            2 => Self::WrongNetwork,
            3 => Self::Expired,
            4 => Self::AmountMismatch,
            5 => Self::NoGrant,
            6 => Self::OverGrant,
            7 => Self::DuplicatePaymentHash,
            8 => Self::Declined,
            9 => Self::PaymentFailed,
            10 => Self::RequestLimit,
            n => Self::Other(n),
        }
    }

    pub fn name(self) -> String {
        match self {
            Self::Malformed => "malformed".into(),
            Self::WrongNetwork => "wrong_network".into(),
            Self::Expired => "expired".into(),
            Self::AmountMismatch => "amount_mismatch".into(),
            Self::NoGrant => "no_grant".into(),
            Self::OverGrant => "over_grant".into(),
            Self::DuplicatePaymentHash => "duplicate_payment_hash".into(),
            Self::Declined => "declined".into(),
            Self::PaymentFailed => "payment_failed".into(),
            Self::RequestLimit => "request_limit".into(),
            Self::Other(n) => format!("code_{n}"),
        }
    }
}

/// `push_reply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReply {
    /// type 0
    pub push_id: PushId,
    /// type 2 (u8 status) and, when rejected, type 4 (u16 reason).
    pub status: ReplyStatus,
    /// type 5 (optional): a human-readable note.
    pub message: Option<String>,
}

const STATUS_ACCEPTED: u8 = 0;
const STATUS_PENDING_APPROVAL: u8 = 1;
const STATUS_PAID: u8 = 2;
const STATUS_REJECTED: u8 = 3;

impl PushInvoice {
    /// The payload. Every text is cut to its bound on a character boundary
    /// (see [`truncate_utf8`]), so [`Self::decode`] takes whatever this
    /// writes. A BOLT11 longer than [`MAX_INVOICE_BYTES`] cannot be cut into
    /// a valid one: a sender checks [`Self::invoice_fits`] before sending.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.push_id.0);
        put_text(&mut out, 2, &self.invoice, MAX_INVOICE_BYTES);
        put_record(&mut out, 4, &tu64(self.amount_msat));
        put_text(&mut out, 6, &self.merchant_name, MAX_TEXT_BYTES);
        put_text(&mut out, 8, &self.invoice_number, MAX_TEXT_BYTES);
        if let Some(plan) = &self.plan_name {
            put_text(&mut out, 9, plan, MAX_TEXT_BYTES);
        }
        if let Some(start) = self.period_start {
            put_record(&mut out, 11, &tu64(start));
        }
        if let Some(end) = self.period_end {
            put_record(&mut out, 13, &tu64(end));
        }
        out
    }

    /// Whether the BOLT11 is within [`MAX_INVOICE_BYTES`] (texts are cut by
    /// [`Self::encode`], an invoice cannot be).
    pub fn invoice_fits(&self) -> bool {
        self.invoice.len() <= MAX_INVOICE_BYTES
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut push_id = None;
        let mut invoice = None;
        let mut amount_msat = None;
        let mut merchant_name = None;
        let mut invoice_number = None;
        let mut plan_name = None;
        let mut period_start = None;
        let mut period_end = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => push_id = Some(PushId(fixed::<32>(t, value)?)),
                2 => invoice = Some(text(t, value, MAX_INVOICE_BYTES)?),
                4 => amount_msat = Some(read_tu64(t, value)?),
                6 => merchant_name = Some(text(t, value, MAX_TEXT_BYTES)?),
                8 => invoice_number = Some(text(t, value, MAX_TEXT_BYTES)?),
                9 => plan_name = Some(text(t, value, MAX_TEXT_BYTES)?),
                11 => period_start = Some(read_tu64(t, value)?),
                13 => period_end = Some(read_tu64(t, value)?),
                t if t % 2 == 0 => return Err(WireError::UnknownEvenType(t)),
                _ => {}
            }
        }
        Ok(Self {
            push_id: push_id.ok_or(WireError::Missing(0))?,
            invoice: invoice.ok_or(WireError::Missing(2))?,
            amount_msat: amount_msat.ok_or(WireError::Missing(4))?,
            merchant_name: merchant_name.ok_or(WireError::Missing(6))?,
            invoice_number: invoice_number.ok_or(WireError::Missing(8))?,
            plan_name,
            period_start,
            period_end,
        })
    }
}

impl PushReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.push_id.0);
        let status = match self.status {
            ReplyStatus::Accepted => STATUS_ACCEPTED,
            ReplyStatus::PendingApproval => STATUS_PENDING_APPROVAL,
            ReplyStatus::Paid => STATUS_PAID,
            ReplyStatus::Rejected(_) => STATUS_REJECTED,
        };
        put_record(&mut out, 2, &[status]);
        if let ReplyStatus::Rejected(reason) = self.status {
            put_record(&mut out, 4, &reason.code().to_be_bytes());
        }
        if let Some(message) = &self.message {
            put_text(&mut out, 5, message, MAX_TEXT_BYTES);
        }
        out
    }

    /// A `reason` (type 4) with any status but `rejected` is read (it must
    /// be 2 bytes) and ignored: the status decides.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut push_id = None;
        let mut status = None;
        let mut reason = None;
        let mut message = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => push_id = Some(PushId(fixed::<32>(t, value)?)),
                2 => status = Some(fixed::<1>(t, value)?[0]),
                4 => reason = Some(u16::from_be_bytes(fixed::<2>(t, value)?)),
                5 => message = Some(text(t, value, MAX_TEXT_BYTES)?),
                t if t % 2 == 0 => return Err(WireError::UnknownEvenType(t)),
                _ => {}
            }
        }
        let status = match status.ok_or(WireError::Missing(2))? {
            STATUS_ACCEPTED => ReplyStatus::Accepted,
            STATUS_PENDING_APPROVAL => ReplyStatus::PendingApproval,
            STATUS_PAID => ReplyStatus::Paid,
            STATUS_REJECTED => ReplyStatus::Rejected(RejectReason::from_code(
                reason.ok_or(WireError::Missing(4))?,
            )),
            other => return Err(WireError::BadStatus(other)),
        };
        Ok(Self {
            push_id: push_id.ok_or(WireError::Missing(0))?,
            status,
            message,
        })
    }
}

/// `bench_ping` / `bench_pong`: one TLV record, type 0, an 8-byte nonce
/// the pong echoes so the sender matches it to its ping. No feature bit:
/// a node that does not know them ignores them (odd types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BenchPing {
    pub nonce: u64,
}

impl BenchPing {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        put_record(&mut out, 0, &self.nonce.to_be_bytes());
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut nonce = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => nonce = Some(u64::from_be_bytes(fixed::<8>(t, value)?)),
                t if t % 2 == 0 => return Err(WireError::UnknownEvenType(t)),
                _ => {}
            }
        }
        Ok(Self {
            nonce: nonce.ok_or(WireError::Missing(0))?,
        })
    }
}

/// Whether a peer's init features (little-endian flags) advertise push
/// invoices: bit 453 only. The even bit 452 is not used (a node requiring
/// it could not even connect to a node that does not take pushes, such as
/// every merchant's), so a peer setting it alone does not take pushes.
pub fn supports_push(le_flags: &[u8]) -> bool {
    le_flags
        .get(FEATURE_BIT / 8)
        .is_some_and(|byte| byte & (1 << (FEATURE_BIT % 8)) != 0)
}

// ---- BOLT #1 primitives ----

pub(crate) fn put_bigsize(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

pub(crate) fn put_record(out: &mut Vec<u8>, t: u64, value: &[u8]) {
    put_bigsize(out, t);
    put_bigsize(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A text record, cut to `max` bytes as [`text`] reads it back.
fn put_text(out: &mut Vec<u8>, t: u64, value: &str, max: usize) {
    put_record(out, t, truncate_utf8(value, max).as_bytes());
}

/// A truncated u64: big-endian without leading zero bytes (0 is empty).
pub(crate) fn tu64(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// Reads a BigSize from the front of `input`, returning it and the rest.
pub(crate) fn take_bigsize(input: &[u8]) -> Result<(u64, &[u8]), WireError> {
    let (&first, rest) = input.split_first().ok_or(WireError::Truncated)?;
    let (width, min) = match first {
        0xfd => (2, 0xfd),
        0xfe => (4, 0x1_0000),
        0xff => (8, 0x1_0000_0000),
        small => return Ok((u64::from(small), rest)),
    };
    if rest.len() < width {
        return Err(WireError::Truncated);
    }
    let (bytes, rest) = rest.split_at(width);
    let value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if value < min {
        return Err(WireError::NonCanonical);
    }
    Ok((value, rest))
}

/// The records of a TLV stream, checking BOLT #1's ordering rule.
pub(crate) struct Records<'a> {
    rest: &'a [u8],
    last: Option<u64>,
    failed: bool,
}

impl<'a> Records<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Self {
            rest: payload,
            last: None,
            failed: false,
        }
    }

    fn next_record(&mut self) -> Result<(u64, &'a [u8]), WireError> {
        let (t, rest) = take_bigsize(self.rest)?;
        if self.last.is_some_and(|last| t <= last) {
            return Err(WireError::NotIncreasing(t));
        }
        let (len, rest) = take_bigsize(rest)?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        if rest.len() < len {
            return Err(WireError::Truncated);
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        self.last = Some(t);
        Ok((t, value))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(u64, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let record = self.next_record();
        self.failed = record.is_err();
        Some(record)
    }
}

pub(crate) fn fixed<const N: usize>(t: u64, value: &[u8]) -> Result<[u8; N], WireError> {
    value.try_into().map_err(|_| WireError::BadLength(t))
}

pub(crate) fn read_tu64(t: u64, value: &[u8]) -> Result<u64, WireError> {
    if value.len() > 8 {
        return Err(WireError::BadLength(t));
    }
    if value.first() == Some(&0) {
        return Err(WireError::NonMinimalTu64(t));
    }
    Ok(value.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

pub(crate) fn text(t: u64, value: &[u8], max: usize) -> Result<String, WireError> {
    if value.len() > max {
        return Err(WireError::TooLong(t));
    }
    String::from_utf8(value.to_vec()).map_err(|_| WireError::BadUtf8(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors;

    #[test]
    fn a_bench_ping_is_its_nonce_in_one_record() {
        let ping = BenchPing {
            nonce: 0x0102_0304_0506_0708,
        };
        let bytes = ping.encode();
        assert_eq!(hex::encode(&bytes), "00080102030405060708");
        assert_eq!(BenchPing::decode(&bytes), Ok(ping));
        assert_eq!(BenchPing::decode(&[]), Err(WireError::Missing(0)));
        assert_eq!(BenchPing::decode(&[0, 1, 7]), Err(WireError::BadLength(0)));
    }

    /// The vectors of docs/push-invoices.md: payloads only (LDK writes the type).
    const INVOICE_ID: [u8; 32] = [0x11; 32];

    fn vector_invoice() -> PushInvoice {
        PushInvoice {
            push_id: PushId(INVOICE_ID),
            invoice: "lnbcrt1test".into(),
            amount_msat: 21_000_000,
            merchant_name: "Bobflix".into(),
            invoice_number: "BOB-0001".into(),
            plan_name: Some("Monthly".into()),
            period_start: Some(1_796_083_200),
            period_end: Some(1_798_761_600),
        }
    }

    const VECTOR_INVOICE_HEX: &str = concat!(
        "0020",
        "1111111111111111111111111111111111111111111111111111111111111111",
        "020b",
        "6c6e626372743174657374",
        "0404",
        "01406f40",
        "0607",
        "426f62666c6978",
        "0808",
        "424f422d30303031",
        "0907",
        "4d6f6e74686c79",
        "0b04",
        "6b0e0e00",
        "0d04",
        "6b36ec80",
    );

    const VECTOR_MINIMAL_INVOICE_HEX: &str = concat!(
        "0020",
        "1111111111111111111111111111111111111111111111111111111111111111",
        "020b",
        "6c6e626372743174657374",
        "0400",
        "0600",
        "0800",
    );

    const VECTOR_REPLY_PAID_HEX: &str = concat!(
        "0020",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "020102",
    );

    const VECTOR_REPLY_REJECTED_HEX: &str = concat!(
        "0020",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "020103",
        "04020005",
        "050d",
        "756e6b6e6f776e207061796565",
    );

    #[test]
    fn the_push_invoice_vector_encodes_and_decodes() {
        let bytes = vector_invoice().encode();
        assert_eq!(hex::encode(&bytes), VECTOR_INVOICE_HEX);
        assert_eq!(PushInvoice::decode(&bytes).unwrap(), vector_invoice());
    }

    #[test]
    fn the_minimal_push_invoice_vector_has_an_empty_amount_for_zero() {
        let minimal = PushInvoice {
            push_id: PushId(INVOICE_ID),
            invoice: "lnbcrt1test".into(),
            amount_msat: 0,
            merchant_name: String::new(),
            invoice_number: String::new(),
            plan_name: None,
            period_start: None,
            period_end: None,
        };
        assert_eq!(hex::encode(minimal.encode()), VECTOR_MINIMAL_INVOICE_HEX);
        let decoded =
            PushInvoice::decode(&hex::decode(VECTOR_MINIMAL_INVOICE_HEX).unwrap()).unwrap();
        assert_eq!(decoded, minimal);
    }

    #[test]
    fn the_reply_vectors_encode_and_decode() {
        let paid = PushReply {
            push_id: PushId([0x22; 32]),
            status: ReplyStatus::Paid,
            message: None,
        };
        assert_eq!(hex::encode(paid.encode()), VECTOR_REPLY_PAID_HEX);
        let rejected = PushReply {
            push_id: PushId([0x22; 32]),
            status: ReplyStatus::Rejected(RejectReason::NoGrant),
            message: Some("unknown payee".into()),
        };
        assert_eq!(hex::encode(rejected.encode()), VECTOR_REPLY_REJECTED_HEX);
        for (hex_str, reply) in [
            (VECTOR_REPLY_PAID_HEX, paid),
            (VECTOR_REPLY_REJECTED_HEX, rejected),
        ] {
            assert_eq!(
                PushReply::decode(&hex::decode(hex_str).unwrap()).unwrap(),
                reply
            );
        }
    }

    #[test]
    fn every_status_and_reason_round_trips() {
        let mut statuses = vec![
            ReplyStatus::Accepted,
            ReplyStatus::PendingApproval,
            ReplyStatus::Paid,
        ];
        statuses.extend((1..=10).map(|c| ReplyStatus::Rejected(RejectReason::from_code(c))));
        statuses.push(ReplyStatus::Rejected(RejectReason::Other(60_000)));
        for status in statuses {
            let reply = PushReply {
                push_id: PushId::random(),
                status,
                message: Some("é".into()),
            };
            assert_eq!(PushReply::decode(&reply.encode()).unwrap(), reply);
        }
        for code in 1..=10u16 {
            assert_eq!(RejectReason::from_code(code).code(), code);
        }
        assert_eq!(RejectReason::NoGrant.name(), "no_grant");
        assert_eq!(RejectReason::RequestLimit.name(), "request_limit");
    }

    #[test]
    fn big_values_use_wider_bigsize_encodings() {
        let long = PushInvoice {
            invoice: "x".repeat(300),
            amount_msat: u64::MAX,
            ..vector_invoice()
        };
        let bytes = long.encode();
        // type 2, then length 300 as 0xfd 0x012c.
        assert_eq!(&bytes[34..38], &[0x02, 0xfd, 0x01, 0x2c]);
        assert_eq!(PushInvoice::decode(&bytes).unwrap(), long);
        let mut out = Vec::new();
        put_bigsize(&mut out, 0x1_0000);
        put_bigsize(&mut out, 0x1_0000_0000);
        assert_eq!(hex::encode(&out), "fe00010000ff0000000100000000");
        let (a, rest) = take_bigsize(&out).unwrap();
        let (b, rest) = take_bigsize(rest).unwrap();
        assert_eq!((a, b, rest.len()), (0x1_0000, 0x1_0000_0000, 0));
    }

    #[test]
    fn every_prefix_of_vector_1_fails_or_decodes_as_the_spec_says() {
        let good = hex::decode(vectors::VECTOR_1).unwrap();
        assert_eq!(good, vector_invoice().encode());
        for end in 0..=good.len() {
            let decoded = PushInvoice::decode(&good[..end]);
            if vectors::VECTOR_1_VALID_CUTS.contains(&end) {
                // The optional records after the cut are simply absent.
                assert_eq!(decoded.unwrap().encode(), &good[..end], "cut at {end}");
            } else if let Some((_, t)) = vectors::VECTOR_1_MISSING_AT
                .iter()
                .find(|(at, _)| *at == end)
            {
                assert_eq!(decoded, Err(WireError::Missing(*t)), "cut at {end}");
            } else {
                assert_eq!(decoded, Err(WireError::Truncated), "cut at {end}");
            }
        }
    }

    #[test]
    fn every_must_fail_vector_fails_for_its_own_rule_only() {
        for v in vectors::MUST_FAIL {
            let bad = hex::decode(v.payload_hex).unwrap();
            assert_eq!(v.message.reencode(&bad), Err(v.error.clone()), "{}", v.rule);
            let repaired = hex::decode(v.repaired_hex).unwrap();
            assert!(
                v.message.reencode(&repaired).is_ok(),
                "{}: the repaired payload fails",
                v.rule
            );
        }
        for v in vectors::MUST_ACCEPT {
            let payload = hex::decode(v.payload_hex).unwrap();
            let same = hex::decode(v.same_as_hex).unwrap();
            assert_eq!(
                v.message.reencode(&payload).unwrap(),
                v.message.reencode(&same).unwrap(),
                "{}",
                v.rule
            );
        }
        for v in vectors::VALID {
            let payload = hex::decode(v.payload_hex).unwrap();
            assert_eq!(v.message.reencode(&payload).unwrap(), payload, "{}", v.name);
        }
    }

    #[test]
    fn texts_over_their_bound_are_refused_and_never_sent() {
        let oversize = PushInvoice {
            merchant_name: "m".repeat(MAX_TEXT_BYTES + 1),
            ..vector_invoice()
        };
        let mut raw = Vec::new();
        put_record(&mut raw, 0, &oversize.push_id.0);
        put_record(&mut raw, 2, oversize.invoice.as_bytes());
        put_record(&mut raw, 4, &[]);
        put_record(&mut raw, 6, oversize.merchant_name.as_bytes());
        put_record(&mut raw, 8, &[]);
        assert_eq!(PushInvoice::decode(&raw), Err(WireError::TooLong(6)));
        // encode cuts it to the bound, on a character boundary.
        let emoji = PushInvoice {
            plan_name: Some("\u{1F600}".repeat(500)), // 2,000 bytes
            ..vector_invoice()
        };
        let decoded = PushInvoice::decode(&emoji.encode()).unwrap();
        let plan = decoded.plan_name.unwrap();
        assert_eq!(plan.len(), 1024);
        assert_eq!(plan, "\u{1F600}".repeat(256));
        assert!(emoji.invoice_fits());
        let huge = PushInvoice {
            invoice: "l".repeat(MAX_INVOICE_BYTES + 1),
            ..vector_invoice()
        };
        assert!(!huge.invoice_fits());
        assert_eq!(truncate_utf8("abc", 2), "ab");
        assert_eq!(truncate_utf8("é", 1), "");
        assert_eq!(truncate_utf8("éa", 3), "éa");
        // 400 two-byte characters cut to BOLT11's 639-byte description bound.
        let long = "é".repeat(400);
        assert_eq!(truncate_utf8(&long, 639), "é".repeat(319));
    }

    proptest::proptest! {
        /// Whatever the texts, `encode` writes what `decode` takes: each
        /// text cut to its bound on a character boundary.
        #[test]
        fn any_texts_round_trip_cut_to_their_bounds(
            invoice in ".{0,40}|.{8150,8250}",
            merchant_name in ".{0,40}|.{240,1100}",
            invoice_number in ".{0,1100}",
            plan_name in proptest::option::of(".{0,1100}"),
            message in proptest::option::of(".{0,1100}"),
            amount_msat in proptest::prelude::any::<u64>(),
            period_start in proptest::option::of(proptest::prelude::any::<u64>()),
        ) {
            let push = PushInvoice {
                push_id: PushId::random(),
                invoice: invoice.clone(),
                amount_msat,
                merchant_name: merchant_name.clone(),
                invoice_number: invoice_number.clone(),
                plan_name: plan_name.clone(),
                period_start,
                period_end: None,
            };
            let cut = |s: &str, max| truncate_utf8(s, max).to_owned();
            let expected = PushInvoice {
                invoice: cut(&invoice, MAX_INVOICE_BYTES),
                merchant_name: cut(&merchant_name, MAX_TEXT_BYTES),
                invoice_number: cut(&invoice_number, MAX_TEXT_BYTES),
                plan_name: plan_name.as_deref().map(|p| cut(p, MAX_TEXT_BYTES)),
                ..push.clone()
            };
            proptest::prop_assert_eq!(PushInvoice::decode(&push.encode()), Ok(expected));
            let reply = PushReply {
                push_id: push.push_id,
                status: ReplyStatus::Rejected(RejectReason::Declined),
                message: message.clone(),
            };
            let expected = PushReply {
                message: message.as_deref().map(|m| cut(m, MAX_TEXT_BYTES)),
                ..reply.clone()
            };
            proptest::prop_assert_eq!(PushReply::decode(&reply.encode()), Ok(expected));
        }
    }

    #[test]
    fn a_reason_on_a_status_other_than_rejected_must_still_be_two_bytes() {
        let reply = |tail: &str| {
            PushReply::decode(&hex::decode(format!("0020{}{tail}", "22".repeat(32))).unwrap())
        };
        assert_eq!(reply("020100040105"), Err(WireError::BadLength(4)));
        assert_eq!(
            reply("02010004020005").unwrap().status,
            ReplyStatus::Accepted
        );
    }

    #[test]
    fn the_spec_shows_these_vectors() {
        let spec = include_str!("../../../docs/push-invoices.md");
        for (message_type, payload) in [
            (PUSH_INVOICE_TYPE, VECTOR_INVOICE_HEX),
            (PUSH_INVOICE_TYPE, VECTOR_MINIMAL_INVOICE_HEX),
            (PUSH_REPLY_TYPE, VECTOR_REPLY_PAID_HEX),
            (PUSH_REPLY_TYPE, VECTOR_REPLY_REJECTED_HEX),
        ] {
            let full = format!("{}{payload}", hex::encode(message_type.to_be_bytes()));
            assert!(spec.contains(&full), "docs/push-invoices.md lacks {full}");
        }
        for v in vectors::VALID {
            let full = format!(
                "{}{}",
                hex::encode(v.message.type_id().to_be_bytes()),
                v.payload_hex
            );
            assert!(
                spec.contains(&full),
                "docs/push-invoices.md lacks {}",
                v.name
            );
        }
        // The spec's tables show the payloads (after the type) in full.
        for payload in vectors::MUST_FAIL
            .iter()
            .map(|v| v.payload_hex)
            .chain(vectors::MUST_ACCEPT.iter().map(|v| v.payload_hex))
        {
            let shown = format!("`{payload}`");
            assert!(spec.contains(&shown), "docs/push-invoices.md lacks {shown}");
        }
    }

    #[test]
    fn the_feature_bit_is_read_from_init_flags() {
        let mut flags = vec![0u8; 57];
        assert!(!supports_push(&flags));
        // The even bit 452 alone is not support.
        flags[FEATURE_BIT / 8] |= 1 << ((FEATURE_BIT - 1) % 8);
        assert!(!supports_push(&flags));
        flags[FEATURE_BIT / 8] |= 1 << (FEATURE_BIT % 8);
        assert!(supports_push(&flags));
        assert!(!supports_push(&[]));
    }
}
