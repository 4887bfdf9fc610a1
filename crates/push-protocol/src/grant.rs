//! Grants (docs/push-invoices.md, "Grants and the subscribe handshake"): the
//! subscriber's consent to one merchant's invoices, named by a [`GrantId`]
//! its node chooses, and the commitment to it inside a BOLT11's signed
//! description; and the subscribe code a merchant hands out.
//!
//! The description of an invoice issued under grant `G` is
//! `<text>\npushbill-grant:<G as 32 lowercase hex>`. The issuer flattens
//! every `\n` and `\r` of the merchant's text to a space ([`describe`]), so
//! only the issuer can write the last line; [`committed_grant`] reads it back.

use std::fmt;

/// BOLT11's limit for the description (tag `d`), in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 639;

/// What the commitment line starts with (after the `\n`).
pub const GRANT_LINE_PREFIX: &str = "pushbill-grant:";

/// Shortest subscribe code (22 base58 characters are 128 bits).
pub const MIN_CODE_CHARS: usize = 22;
/// Longest subscribe code: the bound of `subscribe_request`'s `code`.
pub const MAX_CODE_BYTES: usize = 128;
/// Longest `host:port`: the bound of `subscribe_request`'s `node_address`.
pub const MAX_ADDRESS_BYTES: usize = 256;

/// Parses exactly 32 lowercase hex digits into 16 bytes.
fn lower_hex_16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

macro_rules! id16 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 16]);

        impl $name {
            pub fn random() -> Self {
                Self(rand::random())
            }

            /// 32 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Exactly 32 lowercase hex digits (the one form the spec writes).
            pub fn from_hex(s: &str) -> Option<Self> {
                lower_hex_16(s).map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

id16!(
    /// A grant, chosen at random by the subscriber's node.
    GrantId
);
id16!(
    /// A set of terms, chosen at random by the merchant (`subscribe_terms`).
    OfferId
);

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary (the wire format's one text cutter).
pub use crate::wire::truncate_utf8 as clip;

/// An invoice description: `text` with every `\n` and `\r` made a space,
/// cut on a char boundary so that the whole is at most `max_bytes`, then,
/// with a grant, `\npushbill-grant:<hex>` (never cut: with a `max_bytes`
/// below its 48 bytes the text is empty and the result is the line alone).
pub fn describe(text: &str, grant: Option<&GrantId>, max_bytes: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let Some(grant) = grant else {
        return clip(&flat, max_bytes).to_owned();
    };
    let line = format!("\n{GRANT_LINE_PREFIX}{}", grant.to_hex());
    let mut out = clip(&flat, max_bytes.saturating_sub(line.len())).to_owned();
    out.push_str(&line);
    out
}

/// The grant a description commits to: its last line (after the last
/// `\n`; a description without `\n` commits to nothing) when that line is
/// exactly `pushbill-grant:` and 32 lowercase hex digits.
pub fn committed_grant(description: &str) -> Option<GrantId> {
    let (_, last) = description.rsplit_once('\n')?;
    GrantId::from_hex(last.strip_prefix(GRANT_LINE_PREFIX)?)
}

/// A subscribe code as a merchant shows it: `<code>@<node id>@<host:port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeCode {
    /// 22 to 128 ASCII letters and digits (base32 or base58 random).
    pub code: String,
    /// The merchant node's id: 66 lowercase hex digits (a compressed key,
    /// `02` or `03` first). Whether it is a point on the curve is for the
    /// caller's key parser to say.
    pub node_id: String,
    /// Where the merchant's node listens: `host:port` (`[v6]:port` for IPv6).
    pub address: String,
}

/// Why a subscribe code does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a subscribe code is <code>@<node id>@<host:port>")]
    Shape,
    #[error("the code must be {MIN_CODE_CHARS} to {MAX_CODE_BYTES} letters and digits")]
    Code,
    #[error("the node id must be 66 lowercase hex digits starting 02 or 03")]
    NodeId,
    #[error("the address must be host:port (at most {MAX_ADDRESS_BYTES} bytes, port 1-65535)")]
    Address,
}

impl SubscribeCode {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let mut parts = s.split('@');
        let (Some(code), Some(node_id), Some(address), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CodeError::Shape);
        };
        if !valid_code(code) {
            return Err(CodeError::Code);
        }
        if !valid_node_id(node_id) {
            return Err(CodeError::NodeId);
        }
        if !valid_address(address) {
            return Err(CodeError::Address);
        }
        Ok(Self {
            code: code.to_owned(),
            node_id: node_id.to_owned(),
            address: address.to_owned(),
        })
    }

    /// A fresh random code part: 26 base32 characters (lowercase, 130 bits).
    pub fn random_code() -> String {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        (0..26)
            .map(|_| char::from(ALPHABET[usize::from(rand::random::<u8>() % 32)]))
            .collect()
    }
}

impl fmt::Display for SubscribeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}@{}", self.code, self.node_id, self.address)
    }
}

/// The code part alone: what `subscribe_request` carries.
pub fn valid_code(code: &str) -> bool {
    (MIN_CODE_CHARS..=MAX_CODE_BYTES).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn valid_node_id(node_id: &str) -> bool {
    node_id.len() == 66
        && (node_id.starts_with("02") || node_id.starts_with("03"))
        && node_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `host:port`: a host of printable ASCII without spaces, `@`, `/` or `:`
/// (or a bracketed IPv6 literal), a port from 1 to 65535.
pub fn valid_address(address: &str) -> bool {
    if address.len() > MAX_ADDRESS_BYTES {
        return false;
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'@' | b'/' | b':' | b'[' | b']'))
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GrantId = GrantId([0xab; 16]);
    const G_HEX: &str = "abababababababababababababababab";
    const NODE: &str = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";

    #[test]
    fn grant_ids_are_32_lowercase_hex_digits() {
        assert_eq!(G.to_hex(), G_HEX);
        assert_eq!(G.to_string(), G_HEX);
        assert_eq!(format!("{G:?}"), format!("GrantId({G_HEX})"));
        assert_eq!(GrantId::from_hex(G_HEX), Some(G));
        assert_eq!(GrantId::from_hex(&G_HEX.to_uppercase()), None);
        assert_eq!(GrantId::from_hex(&G_HEX[1..]), None);
        assert_eq!(GrantId::from_hex(&format!("{G_HEX}ab")), None);
        assert_eq!(GrantId::from_hex(&format!("+{}", &G_HEX[1..])), None);
        let random = GrantId::random();
        assert_eq!(GrantId::from_hex(&random.to_hex()), Some(random));
        assert_ne!(GrantId::random(), random);
    }

    #[test]
    fn describe_appends_the_grant_line_and_committed_grant_reads_it() {
        let d = describe("Monthly", Some(&G), MAX_DESCRIPTION_BYTES);
        assert_eq!(d, format!("Monthly\npushbill-grant:{G_HEX}"));
        assert_eq!(committed_grant(&d), Some(G));
        assert_eq!(describe("Monthly", None, MAX_DESCRIPTION_BYTES), "Monthly");
        assert_eq!(committed_grant("Monthly"), None);
        // Empty text: the line alone, after its newline.
        assert_eq!(
            committed_grant(&describe("", Some(&G), MAX_DESCRIPTION_BYTES)),
            Some(G)
        );
    }

    #[test]
    fn merchant_text_cannot_write_a_commitment_line() {
        let other = GrantId([0x01; 16]);
        let hostile = format!("One-off\npushbill-grant:{}", other.to_hex());
        let flat = describe(&hostile, None, MAX_DESCRIPTION_BYTES);
        assert_eq!(flat, format!("One-off pushbill-grant:{}", other.to_hex()));
        assert_eq!(committed_grant(&flat), None);
        // \r and \r\n too.
        for sep in ["\r", "\r\n", "\n\n"] {
            let text = format!("x{sep}pushbill-grant:{}", other.to_hex());
            let d = describe(&text, None, MAX_DESCRIPTION_BYTES);
            assert!(!d.contains('\n') && !d.contains('\r'), "{d:?}");
            assert_eq!(committed_grant(&d), None);
        }
        // With the issuer's own line the last line wins, and it is the issuer's.
        assert_eq!(
            committed_grant(&describe(&hostile, Some(&G), MAX_DESCRIPTION_BYTES)),
            Some(G)
        );
        // A text that is the line itself, with no newline before it, commits to nothing.
        let bare = describe(&format!("pushbill-grant:{G_HEX}"), None, 639);
        assert_eq!(committed_grant(&bare), None);
    }

    #[test]
    fn only_an_exact_last_line_is_a_commitment() {
        let cases = [
            format!("x\npushbill-grant:{}", G_HEX.to_uppercase()),
            format!("x\npushbill-grant:{}", &G_HEX[..31]),
            format!("x\npushbill-grant:{G_HEX}0"),
            format!("x\npushbill-grant:{G_HEX} "),
            format!("x\npushbill-grant: {G_HEX}"),
            format!("x\n pushbill-grant:{G_HEX}"),
            format!("x\nPushbill-grant:{G_HEX}"),
            format!("x\npushbill-grant:{G_HEX}\r"),
            format!("x\npushbill-grant:{G_HEX}\n"),
            format!("x\npushbill-grant:{G_HEX}\nmore"),
            format!("x\npushbill-grant={G_HEX}"),
        ];
        for case in cases {
            assert_eq!(committed_grant(&case), None, "{case:?}");
        }
    }

    #[test]
    fn describe_fits_the_bound_on_a_char_boundary_and_keeps_the_line() {
        let long = "é".repeat(400); // 800 bytes
        let d = describe(&long, Some(&G), MAX_DESCRIPTION_BYTES);
        assert!(d.len() <= MAX_DESCRIPTION_BYTES, "{}", d.len());
        // 639 - 48 = 591 bytes for the text: 295 two-byte chars.
        assert_eq!(d.len(), 295 * 2 + 48);
        assert_eq!(committed_grant(&d), Some(G));
        let d = describe(&long, None, MAX_DESCRIPTION_BYTES);
        assert_eq!(d.len(), 638);
        let d = describe("abc", Some(&G), 10);
        assert_eq!(d, format!("\npushbill-grant:{G_HEX}"));
        assert_eq!(clip("😀😀", 5), "😀");
        assert_eq!(clip("ab", 5), "ab");
    }

    #[test]
    fn a_subscribe_code_parses_and_formats() {
        let code = "abcdefghijklmnopqrstuvwxyz";
        let s = format!("{code}@{NODE}@shop.example:9735");
        let parsed = SubscribeCode::parse(&s).unwrap();
        assert_eq!(parsed.code, code);
        assert_eq!(parsed.node_id, NODE);
        assert_eq!(parsed.address, "shop.example:9735");
        assert_eq!(parsed.to_string(), s);
        let v6 = SubscribeCode::parse(&format!("{code}@{NODE}@[::1]:9735")).unwrap();
        assert_eq!(v6.address, "[::1]:9735");
        let v4 = SubscribeCode::parse(&format!("{code}@{NODE}@127.0.0.1:1")).unwrap();
        assert_eq!(v4.address, "127.0.0.1:1");
        let random = SubscribeCode::random_code();
        assert_eq!(random.len(), 26);
        assert!(valid_code(&random));
        assert_ne!(SubscribeCode::random_code(), random);
    }

    #[test]
    fn hostile_subscribe_codes_are_refused_for_their_part() {
        let code = "abcdefghijklmnopqrstuv"; // 22
        let ok = |c: &str, n: &str, a: &str| SubscribeCode::parse(&format!("{c}@{n}@{a}"));
        assert!(ok(code, NODE, "h:1").is_ok());
        for (input, err) in [
            (format!("{code}@{NODE}"), CodeError::Shape),
            (format!("{code}@{NODE}@h:1@x"), CodeError::Shape),
            (String::new(), CodeError::Shape),
        ] {
            assert_eq!(SubscribeCode::parse(&input), Err(err), "{input:?}");
        }
        let long_code = "a".repeat(129);
        for bad in [
            &code[1..],
            long_code.as_str(),
            "abcdefghijklmnopqrstu\nv",
            "abcdefghijklmnopqrstu v",
            "abcdefghijklmnopqrstu_v",
            "abcdefghijklmnopqrstuvé",
        ] {
            assert_eq!(ok(bad, NODE, "h:1"), Err(CodeError::Code), "{bad:?}");
        }
        assert!(ok(&"a".repeat(128), NODE, "h:1").is_ok());
        let upper = NODE.to_uppercase();
        let node_31 = &NODE[..65];
        let node_04 = format!("04{}", &NODE[2..]);
        let node_nl = format!("{}\n", &NODE[..65]);
        for bad in [upper.as_str(), node_31, &node_04, &node_nl, ""] {
            assert_eq!(ok(code, bad, "h:1"), Err(CodeError::NodeId), "{bad:?}");
        }
        let long_host = format!("{}:1", "h".repeat(256));
        for bad in [
            "h",
            "h:",
            ":1",
            "h:0",
            "h:65536",
            "h:+1",
            "h:1\n",
            "h\n:1",
            "h h:1",
            "h/x:1",
            "[::1:1",
            "[nothex]:1",
            long_host.as_str(),
        ] {
            assert_eq!(ok(code, NODE, bad), Err(CodeError::Address), "{bad:?}");
        }
    }
}
