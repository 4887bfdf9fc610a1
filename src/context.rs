//! What every role takes: the database, the clock and the settings. A leaf:
//! it imports no role, so roles depend on it and never on `app`.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::{SharedClock, TestClock};
use crate::config::Settings;

#[derive(Clone, Debug)]
pub struct Context {
    pub db: DatabaseConnection,
    pub clock: SharedClock,
    /// Set when the clock is the sandbox's test clock, which can be advanced.
    pub test_clock: Option<Arc<TestClock>>,
    pub settings: Arc<Settings>,
}
