//! Renders one email (subject, plain text, HTML) from `templates/email/`:
//! `<kind>.txt` and `<kind>.html`, the HTML one extending `layout.html`.

use askama::Template;
use chrono::{DateTime, Utc};

use super::messages::Kind;

/// What the templates may show. Fields a message does not use stay empty.
#[derive(Debug, Clone, Default)]
pub struct Msg {
    pub merchant_name: String,
    /// "Alice" or a neutral greeting target.
    pub customer_name: String,
    pub invoice_number: String,
    /// "10000 sat" or "10000.5 sat": exact to the msat.
    pub amount: String,
    /// The customer's credit taken off `amount`, and what is left to pay;
    /// both empty when no credit was applied.
    pub credit: String,
    pub amount_due: String,
    /// "2027-01-01 to 2027-01-31" (both days included), or empty for a one-off invoice.
    pub period: String,
    pub bolt11: Option<String>,
    pub pay_url: String,
    pub due: String,
    pub paid: String,
    /// What happens next (dunning policy), one sentence.
    pub next_step: String,
    pub subscription_id: String,
    pub trial_end: String,
    pub endpoint_url: String,
    pub disabled_reason: String,
    /// The merchant's unpaid summary: its day (YYYY-MM-DD) and invoices
    /// (`amount` is then their total).
    pub summary_date: String,
    pub unpaid: Vec<UnpaidLine>,
    /// The merchant's customer portal page (`/portal/{merchant}`), on every
    /// customer email: "Manage your subscription".
    pub portal_url: String,
    /// A portal sign-in link (`/portal/login/{token}`) and when it expires.
    pub login_url: String,
    pub login_expires: String,
    /// A dashboard invitation (`/dashboard/invite/{token}`), who sent it,
    /// and when it expires.
    pub invite_url: String,
    pub inviter: String,
    pub invite_expires: String,
}

impl Msg {
    /// What the customer still has to pay: the amount less any credit.
    fn to_pay(&self) -> &str {
        match self.amount_due.is_empty() {
            true => &self.amount,
            false => &self.amount_due,
        }
    }
}

/// One invoice in the merchant's unpaid summary.
#[derive(Debug, Clone, Default)]
pub struct UnpaidLine {
    pub number: String,
    pub customer: String,
    pub amount: String,
    pub went_unpaid: String,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Formats an amount in sat, exact to the msat: 10000000 -> "10000 sat",
/// 10000500 -> "10000.5 sat", 1 -> "0.001 sat".
pub fn sat_amount(msat: i64) -> String {
    let msat = msat.unsigned_abs();
    let (sat, rest) = (msat / 1000, msat % 1000);
    if rest == 0 {
        format!("{sat} sat")
    } else {
        let frac = format!("{rest:03}");
        format!("{sat}.{} sat", frac.trim_end_matches('0'))
    }
}

/// A date for people: "2027-01-31 00:00 UTC".
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

macro_rules! pair {
    ($text:ident, $html:ident, $txt_path:literal, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $txt_path)]
        struct $text<'a> {
            m: &'a Msg,
        }
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a Msg,
        }
    };
}

pair!(
    PaymentRequestText,
    PaymentRequestHtml,
    "email/payment_request.txt",
    "email/payment_request.html"
);
pair!(
    PaymentFailedText,
    PaymentFailedHtml,
    "email/payment_failed.txt",
    "email/payment_failed.html"
);
pair!(
    InvoiceUnpaidText,
    InvoiceUnpaidHtml,
    "email/invoice_unpaid.txt",
    "email/invoice_unpaid.html"
);
pair!(
    ReceiptText,
    ReceiptHtml,
    "email/receipt.txt",
    "email/receipt.html"
);
pair!(
    CanceledText,
    CanceledHtml,
    "email/subscription_canceled.txt",
    "email/subscription_canceled.html"
);
pair!(
    TrialText,
    TrialHtml,
    "email/trial_ending.txt",
    "email/trial_ending.html"
);
pair!(
    MerchantUnpaidText,
    MerchantUnpaidHtml,
    "email/merchant_unpaid.txt",
    "email/merchant_unpaid.html"
);
pair!(
    MerchantUnpaidSummaryText,
    MerchantUnpaidSummaryHtml,
    "email/merchant_unpaid_summary.txt",
    "email/merchant_unpaid_summary.html"
);
pair!(
    PortalLinkText,
    PortalLinkHtml,
    "email/portal_link.txt",
    "email/portal_link.html"
);
pair!(
    InvitationText,
    InvitationHtml,
    "email/invitation.txt",
    "email/invitation.html"
);
pair!(
    EndpointDisabledText,
    EndpointDisabledHtml,
    "email/endpoint_disabled.txt",
    "email/endpoint_disabled.html"
);

/// Renders `kind` for `m`.
pub fn render(kind: Kind, m: &Msg) -> Result<Rendered, askama::Error> {
    let (subject, text, html) = match kind {
        Kind::PaymentRequest => (
            format!(
                "{}: invoice {} for {}",
                m.merchant_name,
                m.invoice_number,
                m.to_pay()
            ),
            PaymentRequestText { m }.render()?,
            PaymentRequestHtml { m }.render()?,
        ),
        Kind::PaymentFailed => (
            format!(
                "{}: payment of invoice {} failed",
                m.merchant_name, m.invoice_number
            ),
            PaymentFailedText { m }.render()?,
            PaymentFailedHtml { m }.render()?,
        ),
        Kind::InvoiceUnpaid => (
            format!(
                "{}: invoice {} is unpaid",
                m.merchant_name, m.invoice_number
            ),
            InvoiceUnpaidText { m }.render()?,
            InvoiceUnpaidHtml { m }.render()?,
        ),
        Kind::Receipt => (
            format!(
                "{}: receipt for invoice {}",
                m.merchant_name, m.invoice_number
            ),
            ReceiptText { m }.render()?,
            ReceiptHtml { m }.render()?,
        ),
        Kind::SubscriptionCanceled => (
            format!("{}: your subscription was canceled", m.merchant_name),
            CanceledText { m }.render()?,
            CanceledHtml { m }.render()?,
        ),
        Kind::TrialEnding => (
            format!("{}: your trial ends on {}", m.merchant_name, m.trial_end),
            TrialText { m }.render()?,
            TrialHtml { m }.render()?,
        ),
        Kind::MerchantUnpaid => (
            format!("Unpaid invoice {} ({})", m.invoice_number, m.to_pay()),
            MerchantUnpaidText { m }.render()?,
            MerchantUnpaidHtml { m }.render()?,
        ),
        Kind::MerchantUnpaidSummary => (
            format!(
                "{} unpaid invoice{} ({}) for {}",
                m.unpaid.len(),
                if m.unpaid.len() == 1 { "" } else { "s" },
                m.amount,
                m.summary_date
            ),
            MerchantUnpaidSummaryText { m }.render()?,
            MerchantUnpaidSummaryHtml { m }.render()?,
        ),
        Kind::EndpointDisabled => (
            "Your webhook endpoint was disabled".to_owned(),
            EndpointDisabledText { m }.render()?,
            EndpointDisabledHtml { m }.render()?,
        ),
        Kind::PortalLink => (
            format!("{}: your sign-in link", m.merchant_name),
            PortalLinkText { m }.render()?,
            PortalLinkHtml { m }.render()?,
        ),
        Kind::Invitation => (
            format!("Join {} on pushbill", m.merchant_name),
            InvitationText { m }.render()?,
            InvitationHtml { m }.render()?,
        ),
    };
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::email::messages::CUSTOMER_KINDS;

    #[test]
    fn amounts_are_exact_to_the_msat() {
        assert_eq!(sat_amount(10_000_000), "10000 sat");
        assert_eq!(sat_amount(10_000_500), "10000.5 sat");
        assert_eq!(sat_amount(1), "0.001 sat");
        assert_eq!(sat_amount(1_010), "1.01 sat");
    }

    #[test]
    fn applied_credit_shows_with_what_is_left_to_pay() {
        let m = Msg {
            merchant_name: "Bob".into(),
            invoice_number: "BOB-000002".into(),
            amount: "1000 sat".into(),
            credit: "400 sat".into(),
            amount_due: "600 sat".into(),
            ..Msg::default()
        };
        let r = render(Kind::PaymentRequest, &m).unwrap();
        assert_eq!(r.subject, "Bob: invoice BOB-000002 for 600 sat");
        assert!(
            r.text.contains("Credit:   400 sat\nTo pay:   600 sat\n"),
            "{}",
            r.text
        );
        assert!(
            r.html.contains("<td>To pay</td><td>600 sat</td>"),
            "{}",
            r.html
        );
        let plain = render(
            Kind::PaymentRequest,
            &Msg {
                credit: String::new(),
                amount_due: String::new(),
                ..m
            },
        )
        .unwrap();
        assert_eq!(plain.subject, "Bob: invoice BOB-000002 for 1000 sat");
        assert!(!plain.text.contains("To pay"));
    }

    #[test]
    fn every_kind_renders_both_parts_and_html_is_escaped() {
        let m = Msg {
            merchant_name: "Bob <&> Co".into(),
            invoice_number: "BOB-000001".into(),
            amount: "10 sat".into(),
            bolt11: Some("lnbc1xyz".into()),
            pay_url: "https://pay.example/pay/inv_1".into(),
            ..Msg::default()
        };
        let all = CUSTOMER_KINDS.into_iter().chain([
            Kind::MerchantUnpaid,
            Kind::MerchantUnpaidSummary,
            Kind::EndpointDisabled,
        ]);
        for kind in all {
            let r = render(kind, &m).unwrap();
            assert!(!r.text.is_empty() && r.html.contains("<html"), "{kind:?}");
            assert!(!r.html.contains("Bob <&> Co"), "{kind:?}: {}", r.html);
        }
        let r = render(Kind::InvoiceUnpaid, &m).unwrap();
        assert!(r.text.contains("lnbc1xyz") && r.html.contains("lnbc1xyz"));
        assert!(r.text.contains("https://pay.example/pay/inv_1"));
        assert!(r.text.contains("Bob <&> Co"));
    }

    #[test]
    fn every_customer_email_links_to_the_portal_and_merchant_emails_do_not() {
        let m = Msg {
            merchant_name: "Bob".into(),
            portal_url: "https://pay.example/portal/mer_1".into(),
            ..Msg::default()
        };
        for kind in CUSTOMER_KINDS {
            let r = render(kind, &m).unwrap();
            assert!(
                r.text
                    .contains("Manage your subscription: https://pay.example/portal/mer_1"),
                "{kind:?}: {}",
                r.text
            );
            assert!(
                r.html.contains(
                    "<a href=\"https://pay.example/portal/mer_1\">Manage your subscription</a>"
                ),
                "{kind:?}: {}",
                r.html
            );
        }
        for kind in [
            Kind::MerchantUnpaid,
            Kind::MerchantUnpaidSummary,
            Kind::EndpointDisabled,
        ] {
            let r = render(kind, &m).unwrap();
            assert!(!r.text.contains("/portal/"), "{kind:?}");
        }
    }

    #[test]
    fn the_sign_in_email_carries_the_link_and_its_expiry() {
        let m = Msg {
            merchant_name: "Bob <&> Co".into(),
            customer_name: "Alice".into(),
            login_url: "https://pay.example/portal/login/abc".into(),
            login_expires: "2027-12-01 00:15 UTC".into(),
            ..Msg::default()
        };
        let r = render(Kind::PortalLink, &m).unwrap();
        assert_eq!(r.subject, "Bob <&> Co: your sign-in link");
        assert!(r.text.contains("https://pay.example/portal/login/abc"));
        assert!(r.text.contains("2027-12-01 00:15 UTC"));
        assert!(
            r.html
                .contains("href=\"https://pay.example/portal/login/abc\"")
        );
        assert!(!r.html.contains("Bob <&> Co"));
    }

    #[test]
    fn the_summary_lists_every_invoice() {
        let line = |n: &str| UnpaidLine {
            number: n.into(),
            customer: "Alice <a@example.com>".into(),
            amount: "10 sat".into(),
            went_unpaid: "2027-12-09 00:00 UTC".into(),
        };
        let m = Msg {
            merchant_name: "Bob".into(),
            summary_date: "2027-12-09".into(),
            amount: "20 sat".into(),
            unpaid: vec![line("BOB-000001"), line("BOB-000002")],
            ..Msg::default()
        };
        let r = render(Kind::MerchantUnpaidSummary, &m).unwrap();
        assert_eq!(r.subject, "2 unpaid invoices (20 sat) for 2027-12-09");
        for body in [&r.text, &r.html] {
            assert!(
                body.contains("BOB-000001") && body.contains("BOB-000002"),
                "{body}"
            );
        }
        assert!(!r.html.contains("Alice <a@"), "{}", r.html);
    }
}
