//! The scheduler: one thread that turns new verdicts into events, queues each
//! webhook's `report.daily`, runs the daily digest mail, and hands due deliveries to a small
//! pool of workers. A dead or slow endpoint occupies a worker for its time-out, never the
//! scanner or an HTTP worker.
//!
//! Every API host starts a scheduler, but only the holder of the store's lease
//! [`LEASE`] works: the others wait, and take over within [`LEASE_TTL`] when the holder dies.
//! The lease's epoch fences a paused former holder: a worker asks the store that its epoch
//! still holds before every POST, so after losing the lease it delivers nothing more.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use moat_core::{
    config::Config,
    model::{
        Action, AuthResult, VerdictFilter, VerdictRecord, Webhook, WebhookDelivery, WebhookEvent,
    },
    store::SharedStore,
    time::now_ms,
};
use serde_json::{Value, json};

pub mod digest_mailer;

use crate::events::{client, deliver_now, new_delivery};
use crate::service::digest::{build, public_base, yesterday};

/// Verdicts are written in batches; a verdict may land this long after a newer one, so each
/// scan re-reads this much behind its watermark (deterministic ids make that harmless).
const LAG_MS: i64 = 10_000;
/// How often the dispatcher looks for new verdicts and due deliveries.
const TICK: Duration = Duration::from_millis(500);
/// The lease that makes one host of a cluster the dispatcher.
pub const LEASE: &str = "webhook-dispatcher";
/// How long a holder's lease lasts without renewal (it renews at every tick).
pub const LEASE_TTL: Duration = Duration::from_secs(10);

/// Who holds a lease: this host and process.
fn holder_id(config: &Config) -> String {
    format!(
        "{}/{}/{:08x}",
        config.hostname,
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Queues the events of the webhook's customer's verdicts since its watermark.
async fn scan_verdicts(store: &SharedStore, w: &mut Webhook) -> Result<(), moat_core::StoreError> {
    let wants = |e: WebhookEvent| w.events.contains(&e);
    let verdict_events = [
        WebhookEvent::ThreatDetected,
        WebhookEvent::ThreatQuarantined,
        WebhookEvent::PolicyTriggered,
        WebhookEvent::AuthFailed,
    ];
    if !verdict_events.into_iter().any(wants) {
        return Ok(());
    }
    let since = w
        .watermark
        .as_ref()
        .map_or(w.created_at, |(t, _)| t - LAG_MS)
        .max(w.created_at);
    let mut newest = w.watermark.clone();
    let filter = VerdictFilter {
        since: Some(since),
        // Only auth failures need verdicts without a threat.
        threats_only: !wants(WebhookEvent::AuthFailed),
        ..Default::default()
    };
    let mut pages = crate::pages::VerdictPages::new(store, &w.customer_id, filter);
    while let Some(page) = pages.next().await? {
        for v in &page {
            if newest
                .as_ref()
                .is_none_or(|(t, id)| (v.received_at, v.id.as_str()) > (*t, id.as_str()))
            {
                newest = Some((v.received_at, v.id.clone()));
            }
            for (event, data) in events_of(v) {
                if wants(event) {
                    store
                        .add_delivery(new_delivery(w, event.as_str(), &v.id, data))
                        .await?;
                }
            }
        }
    }
    if newest != w.watermark {
        w.watermark = newest;
        store.update_webhook(w.clone()).await?;
    }
    Ok(())
}

/// After midnight UTC, queues yesterday's `report.daily`: each domain's digest (verdict
/// counts and the messages still quarantined, with release links).
async fn daily_report(
    store: &SharedStore,
    ctx: &Context,
    w: &mut Webhook,
) -> Result<(), moat_core::StoreError> {
    if !w.events.contains(&WebhookEvent::ReportDaily) {
        return Ok(());
    }
    let (start, day, today) = yesterday();
    if w.last_report_day.as_deref() >= Some(day.as_str()) || w.created_at >= today {
        return Ok(());
    }
    let mut digests = Vec::new();
    for domain in store.domains(&w.customer_id).await? {
        digests.push(build(store, &ctx.signing, &ctx.base(), &domain, start).await?);
    }
    let data = json!({ "day": day, "domains": digests });
    store
        .add_delivery(new_delivery(
            w,
            WebhookEvent::ReportDaily.as_str(),
            &day,
            data,
        ))
        .await?;
    w.last_report_day = Some(day);
    store.update_webhook(w.clone()).await?;
    Ok(())
}

impl Context {
    /// The base of links in events and mailed digests.
    pub(super) fn base(&self) -> String {
        self.base
            .get()
            .cloned()
            .unwrap_or_else(|| public_base(&self.config, self.config.api.listen))
    }
}

/// What the scheduler keeps between passes.
pub(super) struct Context {
    pub(super) config: Config,
    pub(super) signing: crate::signing::SigningKey,
    /// Where links point (set once the API is bound).
    pub(super) base: Arc<std::sync::OnceLock<String>>,
    /// Domain id → last day whose digest this host saw mailed (the store's claim decides).
    pub(super) sent: std::collections::HashMap<String, String>,
    /// Domain id → last attempt (Unix ms).
    pub(super) tried: std::collections::HashMap<String, i64>,
    /// When `daily_mail` last looked (it looks once a minute).
    pub(super) mail_checked: i64,
    /// Sends the mailed digests.
    pub(super) relay: Arc<moat_core::relay::Relay>,
}

/// The running dispatcher: a scheduler thread and its workers.
pub struct Dispatcher {
    _threads: Vec<thread::JoinHandle<()>>,
}

impl Dispatcher {
    /// Starts the scheduler and `config.api.webhook_workers` workers.
    pub fn start(
        store: SharedStore,
        config: &Config,
        signing: crate::signing::SigningKey,
        relay: Arc<moat_core::relay::Relay>,
        base: Arc<std::sync::OnceLock<String>>,
    ) -> std::io::Result<Dispatcher> {
        let holder = holder_id(config);
        let mut ctx = Context {
            config: config.clone(),
            signing,
            base,
            sent: Default::default(),
            tried: Default::default(),
            mail_checked: 0,
            relay,
        };
        let allow_private = config.api.webhook_allow_private_targets;
        let (jobs, queue) = flume::bounded::<(Webhook, WebhookDelivery, i64)>(256);
        let in_flight: Arc<Mutex<HashSet<String>>> = Default::default();
        let mut threads = Vec::new();
        for i in 0..config.api.webhook_workers.max(1) {
            let (queue, store, in_flight) = (queue.clone(), store.clone(), in_flight.clone());
            let holder = holder.clone();
            threads.push(
                thread::Builder::new()
                    .name(format!("moat-webhook-{i}"))
                    .spawn(move || {
                        let agent = client(allow_private);
                        for (w, d, epoch) in queue.iter() {
                            let id = d.id.clone();
                            // Fencing: only while this host still holds the lease it was
                            // handed the delivery under.
                            let held = futures::executor::block_on(store.lease_held(
                                LEASE,
                                &holder,
                                epoch,
                                now_ms(),
                            ));
                            if matches!(held, Ok(true)) {
                                deliver_now(&store, &agent, &w, d);
                            }
                            in_flight
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&id);
                        }
                    })?,
            );
        }
        threads.push(
            thread::Builder::new()
                .name("moat-webhooks".into())
                .spawn(move || {
                    // The digest mail goes through mail-send, which needs tokio.
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            tracing::error!(error = %e, "webhook dispatcher cannot start");
                            return;
                        }
                    };
                    let ttl = LEASE_TTL.as_millis() as i64;
                    let mut holding = false;
                    loop {
                        match rt.block_on(store.lease(LEASE, &holder, now_ms(), ttl)) {
                            Ok(Some(epoch)) => {
                                if !holding {
                                    tracing::info!(%holder, epoch, "this host now runs the webhook dispatcher");
                                    holding = true;
                                }
                                let pass = tick(&store, &mut ctx, &jobs, &in_flight, epoch);
                                if let Err(e) = rt.block_on(pass) {
                                    tracing::warn!(error = %e, "webhook dispatcher pass failed");
                                }
                            }
                            Ok(None) => {
                                if holding {
                                    tracing::warn!(%holder, "webhook dispatcher lease lost to another host");
                                    holding = false;
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "webhook dispatcher lease not renewed"),
                        }
                        thread::sleep(TICK);
                    }
                })?,
        );
        Ok(Dispatcher { _threads: threads })
    }
}

/// One pass: new events, then due deliveries handed to the workers.
async fn tick(
    store: &SharedStore,
    ctx: &mut Context,
    jobs: &flume::Sender<(Webhook, WebhookDelivery, i64)>,
    in_flight: &Mutex<HashSet<String>>,
    epoch: i64,
) -> Result<(), moat_core::StoreError> {
    let mut hooks = store.all_webhooks().await?;
    for w in hooks.iter_mut() {
        scan_verdicts(store, w).await?;
        daily_report(store, ctx, w).await?;
    }
    if now_ms() - ctx.mail_checked >= 60_000 {
        ctx.mail_checked = now_ms();
        digest_mailer::daily_mail(store, ctx).await?;
    }
    for d in store.due_deliveries(now_ms(), 256).await? {
        let Some(w) = hooks.iter().find(|w| w.id == d.webhook_id) else {
            continue;
        };
        if !in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(d.id.clone())
        {
            continue;
        }
        let id = d.id.clone();
        if jobs.try_send((w.clone(), d, epoch)).is_err() {
            // Every worker is busy: the delivery stays due for the next pass.
            in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            break;
        }
    }
    Ok(())
}

/// The events a verdict raises, with their data.
fn events_of(v: &VerdictRecord) -> Vec<(WebhookEvent, Value)> {
    let mut out = Vec::new();
    if let Some(threat) = crate::service::threats::threat_of(v) {
        let data = serde_json::to_value(&threat).unwrap_or_default();
        out.push((WebhookEvent::ThreatDetected, data.clone()));
        if v.action == Action::Quarantine {
            out.push((WebhookEvent::ThreatQuarantined, data));
        }
    }
    if v.notify_admin {
        let policies: Vec<&str> = v
            .findings
            .iter()
            .filter(|f| f.threat_type == moat_core::model::ThreatType::Policy)
            .map(|f| f.rule.as_str())
            .collect();
        out.push((
            WebhookEvent::PolicyTriggered,
            json!({ "verdict_id": v.id, "policies": policies, "verdict": v.action,
                    "from": v.from_header, "rcpt_to": v.rcpt_to, "subject": v.subject }),
        ));
    }
    if let Some(auth) = &v.auth
        && (auth.dmarc.result == AuthResult::Fail || auth.spf.result == AuthResult::Fail)
    {
        out.push((
            WebhookEvent::AuthFailed,
            json!({ "verdict_id": v.id, "from": v.from_header, "mail_from": v.mail_from,
                    "client_ip": v.client_ip, "auth": auth, "verdict": v.action }),
        ));
    }
    out
}
