//! Who is calling: merchants' API keys, and the dashboard's passwords,
//! sessions and login throttle (its accounts are `catalog::accounts`), and
//! the customer portal's sign-in links and sessions.

pub mod api_keys;
pub mod passwords;
pub mod portal;
pub mod sessions;
pub mod throttle;
