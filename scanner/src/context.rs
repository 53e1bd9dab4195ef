//! What every shard shares: configuration, the store handle, the policy snapshot and the relay.

use std::sync::Arc;

use moat_core::{config::Config, snapshot::SharedSnapshot, store::SharedStore};

use crate::relay::RelayHandle;

/// Shared, thread-safe state of a running scanner.
pub struct ScannerContext {
    pub config: Config,
    pub store: SharedStore,
    pub snapshot: SharedSnapshot,
    pub relay: RelayHandle,
}

impl ScannerContext {
    pub fn new(
        config: Config,
        store: SharedStore,
        snapshot: SharedSnapshot,
    ) -> std::io::Result<Arc<Self>> {
        let relay = RelayHandle::start(
            config.hostname.clone(),
            std::time::Duration::from_secs(config.relay.timeout_secs),
        )?;
        Ok(Arc::new(ScannerContext {
            config,
            store,
            snapshot,
            relay,
        }))
    }
}
