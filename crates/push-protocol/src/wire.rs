//! The push-invoice wire format (docs/push-invoices.md): two custom BOLT #1
//! messages carrying TLV streams, and the init feature bit that advertises
//! support. Pure encoding and decoding, no I/O.
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

// Odd ("it's OK to be odd") and in the custom ranges, checked at compile time.
const _: () = assert!(PUSH_INVOICE_TYPE % 2 == 1 && PUSH_INVOICE_TYPE >= 32768);
const _: () = assert!(PUSH_REPLY_TYPE % 2 == 1 && PUSH_REPLY_TYPE >= 32768);
const _: () = assert!(FEATURE_BIT % 2 == 1 && FEATURE_BIT >= 256);

/// Longest BOLT11 string accepted (route hints make invoices long, 8 KiB is plenty).
pub const MAX_INVOICE_BYTES: usize = 8192;
/// Longest text field (names, numbers, messages).
pub const MAX_TEXT_BYTES: usize = 1024;

/// Why a payload could not be decoded. Decoding never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated")]
    Truncated,
    #[error("non-minimal BigSize or truncated integer encoding")]
    NonCanonical,
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
    OverAllowance,
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
            Self::OverAllowance => 6,
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
            6 => Self::OverAllowance,
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
            Self::OverAllowance => "over_allowance".into(),
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
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.push_id.0);
        put_record(&mut out, 2, self.invoice.as_bytes());
        put_record(&mut out, 4, &tu64(self.amount_msat));
        put_record(&mut out, 6, self.merchant_name.as_bytes());
        put_record(&mut out, 8, self.invoice_number.as_bytes());
        if let Some(plan) = &self.plan_name {
            put_record(&mut out, 9, plan.as_bytes());
        }
        if let Some(start) = self.period_start {
            put_record(&mut out, 11, &tu64(start));
        }
        if let Some(end) = self.period_end {
            put_record(&mut out, 13, &tu64(end));
        }
        out
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
            put_record(&mut out, 5, message.as_bytes());
        }
        out
    }

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

/// Whether a peer's init features (little-endian flags) advertise push invoices.
pub fn supports_push(le_flags: &[u8]) -> bool {
    let bit_set = |bit: usize| {
        le_flags
            .get(bit / 8)
            .is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
    };
    bit_set(FEATURE_BIT) || bit_set(FEATURE_BIT - 1)
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
        return Err(WireError::NonCanonical);
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
    fn unknown_odd_types_are_skipped_and_unknown_even_types_refused() {
        let mut bytes = vector_invoice().encode();
        bytes.extend_from_slice(&hex::decode("fd01f30161").unwrap()); // type 499, odd
        assert_eq!(PushInvoice::decode(&bytes).unwrap(), vector_invoice());
        let mut bytes = vector_invoice().encode();
        bytes.extend_from_slice(&hex::decode("fd01f20161").unwrap()); // type 498, even
        assert_eq!(
            PushInvoice::decode(&bytes),
            Err(WireError::UnknownEvenType(498))
        );
    }

    #[test]
    fn malformed_payloads_are_errors_never_panics() {
        let good = vector_invoice().encode();
        // Cut anywhere: before the end of the required records it fails;
        // after, only a cut between records decodes (without the optional
        // records cut off), and a cut inside a record fails.
        let required = PushInvoice {
            plan_name: None,
            period_start: None,
            period_end: None,
            ..vector_invoice()
        }
        .encode()
        .len();
        for end in 0..good.len() {
            match PushInvoice::decode(&good[..end]) {
                Ok(decoded) => {
                    assert!(end >= required, "cut at {end} decoded");
                    assert_eq!(decoded.encode(), &good[..end]);
                }
                Err(_) => assert!(end != required, "cut at {end} failed"),
            }
        }
        assert_eq!(
            PushInvoice::decode(&good[..good.len() - 1]),
            Err(WireError::Truncated)
        );
        // Types out of order.
        let swapped = hex::decode(concat!(
            "020b6c6e626372743174657374",
            "0020",
            "1111111111111111111111111111111111111111111111111111111111111111"
        ))
        .unwrap();
        assert_eq!(
            PushInvoice::decode(&swapped),
            Err(WireError::NotIncreasing(0))
        );
        // A repeated type.
        let repeated = [good.clone(), hex::decode("0d0101").unwrap()].concat();
        assert_eq!(
            PushInvoice::decode(&repeated),
            Err(WireError::NotIncreasing(13))
        );
        // Non-minimal BigSize (0xfd then a value below 0xfd).
        let mut bad = good.clone();
        bad.extend_from_slice(&hex::decode("fd0011").unwrap());
        assert_eq!(PushInvoice::decode(&bad), Err(WireError::NonCanonical));
        // Non-minimal tu64 (leading zero).
        let zero_lead = hex::decode(concat!(
            "0020",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "020b6c6e626372743174657374",
            "04020001",
            "06000800"
        ))
        .unwrap();
        assert_eq!(
            PushInvoice::decode(&zero_lead),
            Err(WireError::NonCanonical)
        );
        // Bad UTF-8 in the merchant name.
        let bad_utf8 = hex::decode(concat!(
            "0020",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "020b6c6e626372743174657374",
            "0400",
            "0601ff",
            "0800"
        ))
        .unwrap();
        assert_eq!(PushInvoice::decode(&bad_utf8), Err(WireError::BadUtf8(6)));
        // Oversize text.
        let oversize = PushInvoice {
            merchant_name: "m".repeat(MAX_TEXT_BYTES + 1),
            ..vector_invoice()
        };
        assert_eq!(
            PushInvoice::decode(&oversize.encode()),
            Err(WireError::TooLong(6))
        );
        // A short push id, a missing field, an unknown status, a reject without reason.
        assert_eq!(
            PushInvoice::decode(&hex::decode("000111").unwrap()),
            Err(WireError::BadLength(0))
        );
        assert_eq!(PushInvoice::decode(&[]), Err(WireError::Missing(0)));
        let reply = |tail: &str| {
            PushReply::decode(&hex::decode(format!("0020{}{tail}", "22".repeat(32))).unwrap())
        };
        assert_eq!(reply("020109"), Err(WireError::BadStatus(9)));
        assert_eq!(reply("020103"), Err(WireError::Missing(4)));
        assert_eq!(reply("02020000"), Err(WireError::BadLength(2)));
        // A length that does not fit in memory is just truncated input.
        assert_eq!(
            PushReply::decode(&hex::decode("00ffffffffffffffffff").unwrap()),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn the_spec_shows_these_vectors_as_full_messages() {
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
    }

    #[test]
    fn the_feature_bit_is_read_from_init_flags() {
        let mut flags = vec![0u8; 57];
        assert!(!supports_push(&flags));
        flags[FEATURE_BIT / 8] |= 1 << (FEATURE_BIT % 8);
        assert!(supports_push(&flags));
        assert!(!supports_push(&[]));
    }
}
