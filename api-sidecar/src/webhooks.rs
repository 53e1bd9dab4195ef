//! Webhook events and their delivery. The scanner knows nothing of webhooks: a dispatcher
//! thread in the API process turns stored verdicts into events (each webhook keeps a watermark
//! of the verdicts it has seen), queues one delivery per (webhook, event, object) with a
//! deterministic id so an event is never queued twice, and a small pool of workers POSTs them.
//! A dead or slow endpoint only occupies a worker for its time-out, never the scanner.
//!
//! Every delivery is signed: `Moat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" keyed by the webhook's secret>`. Failed attempts are retried with exponential
//! back-off (30 s doubling, at most an hour apart) for 24 hours, then marked failed; the
//! delivery log keeps every state and `redeliver` queues one again.

use std::{
    collections::HashSet,
    net::{IpAddr, SocketAddr, ToSocketAddrs},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use futures::executor::block_on;
use hmac::{Hmac, Mac};
use moat_core::{
    config::Config,
    model::{
        Action, AuthResult, DeliveryStatus, VerdictFilter, VerdictRecord, Webhook, WebhookDelivery,
        WebhookEvent,
    },
    store::SharedStore,
    time::{now_ms, rfc3339},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Attempts stop this long after an event is queued (or redelivered).
pub const RETRY_WINDOW_MS: i64 = 24 * 3_600_000;
/// Verdicts are written in batches; a verdict may land this long after a newer one, so each
/// scan re-reads this much behind its watermark (deterministic ids make that harmless).
const LAG_MS: i64 = 10_000;
/// How often the dispatcher looks for new verdicts and due deliveries.
const TICK: Duration = Duration::from_millis(500);
/// Time-out of one delivery attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The delay before attempt `n + 1` after `n` failed attempts.
pub fn backoff_ms(failed_attempts: u32) -> i64 {
    let exp = failed_attempts.saturating_sub(1).min(7);
    (30_000i64 << exp).min(3_600_000)
}

/// The `Moat-Signature` header value for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A delivery's id: the same (webhook, event, object) always gives the same id.
pub fn delivery_id(webhook_id: &str, event: &str, object: &str) -> String {
    let digest = Sha256::digest(format!("{webhook_id}\0{event}\0{object}").as_bytes());
    format!("dlv_{}", &hex::encode(digest)[..32])
}

/// The body of an event: `{"id", "type", "created_at", "data"}`.
fn body(id: &str, event: &str, data: Value) -> String {
    json!({ "id": id, "type": event, "created_at": rfc3339(now_ms()), "data": data }).to_string()
}

/// A delivery of `event` about `object` to `webhook`, due now.
pub fn new_delivery(webhook: &Webhook, event: &str, object: &str, data: Value) -> WebhookDelivery {
    let id = delivery_id(&webhook.id, event, object);
    let now = now_ms();
    WebhookDelivery {
        payload: body(&id, event, data),
        id,
        webhook_id: webhook.id.clone(),
        customer_id: webhook.customer_id.clone(),
        event: event.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        give_up_at: now + RETRY_WINDOW_MS,
        last_status: None,
        last_error: None,
        created_at: now,
        delivered_at: None,
    }
}

/// Queues `event` about `object` for every webhook of `customer` that asked for it.
pub async fn emit(
    store: &SharedStore,
    customer: &str,
    event: WebhookEvent,
    object: &str,
    data: Value,
) {
    let hooks = match store.webhooks(customer).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks not read; event not queued");
            return;
        }
    };
    for w in hooks.iter().filter(|w| w.events.contains(&event)) {
        let d = new_delivery(w, event.as_str(), object, data.clone());
        if let Err(e) = store.add_delivery(d).await {
            tracing::warn!(error = %e, webhook = %w.id, "webhook delivery not queued");
        }
    }
}

/// The events a verdict raises, with their data.
fn events_of(v: &VerdictRecord) -> Vec<(WebhookEvent, Value)> {
    let mut out = Vec::new();
    if let Some(threat) = crate::routes::threats::threat_of(v) {
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

/// The base of release links in mailed digests and `report.daily` events.
pub fn public_base(config: &Config, bound: SocketAddr) -> String {
    if let Some(url) = &config.api.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let scheme = if config.api.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let host = match bound.ip() {
        ip if ip.is_unspecified() => config.hostname.clone(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    format!("{scheme}://{host}:{}", bound.port())
}

/// Yesterday's start (UTC) and name, and today's start.
fn yesterday() -> (i64, String, i64) {
    let day_ms = 86_400_000;
    let today = now_ms().div_euclid(day_ms) * day_ms;
    let start = today - day_ms;
    (start, rfc3339(start)[..10].to_string(), today)
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
        digests.push(
            crate::routes::digest::build(store, &ctx.signing, &ctx.base(), &domain, start).await?,
        );
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

/// After midnight UTC, mails yesterday's digest to every domain with an `admin_email` (once
/// per domain and day, remembered in `data_dir/digest-sent.json`; a failed send is tried again
/// ten minutes later).
async fn daily_mail(store: &SharedStore, ctx: &mut Context) -> Result<(), moat_core::StoreError> {
    let (start, day, today) = yesterday();
    let now = now_ms();
    for domain in store.all_domains().await? {
        let Some(to) = domain.detection.admin_email.clone() else {
            continue;
        };
        if moat_core::token::is_sandbox(&domain.customer_id)
            || domain.created_at >= today
            || ctx.sent.get(&domain.id).is_some_and(|d| *d >= day)
            || ctx.tried.get(&domain.id).is_some_and(|t| now - t < 600_000)
        {
            continue;
        }
        ctx.tried.insert(domain.id.clone(), now);
        let digest =
            crate::routes::digest::build(store, &ctx.signing, &ctx.base(), &domain, start).await?;
        match crate::routes::digest::mail(&ctx.relay, &ctx.config, &domain, &to, &digest).await {
            Ok(()) => {
                ctx.sent.insert(domain.id.clone(), day.clone());
                let path = ctx.config.data_dir.join("digest-sent.json");
                let tmp = path.with_extension("tmp");
                let saved = serde_json::to_vec(&ctx.sent)
                    .map_err(std::io::Error::other)
                    .and_then(|bytes| std::fs::write(&tmp, bytes))
                    .and_then(|()| std::fs::rename(&tmp, &path));
                if let Err(e) = saved {
                    tracing::warn!(error = %e, "digest-sent.json not written");
                }
            }
            Err(why) => tracing::warn!(domain = %domain.name, %why, "daily digest not sent"),
        }
    }
    Ok(())
}

impl Context {
    /// The base of links in events and mailed digests.
    fn base(&self) -> String {
        self.base
            .get()
            .cloned()
            .unwrap_or_else(|| public_base(&self.config, self.config.api.listen))
    }
}

/// What the scheduler keeps between passes.
struct Context {
    config: Config,
    signing: crate::signing::SigningKey,
    /// Where links point (set once the API is bound).
    base: Arc<std::sync::OnceLock<String>>,
    /// Domain id → last day whose digest was mailed.
    sent: std::collections::HashMap<String, String>,
    /// Domain id → last attempt (Unix ms).
    tried: std::collections::HashMap<String, i64>,
    /// When `daily_mail` last looked (it looks once a minute).
    mail_checked: i64,
    /// Sends the mailed digests.
    relay: Arc<moat_core::relay::Relay>,
}

/// Whether an address may be called: public unicast by the special-purpose registries
/// ([`moat_core::netguard`], the same check as relay targets and DSN MX hosts) unless private
/// targets are allowed.
pub fn allowed_target(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || !moat_core::netguard::is_internal(ip)
}

/// Checks a webhook URL's form (http or https, a host, at most 2 000 characters).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > 2000 {
        return Err("url is longer than 2000 characters".into());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("url must start with https:// or http://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') || url.chars().any(|c| c.is_whitespace()) {
        return Err("url has no host".into());
    }
    Ok(())
}

/// An HTTP client whose resolver refuses internal addresses (checked on every connection, so
/// a name that later resolves inward is refused too).
pub fn client(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(ATTEMPT_TIMEOUT)
        .redirects(0)
        .resolver(move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
            let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allowed_target(a.ip(), allow_private))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{netloc} resolves only to internal addresses, which webhooks may not call"
                )));
            }
            Ok(allowed)
        })
        .build()
}

/// The outcome of one attempt.
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// POSTs a delivery's body to `url`, signed with `secret`.
pub fn attempt(agent: &ureq::Agent, url: &str, secret: &str, d: &WebhookDelivery) -> Attempt {
    let t = now_ms() / 1000;
    let result = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("User-Agent", "Moat-Webhooks/1")
        .set("Moat-Event", &d.event)
        .set("Moat-Delivery", &d.id)
        .set("Moat-Signature", &signature(secret, t, &d.payload))
        .send_string(&d.payload);
    match result {
        Ok(resp) => Attempt {
            status: Some(resp.status()),
            error: None,
        },
        Err(ureq::Error::Status(code, _)) => Attempt {
            status: Some(code),
            error: Some(format!("the endpoint answered {code}")),
        },
        Err(e) => Attempt {
            status: None,
            error: Some(e.to_string()),
        },
    }
}

/// Records an attempt made at `now` on the delivery: succeeded, rescheduled, or failed for
/// good.
pub fn record(d: &mut WebhookDelivery, a: &Attempt, now: i64) {
    d.attempts += 1;
    d.last_status = a.status;
    d.last_error = a.error.clone();
    if a.error.is_none() && a.status.is_some_and(|s| (200..300).contains(&s)) {
        d.status = DeliveryStatus::Succeeded;
        d.delivered_at = Some(now);
        d.next_attempt_at = None;
        return;
    }
    let next = now + backoff_ms(d.attempts);
    if next > d.give_up_at {
        d.status = DeliveryStatus::Failed;
        d.next_attempt_at = None;
    } else {
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(next);
    }
}

/// Sends one attempt of `d` to `w` now and stores the outcome.
pub fn deliver_now(
    store: &SharedStore,
    agent: &ureq::Agent,
    w: &Webhook,
    mut d: WebhookDelivery,
) -> WebhookDelivery {
    let was_due = d.next_attempt_at;
    let a = attempt(agent, &w.url, &w.secret, &d);
    record(&mut d, &a, now_ms());
    if let Err(e) = block_on(store.put_delivery(d.clone(), was_due)) {
        tracing::warn!(error = %e, delivery = %d.id, "delivery outcome not stored");
    }
    d
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
        let sent = std::fs::read(config.data_dir.join("digest-sent.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut ctx = Context {
            config: config.clone(),
            signing,
            base,
            sent,
            tried: Default::default(),
            mail_checked: 0,
            relay,
        };
        let allow_private = config.api.webhook_allow_private_targets;
        let (jobs, queue) = flume::bounded::<(Webhook, WebhookDelivery)>(256);
        let in_flight: Arc<Mutex<HashSet<String>>> = Default::default();
        let mut threads = Vec::new();
        for i in 0..config.api.webhook_workers.max(1) {
            let (queue, store, in_flight) = (queue.clone(), store.clone(), in_flight.clone());
            threads.push(
                thread::Builder::new()
                    .name(format!("moat-webhook-{i}"))
                    .spawn(move || {
                        let agent = client(allow_private);
                        for (w, d) in queue.iter() {
                            let id = d.id.clone();
                            deliver_now(&store, &agent, &w, d);
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
                    loop {
                        if let Err(e) = rt.block_on(tick(&store, &mut ctx, &jobs, &in_flight)) {
                            tracing::warn!(error = %e, "webhook dispatcher pass failed");
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
    jobs: &flume::Sender<(Webhook, WebhookDelivery)>,
    in_flight: &Mutex<HashSet<String>>,
) -> Result<(), moat_core::StoreError> {
    let mut hooks = store.all_webhooks().await?;
    for w in hooks.iter_mut() {
        scan_verdicts(store, w).await?;
        daily_report(store, ctx, w).await?;
    }
    if now_ms() - ctx.mail_checked >= 60_000 {
        ctx.mail_checked = now_ms();
        daily_mail(store, ctx).await?;
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
        if jobs.try_send((w.clone(), d)).is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // Checked against an independent implementation: Python's hmac module.
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import hmac,hashlib;print(hmac.new(b'whsec_test',b'1700000000.{\\\"a\\\":1}',hashlib.sha256).hexdigest())",
            ])
            .output()
            .expect("python3 runs");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(expected.len(), 64, "{expected}");
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{\"a\":1}"),
            format!("t=1700000000,v1={expected}")
        );
    }

    #[test]
    fn backoff_doubles_to_an_hour_and_stops_after_a_day() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(8), 3_600_000);
        assert_eq!(backoff_ms(30), 3_600_000);
        let w = Webhook {
            id: "w".into(),
            customer_id: "c".into(),
            url: "https://example.com/hook".into(),
            events: vec![WebhookEvent::ThreatDetected],
            secret: "s".into(),
            created_at: 0,
            watermark: None,
            last_report_day: None,
        };
        let mut d = new_delivery(&w, "threat.detected", "v1", json!({}));
        let fail = Attempt {
            status: Some(500),
            error: Some("the endpoint answered 500".into()),
        };
        let mut attempts = 0;
        while let Some(at) = d.next_attempt_at {
            record(&mut d, &fail, at);
            attempts += 1;
            assert!(attempts < 100, "retries never end");
        }
        assert_eq!(d.status, DeliveryStatus::Failed);
        // 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 28 attempts fit in 24 hours.
        assert!((20..=30).contains(&attempts), "{attempts}");
        assert_eq!(
            delivery_id("w", "threat.detected", "v1"),
            delivery_id("w", "threat.detected", "v1")
        );
        assert_ne!(
            delivery_id("w", "threat.detected", "v1"),
            delivery_id("w", "threat.quarantined", "v1")
        );
    }

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
            "2002:7f00:1::1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!allowed_target(ip, false), "{ip}");
            assert!(allowed_target(ip, true), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(allowed_target(ip.parse().expect("ip"), false), "{ip}");
        }
        assert!(check_url("https://hooks.example.com/moat").is_ok());
        for bad in ["ftp://x", "https://", "https:// x", "javascript:alert(1)"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
