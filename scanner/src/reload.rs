//! Keeps the shards' policy snapshot current: a side thread polls the store's configuration
//! version and, when it moved, rebuilds the snapshot and swaps it in. Shards pick it up on their
//! next message without dropping a connection.

use std::{sync::Arc, thread, time::Duration};

use arc_swap::ArcSwap;
use moat_core::{
    StoreError,
    snapshot::{GatewaySnapshot, SharedSnapshot},
    store::SharedStore,
};

/// Reads domains and policies and builds a snapshot.
pub fn load(store: &SharedStore) -> Result<GatewaySnapshot, StoreError> {
    futures::executor::block_on(async {
        let version = store.config_version().await?;
        let domains = store.all_domains().await?;
        let policies = store.all_policies().await?;
        let rules = store.all_sender_rules().await?;
        Ok(GatewaySnapshot::build(version, domains, policies, rules))
    })
}

/// Loads the first snapshot and starts the reloader thread.
pub fn start(store: SharedStore, interval: Duration) -> Result<SharedSnapshot, StoreError> {
    let shared: SharedSnapshot = Arc::new(ArcSwap::from_pointee(load(&store)?));
    let handle = shared.clone();
    thread::Builder::new()
        .name("moat-reload".into())
        .spawn(move || {
            loop {
                thread::sleep(interval);
                let current = handle.load().version;
                match futures::executor::block_on(store.config_version()) {
                    Ok(v) if v != current => match load(&store) {
                        Ok(snap) => {
                            tracing::info!(version = snap.version, domains = snap.domain_count(), "policy snapshot reloaded");
                            handle.store(Arc::new(snap));
                        }
                        Err(e) => tracing::warn!(error = %e, "snapshot reload failed; keeping the current one"),
                    },
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read config version"),
                }
            }
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(shared)
}
