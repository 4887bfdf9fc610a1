//! The hosted pay page, loaded in a real headless browser (chromium): an
//! open invoice with its live BOLT11 (text, `lightning:` link, QR code), the
//! same page once the BOLT11 expired and once paid, a void invoice, and a
//! 404 page for forged or guessed links.

use chrono::Duration;
use pushbill::store::pay_links;
use serde_json::json;

use crate::support::app::odd_plan;
use crate::support::app::{TestApp, spawn_app};
use crate::support::browser::{attr_of, dump_dom, text_of};

async fn link(app: &TestApp, invoice: &pushbill::store::invoices::Model) -> String {
    let token = pay_links::token_for(&app.db, app.now(), invoice)
        .await
        .unwrap();
    // One token per invoice, however often asked.
    assert_eq!(
        pay_links::token_for(&app.db, app.now(), invoice)
            .await
            .unwrap(),
        token
    );
    format!("{}/pay/{token}", app.address)
}

/// The page's "Get a new Lightning invoice" form, posted (redirects not
/// followed).
async fn refresh(page_url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{page_url}/refresh"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_pay_page_shows_an_open_invoice_with_its_live_bolt11_then_expired_then_paid() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = odd_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.issue_pending(Duration::hours(2)).await;
    let bolt11 = app
        .payment_requests_of(&invoice.id)
        .await
        .into_iter()
        .find_map(|r| r.bolt11)
        .expect("a BOLT11");
    let url = link(&app, &invoice).await;

    let dom = dump_dom(&url).await;
    assert_eq!(
        text_of(&dom, "merchant").as_deref(),
        Some("Bobflix"),
        "{dom}"
    );
    assert_eq!(text_of(&dom, "number"), Some(invoice.number.clone()));
    assert_eq!(text_of(&dom, "amount").as_deref(), Some("10000.5 sat"));
    // The period's days, the last one included (its end is exclusive).
    let period = format!(
        "{} to {}",
        invoice.period_start.unwrap().format("%Y-%m-%d"),
        (invoice.period_end.unwrap() - chrono::Duration::milliseconds(1)).format("%Y-%m-%d")
    );
    assert_eq!(text_of(&dom, "period"), Some(period));
    assert_eq!(text_of(&dom, "status").as_deref(), Some("open"));
    assert_eq!(text_of(&dom, "bolt11"), Some(bolt11.clone()));
    assert_eq!(
        attr_of(&dom, "wallet-link", "href"),
        Some(format!("lightning:{bolt11}"))
    );
    let qr = &dom[dom.find("id=\"qr\"").expect("a QR code link")..];
    assert!(qr.contains("<svg") && qr.contains("</svg>"), "{dom}");
    // The stylesheet the page links is served.
    let css = app
        .http
        .get(format!("{}/static/css/pay.css", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // Two hours on, the BOLT11 has expired: none is offered, a new one can
    // be asked for.
    app.advance(Duration::hours(3)).await;
    let dom = dump_dom(&url).await;
    assert_eq!(text_of(&dom, "status").as_deref(), Some("open"));
    assert_eq!(text_of(&dom, "bolt11"), None, "{dom}");
    assert!(!dom.contains(&bolt11));
    assert!(
        text_of(&dom, "status-text")
            .unwrap()
            .contains("has expired"),
        "{dom}"
    );
    assert_eq!(
        text_of(&dom, "refresh-button").as_deref(),
        Some("Get a new Lightning invoice")
    );
    let requests_before = app.payment_requests_of(&invoice.id).await.len();
    let res = refresh(&url).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        url.trim_start_matches(&app.address)
    );
    let requests = app.payment_requests_of(&invoice.id).await;
    assert_eq!(requests.len(), requests_before + 1);
    // The expired BOLT11's request was closed, with its event.
    let old = requests
        .iter()
        .find(|r| r.bolt11.as_deref() == Some(bolt11.as_str()))
        .unwrap();
    assert_eq!(old.status, "expired");
    assert!(
        app.event_types(&old.id)
            .await
            .contains(&"payment_request.expired".to_owned())
    );
    let fresh = requests
        .iter()
        .find(|r| r.status == "pending")
        .expect("a pending request");
    assert!(!fresh.push, "the customer is on the page: no push");
    // Being prepared: no second request, and no button meanwhile.
    assert_eq!(refresh(&url).await.status(), 303);
    assert_eq!(
        app.payment_requests_of(&invoice.id).await.len(),
        requests_before + 1
    );
    let dom = dump_dom(&url).await;
    assert!(
        text_of(&dom, "status-text")
            .unwrap()
            .contains("being prepared"),
        "{dom}"
    );
    assert_eq!(text_of(&dom, "refresh-button"), None);
    // The node issues it: the page shows the new BOLT11.
    app.issue_pending(Duration::hours(2)).await;
    let new_bolt11 = app
        .payment_requests_of(&invoice.id)
        .await
        .into_iter()
        .find(|r| r.id == fresh.id)
        .and_then(|r| r.bolt11)
        .expect("issued");
    assert_ne!(new_bolt11, bolt11);
    let dom = dump_dom(&url).await;
    assert_eq!(text_of(&dom, "bolt11"), Some(new_bolt11.clone()), "{dom}");
    assert_eq!(text_of(&dom, "refresh-button"), None);
    // While it is live, asking again changes nothing.
    assert_eq!(refresh(&url).await.status(), 303);
    assert_eq!(
        app.payment_requests_of(&invoice.id).await.len(),
        requests_before + 1
    );

    // Paid.
    app.pay(&invoice.id).await;
    let paid_at = app.invoice(&invoice.id).await.paid_at.unwrap();
    let dom = dump_dom(&url).await;
    assert_eq!(text_of(&dom, "status").as_deref(), Some("paid"), "{dom}");
    assert!(
        text_of(&dom, "status-text")
            .unwrap()
            .contains(&paid_at.format("%Y-%m-%d %H:%M UTC").to_string()),
        "{dom}"
    );
    assert_eq!(text_of(&dom, "bolt11"), None);
    assert_eq!(text_of(&dom, "qr"), None);
}

#[tokio::test]
async fn a_void_invoice_says_so_and_forged_links_get_the_404_page() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1_234_567, "description": "Lunch <3"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let invoice = app.invoice(&r.id()).await;
    let url = link(&app, &invoice).await;
    let r = api
        .post(&format!("/v1/invoices/{}/void", invoice.id), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    let dom = dump_dom(&url).await;
    assert_eq!(text_of(&dom, "status").as_deref(), Some("void"), "{dom}");
    assert_eq!(text_of(&dom, "amount").as_deref(), Some("1234.567 sat"));
    assert_eq!(text_of(&dom, "description").as_deref(), Some("Lunch &lt;3"));
    assert_eq!(text_of(&dom, "period"), None);
    assert_eq!(text_of(&dom, "bolt11"), None);
    assert_eq!(text_of(&dom, "refresh-button"), None);

    // A forged token (one character changed), the invoice id itself, and
    // junk: the 404 page, never the invoice.
    let token = url.rsplit('/').next().unwrap().to_owned();
    let mut forged = token.clone().into_bytes();
    forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for path in [
        format!("/pay/{forged}"),
        format!("/pay/{}", invoice.id),
        "/pay/%3Cscript%3E".to_owned(),
        format!("/pay/{}", "x".repeat(5000)),
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains(&invoice.number), "{path}: {body}");
    }
    // Asking for a fresh BOLT11: nothing for a void invoice, 404 for a
    // forged link.
    let before = app.payment_requests_of(&invoice.id).await;
    assert_eq!(refresh(&url).await.status(), 303);
    assert_eq!(app.payment_requests_of(&invoice.id).await, before);
    let forged_url = format!("{}/pay/{forged}", app.address);
    assert_eq!(refresh(&forged_url).await.status(), 404);
    let dom = dump_dom(&format!("{}/pay/{forged}", app.address)).await;
    assert_eq!(
        text_of(&dom, "not-found").as_deref(),
        Some("Invoice not found"),
        "{dom}"
    );
    assert!(!dom.contains(&invoice.number));
}
