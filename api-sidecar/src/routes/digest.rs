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
use moat_core::model::{QuarantineStatus, ThreatType, TokenKind, TokenScope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::resource;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    service::{
        self,
        digest::{Digest, DigestSent},
        quarantine::Actor,
    },
};

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
    let start = service::digest::start_of(query.day.as_deref())?;
    let digest = service::digest::build(
        &state.store,
        &state.signing,
        &state.link_base(),
        &domain,
        start,
    )
    .await?;
    Ok(HttpResponse::Ok().json(digest))
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
    let start = service::digest::start_of(query.day.as_deref())?;
    let sent = service::digest::mail_digest(
        &state.ctx(),
        &state.signing,
        &state.link_base(),
        &domain,
        start,
    )
    .await?;
    Ok(HttpResponse::Ok().json(sent))
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
    let Some((tenant, id)) = service::digest::open_link(&state.store, &state.signing, &link).await
    else {
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
    let Some((tenant, id)) = service::digest::open_link(&state.store, &state.signing, &link).await
    else {
        return invalid();
    };
    let kind = if moat_core::tenancy::is_sandbox(&tenant) {
        TokenKind::Test
    } else {
        TokenKind::Live
    };
    // A link carries the digest reader's right (the quarantine scope), never an admin's, so
    // the release service refuses malware.
    let actor = Actor {
        kind,
        scope: TokenScope::Quarantine,
    };
    match service::quarantine::release(&state.ctx(), &tenant, actor, &id).await {
        Ok(_) => page(
            actix_web::http::StatusCode::OK,
            "Released",
            "<p>The message is on its way to the mailbox.</p>",
        ),
        Err(ApiError::Forbidden { .. }) => page(
            actix_web::http::StatusCode::CONFLICT,
            "Not released",
            MALWARE_PAGE,
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
        .bump_link_epoch(moat_core::tenancy::customer_of(caller.customer_id()))
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
