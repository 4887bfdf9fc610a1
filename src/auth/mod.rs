//! Who is calling: merchants' API keys, and the dashboard's users
//! (accounts, passwords, sessions, the login throttle).

pub mod accounts;
pub mod api_keys;
pub mod passwords;
pub mod sessions;
pub mod throttle;
