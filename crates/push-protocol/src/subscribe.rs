//! The subscribe handshake and the end of a grant (docs/push-invoices.md,
//! "Grants and the subscribe handshake"): six more custom BOLT #1 messages,
//! TLV streams read and written with [`crate::wire`]'s primitives and rules.
//!
//! Encoding clips every text to its bound on a char boundary, so a message
//! this crate writes always decodes; identifiers are the sender's to keep
//! short (they are far below their bounds in pushbill).

use crate::grant::{GrantId, MAX_ADDRESS_BYTES, MAX_CODE_BYTES, OfferId, clip};
use crate::wire::{Records, WireError, fixed, put_record, read_tu64, text, tu64};

/// `subscribe_request`, payer -> merchant.
pub const SUBSCRIBE_REQUEST_TYPE: u16 = 44_475;
/// `subscribe_terms`, merchant -> payer.
pub const SUBSCRIBE_TERMS_TYPE: u16 = 44_477;
/// `subscribe_accept`, payer -> merchant.
pub const SUBSCRIBE_ACCEPT_TYPE: u16 = 44_479;
/// `subscribe_result`, merchant -> payer.
pub const SUBSCRIBE_RESULT_TYPE: u16 = 44_481;
/// `grant_end`, either way.
pub const GRANT_END_TYPE: u16 = 44_483;
/// `grant_end_ack`, either way.
pub const GRANT_END_ACK_TYPE: u16 = 44_485;

const _: () = {
    let types = [
        SUBSCRIBE_REQUEST_TYPE,
        SUBSCRIBE_TERMS_TYPE,
        SUBSCRIBE_ACCEPT_TYPE,
        SUBSCRIBE_RESULT_TYPE,
        GRANT_END_TYPE,
        GRANT_END_ACK_TYPE,
    ];
    let mut i = 0;
    while i < types.len() {
        assert!(types[i] % 2 == 1 && types[i] >= 32768);
        i += 1;
    }
};

/// Bounds of the text fields, in bytes.
pub const MAX_MERCHANT_ID_BYTES: usize = 64;
pub const MAX_NAME_BYTES: usize = 256;
pub const MAX_INTERVAL_BYTES: usize = 64;
pub const MAX_EMAIL_BYTES: usize = 254;
pub const MAX_ID_BYTES: usize = 64;

/// A grant's cap window (1 byte on the wire), calendar windows in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Minute,
    Hour,
    Day,
    /// ISO week, from Monday 00:00 UTC.
    Week,
    /// Calendar month.
    Month,
}

impl Window {
    pub const ALL: [Window; 5] = [Self::Minute, Self::Hour, Self::Day, Self::Week, Self::Month];

    pub fn code(self) -> u8 {
        match self {
            Self::Minute => 0,
            Self::Hour => 1,
            Self::Day => 2,
            Self::Week => 3,
            Self::Month => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.code() == code)
    }

    /// `minute`, `hour`, `day`, `week`, `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

/// Who ended a grant (1 byte on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Subscriber,
    Merchant,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscriber => "subscriber",
            Self::Merchant => "merchant",
        }
    }
}

/// `subscribe_request`: the payer asks for the terms behind a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// type 0: the code part of the subscribe code, 1 to 128 bytes.
    pub code: String,
    /// type 1 (optional): `host:port` where the merchant may connect to push.
    pub node_address: Option<String>,
}

/// `subscribe_terms`: the merchant's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeTerms {
    /// type 0: the code, as sent.
    pub code: String,
    pub reply: TermsReply,
}

/// Terms, or (type 21 present) why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermsReply {
    Offer(Offer),
    /// type 21: the code is unknown, used or expired. A message carrying it
    /// is this, whatever else it carries.
    Error(String),
}

/// What the subscriber is asked to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// type 2: names these terms in `subscribe_accept`.
    pub offer_id: OfferId,
    /// type 4: the deployment's merchant id (at most 64 bytes).
    pub merchant_id: String,
    /// type 6 (at most 256 bytes).
    pub merchant_name: String,
    /// type 8 (at most 256 bytes): the plan's name, or text for an account.
    pub description: String,
    /// type 10 (tu64): per period; 0 for an account code without a plan.
    pub amount_msat: u64,
    /// type 12 (tu64): the cap the merchant suggests per window.
    pub cap_msat: u64,
    /// type 14 (1 byte).
    pub window: Window,
    /// type 15 (optional, at most 64 bytes): the interval for people.
    pub interval: Option<String>,
    /// type 17 (optional, tu64).
    pub trial_days: Option<u64>,
    /// type 19 (optional, tu64): what the first invoice asks at once.
    pub due_now_msat: Option<u64>,
}

/// `subscribe_accept`: the subscriber said yes and made a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeAccept {
    /// type 0
    pub offer_id: OfferId,
    /// type 2
    pub grant_id: GrantId,
    /// type 4 (tu64, > 0): the most the grant pays per window.
    pub cap_msat: u64,
    /// type 6 (1 byte)
    pub window: Window,
    /// type 7 (optional, tu64): the most one invoice may ask.
    pub per_invoice_max_msat: Option<u64>,
    /// type 9 (optional, tu64 unix seconds): when the grant ends.
    pub ends_at: Option<u64>,
    /// type 11 (optional, at most 254 bytes): for receipts.
    pub email: Option<String>,
}

/// What the merchant did with an accept (1 byte on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    Active,
    Refused,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Refused => "refused",
        }
    }
}

/// `subscribe_result`: the merchant's answer to an accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeResult {
    /// type 0
    pub offer_id: OfferId,
    /// type 2
    pub grant_id: GrantId,
    /// type 4 (1 byte: 0 active, 1 refused)
    pub status: ResultStatus,
    /// type 5 (optional, at most 64 bytes)
    pub subscription_id: Option<String>,
    /// type 7 (optional, at most 64 bytes)
    pub customer_id: Option<String>,
    /// type 9 (optional, at most 256 bytes): for people.
    pub message: Option<String>,
}

/// `grant_end`: whoever ends a grant says so, until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantEnd {
    /// type 0
    pub grant_id: GrantId,
    /// type 2 (1 byte: 0 subscriber, 1 merchant)
    pub ended_by: EndedBy,
    /// type 3 (optional, at most 256 bytes)
    pub message: Option<String>,
}

/// `grant_end_ack`: the end was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantEndAck {
    /// type 0
    pub grant_id: GrantId,
}

/// One of the six messages, as the peer connection carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantMessage {
    SubscribeRequest(SubscribeRequest),
    SubscribeTerms(SubscribeTerms),
    SubscribeAccept(SubscribeAccept),
    SubscribeResult(SubscribeResult),
    GrantEnd(GrantEnd),
    GrantEndAck(GrantEndAck),
}

impl GrantMessage {
    /// Whether `message_type` is one of the six.
    pub fn is_grant_type(message_type: u16) -> bool {
        matches!(
            message_type,
            SUBSCRIBE_REQUEST_TYPE
                | SUBSCRIBE_TERMS_TYPE
                | SUBSCRIBE_ACCEPT_TYPE
                | SUBSCRIBE_RESULT_TYPE
                | GRANT_END_TYPE
                | GRANT_END_ACK_TYPE
        )
    }

    pub fn type_id(&self) -> u16 {
        match self {
            Self::SubscribeRequest(_) => SUBSCRIBE_REQUEST_TYPE,
            Self::SubscribeTerms(_) => SUBSCRIBE_TERMS_TYPE,
            Self::SubscribeAccept(_) => SUBSCRIBE_ACCEPT_TYPE,
            Self::SubscribeResult(_) => SUBSCRIBE_RESULT_TYPE,
            Self::GrantEnd(_) => GRANT_END_TYPE,
            Self::GrantEndAck(_) => GRANT_END_ACK_TYPE,
        }
    }

    /// The payload (the type is written by whoever frames the message).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::SubscribeRequest(m) => m.encode(),
            Self::SubscribeTerms(m) => m.encode(),
            Self::SubscribeAccept(m) => m.encode(),
            Self::SubscribeResult(m) => m.encode(),
            Self::GrantEnd(m) => m.encode(),
            Self::GrantEndAck(m) => m.encode(),
        }
    }

    /// `None` for a type that is not one of the six.
    pub fn decode(message_type: u16, payload: &[u8]) -> Option<Result<Self, WireError>> {
        Some(match message_type {
            SUBSCRIBE_REQUEST_TYPE => SubscribeRequest::decode(payload).map(Self::SubscribeRequest),
            SUBSCRIBE_TERMS_TYPE => SubscribeTerms::decode(payload).map(Self::SubscribeTerms),
            SUBSCRIBE_ACCEPT_TYPE => SubscribeAccept::decode(payload).map(Self::SubscribeAccept),
            SUBSCRIBE_RESULT_TYPE => SubscribeResult::decode(payload).map(Self::SubscribeResult),
            GRANT_END_TYPE => GrantEnd::decode(payload).map(Self::GrantEnd),
            GRANT_END_ACK_TYPE => GrantEndAck::decode(payload).map(Self::GrantEndAck),
            _ => return None,
        })
    }
}

fn put_text(out: &mut Vec<u8>, t: u64, value: &str, max: usize) {
    put_record(out, t, clip(value, max).as_bytes());
}

fn read_window(t: u64, value: &[u8]) -> Result<Window, WireError> {
    let [code] = fixed::<1>(t, value)?;
    Window::from_code(code).ok_or(WireError::BadWindow(code))
}

/// Fails a message on an unknown even type; skips unknown odd ones.
fn unknown(t: u64) -> Result<(), WireError> {
    if t.is_multiple_of(2) {
        Err(WireError::UnknownEvenType(t))
    } else {
        Ok(())
    }
}

impl SubscribeRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_text(&mut out, 0, &self.code, MAX_CODE_BYTES);
        if let Some(address) = &self.node_address {
            put_text(&mut out, 1, address, MAX_ADDRESS_BYTES);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut code = None;
        let mut node_address = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 if value.is_empty() => return Err(WireError::BadLength(0)),
                0 => code = Some(text(t, value, MAX_CODE_BYTES)?),
                1 => node_address = Some(text(t, value, MAX_ADDRESS_BYTES)?),
                t => unknown(t)?,
            }
        }
        Ok(Self {
            code: code.ok_or(WireError::Missing(0))?,
            node_address,
        })
    }
}

impl SubscribeTerms {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_text(&mut out, 0, &self.code, MAX_CODE_BYTES);
        match &self.reply {
            TermsReply::Error(error) => put_text(&mut out, 21, error, MAX_NAME_BYTES),
            TermsReply::Offer(o) => {
                put_record(&mut out, 2, &o.offer_id.0);
                put_text(&mut out, 4, &o.merchant_id, MAX_MERCHANT_ID_BYTES);
                put_text(&mut out, 6, &o.merchant_name, MAX_NAME_BYTES);
                put_text(&mut out, 8, &o.description, MAX_NAME_BYTES);
                put_record(&mut out, 10, &tu64(o.amount_msat));
                put_record(&mut out, 12, &tu64(o.cap_msat));
                put_record(&mut out, 14, &[o.window.code()]);
                if let Some(interval) = &o.interval {
                    put_text(&mut out, 15, interval, MAX_INTERVAL_BYTES);
                }
                if let Some(days) = o.trial_days {
                    put_record(&mut out, 17, &tu64(days));
                }
                if let Some(due) = o.due_now_msat {
                    put_record(&mut out, 19, &tu64(due));
                }
            }
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut code = None;
        let mut offer_id = None;
        let mut merchant_id = None;
        let mut merchant_name = None;
        let mut description = None;
        let mut amount_msat = None;
        let mut cap_msat = None;
        let mut window = None;
        let mut interval = None;
        let mut trial_days = None;
        let mut due_now_msat = None;
        let mut error = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => code = Some(text(t, value, MAX_CODE_BYTES)?),
                2 => offer_id = Some(OfferId(fixed::<16>(t, value)?)),
                4 => merchant_id = Some(text(t, value, MAX_MERCHANT_ID_BYTES)?),
                6 => merchant_name = Some(text(t, value, MAX_NAME_BYTES)?),
                8 => description = Some(text(t, value, MAX_NAME_BYTES)?),
                10 => amount_msat = Some(read_tu64(t, value)?),
                12 => cap_msat = Some(read_tu64(t, value)?),
                14 => window = Some(read_window(t, value)?),
                15 => interval = Some(text(t, value, MAX_INTERVAL_BYTES)?),
                17 => trial_days = Some(read_tu64(t, value)?),
                19 => due_now_msat = Some(read_tu64(t, value)?),
                21 => error = Some(text(t, value, MAX_NAME_BYTES)?),
                t => unknown(t)?,
            }
        }
        let code = code.ok_or(WireError::Missing(0))?;
        if let Some(error) = error {
            return Ok(Self {
                code,
                reply: TermsReply::Error(error),
            });
        }
        let offer = Offer {
            offer_id: offer_id.ok_or(WireError::Missing(2))?,
            merchant_id: merchant_id.ok_or(WireError::Missing(4))?,
            merchant_name: merchant_name.ok_or(WireError::Missing(6))?,
            description: description.ok_or(WireError::Missing(8))?,
            amount_msat: amount_msat.ok_or(WireError::Missing(10))?,
            cap_msat: cap_msat.ok_or(WireError::Missing(12))?,
            window: window.ok_or(WireError::Missing(14))?,
            interval,
            trial_days,
            due_now_msat,
        };
        Ok(Self {
            code,
            reply: TermsReply::Offer(offer),
        })
    }
}

impl SubscribeAccept {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.offer_id.0);
        put_record(&mut out, 2, &self.grant_id.0);
        put_record(&mut out, 4, &tu64(self.cap_msat));
        put_record(&mut out, 6, &[self.window.code()]);
        if let Some(max) = self.per_invoice_max_msat {
            put_record(&mut out, 7, &tu64(max));
        }
        if let Some(ends_at) = self.ends_at {
            put_record(&mut out, 9, &tu64(ends_at));
        }
        if let Some(email) = &self.email {
            put_text(&mut out, 11, email, MAX_EMAIL_BYTES);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut offer_id = None;
        let mut grant_id = None;
        let mut cap_msat = None;
        let mut window = None;
        let mut per_invoice_max_msat = None;
        let mut ends_at = None;
        let mut email = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => offer_id = Some(OfferId(fixed::<16>(t, value)?)),
                2 => grant_id = Some(GrantId(fixed::<16>(t, value)?)),
                4 => match read_tu64(t, value)? {
                    0 => return Err(WireError::Zero(4)),
                    cap => cap_msat = Some(cap),
                },
                6 => window = Some(read_window(t, value)?),
                7 => per_invoice_max_msat = Some(read_tu64(t, value)?),
                9 => ends_at = Some(read_tu64(t, value)?),
                11 => email = Some(text(t, value, MAX_EMAIL_BYTES)?),
                t => unknown(t)?,
            }
        }
        Ok(Self {
            offer_id: offer_id.ok_or(WireError::Missing(0))?,
            grant_id: grant_id.ok_or(WireError::Missing(2))?,
            cap_msat: cap_msat.ok_or(WireError::Missing(4))?,
            window: window.ok_or(WireError::Missing(6))?,
            per_invoice_max_msat,
            ends_at,
            email,
        })
    }
}

impl SubscribeResult {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.offer_id.0);
        put_record(&mut out, 2, &self.grant_id.0);
        let status = match self.status {
            ResultStatus::Active => 0,
            ResultStatus::Refused => 1,
        };
        put_record(&mut out, 4, &[status]);
        if let Some(id) = &self.subscription_id {
            put_text(&mut out, 5, id, MAX_ID_BYTES);
        }
        if let Some(id) = &self.customer_id {
            put_text(&mut out, 7, id, MAX_ID_BYTES);
        }
        if let Some(message) = &self.message {
            put_text(&mut out, 9, message, MAX_NAME_BYTES);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut offer_id = None;
        let mut grant_id = None;
        let mut status = None;
        let mut subscription_id = None;
        let mut customer_id = None;
        let mut message = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => offer_id = Some(OfferId(fixed::<16>(t, value)?)),
                2 => grant_id = Some(GrantId(fixed::<16>(t, value)?)),
                4 => {
                    status = Some(match fixed::<1>(t, value)? {
                        [0] => ResultStatus::Active,
                        [1] => ResultStatus::Refused,
                        [other] => return Err(WireError::BadStatus(other)),
                    })
                }
                5 => subscription_id = Some(text(t, value, MAX_ID_BYTES)?),
                7 => customer_id = Some(text(t, value, MAX_ID_BYTES)?),
                9 => message = Some(text(t, value, MAX_NAME_BYTES)?),
                t => unknown(t)?,
            }
        }
        Ok(Self {
            offer_id: offer_id.ok_or(WireError::Missing(0))?,
            grant_id: grant_id.ok_or(WireError::Missing(2))?,
            status: status.ok_or(WireError::Missing(4))?,
            subscription_id,
            customer_id,
            message,
        })
    }
}

impl GrantEnd {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.grant_id.0);
        let by = match self.ended_by {
            EndedBy::Subscriber => 0,
            EndedBy::Merchant => 1,
        };
        put_record(&mut out, 2, &[by]);
        if let Some(message) = &self.message {
            put_text(&mut out, 3, message, MAX_NAME_BYTES);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut grant_id = None;
        let mut ended_by = None;
        let mut message = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => grant_id = Some(GrantId(fixed::<16>(t, value)?)),
                2 => {
                    ended_by = Some(match fixed::<1>(t, value)? {
                        [0] => EndedBy::Subscriber,
                        [1] => EndedBy::Merchant,
                        [other] => return Err(WireError::BadEndedBy(other)),
                    })
                }
                3 => message = Some(text(t, value, MAX_NAME_BYTES)?),
                t => unknown(t)?,
            }
        }
        Ok(Self {
            grant_id: grant_id.ok_or(WireError::Missing(0))?,
            ended_by: ended_by.ok_or(WireError::Missing(2))?,
            message,
        })
    }
}

impl GrantEndAck {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, 0, &self.grant_id.0);
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut grant_id = None;
        for record in Records::new(payload) {
            let (t, value) = record?;
            match t {
                0 => grant_id = Some(GrantId(fixed::<16>(t, value)?)),
                t => unknown(t)?,
            }
        }
        Ok(Self {
            grant_id: grant_id.ok_or(WireError::Missing(0))?,
        })
    }
}

#[cfg(test)]
mod tests;
