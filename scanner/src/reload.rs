//! Keeps the shards' policy snapshot current: a side thread polls the store's configuration
//! version and the spam model file's modification time and, when either moved, rebuilds the
//! snapshot and swaps it in. Shards pick it up on their next message without dropping a
//! connection.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    thread,
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use moat_core::{
    StoreError,
    detect::spam::BayesModel,
    policy::PolicyCache,
    snapshot::{GatewaySnapshot, SharedSnapshot},
    store::SharedStore,
};

/// Reads the spam model; a missing file means "rules only", a damaged one keeps `previous`.
fn load_model(path: &Path, previous: Option<Arc<BayesModel>>) -> Option<Arc<BayesModel>> {
    if !path.exists() {
        return None;
    }
    match BayesModel::load(path) {
        Ok(m) => {
            let (spam, ham) = m.trained();
            tracing::info!(path = %path.display(), spam, ham, tokens = m.token_count(), usable = m.is_usable(), "spam model loaded");
            Some(Arc::new(m))
        }
        Err(e) => {
            tracing::error!(error = %e, "spam model not loaded; keeping the previous one");
            previous
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads domains, policies and the spam model and builds a snapshot.
pub fn load(
    store: &SharedStore,
    model_path: &Path,
    previous_model: Option<Arc<BayesModel>>,
    cache: &PolicyCache,
) -> Result<GatewaySnapshot, StoreError> {
    let snapshot = futures::executor::block_on(async {
        let version = store.config_version().await?;
        let domains = store.all_domains().await?;
        let policies = store.all_policies().await?;
        let rules = store.all_sender_rules().await?;
        Ok::<_, StoreError>(GatewaySnapshot::build(
            version, domains, policies, rules, cache,
        ))
    })?;
    Ok(snapshot.with_spam_model(load_model(model_path, previous_model)))
}

/// Loads the first snapshot and starts the reloader thread.
pub fn start(
    store: SharedStore,
    model_path: PathBuf,
    interval: Duration,
    cache: Arc<PolicyCache>,
) -> Result<SharedSnapshot, StoreError> {
    let first = load(&store, &model_path, None, &cache)?;
    let shared: SharedSnapshot = Arc::new(ArcSwap::from_pointee(first));
    let handle = shared.clone();
    let mut model_seen = modified(&model_path);
    thread::Builder::new()
        .name("moat-reload".into())
        .spawn(move || {
            loop {
                thread::sleep(interval);
                let current = handle.load();
                let model_now = modified(&model_path);
                let model_changed = model_now != model_seen;
                match futures::executor::block_on(store.config_version()) {
                    Ok(v) if v != current.version || model_changed => {
                        match load(&store, &model_path, current.spam_model_shared(), &cache) {
                            Ok(snap) => {
                                tracing::info!(version = snap.version, domains = snap.domain_count(), "policy snapshot reloaded");
                                drop(current);
                                handle.store(Arc::new(snap));
                                model_seen = model_now;
                                // The previous snapshot's sets are gone now (shards drop their
                                // guards per message); archives nobody uses age out.
                                cache.prune();
                            }
                            Err(e) => tracing::warn!(error = %e, "snapshot reload failed; keeping the current one"),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read config version"),
                }
            }
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(shared)
}
