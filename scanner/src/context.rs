//! What every shard shares: configuration, the store handle, the policy snapshot, the relay,
//! the STARTTLS configuration and the per-client-IP connection counts.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use arc_swap::ArcSwapOption;
use moat_core::{config::Config, snapshot::SharedSnapshot, store::SharedStore};

use crate::{auth::AuthHandle, relay::RelayHandle, spool::Spool};

/// Shared, thread-safe state of a running scanner.
pub struct ScannerContext {
    pub config: Config,
    pub store: SharedStore,
    pub snapshot: SharedSnapshot,
    pub relay: RelayHandle,
    /// SPF, DKIM, ARC and DMARC (`None` when `auth.enabled` is false).
    pub auth: Option<AuthHandle>,
    /// ClamAV (`None` unless `malware.clamd` is set).
    pub clamd: Option<crate::clamd::ClamdHandle>,
    /// Archive inspection threads.
    pub inspect: crate::inspect::InspectHandle,
    /// SpamAssassin's rule set (`None`: disabled or not installed).
    pub spamassassin: Option<Arc<moat_core::detect::sa::SaEngine>>,
    /// STARTTLS configuration; swapped on SIGHUP so renewed certificates apply at once.
    pub tls: ArcSwapOption<rustls::ServerConfig>,
    pub spool: Spool,
    /// DMARC aggregate report counts (`None` unless `dmarc_reports.enabled` and auth is on).
    pub dmarc_reports: Option<Arc<moat_core::auth::dmarc_report::Collector>>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Holds one connection slot of a client IP; gives it back when dropped.
pub struct IpSlot {
    ctx: Arc<ScannerContext>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.ctx.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl ScannerContext {
    pub fn new(
        config: Config,
        store: SharedStore,
        snapshot: SharedSnapshot,
    ) -> anyhow::Result<Arc<Self>> {
        let relay = RelayHandle::start(&config)?;
        let auth = if config.auth.enabled {
            Some(AuthHandle::start(&config)?)
        } else {
            None
        };
        let clamd = crate::clamd::ClamdHandle::start(&config)?;
        let inspect = crate::inspect::InspectHandle::start(&config)?;
        let spamassassin = moat_core::detect::sa::load_configured(&config)
            .context("loading SpamAssassin's rules")?
            .map(Arc::new);
        let tls = crate::tls::server_config(&config)?;
        let spool =
            Spool::start(&config, relay.runtime(), relay.relay()).context("opening the spool")?;
        let config_reports_on = config.dmarc_reports.enabled && auth.is_some();
        if config.dmarc_reports.enabled && auth.is_none() {
            tracing::warn!("dmarc_reports.enabled needs [auth] enabled; no DMARC reports");
        }
        Ok(Arc::new(ScannerContext {
            config,
            store,
            snapshot,
            relay,
            auth,
            clamd,
            inspect,
            spamassassin,
            tls: ArcSwapOption::new(tls),
            spool,
            dmarc_reports: (config_reports_on)
                .then(|| Arc::new(moat_core::auth::dmarc_report::Collector::default())),
            per_ip: Mutex::new(HashMap::new()),
        }))
    }

    /// Takes a connection slot for `ip`, or `None` when the client is at its limit.
    pub fn acquire_ip_slot(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.config.smtp.max_connections_per_ip {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            ctx: self.clone(),
            ip,
        })
    }
}
