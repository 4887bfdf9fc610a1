//! What every role takes: the database, the clocks and the settings. A leaf:
//! it imports no role, so roles depend on it and never on `app`.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::Clocks;
use crate::config::Settings;
use crate::nwc::seal::SealKey;

#[derive(Clone, Debug)]
pub struct Context {
    pub db: DatabaseConnection,
    /// The deployment's time (`clocks.now()`) and each merchant's billing
    /// time (`clocks.now_for(..)`), which differ only in the sandbox.
    pub clocks: Clocks,
    pub settings: Arc<Settings>,
    /// Seals and opens wallet connection secrets (`[nwc]`).
    pub seal: SealKey,
}
