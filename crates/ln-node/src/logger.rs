//! LDK's log records, forwarded to `tracing` under the target `ldk`.

use lightning::util::logger::{Level, Logger, Record};

pub struct LdkLogger;

impl Logger for LdkLogger {
    fn log(&self, record: Record) {
        let module = record.module_path;
        match record.level {
            Level::Gossip | Level::Trace => {
                tracing::trace!(target: "ldk", module, "{}", Redacted(&record.args))
            }
            Level::Debug => tracing::debug!(target: "ldk", module, "{}", Redacted(&record.args)),
            Level::Info => tracing::info!(target: "ldk", module, "{}", Redacted(&record.args)),
            Level::Warn => tracing::warn!(target: "ldk", module, "{}", Redacted(&record.args)),
            Level::Error => tracing::error!(target: "ldk", module, "{}", Redacted(&record.args)),
        }
    }
}

/// An LDK message with every payment preimage hidden. LDK prints them at
/// trace level (the events it handles, `payment_preimage: Some(<hex>)`, and
/// "fulfill for HTLC with payment_preimage <hex>"); a preimage is a secret
/// and is never logged. Formatted only when the level is enabled.
struct Redacted<'a>(&'a std::fmt::Arguments<'a>);

impl std::fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_preimages(&self.0.to_string()))
    }
}

/// Replaces the 64 hex digits that follow each "preimage" (after `: `,
/// ` `, `: Some(`) with `<redacted>`.
fn redact_preimages(text: &str) -> String {
    const WORD: &str = "preimage";
    if !text.to_ascii_lowercase().contains(WORD) {
        return text.to_owned();
    }
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(WORD) {
        let after = at + found + WORD.len();
        out.push_str(&text[at..after]);
        at = after;
        // `: `, ` `, `: Some(` and the like before the value.
        let rest = &text[at..];
        let trimmed = rest.trim_start_matches([':', ' ', '=']);
        let trimmed = trimmed.strip_prefix("Some(").unwrap_or(trimmed);
        let gap = rest.len() - trimmed.len();
        let value = &text[at + gap..];
        let hex = value.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 64 {
            out.push_str(&text[at..at + gap]);
            out.push_str("<redacted>");
            at += gap + 64;
        }
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_preimages;

    #[test]
    fn preimages_are_hidden_and_the_rest_is_kept() {
        let p = "7397bde89e56fc28122a9ce85a9876a0103f8e17845626e0c66b0bda6d294ac7";
        let h = "fcac787b9bc1abf0c21300837720001472e13c605b02336f1c4ebd61466a0271";
        let event = format!(
            "Handling event PaymentClaimable {{ payment_hash: {h}, purpose: Bolt11InvoicePayment {{ payment_preimage: Some({p}), payment_secret: 06 }} }}..."
        );
        let out = redact_preimages(&event);
        assert!(!out.contains(p), "{out}");
        assert!(out.contains(h), "the hash stays: {out}");
        assert!(out.contains("payment_preimage: Some(<redacted>)"), "{out}");
        let sent = format!("PaymentSent {{ payment_preimage: {p}, payment_hash: {h} }}");
        assert_eq!(
            redact_preimages(&sent),
            format!("PaymentSent {{ payment_preimage: <redacted>, payment_hash: {h} }}")
        );
        let line = format!("Received duplicative fulfill for HTLC with payment_preimage {p}");
        assert!(!redact_preimages(&line).contains(p));
        let two = format!("preimage {p} and PREIMAGE: {p}");
        assert_eq!(
            redact_preimages(&two),
            "preimage <redacted> and PREIMAGE: <redacted>"
        );
        // Nothing to hide: unchanged, including text that only mentions it.
        for plain in [
            "Updating ChannelMonitor with payment preimage",
            "no such word",
            "preimage ab",
            "",
        ] {
            assert_eq!(redact_preimages(plain), plain);
        }
    }
}
