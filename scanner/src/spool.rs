//! The spool: accepted mail for `spool`-mode domains is written to `data_dir/spool/queue/` (write
//! to `tmp/`, fsync, atomic rename, fsync the directory, as Postfix and OpenSMTPD do) before the
//! client gets `250`, then relayed by delivery tasks with retries and exponential backoff.
//!
//! File IO runs on a few plain threads (the shards hand them the buffer and get it back, so
//! nothing is copied); delivery runs on the relay's tokio runtime. On start every file left in
//! `queue/` is delivered or retried, and half-written files in `tmp/` (the client never got
//! `250` for them) are removed. Messages that the real server refuses permanently, or that are
//! still undelivered after `max_age_secs`, are moved to `failed/` and logged: never dropped.

use std::{
    collections::HashMap,
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use futures::channel::oneshot;
pub use moat_core::spoolfile::{SpoolEnvelope, decode};
use moat_core::{
    config::{Config, SpoolConfig},
    dsn::{self, FailedRecipient},
    message::domain_of,
    metrics::metrics,
    relay::{Envelope, MailOptions, Relay, RelayOutcome},
    spoolfile::header,
    time::{now_ms, rfc5322},
};
use tokio::sync::{Semaphore, mpsc};

use crate::mx::{MxResolver, MxRoute};

struct WriteJob {
    env: SpoolEnvelope,
    body: Vec<u8>,
    reply: oneshot::Sender<(io::Result<()>, Vec<u8>)>,
}

struct Queued {
    env: SpoolEnvelope,
    body: Option<Vec<u8>>,
}

struct Dirs {
    queue: PathBuf,
    tmp: PathBuf,
    failed: PathBuf,
}

impl Dirs {
    fn file(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.msg"))
    }
}

/// The spool: durable writes for shards and the delivery tasks behind them.
pub struct Spool {
    dirs: Arc<Dirs>,
    writers: flume::Sender<WriteJob>,
    deliveries: mpsc::UnboundedSender<Queued>,
    /// Messages in the spool: id → accepted at (ms).
    pending: Arc<Mutex<HashMap<String, i64>>>,
}

fn write_file(dirs: &Dirs, env: &SpoolEnvelope, body: &[u8]) -> io::Result<()> {
    let tmp = dirs.tmp.join(format!("{}.tmp", env.id));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&header(env)?)?;
        f.write_all(body)?;
        f.sync_all()?;
        fs::rename(&tmp, dirs.file(&env.id))?;
        File::open(&dirs.queue)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Deletes files in `dir` last modified more than `older_than` ago; returns how many.
pub fn prune_failed(dir: &Path, older_than: Duration) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    entries
        .flatten()
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > older_than))
        })
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Spool {
    /// Opens the spool under `config.data_dir`, starts its writer threads and delivery manager
    /// on `runtime`, and queues every message left from a previous run.
    pub fn start(
        config: &Config,
        runtime: &tokio::runtime::Handle,
        relay: Arc<Relay>,
    ) -> io::Result<Spool> {
        let root = config.data_dir.join("spool");
        let dirs = Arc::new(Dirs {
            queue: root.join("queue"),
            tmp: root.join("tmp"),
            failed: root.join("failed"),
        });
        for d in [&dirs.queue, &dirs.tmp, &dirs.failed] {
            fs::create_dir_all(d)?;
        }
        // The client never got 250 for a file still in tmp/: it is not ours to deliver.
        for entry in fs::read_dir(&dirs.tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        let (wtx, wrx) = flume::unbounded::<WriteJob>();
        for i in 0..config.spool.writers.max(1) {
            let (rx, dirs) = (wrx.clone(), dirs.clone());
            thread::Builder::new()
                .name(format!("moat-spool-{i}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let result = write_file(&dirs, &job.env, &job.body);
                        let _ = job.reply.send((result, job.body));
                    }
                })?;
        }
        let (dtx, drx) = mpsc::unbounded_channel();
        let pending = Arc::new(Mutex::new(HashMap::new()));
        let manager = Manager {
            dirs: dirs.clone(),
            resubmit: dtx.clone(),
            config: config.spool.clone(),
            helo: config.hostname.clone(),
            pending: pending.clone(),
            permits: Arc::new(Semaphore::new(config.spool.concurrency.max(1))),
            sts: Arc::new(relay.mta_sts_fetcher()),
            relay,
            mx: match MxResolver::new(config, runtime) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(error = %e, "no DNS resolver: DSNs need spool.dsn_relay");
                    None
                }
            },
        };
        runtime.spawn(manager.run(drx));
        // spool/failed/ keeps what could not be delivered for the operator, not forever.
        let failed = dirs.failed.clone();
        let retention = Duration::from_secs(u64::from(config.spool.failed_retention_days) * 86_400);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let failed = failed.clone();
                let pruned = tokio::task::spawn_blocking(move || prune_failed(&failed, retention))
                    .await
                    .unwrap_or(0);
                if pruned > 0 {
                    tracing::info!(files = pruned, "old messages removed from spool/failed/");
                }
            }
        });
        // The spool's depth and oldest age, refreshed for /metrics every second.
        let gauges = pending.clone();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let (depth, oldest) = {
                    let p = lock(&gauges);
                    (p.len(), p.values().min().copied())
                };
                let m = metrics();
                m.spool_depth.set(depth as i64);
                m.spool_oldest_age
                    .set(oldest.map_or(0, |t| (now_ms() - t).max(0) / 1000));
            }
        });
        let spool = Spool {
            dirs,
            writers: wtx,
            deliveries: dtx,
            pending,
        };
        spool.recover()?;
        Ok(spool)
    }

    /// Queues every message found in `queue/` for delivery.
    fn recover(&self) -> io::Result<()> {
        let mut found = 0;
        for entry in fs::read_dir(&self.dirs.queue)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("msg") {
                continue;
            }
            match fs::read(&path).and_then(|b| decode(&b).map(|(env, _)| env)) {
                Ok(env) => {
                    found += 1;
                    self.submit(env, None);
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "unreadable spool file moved to failed/");
                    if let Some(name) = path.file_name() {
                        let _ = fs::rename(&path, self.dirs.failed.join(name));
                    }
                }
            }
        }
        if found > 0 {
            tracing::info!(
                messages = found,
                "spooled messages from a previous run queued for delivery"
            );
        }
        Ok(())
    }

    /// Writes a message durably. Resolves once it is fsynced and renamed into the queue,
    /// giving the buffer back.
    pub fn write(
        &self,
        env: SpoolEnvelope,
        body: Vec<u8>,
    ) -> impl Future<Output = (io::Result<()>, Vec<u8>)> + use<> {
        let (tx, rx) = oneshot::channel();
        let sent = self.writers.send(WriteJob {
            env,
            body,
            reply: tx,
        });
        async move {
            if let Err(flume::SendError(job)) = sent {
                return (Err(io::Error::other("spool writers stopped")), job.body);
            }
            rx.await
                .unwrap_or_else(|_| (Err(io::Error::other("spool writer stopped")), Vec::new()))
        }
    }

    /// Removes a spooled message that will not be answered with 250 after all.
    pub fn discard(&self, id: &str) {
        let _ = fs::remove_file(self.dirs.file(id));
    }

    /// Hands a durably written message to delivery (`body` saves re-reading the file).
    pub fn submit(&self, env: SpoolEnvelope, body: Option<Vec<u8>>) {
        lock(&self.pending).insert(env.id.clone(), env.created_at);
        let _ = self.deliveries.send(Queued { env, body });
    }

    /// Messages waiting in the spool.
    pub fn depth(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Age in milliseconds of the oldest message waiting, 0 when empty.
    pub fn oldest_age_ms(&self) -> i64 {
        lock(&self.pending)
            .values()
            .min()
            .map_or(0, |t| (now_ms() - t).max(0))
    }

    /// The spool's queue directory (for tests and admin tools).
    pub fn queue_dir(&self) -> &Path {
        &self.dirs.queue
    }
}

struct Manager {
    dirs: Arc<Dirs>,
    /// Back into the manager, for DSNs.
    resubmit: mpsc::UnboundedSender<Queued>,
    config: SpoolConfig,
    helo: String,
    pending: Arc<Mutex<HashMap<String, i64>>>,
    /// Deliveries in flight at once (taken after the destination's own slot).
    permits: Arc<Semaphore>,
    relay: Arc<Relay>,
    /// Routes `mx:<domain>` targets (DSNs without a `dsn_relay`).
    mx: Option<MxResolver>,
    /// MTA-STS policies of the domains DSNs go to.
    sts: Arc<moat_core::relay::mta_sts::Fetcher>,
}

impl Manager {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Queued>) {
        let this = Arc::new(self);
        while let Some(q) = rx.recv().await {
            tokio::spawn(this.clone().deliver_until_done(q));
        }
    }

    fn finish(&self, id: &str, to_failed: bool) {
        let path = self.dirs.file(id);
        if to_failed {
            let _ = fs::rename(&path, self.dirs.failed.join(format!("{id}.msg")));
        } else {
            let _ = fs::remove_file(&path);
        }
        lock(&self.pending).remove(id);
    }

    /// Sends a DSN for a message that will not be delivered: spooled like any message, from
    /// `<>` to the original sender, through `spool.dsn_relay`. Never for a `<>` sender.
    async fn bounce(&self, env: &SpoolEnvelope, status: &str, diagnostic: &str, original: &[u8]) {
        if env.mail_from.is_empty() {
            return;
        }
        let relay = match &self.config.dsn_relay {
            Some(relay) => relay.clone(),
            None => format!("mx:{}", domain_of(&env.mail_from)),
        };
        let failed: Vec<FailedRecipient> = env
            .rcpts
            .iter()
            .map(|r| FailedRecipient {
                address: r.clone(),
                status: status.to_string(),
                diagnostic: diagnostic.to_string(),
            })
            .collect();
        let body = dsn::build(
            &self.helo,
            &env.mail_from,
            &env.host,
            &rfc5322(env.created_at),
            &failed,
            original,
        );
        let dsn_env = SpoolEnvelope {
            id: format!("{}-dsn", env.id),
            queue_id: env.queue_id.clone(),
            created_at: now_ms(),
            mail_from: String::new(),
            rcpts: vec![env.mail_from.clone()],
            host: relay,
            smtputf8: env.smtputf8,
            eight_bit: true,
            customers: env.customers.clone(),
            tls: Default::default(),
            allow_internal: false,
        };
        let dirs = self.dirs.clone();
        let (written_env, body) = (dsn_env.clone(), body);
        let written = tokio::task::spawn_blocking(move || {
            write_file(&dirs, &written_env, &body).map(|()| body)
        })
        .await;
        match written {
            Ok(Ok(body)) => {
                tracing::info!(queue_id = %env.queue_id, sender = %env.mail_from, "DSN queued");
                lock(&self.pending).insert(dsn_env.id.clone(), dsn_env.created_at);
                let _ = self.resubmit.send(Queued {
                    env: dsn_env,
                    body: Some(body),
                });
            }
            Ok(Err(e)) => tracing::error!(queue_id = %env.queue_id, error = %e, "cannot spool DSN"),
            Err(e) => tracing::error!(queue_id = %env.queue_id, error = %e, "DSN writer failed"),
        }
    }

    /// The domain's MTA-STS policy in force: fetched when its record's id is new, the cached
    /// one otherwise (or when a fetch fails); `None` without one.
    async fn mta_sts(
        &self,
        mx: &MxResolver,
        domain: &str,
    ) -> Option<moat_core::relay::mta_sts::Policy> {
        let id = mx.mta_sts_id(domain).await;
        let sts = self.sts.clone();
        let name = domain.to_string();
        let fetched = tokio::task::spawn_blocking(move || sts.policy(&name, id.as_deref())).await;
        match fetched {
            Ok(Ok(policy)) => policy,
            Ok(Err(why)) => {
                tracing::warn!(domain, error = %why, "MTA-STS policy not fetched");
                self.sts.cached(domain)
            }
            Err(_) => self.sts.cached(domain),
        }
    }

    /// One delivery attempt: to the spooled host, or for `mx:<domain>` to each MX target in
    /// turn until one takes or refuses the message. A destination's own slot is waited for
    /// before one of the spool's, so a slow destination never holds slots others could use.
    async fn send(&self, env: &SpoolEnvelope, bytes: &[u8]) -> RelayOutcome {
        let options = MailOptions {
            smtputf8: env.smtputf8,
            eight_bit: env.eight_bit,
        };
        let routes = match env.host.strip_prefix("mx:") {
            None => vec![env.route()],
            Some(domain) => {
                let Some(mx) = &self.mx else {
                    return RelayOutcome::TempFail("no DNS resolver for MX look-ups".into());
                };
                match mx.route(domain).await {
                    Ok(MxRoute::Hosts(t)) => {
                        let policy = self.mta_sts(mx, domain).await;
                        match moat_core::relay::mta_sts::routes(domain, t, policy.as_ref()) {
                            Ok(routes) => routes,
                            Err(why) => return RelayOutcome::TempFail(why),
                        }
                    }
                    Ok(MxRoute::NullMx) => {
                        return RelayOutcome::PermFail {
                            code: 556,
                            status: "5.1.10".into(),
                            text: format!("{domain} accepts no mail (null MX)"),
                        };
                    }
                    Err(e) => return RelayOutcome::TempFail(format!("MX look-up: {e}")),
                }
            }
        };
        let envelope = Envelope {
            mail_from: &env.mail_from,
            rcpts: &env.rcpts,
            body: bytes,
            options,
        };
        // A destination busy with other deliveries is waited for at most this long, then the
        // message is retried later like any temporary failure.
        let wait = Duration::from_secs(self.config.retry_initial_secs.max(1)) * 4;
        let mut outcome = RelayOutcome::TempFail(format!("{}: no delivery target", env.host));
        for route in routes {
            outcome = self
                .relay
                .deliver_queued(&route, envelope, wait, Some(&self.permits))
                .await;
            if !matches!(outcome, RelayOutcome::TempFail(_)) {
                break;
            }
        }
        outcome
    }

    async fn deliver_until_done(self: Arc<Self>, q: Queued) {
        let env = q.env;
        let mut body = q.body;
        let mut wait = Duration::from_secs(self.config.retry_initial_secs.max(1));
        let max_wait = Duration::from_secs(self.config.retry_max_secs.max(1));
        loop {
            let bytes = match body.take() {
                Some(b) => b,
                None => match tokio::fs::read(self.dirs.file(&env.id)).await {
                    Ok(file) => match decode(&file) {
                        Ok((_, msg)) => msg.to_vec(),
                        Err(e) => {
                            tracing::error!(spool_id = %env.id, error = %e, "corrupt spool file moved to failed/");
                            self.finish(&env.id, true);
                            return;
                        }
                    },
                    Err(e) => {
                        tracing::error!(spool_id = %env.id, error = %e, "spool file vanished");
                        lock(&self.pending).remove(&env.id);
                        return;
                    }
                },
            };
            let outcome = self.send(&env, &bytes).await;
            metrics()
                .relay
                .with_label_values(&["spool", outcome.label()])
                .inc();
            match outcome {
                RelayOutcome::Delivered { reply, tls } => {
                    let tls = tls.as_deref().unwrap_or("none");
                    tracing::info!(queue_id = %env.queue_id, host = %env.host, reply = %reply, tls, "spooled message delivered");
                    self.finish(&env.id, false);
                    return;
                }
                RelayOutcome::PermFail { code, status, text } => {
                    tracing::error!(queue_id = %env.queue_id, host = %env.host, code, text = %text, "real server refused a spooled message; moved to spool/failed/");
                    self.finish(&env.id, true);
                    self.bounce(&env, &status, &format!("{code} {status} {text}"), &bytes)
                        .await;
                    return;
                }
                RelayOutcome::TempFail(why) => {
                    let age_ms = now_ms() - env.created_at;
                    if age_ms > (self.config.max_age_secs as i64).saturating_mul(1000) {
                        tracing::error!(queue_id = %env.queue_id, host = %env.host, reason = %why, "spooled message expired undelivered; moved to spool/failed/");
                        self.finish(&env.id, true);
                        let why = format!("delivery time expired; last error: {why}");
                        self.bounce(&env, "4.4.7", &why, &bytes).await;
                        return;
                    }
                    tracing::warn!(queue_id = %env.queue_id, host = %env.host, reason = %why, retry_in_secs = wait.as_secs(), "delivery deferred");
                    drop(bytes);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(max_wait);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_failed_messages_are_pruned_and_recent_ones_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let old = dir.path().join("old.msg");
        let new = dir.path().join("new.msg");
        fs::write(&old, b"x").expect("write");
        fs::write(&new, b"y").expect("write");
        let past = std::time::SystemTime::now() - Duration::from_secs(40 * 86_400);
        File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(past))
            .expect("mtime");
        assert_eq!(
            prune_failed(dir.path(), Duration::from_secs(30 * 86_400)),
            1
        );
        assert!(!old.exists() && new.exists());
        assert_eq!(prune_failed(&dir.path().join("missing"), Duration::ZERO), 0);
    }
}
