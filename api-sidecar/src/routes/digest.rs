//! The quarantine digest: `GET /v1/domains/{id}/digest?day=YYYY-MM-DD` summarises a domain's
//! day (verdict counts) and lists what was quarantined, each with a one-click release link
//! that works without a token: `/v1/release/{link}`, where the link seals (tenant, message,
//! expiry, the customer's link epoch) with the API's signing key, valid for 7 days.
//!
//! Opening a link shows the message's sender and subject and a Release button; only the
//! button's POST releases. Mail security products (ours included) open links in mail to scan
//! them, so a GET that released would release on its own.
//!
//! A link is a bearer credential, so: reading a digest needs the `quarantine` scope; a link
//! releases its message once (a released message stays released); revoking any of the
//! customer's tokens, or `POST /v1/release-links/revoke`, moves the customer's link epoch on
//! and every earlier link stops working; and malware is never one-click releasable (no link
//! is minted for it and a link cannot release it: an admin token must).

use actix_web::{HttpResponse, web};
use moat_core::{
    config::Config,
    model::{
        Domain, QuarantineFilter, QuarantineStatus, ThreatType, TokenKind, TokenScope,
        VerdictFilter,
    },
    store::SharedStore,
    time::{now_ms, rfc3339},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::resource;
use crate::{
    AppState, auth::Caller, error::ApiError, pages::VerdictPages, schema::VerdictCounts,
    signing::SigningKey,
};

/// How long a release link works.
pub const LINK_TTL_MS: i64 = 7 * 86_400_000;
const DAY_MS: i64 = 86_400_000;
const LINK_CONTEXT: &str = "release-link";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/domains/{id}/digest", "GET").route(web::get().to(digest)))
        .service(resource("/domains/{id}/digest/send", "POST").route(web::post().to(send)))
        .service(
            resource("/release/{link}", "GET, POST")
                .route(web::get().to(confirm))
                .route(web::post().to(release)),
        )
        .service(resource("/release-links/revoke", "POST").route(web::post().to(revoke_links)));
}

/// The day of a digest.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DigestQuery {
    /// `YYYY-MM-DD` (UTC); default yesterday.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub day: Option<String>,
}

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
async fn open_link(state: &AppState, link: &str) -> Option<(String, String)> {
    let payload = state.signing.open(LINK_CONTEXT, link)?;
    let (tenant, id, expires_at, epoch): (String, String, i64, i64) =
        serde_json::from_slice(&payload).ok()?;
    if expires_at <= now_ms() {
        return None;
    }
    let current = state
        .store
        .link_epoch(moat_core::token::customer_of(&tenant))
        .await
        .ok()?;
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
    let epoch = store
        .link_epoch(moat_core::token::customer_of(customer))
        .await?;
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
fn start_of(day: Option<&str>) -> Result<i64, ApiError> {
    match day {
        Some(day) => day_start(day)
            .ok_or_else(|| ApiError::BadRequest("day must be a date such as 2026-11-22".into())),
        None => Ok(now_ms().div_euclid(DAY_MS) * DAY_MS - DAY_MS),
    }
}

/// A domain's day: verdict counts and the quarantined messages with release links.
#[utoipa::path(get, path = "/v1/domains/{id}/digest", tag = "domains",
    operation_id = "get_domain_digest",
    params(("id" = String, Path, description = "Domain id"), DigestQuery),
    responses((status = 200, body = Digest)))]
pub async fn digest(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DigestQuery>,
) -> Result<HttpResponse, ApiError> {
    // The digest's links release mail without a token: only who may release may see them.
    caller.require(TokenScope::Quarantine)?;
    let domain = state
        .store
        .domain(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    let start = start_of(query.day.as_deref())?;
    let digest = build(
        &state.store,
        &state.signing,
        &state.link_base(),
        &domain,
        start,
    )
    .await?;
    Ok(HttpResponse::Ok().json(digest))
}

/// Where the digest email went.
#[derive(Serialize, ToSchema)]
pub struct DigestSent {
    pub to: String,
    pub day: String,
    pub quarantined: usize,
}

/// Emails the domain's digest to its `admin_email` now, through the domain's real server
/// (the same mail goes out by itself each day after midnight UTC).
#[utoipa::path(post, path = "/v1/domains/{id}/digest/send", tag = "domains",
    operation_id = "send_domain_digest",
    params(("id" = String, Path, description = "Domain id"), DigestQuery),
    responses((status = 200, body = DigestSent)))]
pub async fn send(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DigestQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let domain = state
        .store
        .domain(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    let to = domain.detection.admin_email.clone().ok_or_else(|| {
        ApiError::Conflict("the domain has no admin_email; set one with PATCH first".into())
    })?;
    if moat_core::token::is_sandbox(&domain.customer_id) {
        return Err(ApiError::Conflict("a sandbox sends no mail".into()));
    }
    let start = start_of(query.day.as_deref())?;
    let digest = build(
        &state.store,
        &state.signing,
        &state.link_base(),
        &domain,
        start,
    )
    .await?;
    mail(&state.relay, &state.config, &domain, &to, &digest)
        .await
        .map_err(ApiError::RelayFailed)?;
    Ok(HttpResponse::Ok().json(DigestSent {
        to,
        day: digest.day,
        quarantined: digest.quarantined.len(),
    }))
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

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\
             <h1>{title}</h1>{body}</body></html>"
        ))
}

fn invalid() -> HttpResponse {
    page(
        actix_web::http::StatusCode::NOT_FOUND,
        "This link does not work",
        "<p>The release link is unknown or has expired. Ask for a new digest.</p>",
    )
}

/// The page a release link opens: the message's sender and subject, and a Release button.
#[utoipa::path(get, path = "/v1/release/{link}", tag = "quarantine",
    operation_id = "open_release_link", security(()),
    params(("link" = String, Path, description = "The sealed link from a digest")),
    responses((status = 200, description = "A confirmation page", content_type = "text/html",
        body = String),
        (status = 404, description = "Unknown or expired link", content_type = "text/html",
        body = String)))]
pub async fn confirm(state: web::Data<AppState>, link: web::Path<String>) -> HttpResponse {
    let Some((tenant, id)) = open_link(&state, &link).await else {
        return invalid();
    };
    let Ok(Some(item)) = state.store.quarantine_get(&tenant, &id).await else {
        return invalid();
    };
    let body = match item.status {
        QuarantineStatus::Quarantined if item.threat_type == ThreatType::Malware => {
            MALWARE_PAGE.into()
        }
        QuarantineStatus::Quarantined => format!(
            "<p>From: {}<br>Subject: {}<br>Held as: {}</p>\
             <form method=\"post\"><button type=\"submit\">Release this message</button></form>",
            escape(&item.from_header),
            escape(&item.subject),
            item.threat_type.as_str()
        ),
        QuarantineStatus::Releasing => "<p>This message is being released.</p>".into(),
        QuarantineStatus::Released => "<p>This message was already released.</p>".into(),
        QuarantineStatus::Deleted => "<p>This message was deleted.</p>".into(),
    };
    page(
        actix_web::http::StatusCode::OK,
        "Quarantined message",
        &body,
    )
}

/// Releases the message of a release link (the page's button); idempotent.
#[utoipa::path(post, path = "/v1/release/{link}", tag = "quarantine",
    operation_id = "use_release_link", security(()),
    params(("link" = String, Path, description = "The sealed link from a digest")),
    responses((status = 200, description = "Released", content_type = "text/html",
        body = String),
        (status = 404, description = "Unknown or expired link", content_type = "text/html",
        body = String),
        (status = 409, description = "The message was deleted", content_type = "text/html",
        body = String),
        (status = 502, description = "The real mail server did not take it",
        content_type = "text/html", body = String),
        (status = 503, description = "The store is unavailable", content_type = "text/html",
        body = String)))]
pub async fn release(state: web::Data<AppState>, link: web::Path<String>) -> HttpResponse {
    let Some((tenant, id)) = open_link(&state, &link).await else {
        return invalid();
    };
    match state.store.quarantine_get(&tenant, &id).await {
        Ok(Some(item)) if item.threat_type == ThreatType::Malware => {
            return page(
                actix_web::http::StatusCode::CONFLICT,
                "Not released",
                MALWARE_PAGE,
            );
        }
        Ok(Some(_)) => {}
        Ok(None) => return invalid(),
        Err(e) => {
            return page(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "Not released",
                &format!("<p>{}</p>", escape(&e.to_string())),
            );
        }
    }
    let kind = if moat_core::token::is_sandbox(&tenant) {
        TokenKind::Test
    } else {
        TokenKind::Live
    };
    match super::quarantine::release_item(&state, &tenant, kind, &id).await {
        Ok(_) => page(
            actix_web::http::StatusCode::OK,
            "Released",
            "<p>The message is on its way to the mailbox.</p>",
        ),
        Err(ApiError::NotFound(_)) => invalid(),
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            page(
                status,
                "Not released",
                &format!("<p>{}</p>", escape(&e.to_string())),
            )
        }
    }
}

const MALWARE_PAGE: &str = "<p>This message holds malware. It cannot be released from a \
link; an administrator can release it through the API.</p>";

/// What revoking the links did.
#[derive(Serialize, ToSchema)]
pub struct LinksRevoked {
    /// The customer's new link epoch: every link minted before it no longer works.
    pub epoch: i64,
}

/// Revokes every release link minted so far for the customer (a forwarded or leaked digest,
/// say). Revoking a token does the same.
#[utoipa::path(post, path = "/v1/release-links/revoke", tag = "quarantine",
    operation_id = "revoke_release_links",
    responses((status = 200, body = LinksRevoked)))]
pub async fn revoke_links(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let epoch = state
        .store
        .bump_link_epoch(moat_core::token::customer_of(caller.customer_id()))
        .await?;
    Ok(HttpResponse::Ok().json(LinksRevoked { epoch }))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\"\r\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;  "
        );
    }
}
