//! `moat up`: the store, the snapshot reloader, the relay thread, the SMTP shards and the API,
//! in one process on the embedded default store.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use moat_core::{config::Config, policy::PolicyCache, store};

use moat_scanner::{
    ScannerContext, dmarc_reports, reload, shard, spool_report, ticker::Ticker, tls,
};

/// A running Moat.
pub struct Running {
    pub smtp_addr: SocketAddr,
    pub api_addr: SocketAddr,
    shards: shard::Shards,
    api: moat_api_sidecar::ApiServer,
    ctx: Arc<ScannerContext>,
    policy_cache: Arc<PolicyCache>,
    customer_models: Arc<reload::CustomerModels>,
    dmarc_reporter: Option<Ticker>,
    _spool_report: Ticker,
}

impl Running {
    /// `https` when the API terminates TLS itself, else `http`.
    pub fn api_scheme(&self) -> &'static str {
        if self.api.certificate.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The store the scanner writes verdicts through.
    pub fn store(&self) -> &store::SharedStore {
        &self.ctx.store
    }

    /// Blocks until the shards stop.
    pub fn wait(self) {
        self.shards.join();
        self.api.join();
    }

    /// SIGHUP: reloads domains and policies now, and the STARTTLS certificate from the
    /// configuration file at `config_path` (other settings need a restart and say so).
    pub fn reload(&self, config_path: Option<&Path>) {
        let model = self.ctx.config.spam_model_path();
        let previous = self.ctx.snapshot.load().spam_model_shared();
        match reload::load(
            &self.ctx.store,
            &model,
            previous,
            &self.policy_cache,
            &self.customer_models,
        ) {
            Ok(snapshot) => {
                tracing::info!(version = snapshot.version, "domains and policies reloaded");
                self.ctx.snapshot.store(Arc::new(snapshot));
            }
            Err(e) => tracing::error!(error = %e, "reload of domains and policies failed"),
        }
        match Config::load(config_path) {
            Ok(new) => {
                match tls::server_config(&new) {
                    Ok(tls) => {
                        self.ctx.tls.store(tls);
                        tracing::info!("STARTTLS certificate reloaded");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; keeping the current certificate")
                    }
                }
                if let Some(cert) = &self.api.certificate {
                    match cert.reload(&new) {
                        Ok(()) => tracing::info!("API certificate reloaded"),
                        Err(e) => {
                            tracing::error!(error = %e, "API certificate reload failed; keeping the current one")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "config file unreadable; nothing else reloaded"),
        }
    }

    /// SIGTERM: stop accepting, let sessions finish within `smtp.shutdown_grace_secs`, then
    /// make every queued store write durable.
    pub fn shutdown(self) {
        let grace = Duration::from_secs(self.ctx.config.smtp.shutdown_grace_secs);
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections"
        );
        self.shards.stop(grace);
        // The reporter's last flush puts the counts in the store before it is flushed.
        drop(self.dmarc_reporter);
        match futures::executor::block_on(self.ctx.store.flush()) {
            Ok(()) => tracing::info!("store flushed; bye"),
            Err(e) => tracing::error!(error = %e, "store flush failed at shutdown"),
        }
    }
}

/// Starts everything; returns once SMTP and the API are listening.
pub fn start(config: Config) -> anyhow::Result<Running> {
    let store = store::open(&config).context("opening the store")?;
    let policy_cache = Arc::new(PolicyCache::at(PolicyCache::dir_for(&config.data_dir)));
    let customer_models = Arc::new(reload::CustomerModels::new(
        config.policy.reports_per_customer,
    ));
    let reload_signal = Arc::new(moat_core::snapshot::ReloadSignal::default());
    let snapshot = reload::start(
        store.clone(),
        config.spam_model_path(),
        Duration::from_millis(config.policy.reload_interval_ms.max(50)),
        policy_cache.clone(),
        customer_models.clone(),
        reload_signal.clone(),
    )
    .context("loading domains and policies")?;
    let api =
        moat_api_sidecar::ApiServer::start(config.clone(), store.clone(), Some(reload_signal))
            .context("starting the API")?;
    let ctx = ScannerContext::new(config, store, snapshot)?;
    let shards = shard::start(ctx.clone())?;
    let dmarc_reporter =
        dmarc_reports::start(ctx.clone()).context("starting the DMARC reporter")?;
    let spool_report = spool_report::start(ctx.clone()).context("starting the spool report")?;
    Ok(Running {
        smtp_addr: shards.addr,
        api_addr: api.addr,
        shards,
        api,
        ctx,
        policy_cache,
        customer_models,
        dmarc_reporter,
        _spool_report: spool_report,
    })
}
