//! The vectors and must-fail payloads of docs/push-invoices.md, "Grants and
//! the subscribe handshake" (payloads; the spec shows them with the type).

use super::*;

const OFFER: OfferId = OfferId([0x44; 16]);
const GRANT: GrantId = GrantId([0x33; 16]);
const OFFER_HEX: &str = "44444444444444444444444444444444";
const GRANT_HEX: &str = "33333333333333333333333333333333";
const CODE: &str = "5kq2x8m3n7p4r6t9v2w4y6";

fn request() -> SubscribeRequest {
    SubscribeRequest {
        code: CODE.into(),
        node_address: Some("203.0.113.7:9735".into()),
    }
}

const REQUEST_HEX: &str = concat!(
    "0016",
    "356b713278386d336e37703472367439763277347936",
    "0110",
    "3230332e302e3131332e373a39373335",
);

fn offer() -> Offer {
    Offer {
        offer_id: OFFER,
        merchant_id: "mer_01jdemo".into(),
        merchant_name: "Bobflix".into(),
        description: "Monthly".into(),
        amount_msat: 21_000_000,
        cap_msat: 21_000_000,
        window: Window::Month,
        interval: Some("1 month".into()),
        trial_days: Some(14),
        due_now_msat: Some(0),
    }
}

fn terms() -> SubscribeTerms {
    SubscribeTerms {
        code: CODE.into(),
        reply: TermsReply::Offer(offer()),
    }
}

const TERMS_HEX: &str = concat!(
    "0016",
    "356b713278386d336e37703472367439763277347936",
    "0210",
    "44444444444444444444444444444444",
    "040b",
    "6d65725f30316a64656d6f",
    "0607",
    "426f62666c6978",
    "0807",
    "4d6f6e74686c79",
    "0a04",
    "01406f40",
    "0c04",
    "01406f40",
    "0e01",
    "04",
    "0f07",
    "31206d6f6e7468",
    "1101",
    "0e",
    "1300",
);

const TERMS_ERROR_HEX: &str = concat!(
    "0016",
    "356b713278386d336e37703472367439763277347936",
    "150c",
    "756e6b6e6f776e20636f6465",
);

fn accept() -> SubscribeAccept {
    SubscribeAccept {
        offer_id: OFFER,
        grant_id: GRANT,
        cap_msat: 21_000_000,
        window: Window::Month,
        per_invoice_max_msat: Some(21_000_000),
        ends_at: Some(1_798_761_600),
        email: Some("ann@example.com".into()),
    }
}

const ACCEPT_HEX: &str = concat!(
    "0010",
    "44444444444444444444444444444444",
    "0210",
    "33333333333333333333333333333333",
    "0404",
    "01406f40",
    "0601",
    "04",
    "0704",
    "01406f40",
    "0904",
    "6b36ec80",
    "0b0f",
    "616e6e406578616d706c652e636f6d",
);

const ACCEPT_MINIMAL_HEX: &str = concat!(
    "0010",
    "44444444444444444444444444444444",
    "0210",
    "33333333333333333333333333333333",
    "0403",
    "0f4240",
    "0601",
    "00",
);

fn result_active() -> SubscribeResult {
    SubscribeResult {
        offer_id: OFFER,
        grant_id: GRANT,
        status: ResultStatus::Active,
        subscription_id: Some("sub_01jdemo".into()),
        customer_id: Some("cus_01jdemo".into()),
        message: None,
    }
}

const RESULT_ACTIVE_HEX: &str = concat!(
    "0010",
    "44444444444444444444444444444444",
    "0210",
    "33333333333333333333333333333333",
    "0401",
    "00",
    "050b",
    "7375625f30316a64656d6f",
    "070b",
    "6375735f30316a64656d6f",
);

fn result_refused() -> SubscribeResult {
    SubscribeResult {
        offer_id: OFFER,
        grant_id: GRANT,
        status: ResultStatus::Refused,
        subscription_id: None,
        customer_id: None,
        message: Some("cap below the plan amount".into()),
    }
}

const RESULT_REFUSED_HEX: &str = concat!(
    "0010",
    "44444444444444444444444444444444",
    "0210",
    "33333333333333333333333333333333",
    "0401",
    "01",
    "0919",
    "6361702062656c6f772074686520706c616e20616d6f756e74",
);

fn grant_end() -> GrantEnd {
    GrantEnd {
        grant_id: GRANT,
        ended_by: EndedBy::Merchant,
        message: Some("subscription canceled".into()),
    }
}

const GRANT_END_HEX: &str = concat!(
    "0010",
    "33333333333333333333333333333333",
    "0201",
    "01",
    "0315",
    "737562736372697074696f6e2063616e63656c6564",
);

const GRANT_END_ACK_HEX: &str = concat!("0010", "33333333333333333333333333333333");

fn bytes(hex_str: &str) -> Vec<u8> {
    hex::decode(hex_str).unwrap()
}

#[test]
fn the_vectors_encode_to_their_bytes_and_decode_back() {
    assert_eq!(hex::encode(request().encode()), REQUEST_HEX);
    assert_eq!(SubscribeRequest::decode(&bytes(REQUEST_HEX)), Ok(request()));
    assert_eq!(hex::encode(terms().encode()), TERMS_HEX);
    assert_eq!(SubscribeTerms::decode(&bytes(TERMS_HEX)), Ok(terms()));
    let error = SubscribeTerms {
        code: CODE.into(),
        reply: TermsReply::Error("unknown code".into()),
    };
    assert_eq!(hex::encode(error.encode()), TERMS_ERROR_HEX);
    assert_eq!(SubscribeTerms::decode(&bytes(TERMS_ERROR_HEX)), Ok(error));
    assert_eq!(hex::encode(accept().encode()), ACCEPT_HEX);
    assert_eq!(SubscribeAccept::decode(&bytes(ACCEPT_HEX)), Ok(accept()));
    let minimal = SubscribeAccept {
        cap_msat: 1_000_000,
        window: Window::Minute,
        per_invoice_max_msat: None,
        ends_at: None,
        email: None,
        ..accept()
    };
    assert_eq!(hex::encode(minimal.encode()), ACCEPT_MINIMAL_HEX);
    assert_eq!(
        SubscribeAccept::decode(&bytes(ACCEPT_MINIMAL_HEX)),
        Ok(minimal)
    );
    for (hex_str, result) in [
        (RESULT_ACTIVE_HEX, result_active()),
        (RESULT_REFUSED_HEX, result_refused()),
    ] {
        assert_eq!(hex::encode(result.encode()), hex_str);
        assert_eq!(SubscribeResult::decode(&bytes(hex_str)), Ok(result));
    }
    assert_eq!(hex::encode(grant_end().encode()), GRANT_END_HEX);
    assert_eq!(GrantEnd::decode(&bytes(GRANT_END_HEX)), Ok(grant_end()));
    let ack = GrantEndAck { grant_id: GRANT };
    assert_eq!(hex::encode(ack.encode()), GRANT_END_ACK_HEX);
    assert_eq!(GrantEndAck::decode(&bytes(GRANT_END_ACK_HEX)), Ok(ack));
    assert!(GRANT_END_ACK_HEX.contains(GRANT_HEX) && ACCEPT_HEX.contains(OFFER_HEX));
}

#[test]
fn every_window_and_enum_value_round_trips() {
    for (code, window) in Window::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(window.code()), code);
        assert_eq!(Window::from_code(window.code()), Some(window));
        assert_eq!(Window::parse(window.as_str()), Some(window));
        let accept = SubscribeAccept { window, ..accept() };
        assert_eq!(SubscribeAccept::decode(&accept.encode()), Ok(accept));
    }
    assert_eq!(Window::from_code(5), None);
    assert_eq!(Window::parse("year"), None);
    for ended_by in [EndedBy::Subscriber, EndedBy::Merchant] {
        let end = GrantEnd {
            ended_by,
            message: None,
            ..grant_end()
        };
        assert_eq!(GrantEnd::decode(&end.encode()), Ok(end));
    }
}

/// A payload's hex with `from` replaced by `to` (exactly once).
fn edit(hex_str: &str, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(hex_str.matches(from).count(), 1, "{from} in {hex_str}");
    bytes(&hex_str.replacen(from, to, 1))
}

/// The must-fail table of the spec: each payload breaks one rule.
fn must_fail() -> Vec<(&'static str, Result<(), WireError>)> {
    let ok = |r: Result<(), WireError>| r;
    let req = |b: Vec<u8>| ok(SubscribeRequest::decode(&b).map(drop));
    let terms = |b: Vec<u8>| ok(SubscribeTerms::decode(&b).map(drop));
    let accept = |b: Vec<u8>| ok(SubscribeAccept::decode(&b).map(drop));
    let result = |b: Vec<u8>| ok(SubscribeResult::decode(&b).map(drop));
    let end = |b: Vec<u8>| ok(GrantEnd::decode(&b).map(drop));
    let ack = |b: Vec<u8>| ok(GrantEndAck::decode(&b).map(drop));
    let code_hex = "356b713278386d336e37703472367439763277347936";
    let addr_hex = "3230332e302e3131332e373a39373335";
    vec![
        ("request: empty code", req(bytes("0000"))),
        (
            "request: code of 129 bytes",
            req(bytes(&format!("0081{}", "61".repeat(129)))),
        ),
        ("request: no code", req(bytes(&format!("0110{addr_hex}")))),
        (
            "request: types not increasing",
            req(bytes(&format!("0110{addr_hex}0016{code_hex}"))),
        ),
        (
            "request: unknown even type 2",
            req(bytes(&format!("{REQUEST_HEX}0201ff"))),
        ),
        (
            "terms: window 5",
            terms(edit(TERMS_HEX, "0e0104", "0e0105")),
        ),
        (
            "terms: window of 2 bytes",
            terms(edit(TERMS_HEX, "0e0104", "0e020004")),
        ),
        (
            "terms: no cap_msat",
            terms(edit(TERMS_HEX, "0c0401406f40", "")),
        ),
        (
            "terms: amount_msat with a leading zero",
            terms(edit(TERMS_HEX, "0a0401406f40", "0a050001406f40")),
        ),
        (
            "accept: cap_msat 0",
            accept(edit(ACCEPT_HEX, "040401406f40", "0400")),
        ),
        (
            "accept: grant_id of 15 bytes",
            accept(edit(
                ACCEPT_HEX,
                &format!("0210{GRANT_HEX}"),
                &format!("020f{}", &GRANT_HEX[2..]),
            )),
        ),
        (
            "accept: email not UTF-8",
            accept(edit(
                ACCEPT_HEX,
                "0b0f616e6e406578616d706c652e636f6d",
                "0b01ff",
            )),
        ),
        (
            "accept: email of 255 bytes",
            accept(edit(
                ACCEPT_HEX,
                "0b0f616e6e406578616d706c652e636f6d",
                &format!("0bfd00ff{}", "61".repeat(255)),
            )),
        ),
        (
            "result: status 2",
            result(edit(RESULT_ACTIVE_HEX, "040100", "040102")),
        ),
        (
            "grant_end: ended_by 2",
            end(edit(GRANT_END_HEX, "020101", "020102")),
        ),
        (
            "grant_end: no ended_by",
            end(edit(GRANT_END_HEX, "020101", "")),
        ),
        (
            "grant_end_ack: non-minimal BigSize length",
            ack(bytes(&format!("00fd0010{GRANT_HEX}"))),
        ),
        (
            "grant_end_ack: record longer than the payload",
            ack(bytes(&format!("0010{}", &GRANT_HEX[2..]))),
        ),
    ]
}

#[test]
fn each_must_fail_payload_fails_for_its_own_rule() {
    let expected = [
        WireError::BadLength(0),
        WireError::TooLong(0),
        WireError::Missing(0),
        WireError::NotIncreasing(0),
        WireError::UnknownEvenType(2),
        WireError::BadWindow(5),
        WireError::BadLength(14),
        WireError::Missing(12),
        WireError::NonMinimalTu64(10),
        WireError::Zero(4),
        WireError::BadLength(2),
        WireError::BadUtf8(11),
        WireError::TooLong(11),
        WireError::BadStatus(2),
        WireError::BadEndedBy(2),
        WireError::Missing(2),
        WireError::NonCanonical,
        WireError::Truncated,
    ];
    let cases = must_fail();
    assert_eq!(cases.len(), expected.len());
    for ((name, got), want) in cases.into_iter().zip(expected) {
        assert_eq!(got, Err(want), "{name}");
    }
}

#[test]
fn unknown_odd_types_are_skipped() {
    let odd = "fd01f30161"; // type 499
    assert_eq!(
        SubscribeRequest::decode(&bytes(&format!("{REQUEST_HEX}{odd}"))),
        Ok(request())
    );
    assert_eq!(
        SubscribeTerms::decode(&bytes(&format!("{TERMS_HEX}{odd}"))),
        Ok(terms())
    );
    assert_eq!(
        SubscribeAccept::decode(&bytes(&format!("{ACCEPT_HEX}{odd}"))),
        Ok(accept())
    );
    assert_eq!(
        SubscribeResult::decode(&bytes(&format!("{RESULT_ACTIVE_HEX}{odd}"))),
        Ok(result_active())
    );
    assert_eq!(
        GrantEnd::decode(&bytes(&format!("{GRANT_END_HEX}{odd}"))),
        Ok(grant_end())
    );
    assert_eq!(
        GrantEndAck::decode(&bytes(&format!("{GRANT_END_ACK_HEX}{odd}"))),
        Ok(GrantEndAck { grant_id: GRANT })
    );
}

#[test]
fn terms_with_an_error_are_the_error_whatever_else_they_carry() {
    let both = bytes(&format!("{TERMS_HEX}150c756e6b6e6f776e20636f6465"));
    assert_eq!(
        SubscribeTerms::decode(&both),
        Ok(SubscribeTerms {
            code: CODE.into(),
            reply: TermsReply::Error("unknown code".into()),
        })
    );
}

/// Every prefix of a vector either fails or, cut on a record boundary after
/// the required records, is a message whose encoding is that prefix.
fn check_prefixes<T, D, E>(full: &str, decode: D, encode: E)
where
    D: Fn(&[u8]) -> Result<T, WireError>,
    E: Fn(&T) -> Vec<u8>,
{
    let full = bytes(full);
    for end in 0..full.len() {
        if let Ok(decoded) = decode(&full[..end]) {
            assert_eq!(encode(&decoded), &full[..end], "cut at {end}");
        }
    }
    assert!(decode(&full[..full.len() - 1]).is_err());
}

#[test]
fn prefixes_fail_or_decode_to_themselves() {
    check_prefixes(
        REQUEST_HEX,
        SubscribeRequest::decode,
        SubscribeRequest::encode,
    );
    check_prefixes(TERMS_HEX, SubscribeTerms::decode, SubscribeTerms::encode);
    check_prefixes(ACCEPT_HEX, SubscribeAccept::decode, SubscribeAccept::encode);
    check_prefixes(
        RESULT_ACTIVE_HEX,
        SubscribeResult::decode,
        SubscribeResult::encode,
    );
    check_prefixes(GRANT_END_HEX, GrantEnd::decode, GrantEnd::encode);
    check_prefixes(GRANT_END_ACK_HEX, GrantEndAck::decode, GrantEndAck::encode);
}

#[test]
fn encoding_clips_texts_to_their_bounds() {
    let long = SubscribeTerms {
        code: CODE.into(),
        reply: TermsReply::Offer(Offer {
            merchant_name: "😀".repeat(100), // 400 bytes
            interval: Some("x".repeat(100)),
            ..offer()
        }),
    };
    let decoded = SubscribeTerms::decode(&long.encode()).unwrap();
    let TermsReply::Offer(o) = decoded.reply else {
        panic!("an offer")
    };
    assert_eq!(o.merchant_name, "😀".repeat(64));
    assert_eq!(o.interval.as_deref(), Some("x".repeat(64).as_str()));
    let end = GrantEnd {
        message: Some("é".repeat(200)),
        ..grant_end()
    };
    assert_eq!(
        GrantEnd::decode(&end.encode())
            .unwrap()
            .message
            .unwrap()
            .len(),
        256
    );
}

#[test]
fn the_spec_shows_these_vectors_and_must_fail_payloads() {
    let spec = include_str!("../../../../docs/push-invoices.md");
    for (message_type, payload) in [
        (SUBSCRIBE_REQUEST_TYPE, REQUEST_HEX),
        (SUBSCRIBE_TERMS_TYPE, TERMS_HEX),
        (SUBSCRIBE_TERMS_TYPE, TERMS_ERROR_HEX),
        (SUBSCRIBE_ACCEPT_TYPE, ACCEPT_HEX),
        (SUBSCRIBE_ACCEPT_TYPE, ACCEPT_MINIMAL_HEX),
        (SUBSCRIBE_RESULT_TYPE, RESULT_ACTIVE_HEX),
        (SUBSCRIBE_RESULT_TYPE, RESULT_REFUSED_HEX),
        (GRANT_END_TYPE, GRANT_END_HEX),
        (GRANT_END_ACK_TYPE, GRANT_END_ACK_HEX),
    ] {
        let full = format!("{}{payload}", hex::encode(message_type.to_be_bytes()));
        assert!(spec.contains(&full), "docs/push-invoices.md lacks {full}");
    }
    for (name, _) in must_fail() {
        assert!(
            spec.contains(name),
            "docs/push-invoices.md lacks the must-fail row {name:?}"
        );
    }
}
