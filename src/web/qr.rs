//! QR codes as inline `<svg>` elements, made on the server (no script, no
//! external image): the pay page's BOLT11, the signup pages' subscribe
//! codes and invoices, the dashboard's signup links.

use qrcode::QrCode;
use qrcode::render::svg;

/// The QR code of `data` as an `<svg>` element; empty if it cannot be made
/// (the page shows the text too).
pub fn svg(data: &str) -> String {
    match QrCode::new(data.as_bytes()) {
        Ok(code) => {
            let image = code
                .render::<svg::Color>()
                .min_dimensions(240, 240)
                .dark_color(svg::Color("#000000"))
                .light_color(svg::Color("#ffffff"))
                .build();
            // Drop the XML declaration: the element goes inside HTML.
            match image.find("<svg") {
                Some(i) => image[i..].to_owned(),
                None => String::new(),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no QR code");
            String::new()
        }
    }
}

/// The QR code of a `lightning:` URI for a BOLT11. Upper case is the QR
/// alphanumeric mode: a smaller code (BOLT11 is case-insensitive).
pub fn lightning(bolt11: &str) -> String {
    svg(&format!("LIGHTNING:{}", bolt11.to_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_inline_svg_element() {
        let svg = lightning("lnbcrt10u1test");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    }
}
