//! Email through a real SMTP server (aiosmtpd), and the worker role in
//! separate `pushbill serve` processes.

mod email;
mod email_digest;
mod email_settings;
mod webhooks_crash;
