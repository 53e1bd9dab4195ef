//! Read-your-writes for configuration: when the API runs inside `moat up`, a write that changed
//! domains, policies or sender rules is answered only once the scanner's snapshot carries it, so
//! a script that creates a policy and sends a message at once sees the policy act. A separate
//! `moat api` process has no scanner beside it; there, changes act within
//! `policy.reload_interval_ms` (documented in the config example).

use std::{sync::Arc, time::Duration};

use moat_core::{snapshot::ReloadSignal, store::SharedStore};

/// The longest a write's answer waits for the scanner; past it the answer goes out anyway (the
/// write is committed and the reloader keeps trying) and a warning is logged.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// Waits until the scanner's snapshot is at least as new as the store's configuration version.
/// A write that did not change configuration (a quarantine release, a token) waits for nothing.
pub async fn settle(store: &SharedStore, signal: &Arc<ReloadSignal>) {
    let version = match store.config_version().await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the configuration version after a write");
            return;
        }
    };
    if signal.applied_version() >= version {
        return;
    }
    signal.request();
    let deadline = std::time::Instant::now() + MAX_WAIT;
    while signal.applied_version() < version {
        if std::time::Instant::now() >= deadline {
            tracing::warn!(
                version,
                applied = signal.applied_version(),
                "the scanner has not applied a configuration change yet; answering anyway"
            );
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
}
