//! The web role's pages and probes outside /v1.

mod headers;
mod health;
