//! The web role's pages and probes outside /v1.

mod dashboard;
mod error_pages;
mod headers;
mod health;
mod portal;
mod signup;
