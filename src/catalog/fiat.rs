//! The fiat value a merchant's signup pages show beside each sat price:
//! a rate the merchant sets ("1 BTC = 97,500.00 USD"), kept with when it
//! was set, and shown as an approximation with that date. Prices, invoices
//! and payments stay in msat; nothing is billed in fiat. pushbill fetches
//! no rates: the merchant's figure is the only source (columns of
//! `merchants`, migration 38).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use crate::objects;
use crate::store::merchants;

/// Millisatoshis in one bitcoin.
const MSAT_PER_BTC: u128 = 100_000_000_000;

/// The highest rate taken, in minor units per bitcoin: far above any
/// currency's today, and small enough that any i64 msat amount times it
/// fits in a u128.
const MAX_MINOR_PER_BTC: i64 = 1_000_000_000_000_000;

/// The currencies a rate may be set in (ISO 4217) and the digits of their
/// minor unit.
pub const CURRENCIES: &[(&str, u32)] = &[
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("NZD", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("CNY", 2),
    ("HKD", 2),
    ("SGD", 2),
    ("INR", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("ARS", 2),
    ("ZAR", 2),
    ("NGN", 2),
    ("KES", 2),
    ("TRY", 2),
];

/// A merchant's rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// An ISO 4217 code of [`CURRENCIES`].
    pub currency: &'static str,
    /// The currency's minor units (cents) per bitcoin.
    pub minor_per_btc: i64,
    pub set_at: DateTime<Utc>,
}

impl Rate {
    /// The merchant's rate, if it set one.
    pub fn of(merchant: &merchants::Model) -> Option<Rate> {
        let currency = currency(merchant.fiat_currency.as_deref()?)?;
        Some(Rate {
            currency,
            minor_per_btc: merchant.fiat_minor_per_btc?,
            set_at: merchant.fiat_rate_set_at?,
        })
    }

    /// `amount_msat` in the currency's minor units, rounded half up.
    pub fn minor_units(&self, amount_msat: i64) -> u128 {
        let product = u128::from(amount_msat.unsigned_abs()) * self.minor_per_btc as u128;
        (product + MSAT_PER_BTC / 2) / MSAT_PER_BTC
    }

    /// "20.48 USD": `amount_msat` at this rate.
    pub fn value(&self, amount_msat: i64) -> String {
        format!(
            "{} {}",
            decimal(self.minor_units(amount_msat), self.digits()),
            self.currency
        )
    }

    /// "97,500.00 USD": one bitcoin.
    pub fn per_btc(&self) -> String {
        format!(
            "{} {}",
            decimal(self.minor_per_btc as u128, self.digits()),
            self.currency
        )
    }

    /// The rate as the merchant typed it, without grouping: "97500.00".
    pub fn per_btc_input(&self) -> String {
        decimal(self.minor_per_btc as u128, self.digits()).replace(',', "")
    }

    fn digits(&self) -> u32 {
        digits(self.currency)
    }
}

fn currency(code: &str) -> Option<&'static str> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(c, _)| *c)
}

fn digits(code: &str) -> u32 {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(2, |(_, d)| *d)
}

/// `minor` with `digits` decimals and thousands grouped: "97,500.00".
fn decimal(minor: u128, digits: u32) -> String {
    let scale = 10u128.pow(digits);
    let whole = (minor / scale).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if digits == 0 {
        grouped
    } else {
        format!(
            "{grouped}.{:0width$}",
            minor % scale,
            width = digits as usize
        )
    }
}

/// Parses "97500", "97500.5" or "97,500.00" as minor units of `currency`
/// (errors name `per_btc`): positive, at most the currency's decimals.
pub fn parse_per_btc(currency: &str, text: &str) -> Result<i64> {
    let invalid = |message: &str| Error::invalid("per_btc", message);
    let digits = digits(currency) as usize;
    let text = text.trim().replace(',', "");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid("the price of one bitcoin, like 97500.00"));
    }
    if fraction.len() > digits {
        return Err(invalid(&format!(
            "{currency} has {digits} decimal place(s)"
        )));
    }
    let padded = format!("{whole}{fraction:0<digits$}");
    // Digits only by now: parsing fails on overflow alone.
    let minor: i64 = padded.parse().map_err(|_| invalid("too large"))?;
    if minor == 0 {
        return Err(invalid("must be more than zero"));
    }
    if minor > MAX_MINOR_PER_BTC {
        return Err(invalid("too large"));
    }
    Ok(minor)
}

/// Sets (with `Some((currency, per_btc))`, per_btc as typed) or clears the
/// merchant's rate. Errors name `currency` or `per_btc`.
pub async fn set(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    rate: Option<(&str, &str)>,
) -> Result<Option<Rate>> {
    let rate = match rate {
        Some((code, per_btc)) => {
            let currency = currency(code.trim()).ok_or_else(|| {
                Error::invalid("currency", "not a currency pushbill shows; one of the list")
            })?;
            Some(Rate {
                currency,
                minor_per_btc: parse_per_btc(currency, per_btc)?,
                set_at: now,
            })
        }
        None => None,
    };
    let done = merchants::Entity::update_many()
        .col_expr(
            merchants::Column::FiatCurrency,
            Expr::value(rate.as_ref().map(|r| r.currency)),
        )
        .col_expr(
            merchants::Column::FiatMinorPerBtc,
            Expr::value(rate.as_ref().map(|r| r.minor_per_btc)),
        )
        .col_expr(
            merchants::Column::FiatRateSetAt,
            Expr::value(rate.as_ref().map(|r| r.set_at)),
        )
        .col_expr(merchants::Column::UpdatedAt, Expr::value(now))
        .filter(merchants::Column::Id.eq(merchant_id))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::not_found("merchant", merchant_id));
    }
    Ok(rate)
}

impl From<Option<&Rate>> for objects::FiatSettings {
    fn from(rate: Option<&Rate>) -> Self {
        Self {
            object: "fiat_settings",
            currency: rate.map(|r| r.currency),
            minor_per_btc: rate.map(|r| r.minor_per_btc),
            set_at: rate.map(|r| r.set_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(per_btc: &str) -> Rate {
        Rate {
            currency: "USD",
            minor_per_btc: parse_per_btc("USD", per_btc).unwrap(),
            set_at: Utc::now(),
        }
    }

    #[test]
    fn values_are_exact_and_rounded_half_up() {
        let r = usd("100000.00");
        // 10,000 sat at 100,000 USD/BTC is 10.00 USD.
        assert_eq!(r.value(10_000_000), "10.00 USD");
        // 1 sat is 0.1 cent: rounds to 0.00; 5 sat is half a cent: up.
        assert_eq!(r.value(1_000), "0.00 USD");
        assert_eq!(r.value(5_000), "0.01 USD");
        assert_eq!(r.value(4_999), "0.00 USD");
        assert_eq!(r.per_btc(), "100,000.00 USD");
        assert_eq!(r.per_btc_input(), "100000.00");
        let yen = Rate {
            currency: "JPY",
            minor_per_btc: parse_per_btc("JPY", "15,000,000").unwrap(),
            set_at: Utc::now(),
        };
        assert_eq!(yen.value(21_000_000_000), "3,150,000 JPY");
        // The largest amount at the largest rate does not overflow.
        let max = Rate {
            currency: "USD",
            minor_per_btc: MAX_MINOR_PER_BTC,
            set_at: Utc::now(),
        };
        assert!(max.minor_units(i64::MAX) > 0);
    }

    #[test]
    fn rates_parse_strictly() {
        assert_eq!(parse_per_btc("USD", "97500").unwrap(), 9_750_000);
        assert_eq!(parse_per_btc("USD", "97,500.5").unwrap(), 9_750_050);
        assert_eq!(parse_per_btc("USD", " 0.01 ").unwrap(), 1);
        for bad in [
            "",
            ".",
            "abc",
            "-5",
            "1e5",
            "1.234",
            "0",
            "0.00",
            "١٢٣",
            "1\0",
            "99999999999999999999",
            "10000000000000.01",
        ] {
            let e = parse_per_btc("USD", bad).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid { param, .. } if param == "per_btc"),
                "{bad:?}: {e:?}"
            );
        }
        assert!(parse_per_btc("JPY", "1.5").is_err());
    }
}
