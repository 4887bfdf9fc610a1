//! Stand-in for `push_protocol::grant::committed_grant` until that lands
//! (the design's rule, docs/push-invoices.md).

/// The grant the last line of a BOLT11 description names, if that line is
/// exactly `pushbill-grant:` + 32 lowercase hex digits.
pub fn committed_grant(description: &str) -> Option<String> {
    let last = description.rsplit('\n').next()?;
    let hex = last.strip_prefix("pushbill-grant:")?;
    (description.contains('\n')
        && hex.len() == 32
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| hex.to_owned())
}
