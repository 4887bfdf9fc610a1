//! Telling merchants and customers: webhooks (delivery and the API) and the
//! email settings.

mod email_settings;
mod webhooks;
mod webhooks_api;
