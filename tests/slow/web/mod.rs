//! Pages loaded in a real headless browser (chromium).

mod dashboard;
mod pay_page;
mod portal;
mod signup;
