//! The quarantine digest: a domain's day (verdict counts and what is still quarantined, each
//! with a one-click release link), as the endpoint answers it, as the daily mail sends it and
//! as the `report.daily` event carries it. Links seal (tenant, message, expiry, the customer's
//! link epoch) with the API's signing key.

use std::net::{IpAddr, SocketAddr};

use moat_core::{
    config::Config,
    model::{Domain, QuarantineFilter, QuarantineStatus, VerdictFilter},
    store::SharedStore,
    tenancy,
    time::{now_ms, rfc3339},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::Ctx;
use crate::{error::ApiError, pages::VerdictPages, schema::VerdictCounts, signing::SigningKey};

/// How long a release link works.
pub const LINK_TTL_MS: i64 = 7 * 86_400_000;
const DAY_MS: i64 = 86_400_000;
const LINK_CONTEXT: &str = "release-link";

/// One quarantined message of the digest.
#[derive(Serialize, ToSchema)]
pub struct DigestItem {
    pub id: String,
    pub from: String,
    pub subject: String,
    pub threat_type: moat_core::model::ThreatType,
    #[schema(format = DateTime)]
    pub received_at: String,
    /// Opens a page with a Release button; works without a token until `link_expires_at`
    /// or until the customer's links are revoked. Null for malware, which only an admin
    /// token can release.
    pub release_url: Option<String>,
    #[schema(format = DateTime)]
    pub link_expires_at: Option<String>,
}

/// A domain's day.
#[derive(Serialize, ToSchema)]
pub struct Digest {
    pub domain_id: String,
    pub domain: String,
    pub day: String,
    pub verdicts: VerdictCounts,
    /// Still-quarantined messages received that day (at most 500).
    pub quarantined: Vec<DigestItem>,
}

/// Where the digest email went.
#[derive(Serialize, ToSchema)]
pub struct DigestSent {
    pub to: String,
    pub day: String,
    pub quarantined: usize,
}

/// A release link for one message of `tenant`, valid under the customer's link `epoch`.
pub fn link(
    signing: &SigningKey,
    tenant: &str,
    message_id: &str,
    expires_at: i64,
    epoch: i64,
) -> String {
    let payload = serde_json::to_vec(&(tenant, message_id, expires_at, epoch)).unwrap_or_default();
    signing.seal(LINK_CONTEXT, &payload)
}

/// The tenant and message of a link that is authentic, unexpired and of the customer's
/// current epoch.
pub async fn open_link(
    store: &SharedStore,
    signing: &SigningKey,
    link: &str,
) -> Option<(String, String)> {
    let payload = signing.open(LINK_CONTEXT, link)?;
    let (tenant, id, expires_at, epoch): (String, String, i64, i64) =
        serde_json::from_slice(&payload).ok()?;
    if expires_at <= now_ms() {
        return None;
    }
    let current = store.link_epoch(tenancy::customer_of(&tenant)).await.ok()?;
    (epoch == current).then_some((tenant, id))
}

fn day_start(day: &str) -> Option<i64> {
    moat_core::time::parse_rfc3339(&format!("{day}T00:00:00Z"))
}

/// Builds a domain's digest for the UTC day starting at `start`, with release links under
/// `base` (used by the endpoint, the daily email and the `report.daily` event).
pub async fn build(
    store: &SharedStore,
    signing: &SigningKey,
    base: &str,
    domain: &Domain,
    start: i64,
) -> Result<Digest, moat_core::StoreError> {
    let customer = &domain.customer_id;
    let end = start + DAY_MS;
    let mut counts = VerdictCounts::default();
    let filter = VerdictFilter {
        domain_id: Some(domain.id.clone()),
        since: Some(start),
        until: Some(end),
        ..Default::default()
    };
    let mut pages = VerdictPages::new(store, customer, filter);
    while let Some(page) = pages.next().await? {
        page.iter().for_each(|v| counts.add(v.action));
    }
    let held = store
        .quarantine_list(
            customer,
            QuarantineFilter {
                status: Some(QuarantineStatus::Quarantined),
                domain_id: Some(domain.id.clone()),
                since: Some(start),
                until: Some(end),
                limit: 500,
                ..Default::default()
            },
        )
        .await?;
    let expires_at = now_ms() + LINK_TTL_MS;
    let epoch = store.link_epoch(tenancy::customer_of(customer)).await?;
    let quarantined = held
        .iter()
        .map(|q| {
            let linked = q.threat_type != moat_core::model::ThreatType::Malware;
            DigestItem {
                id: q.id.clone(),
                from: q.from_header.clone(),
                subject: q.subject.clone(),
                threat_type: q.threat_type,
                received_at: rfc3339(q.received_at),
                release_url: linked.then(|| {
                    format!(
                        "{}/v1/release/{}",
                        base.trim_end_matches('/'),
                        link(signing, customer, &q.id, expires_at, epoch)
                    )
                }),
                link_expires_at: linked.then(|| rfc3339(expires_at)),
            }
        })
        .collect();
    Ok(Digest {
        domain_id: domain.id.clone(),
        domain: domain.name.clone(),
        day: rfc3339(start)[..10].to_string(),
        verdicts: counts,
        quarantined,
    })
}

/// The start of the day a query names (default yesterday, UTC).
pub fn start_of(day: Option<&str>) -> Result<i64, ApiError> {
    match day {
        Some(day) => day_start(day)
            .ok_or_else(|| ApiError::BadRequest("day must be a date such as 2026-11-22".into())),
        None => Ok(now_ms().div_euclid(DAY_MS) * DAY_MS - DAY_MS),
    }
}

/// One line of text safe to put in a plain-text mail body.
fn line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// The digest as a plain-text message.
pub fn message(config: &Config, digest: &Digest, to: &str) -> String {
    let n = digest.quarantined.len();
    let mut body = format!(
        "Moat digest for {} on {} (UTC)\r\n\r\nDelivered: {}\r\nQuarantined: {}\r\nRejected: {}\r\n\r\n",
        digest.domain,
        digest.day,
        digest.verdicts.deliver,
        digest.verdicts.quarantine,
        digest.verdicts.reject
    );
    if n == 0 {
        body.push_str("Nothing from that day is waiting in quarantine.\r\n");
    } else {
        body.push_str("Still in quarantine (each link opens a page with a Release button, valid 7 days):\r\n\r\n");
        for item in &digest.quarantined {
            body.push_str(&format!(
                "- {} | From: {} | Subject: {}\r\n  {}\r\n",
                item.threat_type.as_str(),
                line(&item.from),
                line(&item.subject),
                item.release_url
                    .as_deref()
                    .unwrap_or("(malware: not releasable by link; ask your administrator)")
            ));
        }
    }
    format!(
        "From: Moat <postmaster@{host}>\r\nTo: <{to}>\r\nSubject: Moat digest for {domain}, {day}: {n} quarantined\r\n\
Date: {date}\r\nMessage-ID: <digest-{id}-{day}@{host}>\r\nAuto-Submitted: auto-generated\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
        host = config.hostname,
        domain = digest.domain,
        day = digest.day,
        date = moat_core::time::rfc5322(now_ms()),
        id = digest.domain_id,
    )
}

/// Sends the digest to `to` through the domain's real server.
pub async fn mail(
    relay: &moat_core::relay::Relay,
    config: &Config,
    domain: &Domain,
    to: &str,
    digest: &Digest,
) -> Result<(), String> {
    let raw = message(config, digest, to);
    let from = format!("postmaster@{}", config.hostname);
    let rcpts = [to.to_string()];
    let envelope = moat_core::relay::Envelope {
        mail_from: &from,
        rcpts: &rcpts,
        body: raw.as_bytes(),
        options: Default::default(),
    };
    match relay
        .deliver(&moat_core::relay::Route::to_domain(domain), envelope)
        .await
    {
        moat_core::relay::RelayOutcome::Delivered { .. } => Ok(()),
        moat_core::relay::RelayOutcome::TempFail(why) => Err(format!(
            "{} did not take the digest: {why}",
            domain.real_mx_host
        )),
        moat_core::relay::RelayOutcome::PermFail { code, text, .. } => Err(format!(
            "{} refused the digest: {code} {text}",
            domain.real_mx_host
        )),
    }
}

/// Mails the digest of `domain` for the day starting at `start` to the domain's
/// `admin_email`, through the domain's real server; answers where it went. A sandbox sends no
/// mail, and a domain without `admin_email` has nowhere to send it.
pub async fn mail_digest(
    ctx: &Ctx<'_>,
    signing: &SigningKey,
    base: &str,
    domain: &Domain,
    start: i64,
) -> Result<DigestSent, ApiError> {
    let to = domain.detection.admin_email.clone().ok_or_else(|| {
        ApiError::Conflict("the domain has no admin_email; set one with PATCH first".into())
    })?;
    if !tenancy::sends_mail(&domain.customer_id) {
        return Err(ApiError::Conflict("a sandbox sends no mail".into()));
    }
    let digest = build(ctx.store, signing, base, domain, start).await?;
    mail(ctx.relay, ctx.config, domain, &to, &digest)
        .await
        .map_err(ApiError::RelayFailed)?;
    Ok(DigestSent {
        to,
        day: digest.day,
        quarantined: digest.quarantined.len(),
    })
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
pub fn yesterday() -> (i64, String, i64) {
    let day_ms = 86_400_000;
    let today = now_ms().div_euclid(day_ms) * day_ms;
    let start = today - day_ms;
    (start, rfc3339(start)[..10].to_string(), today)
}
