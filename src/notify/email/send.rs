//! The SMTP side: builds the MIME message (multipart/alternative, text then
//! HTML) and sends it with lettre's async transport. The password is only
//! handed to lettre, never logged.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{SmtpSecurity, SmtpSettings};
use crate::store::outgoing_emails;

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// The server (or the address) refused the message for good: retrying
    /// cannot help.
    pub permanent: bool,
    pub message: String,
}

/// Sends the outbox's rows over SMTP.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of Message-IDs.
    domain: String,
}

impl Mailer {
    pub fn new(smtp: &SmtpSettings) -> Result<Mailer, String> {
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| format!("smtp.from: not a mailbox: {e}"))?;
        let domain = from.email.domain().to_owned();
        let builder = match smtp.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                    .map_err(|e| format!("smtp.host: {e}"))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| format!("smtp.host: {e}"))?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &smtp.username {
            let password = smtp
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            domain,
        })
    }

    /// The MIME message for a row. Its Message-ID is derived from the row's
    /// id, so a message sent twice (at-least-once) carries the same one.
    pub fn message(&self, row: &outgoing_emails::Model) -> Result<Message, SendError> {
        let to: Mailbox = row.to_address.parse().map_err(|e| SendError {
            permanent: true,
            message: format!("to_address: {e}"),
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .message_id(Some(format!("<{}@{}>", row.id, self.domain)))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                row.body_text.clone(),
                row.body_html.clone(),
            ))
            .map_err(|e| SendError {
                permanent: true,
                message: format!("cannot build the message: {e}"),
            })
    }

    pub async fn send(&self, row: &outgoing_emails::Model) -> Result<(), SendError> {
        let message = self.message(row)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
        }
    }
}
