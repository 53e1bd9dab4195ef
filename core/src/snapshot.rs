//! The scanner's read path: an immutable snapshot of protected domains and compiled policies,
//! swapped atomically (`ArcSwap`) when the store's configuration version changes. Shards read it
//! without locks and never query the store on the SMTP path.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwap;

use crate::{
    detect::spam::BayesModel,
    model::{Domain, Policy, SenderRule},
    policy::{PolicyCache, PolicySet},
};

/// Everything a shard needs to route and judge a recipient.
#[derive(Debug, Default)]
pub struct GatewaySnapshot {
    /// The store's configuration version this snapshot was built from.
    pub version: i64,
    domains: HashMap<String, Arc<Domain>>,
    policy_sets: HashMap<String, Arc<PolicySet>>,
    empty: Arc<PolicySet>,
    /// Sender rules by domain id, block rules first.
    sender_rules: HashMap<String, Vec<SenderRule>>,
    /// The trained spam model, when there is one.
    spam_model: Option<Arc<BayesModel>>,
    /// Each customer's own model, learnt from its reports (added to the gateway's for its
    /// mail only, so no customer's reports move another's verdicts).
    customer_models: HashMap<String, Arc<BayesModel>>,
}

impl GatewaySnapshot {
    /// Builds a snapshot. A customer whose policies do not compile keeps no policies and the
    /// failure is logged; the API refuses such policies, so this only guards hand-edited stores.
    /// Hyperscan databases come from `cache` when it holds them (see [`PolicyCache`]).
    pub fn build(
        version: i64,
        domains: Vec<Domain>,
        policies: Vec<Policy>,
        rules: Vec<SenderRule>,
        cache: &PolicyCache,
    ) -> Self {
        let mut sender_rules: HashMap<String, Vec<SenderRule>> = HashMap::new();
        for r in rules {
            sender_rules.entry(r.domain_id.clone()).or_default().push(r);
        }
        for list in sender_rules.values_mut() {
            // Block before allow: a sender both blocked and allowed is blocked.
            list.sort_by_key(|r| r.kind != crate::model::SenderRuleKind::Block);
        }
        let mut by_customer: HashMap<String, Vec<Policy>> = HashMap::new();
        for p in policies {
            by_customer
                .entry(p.customer_id.clone())
                .or_default()
                .push(p);
        }
        let policy_sets = by_customer
            .into_iter()
            .filter_map(|(customer, ps)| match PolicySet::compile_cached(&ps, cache) {
                Ok(set) => Some((customer, Arc::new(set))),
                Err(e) => {
                    tracing::error!(customer = %customer, error = %e, "policies do not compile; none applied");
                    None
                }
            })
            .collect();
        GatewaySnapshot {
            version,
            // Only domains whose ownership is proven take mail: a pending domain is a claim
            // anyone can make. Sandbox domains (made with test tokens) hold configuration
            // only, so nothing of a sandbox reaches a real server.
            domains: domains
                .into_iter()
                .filter(|d| {
                    d.status == crate::model::DomainStatus::Active
                        && crate::tenancy::sends_mail(&d.customer_id)
                })
                .map(|d| (d.name.clone(), Arc::new(d)))
                .collect(),
            policy_sets,
            empty: Arc::new(PolicySet::default()),
            sender_rules,
            spam_model: None,
            customer_models: HashMap::new(),
        }
    }

    /// The snapshot with customers' own models.
    pub fn with_customer_models(mut self, models: HashMap<String, Arc<BayesModel>>) -> Self {
        self.customer_models = models;
        self
    }

    /// A customer's own model, when its reports made one.
    pub fn customer_model(&self, customer_id: &str) -> Option<&BayesModel> {
        self.customer_models.get(customer_id).map(|m| &**m)
    }

    /// Whether any customer has its own model (then messages keep their tokens).
    pub fn has_customer_models(&self) -> bool {
        !self.customer_models.is_empty()
    }

    /// The snapshot with a spam model.
    pub fn with_spam_model(mut self, model: Option<Arc<BayesModel>>) -> Self {
        self.spam_model = model;
        self
    }

    pub fn spam_model(&self) -> Option<&BayesModel> {
        self.spam_model.as_deref()
    }

    /// The model shared, to carry into the next snapshot.
    pub fn spam_model_shared(&self) -> Option<Arc<BayesModel>> {
        self.spam_model.clone()
    }

    /// A domain's sender rules (expired ones included; check [`SenderRule::is_live`]), block
    /// rules first.
    pub fn sender_rules(&self, domain_id: &str) -> &[SenderRule] {
        self.sender_rules.get(domain_id).map_or(&[], Vec::as_slice)
    }

    /// The protected domain an address's domain part belongs to (exact match, case-insensitive).
    pub fn domain(&self, domain: &str) -> Option<&Arc<Domain>> {
        let lower = domain.trim_end_matches('.').to_ascii_lowercase();
        self.domains.get(&lower)
    }

    /// The compiled policies of a customer (an empty set when it has none).
    pub fn policies(&self, customer_id: &str) -> &Arc<PolicySet> {
        self.policy_sets.get(customer_id).unwrap_or(&self.empty)
    }

    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }
}

/// The shared, swappable snapshot.
pub type SharedSnapshot = Arc<ArcSwap<GatewaySnapshot>>;

/// How a writer in the same process as the scanner (`moat up` runs the API in-process) gets
/// read-your-writes: it asks the reloader to look now instead of at its next tick, then waits
/// until the snapshot in force was built from a configuration version at least as new as its
/// write. A policy the API answered `201` for then acts on the next message, not a second later.
#[derive(Debug, Default)]
pub struct ReloadSignal {
    state: std::sync::Mutex<ReloadState>,
    changed: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct ReloadState {
    requested: bool,
    applied: i64,
}

impl ReloadSignal {
    fn state(&self) -> std::sync::MutexGuard<'_, ReloadState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the reloader to compare versions now.
    pub fn request(&self) {
        self.state().requested = true;
        self.changed.notify_all();
    }

    /// For the reloader: waits up to `timeout` for a request; true when one came (and takes it).
    pub fn wait_for_request(&self, timeout: std::time::Duration) -> bool {
        let guard = self.state();
        let (mut guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| !s.requested)
            .unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut guard.requested)
    }

    /// For the reloader: the snapshot in force was built from `version`.
    pub fn applied(&self, version: i64) {
        let mut s = self.state();
        s.applied = s.applied.max(version);
        drop(s);
        self.changed.notify_all();
    }

    /// The newest configuration version the snapshot in force was built from.
    pub fn applied_version(&self) -> i64 {
        self.state().applied
    }
}

#[cfg(test)]
mod reload_signal_tests {
    use super::ReloadSignal;
    use std::{sync::Arc, time::Duration};

    #[test]
    fn a_request_wakes_the_reloader_and_applied_versions_only_grow() {
        let signal = Arc::new(ReloadSignal::default());
        assert!(!signal.wait_for_request(Duration::from_millis(10)));
        let waiter = {
            let signal = signal.clone();
            std::thread::spawn(move || signal.wait_for_request(Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(20));
        signal.request();
        assert!(waiter.join().expect("joined"));
        // Taken: the next wait times out.
        assert!(!signal.wait_for_request(Duration::from_millis(10)));
        signal.applied(7);
        signal.applied(3);
        assert_eq!(signal.applied_version(), 7);
    }
}
