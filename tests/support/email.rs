//! The app mailing through the real SMTP server ([`super::smtp`]), and
//! reading what the app queued and sent.

use pushbill::config::{SmtpSecurity, SmtpSettings};
use pushbill::notify::email::{self, send::Mailer};
use pushbill::store::outgoing_emails;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use super::app::{TestApp, spawn_app_with};
use super::smtp::{SmtpServer, free_port};

pub const FROM: &str = "billing@bobflix.example";

pub async fn app_with_smtp(port: u16) -> TestApp {
    spawn_app_with(|s| {
        s.smtp = Some(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: format!("Bobflix Billing <{FROM}>"),
        });
    })
    .await
}

/// A real SMTP server on a free port and an app that mails through it.
pub async fn mailing_app() -> (SmtpServer, TestApp) {
    let port = free_port();
    let server = SmtpServer::start(port).await;
    (server, app_with_smtp(port).await)
}

pub async fn drain(app: &TestApp) -> email::Drained {
    let mailer = Mailer::new(app.context.settings.smtp.as_ref().unwrap()).unwrap();
    email::drain(&app.context, &mailer)
        .await
        .expect("email drain")
}

pub async fn rows(app: &TestApp, kind: &str) -> Vec<outgoing_emails::Model> {
    outgoing_emails::Entity::find()
        .filter(outgoing_emails::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .unwrap()
}

pub fn with_subject<'a>(messages: &'a [Value], needle: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["headers"]["subject"].as_str().unwrap().contains(needle))
        .collect()
}
