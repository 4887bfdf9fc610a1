//! Text that goes into the database: PostgreSQL refuses the NUL character in
//! text (SQLite stores it), so input carrying one is refused at the edge
//! ([`has_nul`]), and excerpts of foreign data (webhook receivers' answers,
//! SMTP servers' replies, node messages) are cleaned before they are stored
//! ([`excerpt`]).

/// Why input with a NUL character is refused; safe to show to API users.
pub const NUL_REFUSED: &str = "must not contain the NUL character (\\u0000)";

/// What a NUL (or an invalid UTF-8 sequence) becomes in an excerpt.
const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

/// True if `s` holds a NUL character, which the database cannot store.
pub fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// Foreign bytes made storable: invalid UTF-8 and NUL characters replaced by
/// U+FFFD, cut to at most `max_bytes` bytes on a character boundary.
pub fn excerpt(bytes: &[u8], max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(max_bytes));
    for c in text.chars() {
        let c = if c == '\0' { REPLACEMENT } else { c };
        if out.len() + c.len_utf8() > max_bytes {
            break;
        }
        out.push(c);
    }
    out
}

/// Text from merchants or customers as a page shows it: HTML escaping is
/// the templates' (askama escapes every value); here the bidirectional
/// overrides and isolates, which could make a name read backwards or hide
/// part of it, become U+FFFD.
pub fn display(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_are_neutralised() {
        assert_eq!(display("abc\u{202e}fed"), "abc\u{fffd}fed");
        assert_eq!(display("\u{2066}x\u{2069}"), "\u{fffd}x\u{fffd}");
        assert_eq!(display("<b>plain</b>"), "<b>plain</b>");
    }

    #[test]
    fn nul_is_found_anywhere() {
        assert!(has_nul("\0"));
        assert!(has_nul("inv_\0"));
        assert!(!has_nul("plain text, \u{1}, é"));
        assert!(!has_nul(""));
    }

    #[test]
    fn excerpts_are_storable_and_capped() {
        // A gzip header: binary with NUL bytes and invalid UTF-8.
        let gzip = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, b'o', b'k',
        ];
        let e = excerpt(&gzip, 1024);
        assert!(!has_nul(&e), "{e:?}");
        assert!(e.ends_with("ok"), "{e:?}");
        assert_eq!(e.chars().filter(|&c| c == REPLACEMENT).count(), 7);
        assert_eq!(excerpt(b"hello", 1024), "hello");
        assert_eq!(excerpt(b"hello", 3), "hel");
        // Never cut inside a character.
        assert_eq!(excerpt("aé".as_bytes(), 2), "a");
        assert_eq!(excerpt("aé".as_bytes(), 3), "aé");
        assert_eq!(excerpt(b"", 10), "");
    }
}
