//! Who is calling: merchants' API keys.

pub mod api_keys;
