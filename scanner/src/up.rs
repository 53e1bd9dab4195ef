//! `moat up`: the store, the snapshot reloader, the relay thread, the SMTP shards and the API,
//! in one process on the embedded default store.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use moat_core::{config::Config, store};

use crate::{ScannerContext, reload, shard};

/// A running Moat.
pub struct Running {
    pub smtp_addr: SocketAddr,
    pub api_addr: SocketAddr,
    shards: shard::Shards,
    api: moat_api::ApiServer,
}

impl Running {
    /// Blocks until the process is asked to stop (the shards run until then).
    pub fn wait(self) {
        self.shards.join();
        self.api.join();
    }
}

/// Starts everything; returns once SMTP and the API are listening.
pub fn start(config: Config) -> anyhow::Result<Running> {
    let store = store::open(&config).context("opening the store")?;
    let snapshot = reload::start(
        store.clone(),
        Duration::from_millis(config.policy.reload_interval_ms.max(50)),
    )
    .context("loading domains and policies")?;
    let api =
        moat_api::ApiServer::start(config.clone(), store.clone()).context("starting the API")?;
    let ctx = ScannerContext::new(config, store, snapshot)?;
    let shards = shard::start(ctx)?;
    Ok(Running {
        smtp_addr: shards.addr,
        api_addr: api.addr,
        shards,
        api,
    })
}
