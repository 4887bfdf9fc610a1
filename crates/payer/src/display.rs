//! How the payer's commands show things to people: amounts in sat (with
//! the msat remainder), times in RFC 3339 (UTC), short ids.

use chrono::{DateTime, SecondsFormat, Utc};

/// `12,345 sat`, or `12,345.678 sat` when the amount is not whole sats.
pub fn msat(amount_msat: u64) -> String {
    let sat = amount_msat / 1000;
    let rest = amount_msat % 1000;
    let digits = sat.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match rest {
        0 => format!("{grouped} sat"),
        _ => {
            let frac = format!("{rest:03}");
            format!("{grouped}.{} sat", frac.trim_end_matches('0'))
        }
    }
}

/// Unix seconds as RFC 3339 in UTC, e.g. `2028-03-10T10:00:00Z`.
pub fn time(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

/// Rows of text as aligned columns (the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] + 2 - cell.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_sat_with_the_msat_remainder() {
        assert_eq!(msat(0), "0 sat");
        assert_eq!(msat(999), "0.999 sat");
        assert_eq!(msat(1_000), "1 sat");
        assert_eq!(msat(20_500), "20.5 sat");
        assert_eq!(msat(1_234_567_001), "1,234,567.001 sat");
        assert_eq!(msat(100_000_000), "100,000 sat");
        assert_eq!(msat(u64::MAX), "18,446,744,073,709,551.615 sat");
    }

    #[test]
    fn times_are_rfc_3339_utc_and_tables_align() {
        assert_eq!(time(1_893_456_000), "2030-01-01T00:00:00Z");
        assert_eq!(
            table(
                &["ID", "AMOUNT"],
                &[
                    vec!["a".into(), "1 sat".into()],
                    vec!["bbbb".into(), "2 sat".into()]
                ]
            ),
            "ID    AMOUNT\na     1 sat\nbbbb  2 sat"
        );
    }
}
