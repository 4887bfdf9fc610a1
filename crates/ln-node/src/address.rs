//! Lightning node ids and `pubkey@host:port` addresses.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bitcoin::secp256k1::PublicKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Why a node id or node address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NodeError {
    /// Not 66 hexadecimal characters.
    #[error("node id must be 66 hexadecimal characters (a 33-byte compressed public key)")]
    BadNodeIdFormat,
    /// Hex is fine but it is not a compressed point on secp256k1.
    #[error("node id is not a valid compressed secp256k1 public key")]
    NotOnCurve,
    /// Missing `@` or `:port`.
    #[error("node address must look like `<node id>@<host>:<port>`")]
    BadAddressFormat,
    /// Host is not an IPv4 address, bracketed IPv6 address or DNS name.
    #[error("node address host must be an IPv4 address, a bracketed IPv6 address or a DNS name")]
    BadHost,
    /// Port missing, zero or above 65535.
    #[error("node address port must be between 1 and 65535")]
    BadPort,
}

/// A Lightning node id: a 33-byte compressed secp256k1 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId([u8; 33]);

impl NodeId {
    /// Parses 66 hex characters (either case) and checks the point is on the curve.
    pub fn parse(s: &str) -> Result<NodeId, NodeError> {
        let bytes = decode_hex_33(s).ok_or(NodeError::BadNodeIdFormat)?;
        NodeId::from_bytes(bytes)
    }

    /// Validates raw compressed key bytes.
    pub fn from_bytes(bytes: [u8; 33]) -> Result<NodeId, NodeError> {
        if !matches!(bytes[0], 0x02 | 0x03) {
            return Err(NodeError::NotOnCurve);
        }
        PublicKey::from_slice(&bytes).map_err(|_| NodeError::NotOnCurve)?;
        Ok(NodeId(bytes))
    }

    /// The compressed key bytes.
    pub fn as_bytes(&self) -> [u8; 33] {
        self.0
    }

    /// The key as a secp256k1 public key.
    pub fn to_public_key(&self) -> PublicKey {
        PublicKey::from_slice(&self.0).expect("NodeId is validated on construction")
    }
}

fn decode_hex_33(s: &str) -> Option<[u8; 33]> {
    let s = s.as_bytes();
    if s.len() != 66 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 33];
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

impl From<PublicKey> for NodeId {
    fn from(pk: PublicKey) -> NodeId {
        NodeId(pk.serialize())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for NodeId {
    type Err = NodeError;
    fn from_str(s: &str) -> Result<Self, NodeError> {
        Self::parse(s)
    }
}

/// Where to reach a node: `pubkey@host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeAddress {
    /// The node's public key.
    pub node_id: NodeId,
    /// Lowercase IPv4 address, IPv6 address (without brackets) or DNS name.
    pub host: String,
    /// TCP port, 1-65535.
    pub port: u16,
}

impl NodeAddress {
    /// Parses `pubkey@host:port`; IPv6 hosts must be bracketed (`[::1]:9735`).
    pub fn parse(s: &str) -> Result<NodeAddress, NodeError> {
        let (id, hostport) = s
            .trim()
            .split_once('@')
            .ok_or(NodeError::BadAddressFormat)?;
        let node_id = NodeId::parse(id)?;
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or(NodeError::BadAddressFormat)?;
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(NodeError::BadPort),
        };
        let host = parse_host(host).ok_or(NodeError::BadHost)?;
        Ok(NodeAddress {
            node_id,
            host,
            port,
        })
    }
}

/// Returns the normalised host (no brackets, lowercase), or `None` if invalid.
fn parse_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        return Ipv6Addr::from_str(inner)
            .ok()
            .map(|_| inner.to_ascii_lowercase());
    }
    let labels: Vec<&str> = host.split('.').collect();
    // A numeric last label means an IPv4 address (no TLD is all digits).
    if labels.last()?.bytes().all(|b| b.is_ascii_digit()) {
        return Ipv4Addr::from_str(host).ok().map(|_| host.to_string());
    }
    let valid_label = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    (host.len() <= 253 && labels.iter().all(valid_label)).then(|| host.to_ascii_lowercase())
}

impl fmt::Display for NodeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.node_id, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.node_id, self.host, self.port)
        }
    }
}

impl FromStr for NodeAddress {
    type Err = NodeError;
    fn from_str(s: &str) -> Result<Self, NodeError> {
        Self::parse(s)
    }
}

macro_rules! serde_via_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_string!(NodeId);
serde_via_string!(NodeAddress);

#[cfg(test)]
mod tests {
    use super::*;

    /// 02 + the x-coordinate of the secp256k1 generator point.
    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn parses_valid_node_id() {
        let id = NodeId::parse(G).unwrap();
        assert_eq!(id.to_string(), G);
        assert_eq!(id.as_bytes()[0], 0x02);
        assert_eq!(id.to_public_key().serialize(), id.as_bytes());
        assert_eq!(NodeId::from(id.to_public_key()), id);
        // Upper-case input is accepted and displayed lowercase.
        assert_eq!(
            NodeId::parse(&G.to_ascii_uppercase()).unwrap().to_string(),
            G
        );
        // 03 prefix: the other point with the same x.
        assert!(NodeId::parse(&format!("03{}", &G[2..])).is_ok());
    }

    #[test]
    fn rejects_invalid_node_ids() {
        use NodeError::*;
        assert_eq!(NodeId::parse(&G[..64]), Err(BadNodeIdFormat));
        assert_eq!(NodeId::parse(&format!("{G}00")), Err(BadNodeIdFormat));
        assert_eq!(NodeId::parse(""), Err(BadNodeIdFormat));
        assert_eq!(
            NodeId::parse(&format!("{}zz", &G[..64])),
            Err(BadNodeIdFormat)
        );
        assert_eq!(
            NodeId::parse(&format!("{}+1", &G[..63])),
            Err(BadNodeIdFormat)
        );
        assert_eq!(NodeId::parse(&format!("04{}", &G[2..])), Err(NotOnCurve));
        assert_eq!(NodeId::parse(&format!("00{}", &G[2..])), Err(NotOnCurve));
        // x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p).
        let off_curve = format!("02{}05", "0".repeat(62));
        assert_eq!(NodeId::parse(&off_curve), Err(NotOnCurve));
        // x >= p is invalid.
        assert_eq!(
            NodeId::parse(&format!("02{}", "f".repeat(64))),
            Err(NotOnCurve)
        );
    }

    #[test]
    fn parses_addresses_and_round_trips() {
        for (input, host, port) in [
            (format!("{G}@127.0.0.1:9735"), "127.0.0.1", 9735),
            (format!("{G}@[::1]:9735"), "::1", 9735),
            (format!("{G}@[2001:db8::1]:1"), "2001:db8::1", 1),
            (
                format!("{G}@node.example.com:65535"),
                "node.example.com",
                65535,
            ),
            (format!("{G}@localhost:10009"), "localhost", 10009),
        ] {
            let addr = NodeAddress::parse(&input).unwrap();
            assert_eq!(addr.host, host);
            assert_eq!(addr.port, port);
            assert_eq!(addr.to_string(), input);
            assert_eq!(NodeAddress::parse(&addr.to_string()).unwrap(), addr);
        }
        let addr = NodeAddress::parse(&format!("{G}@Node.Example.COM:9735")).unwrap();
        assert_eq!(addr.host, "node.example.com");
    }

    #[test]
    fn rejects_bad_addresses() {
        use NodeError::*;
        let cases = [
            (format!("{G}127.0.0.1:9735"), BadAddressFormat),
            (format!("{G}@127.0.0.1"), BadAddressFormat),
            (format!("{G}@node.example.com"), BadAddressFormat),
            (format!("{G}@127.0.0.1:"), BadPort),
            (format!("{G}@127.0.0.1:0"), BadPort),
            (format!("{G}@127.0.0.1:65536"), BadPort),
            (format!("{G}@127.0.0.1:+80"), BadPort),
            (format!("{G}@[::1]"), BadPort),
            (format!("{G}@::1:9735"), BadHost),
            (format!("{G}@[::g]:9735"), BadHost),
            (format!("{G}@[::1:9735"), BadHost),
            (format!("{G}@999.0.0.1:9735"), BadHost),
            (format!("{G}@:9735"), BadHost),
            (format!("{G}@bad_host.com:9735"), BadHost),
            (format!("{G}@-bad.com:9735"), BadHost),
            (format!("{G}@a..b:9735"), BadHost),
            (format!("{}@127.0.0.1:9735", &G[..64]), BadNodeIdFormat),
            (format!("04{}@127.0.0.1:9735", &G[2..]), NotOnCurve),
        ];
        for (input, err) in cases {
            assert_eq!(NodeAddress::parse(&input), Err(err), "{input}");
        }
    }

    #[test]
    fn serde_as_strings() {
        let id = NodeId::parse(G).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{G}\""));
        assert_eq!(
            serde_json::from_str::<NodeId>(&format!("\"{G}\"")).unwrap(),
            id
        );
        assert!(serde_json::from_str::<NodeId>("\"02ab\"").is_err());

        let addr = NodeAddress::parse(&format!("{G}@[::1]:9735")).unwrap();
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, format!("\"{G}@[::1]:9735\""));
        assert_eq!(serde_json::from_str::<NodeAddress>(&json).unwrap(), addr);
        assert!(serde_json::from_str::<NodeAddress>(&format!("\"{G}@h:0\"")).is_err());
    }
}
