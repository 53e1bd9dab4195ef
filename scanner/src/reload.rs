//! Keeps the shards' policy snapshot current: a side thread polls the store's configuration
//! version and the spam model file's modification time and, when either moved, rebuilds the
//! snapshot and swaps it in. Shards pick it up on their next message without dropping a
//! connection.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use moat_core::{
    StoreError,
    detect::spam::{BayesModel, Trainer},
    policy::PolicyCache,
    snapshot::{GatewaySnapshot, ReloadSignal, SharedSnapshot},
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

/// Each customer's own spam model, learnt from its reports and rebuilt only when its reports
/// changed since the last snapshot.
#[derive(Default)]
pub struct CustomerModels {
    /// Customer id → (when its reports last changed, its model).
    known: Mutex<HashMap<String, (i64, Arc<BayesModel>)>>,
    /// Reports a model learns from (the newest).
    limit: u32,
}

impl CustomerModels {
    pub fn new(limit: u32) -> Self {
        CustomerModels {
            known: Mutex::default(),
            limit: limit.max(1),
        }
    }

    /// The current models, rebuilding those whose reports changed.
    async fn refresh(
        &self,
        store: &SharedStore,
    ) -> Result<HashMap<String, Arc<BayesModel>>, StoreError> {
        let heads = store.spam_report_heads().await?;
        let mut out = HashMap::with_capacity(heads.len());
        for (customer, head) in heads {
            let cached = self
                .known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&customer)
                .filter(|(h, _)| *h == head)
                .map(|(_, m)| m.clone());
            let model = match cached {
                Some(m) => m,
                None => {
                    let mut trainer = Trainer::new();
                    for r in store.spam_reports(&customer, self.limit).await? {
                        trainer.learn(&r.tokens, r.spam);
                    }
                    let model = Arc::new(trainer.build_all());
                    self.known
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(customer.clone(), (head, model.clone()));
                    model
                }
            };
            out.insert(customer, model);
        }
        Ok(out)
    }
}

/// Reads domains, policies, customers' models and the spam model and builds a snapshot.
pub fn load(
    store: &SharedStore,
    model_path: &Path,
    previous_model: Option<Arc<BayesModel>>,
    cache: &PolicyCache,
    customer_models: &CustomerModels,
) -> Result<GatewaySnapshot, StoreError> {
    let snapshot = futures::executor::block_on(async {
        let version = store.config_version().await?;
        let domains = store.all_domains().await?;
        let policies = store.all_policies().await?;
        let rules = store.all_sender_rules().await?;
        let models = customer_models.refresh(store).await?;
        Ok::<_, StoreError>(
            GatewaySnapshot::build(version, domains, policies, rules, cache)
                .with_customer_models(models),
        )
    })?;
    Ok(snapshot.with_spam_model(load_model(model_path, previous_model)))
}

/// Loads the first snapshot and starts the reloader thread, which looks every `interval` and
/// whenever `signal` asks (an in-process writer that wants its change in force at once).
pub fn start(
    store: SharedStore,
    model_path: PathBuf,
    interval: Duration,
    cache: Arc<PolicyCache>,
    customer_models: Arc<CustomerModels>,
    signal: Arc<ReloadSignal>,
) -> Result<SharedSnapshot, StoreError> {
    let first = load(&store, &model_path, None, &cache, &customer_models)?;
    signal.applied(first.version);
    let shared: SharedSnapshot = Arc::new(ArcSwap::from_pointee(first));
    let handle = shared.clone();
    let mut model_seen = modified(&model_path);
    thread::Builder::new()
        .name("moat-reload".into())
        .spawn(move || {
            loop {
                signal.wait_for_request(interval);
                let current = handle.load();
                let model_now = modified(&model_path);
                let model_changed = model_now != model_seen;
                match futures::executor::block_on(store.config_version()) {
                    Ok(v) if v != current.version || model_changed => {
                        match load(
                            &store,
                            &model_path,
                            current.spam_model_shared(),
                            &cache,
                            &customer_models,
                        ) {
                            Ok(snap) => {
                                tracing::info!(version = snap.version, domains = snap.domain_count(), "policy snapshot reloaded");
                                drop(current);
                                let version = snap.version;
                                handle.store(Arc::new(snap));
                                signal.applied(version);
                                model_seen = model_now;
                                // The previous snapshot's sets are gone now (shards drop their
                                // guards per message); archives nobody uses age out.
                                cache.prune();
                            }
                            Err(e) => tracing::warn!(error = %e, "snapshot reload failed; keeping the current one"),
                        }
                    }
                    Ok(v) => signal.applied(v),
                    Err(e) => tracing::warn!(error = %e, "cannot read config version"),
                }
            }
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(shared)
}
