//! Every decoder (push_invoice, push_reply, the subscribe handshake and
//! grant-end messages) fed arbitrary bytes, mutations of the spec's vectors and
//! random TLV streams (with lengths up to 2^64 - 1): they never panic, and
//! they never allocate more than the bytes they were given (a length field
//! of 2^60 fails as `Truncated` having allocated nothing).
//!
//! The allocations are counted by a global allocator, so this binary holds
//! one test, run on one thread: nothing else allocates while a decoder runs.

use std::alloc::System;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use push_protocol::subscribe::{
    GRANT_END_ACK_TYPE, GRANT_END_TYPE, GrantMessage, SUBSCRIBE_ACCEPT_TYPE,
    SUBSCRIBE_REQUEST_TYPE, SUBSCRIBE_RESULT_TYPE, SUBSCRIBE_TERMS_TYPE,
};
use push_protocol::vectors::{self, Message};
use push_protocol::wire::{PUSH_INVOICE_TYPE, PUSH_REPLY_TYPE, PushInvoice, PushReply, WireError};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A decoder, its result without the message.
type Decode = fn(&[u8]) -> Result<(), WireError>;

/// The subscribe handshake's and grant-end messages, by type.
const GRANT_TYPES: [u16; 6] = [
    SUBSCRIBE_REQUEST_TYPE,
    SUBSCRIBE_TERMS_TYPE,
    SUBSCRIBE_ACCEPT_TYPE,
    SUBSCRIBE_RESULT_TYPE,
    GRANT_END_TYPE,
    GRANT_END_ACK_TYPE,
];

fn grant_message(message_type: u16, payload: &[u8]) -> Result<GrantMessage, WireError> {
    GrantMessage::decode(message_type, payload).expect("one of the six types")
}

/// Every decoder of the crate, by name.
const DECODERS: &[(&str, Decode)] = &[
    ("push_invoice", |p| PushInvoice::decode(p).map(drop)),
    ("push_reply", |p| PushReply::decode(p).map(drop)),
    ("subscribe_request", |p| {
        grant_message(SUBSCRIBE_REQUEST_TYPE, p).map(drop)
    }),
    ("subscribe_terms", |p| {
        grant_message(SUBSCRIBE_TERMS_TYPE, p).map(drop)
    }),
    ("subscribe_accept", |p| {
        grant_message(SUBSCRIBE_ACCEPT_TYPE, p).map(drop)
    }),
    ("subscribe_result", |p| {
        grant_message(SUBSCRIBE_RESULT_TYPE, p).map(drop)
    }),
    ("grant_end", |p| grant_message(GRANT_END_TYPE, p).map(drop)),
    ("grant_end_ack", |p| {
        grant_message(GRANT_END_ACK_TYPE, p).map(drop)
    }),
];

/// Decodes `payload` with every decoder, counting what each allocates; a
/// payload that decodes must encode to something that decodes the same.
fn check(payload: &[u8]) -> Result<(), TestCaseError> {
    for (name, decode) in DECODERS {
        let region = Region::new(GLOBAL);
        let result = decode(payload);
        let allocated = region.change().bytes_allocated;
        drop(result);
        prop_assert!(
            allocated <= payload.len(),
            "{name} allocated {allocated} bytes for a payload of {}",
            payload.len()
        );
    }
    for message in [Message::PushInvoice, Message::PushReply] {
        if let Ok(again) = message.reencode(payload) {
            prop_assert_eq!(message.reencode(&again), Ok(again.clone()));
        }
    }
    for t in GRANT_TYPES {
        if let Ok(decoded) = grant_message(t, payload) {
            prop_assert_eq!(grant_message(t, &decoded.encode()), Ok(decoded));
        }
    }
    Ok(())
}

/// Every vector of the crate, and every hex payload or message the spec
/// shows (the type stripped from full messages): the seeds of mutations.
fn seeds() -> Vec<Vec<u8>> {
    let valid = vectors::VALID.iter().map(|v| v.payload_hex);
    let failing = vectors::MUST_FAIL.iter().map(|v| v.payload_hex);
    let accepted = vectors::MUST_ACCEPT.iter().map(|v| v.payload_hex);
    let mut seeds: Vec<Vec<u8>> = valid
        .chain(failing)
        .chain(accepted)
        .map(|h| hex::decode(h).unwrap())
        .collect();
    let spec = include_str!("../../../docs/push-invoices.md");
    let types: Vec<[u8; 2]> = [PUSH_INVOICE_TYPE, PUSH_REPLY_TYPE]
        .into_iter()
        .chain(GRANT_TYPES)
        .map(u16::to_be_bytes)
        .collect();
    for quoted in spec.split('`').skip(1).step_by(2) {
        let Ok(bytes) = hex::decode(quoted) else {
            continue;
        };
        if bytes.len() < 4 {
            continue;
        }
        let payload = match types.iter().any(|t| bytes.starts_with(t)) {
            true => bytes[2..].to_vec(),
            false => bytes,
        };
        seeds.push(payload);
    }
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // 0xfd..0xff start wide BigSizes: the interesting bytes for lengths.
    let byte = prop_oneof![any::<u8>(), 0xfdu8..=0xff, Just(0u8)];
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Mutation::Remove(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match m {
            Mutation::Flip(i, x) if !bytes.is_empty() => {
                let i = at(*i, bytes.len());
                bytes[i] ^= x;
            }
            Mutation::Set(i, b) if !bytes.is_empty() => {
                let i = at(*i, bytes.len());
                bytes[i] = *b;
            }
            Mutation::Insert(i, b) => {
                let i = at(*i, bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            Mutation::Remove(i, n) if !bytes.is_empty() => {
                let i = at(*i, bytes.len());
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Truncate(n) => bytes.truncate(at(*n, bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

fn bigsize(n: u64) -> Vec<u8> {
    match n {
        0..=0xfc => vec![n as u8],
        0xfd..=0xffff => [&[0xfd][..], &(n as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[0xfe][..], &(n as u32).to_be_bytes()].concat(),
        _ => [&[0xff][..], &n.to_be_bytes()].concat(),
    }
}

/// A TLV stream of random records whose stated lengths may lie (by a
/// little, or up to 2^64 - 1).
fn tlv_stream() -> impl Strategy<Value = Vec<u8>> {
    let length = prop_oneof![
        Just(None),
        any::<u64>().prop_map(Some),
        (1u32..64).prop_map(|b| Some(1u64 << b)),
    ];
    let record = (0u64..24, prop::collection::vec(any::<u8>(), 0..40), length);
    prop::collection::vec(record, 0..10).prop_map(|records| {
        let mut out = Vec::new();
        let mut t = 0;
        for (step, value, stated) in records {
            t += step;
            out.extend(bigsize(t));
            out.extend(bigsize(stated.unwrap_or(value.len() as u64)));
            out.extend(value);
        }
        out
    })
}

#[test]
fn the_decoders_never_panic_and_allocate_at_most_their_input() {
    // A length of 2^60 (or 2^64 - 1) is truncated input: the decoder
    // allocates nothing for it, only the texts of the records before it.
    let allocated_by = |decode: Decode, payload: &[u8]| {
        let region = Region::new(GLOBAL);
        let result = decode(payload);
        (result, region.change().bytes_allocated)
    };
    let reply_paid = vectors::VALID[2].payload_hex;
    // (payload so far, the decoder it is valid for, next type)
    let cases = [
        ("", None, "05"),
        ("", None, "0f"),
        (vectors::VECTOR_1, Some("push_invoice"), "0f"),
        (reply_paid, Some("push_reply"), "05"),
    ];
    for (prefix, valid_for, t) in cases {
        for length in ["ff1000000000000000", "ffffffffffffffffff"] {
            let payload = hex::decode(format!("{prefix}{t}{length}61")).unwrap();
            let before = hex::decode(prefix).unwrap();
            for (name, decode) in DECODERS {
                let (result, allocated) = allocated_by(*decode, &payload);
                let (_, for_the_prefix) = allocated_by(*decode, &before);
                if valid_for.is_none_or(|v| v == *name) {
                    assert_eq!(
                        result,
                        Err(WireError::Truncated),
                        "{name} {prefix}{t}{length}"
                    );
                }
                assert_eq!(
                    allocated, for_the_prefix,
                    "{name} allocated for {t}{length}"
                );
            }
        }
    }

    let cases = |n| Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(cases(2048));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            check(&bytes)
        })
        .unwrap();

    let seeds = seeds();
    for t in GRANT_TYPES {
        assert!(
            seeds.iter().any(|s| grant_message(t, s).is_ok()),
            "the spec shows no valid message of type {t}"
        );
    }
    let mut runner = TestRunner::new(cases(4096));
    runner
        .run(
            &(0..seeds.len(), prop::collection::vec(mutation(), 1..6)),
            |(seed, mutations)| check(&mutate(seeds[seed].clone(), &mutations)),
        )
        .unwrap();

    let mut runner = TestRunner::new(cases(2048));
    runner.run(&tlv_stream(), |bytes| check(&bytes)).unwrap();
}
