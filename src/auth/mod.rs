//! Who is calling: merchants' API keys, and the dashboard's passwords,
//! sessions and login throttle (its accounts are `catalog::accounts`).

pub mod api_keys;
pub mod passwords;
pub mod sessions;
pub mod throttle;
