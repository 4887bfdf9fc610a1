//! Pages loaded in a real headless browser (chromium).

mod pay_page;
