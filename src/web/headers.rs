//! Security headers on every response (pages, the API, assets). A handler
//! that sets one itself keeps its own (the pay page's `no-referrer`).

use actix_web::middleware::DefaultHeaders;

/// Only pushbill's own assets: no inline script or style, no framing, forms
/// post back to pushbill only. The QR codes are inline `<svg>` elements with
/// presentation attributes, which need no `style-src` exception.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
}
