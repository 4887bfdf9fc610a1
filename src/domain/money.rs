//! Amounts of bitcoin in millisatoshis; never floats.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Millisatoshis per satoshi.
const MSAT_PER_SAT: u64 = 1_000;

/// An amount could not be represented as a [`Msat`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// The amount is above 21,000,000 BTC.
    #[error("amount exceeds the maximum of 21,000,000 BTC")]
    TooLarge,
    /// The amount is negative.
    #[error("amount must not be negative")]
    Negative,
    /// The amount is above what one Lightning invoice can carry.
    #[error("amount exceeds the maximum of one Lightning invoice, 1844674407370955161 msat")]
    NotInvoiceable,
    /// Text that is not an amount of sat.
    #[error("must be a number of sat, with at most 3 decimals (e.g. 10000 or 0.5)")]
    NotAnAmount,
}

/// An amount in millisatoshis, between 0 and [`Msat::MAX`] inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msat(u64);

impl Msat {
    /// Zero millisatoshis.
    pub const ZERO: Msat = Msat(0);
    /// 21,000,000 BTC in millisatoshis.
    pub const MAX: Msat = Msat(2_100_000_000_000_000_000);
    /// The largest amount a BOLT11 invoice can carry (`u64::MAX / 10`: LDK
    /// refuses more), so the most one invoice or plan period may cost.
    pub const MAX_INVOICE: Msat = Msat(u64::MAX / 10);

    /// An amount in millisatoshis.
    pub fn from_msat(msat: u64) -> Result<Msat, MoneyError> {
        if msat > Self::MAX.0 {
            return Err(MoneyError::TooLarge);
        }
        Ok(Msat(msat))
    }

    /// An amount in whole satoshis.
    pub fn from_sat(sat: u64) -> Result<Msat, MoneyError> {
        let msat = sat.checked_mul(MSAT_PER_SAT).ok_or(MoneyError::TooLarge)?;
        Self::from_msat(msat)
    }

    /// An amount of sat written by a person: digits, optionally a point and
    /// up to three more digits (the msat), e.g. `10000`, `0.5`, `21.001`.
    pub fn parse_sat(text: &str) -> Result<Msat, MoneyError> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && frac.is_empty()
            || !digits(whole)
            || !digits(frac)
            || frac.len() > 3
            || text.ends_with('.')
        {
            return Err(MoneyError::NotAnAmount);
        }
        let sat: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::TooLarge)?
        };
        let msat: u64 = format!("{frac:0<3}").parse().unwrap_or(0);
        Self::from_sat(sat)?
            .checked_add(Msat(msat))
            .ok_or(MoneyError::TooLarge)
    }

    /// The amount as an `i64`, for database columns (always fits, since MAX < i64::MAX).
    pub fn to_i64(self) -> i64 {
        self.0 as i64
    }

    /// The amount in millisatoshis.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Sum, or `None` above [`Msat::MAX`].
    pub fn checked_add(self, rhs: Msat) -> Option<Msat> {
        self.0
            .checked_add(rhs.0)
            .and_then(|v| Msat::from_msat(v).ok())
    }

    /// Difference, or `None` if it would be negative.
    pub fn checked_sub(self, rhs: Msat) -> Option<Msat> {
        self.0.checked_sub(rhs.0).map(Msat)
    }

    /// Product with a count (e.g. a quantity), or `None` above [`Msat::MAX`].
    pub fn checked_mul(self, factor: u64) -> Option<Msat> {
        self.0
            .checked_mul(factor)
            .and_then(|v| Msat::from_msat(v).ok())
    }

    /// Refuses an amount that a Lightning invoice cannot carry.
    pub fn check_invoiceable(self) -> Result<Msat, MoneyError> {
        if self > Self::MAX_INVOICE {
            return Err(MoneyError::NotInvoiceable);
        }
        Ok(self)
    }

    /// True if the amount is a whole number of satoshis.
    pub fn is_whole_sat(self) -> bool {
        self.0.is_multiple_of(MSAT_PER_SAT)
    }

    /// Whole satoshis, rounding down.
    pub fn sats_floor(self) -> u64 {
        self.0 / MSAT_PER_SAT
    }
}

impl TryFrom<i64> for Msat {
    type Error = MoneyError;

    fn try_from(value: i64) -> Result<Msat, MoneyError> {
        let msat = u64::try_from(value).map_err(|_| MoneyError::Negative)?;
        Msat::from_msat(msat)
    }
}

impl TryFrom<u64> for Msat {
    type Error = MoneyError;

    fn try_from(value: u64) -> Result<Msat, MoneyError> {
        Msat::from_msat(value)
    }
}

impl From<Msat> for u64 {
    fn from(m: Msat) -> u64 {
        m.0
    }
}

impl fmt::Display for Msat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} msat", self.0)
    }
}

impl Serialize for Msat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Msat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Msat, D::Error> {
        let v = u64::deserialize(d)?;
        Msat::from_msat(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 2_100_000_000_000_000_000;

    #[test]
    fn from_msat_boundaries() {
        assert_eq!(Msat::from_msat(0).unwrap(), Msat::ZERO);
        assert_eq!(Msat::from_msat(MAX).unwrap(), Msat::MAX);
        assert_eq!(Msat::from_msat(MAX + 1), Err(MoneyError::TooLarge));
        assert_eq!(Msat::from_msat(u64::MAX), Err(MoneyError::TooLarge));
        assert_eq!(Msat::try_from(MAX + 1), Err(MoneyError::TooLarge));
    }

    #[test]
    fn from_sat_boundaries() {
        assert_eq!(Msat::from_sat(1).unwrap().as_u64(), 1_000);
        assert_eq!(Msat::from_sat(MAX / 1_000).unwrap(), Msat::MAX);
        assert_eq!(Msat::from_sat(MAX / 1_000 + 1), Err(MoneyError::TooLarge));
        assert_eq!(Msat::from_sat(u64::MAX), Err(MoneyError::TooLarge));
        assert_eq!(
            Msat::from_sat(u64::MAX / 1_000 + 1),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn i64_conversions() {
        assert_eq!(Msat::try_from(0i64).unwrap(), Msat::ZERO);
        assert_eq!(Msat::try_from(MAX as i64).unwrap(), Msat::MAX);
        assert_eq!(Msat::try_from(-1i64), Err(MoneyError::Negative));
        assert_eq!(Msat::try_from(i64::MIN), Err(MoneyError::Negative));
        assert_eq!(Msat::try_from(i64::MAX), Err(MoneyError::TooLarge));
        assert_eq!(Msat::MAX.to_i64(), MAX as i64);
        let m = Msat::from_msat(123_456).unwrap();
        assert_eq!(Msat::try_from(m.to_i64()).unwrap(), m);
    }

    #[test]
    fn arithmetic() {
        let a = Msat::from_msat(1_500).unwrap();
        let b = Msat::from_msat(500).unwrap();
        assert_eq!(a.checked_add(b).unwrap().as_u64(), 2_000);
        assert_eq!(a.checked_sub(b).unwrap().as_u64(), 1_000);
        assert_eq!(b.checked_sub(a), None);
        assert_eq!(a.checked_mul(3).unwrap().as_u64(), 4_500);
        assert_eq!(a.checked_mul(0).unwrap(), Msat::ZERO);
        assert_eq!(Msat::MAX.checked_add(Msat::from_msat(1).unwrap()), None);
        assert_eq!(Msat::MAX.checked_add(Msat::ZERO), Some(Msat::MAX));
        assert_eq!(Msat::MAX.checked_mul(2), None);
        assert_eq!(Msat::MAX.checked_mul(u64::MAX), None);
    }

    #[test]
    fn sat_helpers() {
        let m = Msat::from_msat(1_234_567).unwrap();
        assert!(!m.is_whole_sat());
        assert_eq!(m.sats_floor(), 1_234);
        assert!(Msat::from_sat(7).unwrap().is_whole_sat());
        assert!(Msat::ZERO.is_whole_sat());
        assert_eq!(Msat::from_msat(999).unwrap().sats_floor(), 0);
        assert_eq!(Msat::MAX.sats_floor(), MAX / 1_000);
    }

    #[test]
    fn the_largest_invoice_is_what_bolt11_can_carry() {
        assert_eq!(Msat::MAX_INVOICE.as_u64(), 1_844_674_407_370_955_161);
        assert_eq!(Msat::MAX_INVOICE.check_invoiceable(), Ok(Msat::MAX_INVOICE));
        let above = Msat::from_msat(1_844_674_407_370_955_162).unwrap();
        assert_eq!(above.check_invoiceable(), Err(MoneyError::NotInvoiceable));
        assert_eq!(
            Msat::MAX.check_invoiceable(),
            Err(MoneyError::NotInvoiceable)
        );
        assert!(Msat::ZERO.check_invoiceable().is_ok());
    }

    #[test]
    fn display() {
        assert_eq!(
            Msat::from_msat(1_234_567).unwrap().to_string(),
            "1234567 msat"
        );
        assert_eq!(Msat::ZERO.to_string(), "0 msat");
    }

    #[test]
    fn serde_plain_integer_with_range_check() {
        let m = Msat::from_msat(42_000).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "42000");
        assert_eq!(serde_json::from_str::<Msat>("42000").unwrap(), m);
        let max_json = MAX.to_string();
        assert_eq!(serde_json::from_str::<Msat>(&max_json).unwrap(), Msat::MAX);
        assert!(serde_json::from_str::<Msat>(&(MAX + 1).to_string()).is_err());
        assert!(serde_json::from_str::<Msat>("-1").is_err());
        assert!(serde_json::from_str::<Msat>("1.5").is_err());
        assert!(serde_json::from_str::<Msat>("\"100\"").is_err());
    }

    #[test]
    fn sat_text_parses_exactly_to_the_msat() {
        assert_eq!(Msat::parse_sat("10000").unwrap().as_u64(), 10_000_000);
        assert_eq!(Msat::parse_sat(" 0.5 ").unwrap().as_u64(), 500);
        assert_eq!(Msat::parse_sat("21.001").unwrap().as_u64(), 21_001);
        assert_eq!(Msat::parse_sat(".25").unwrap().as_u64(), 250);
        for bad in [
            "",
            ".",
            "1.",
            "1.2345",
            "-1",
            "1e3",
            "ten",
            "1,5",
            "99999999999999999999",
        ] {
            assert!(Msat::parse_sat(bad).is_err(), "{bad}");
        }
    }
}
