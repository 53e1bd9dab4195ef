//! `/v1/quarantine`: held messages. Release re-delivers to the domain's real server and is
//! idempotent (releasing a released message answers 200 without sending it twice); a sandbox
//! (test token) release never contacts a server. Report-as-spam/not-spam teaches the spam
//! model. Reading needs any scope; acting needs `quarantine`.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{QuarantineFilter, QuarantineItem, QuarantineStatus, ThreatType, TokenScope},
    time::now_ms,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{limit_param, resource, time_param};
use crate::body::Body;
use crate::{
    AppState,
    auth::Caller,
    cursor::{self, Listing},
    error::ApiError,
    schema::{QuarantineOut, QuarantinePage},
    service,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/quarantine", "GET").route(web::get().to(list)))
        .service(
            resource("/quarantine/{id}", "GET, DELETE")
                .route(web::get().to(get))
                .route(web::delete().to(delete)),
        )
        .service(resource("/quarantine/{id}/raw", "GET").route(web::get().to(raw)))
        .service(resource("/quarantine/{id}/release", "POST").route(web::post().to(release)))
        .service(resource("/quarantine/{id}/report", "POST").route(web::post().to(report)));
}

/// Filters of the quarantine list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<QuarantineStatus>,
    pub threat_type: Option<ThreatType>,
    /// Part of the envelope sender or From header (case-insensitive).
    #[param(max_length = 320)]
    pub from: Option<String>,
    /// A domain id.
    #[param(max_length = 100)]
    pub domain: Option<String>,
    /// Received at or after (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Received before (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

/// Checks a list parameter's length (hostile multi-kilobyte filters are refused).
pub(crate) fn short(
    name: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::BadRequest(format!(
            "{name} is longer than {max} characters"
        ))),
        v => Ok(v),
    }
}

/// Quarantined (and released or deleted) messages, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/quarantine", tag = "quarantine", operation_id = "list_quarantine",
    params(ListQuery),
    responses((status = 200, body = QuarantinePage)))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = limit_param(q.limit)?;
    let customer = caller.customer_id();
    let after = short("cursor", q.cursor, 1000)?
        .map(|c| cursor::decode(&state.signing, Listing::Quarantine, customer, &c))
        .transpose()?;
    let filter = QuarantineFilter {
        status: q.status,
        threat_type: q.threat_type,
        from: short("from", q.from, 320)?.filter(|f| !f.is_empty()),
        domain_id: short("domain", q.domain, 100)?,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        after,
        limit,
    };
    let items = state.store.quarantine_list(customer, filter).await?;
    let next_cursor = cursor::next(
        &state.signing,
        Listing::Quarantine,
        customer,
        &items,
        limit,
        |q| (q.received_at, q.id.as_str()),
    );
    Ok(HttpResponse::Ok().json(QuarantinePage {
        data: items.iter().map(QuarantineOut::of).collect(),
        limit,
        next_cursor,
    }))
}

async fn item(state: &AppState, caller: &Caller, id: &str) -> Result<QuarantineItem, ApiError> {
    state
        .store
        .quarantine_get(caller.customer_id(), id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))
}

/// A quarantined message's metadata and findings.
#[utoipa::path(get, path = "/v1/quarantine/{id}", tag = "quarantine",
    operation_id = "get_quarantined",
    params(("id" = String, Path, description = "Quarantined message id")),
    responses((status = 200, body = QuarantineOut)))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item = item(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(QuarantineOut::of(&item)))
}

/// The message as it was quarantined, as a download (`message/rfc822`, never rendered inline).
#[utoipa::path(get, path = "/v1/quarantine/{id}/raw", tag = "quarantine",
    operation_id = "get_quarantined_raw",
    params(("id" = String, Path, description = "Quarantined message id")),
    responses((status = 200, description = "The message", content_type = "message/rfc822",
        body = String)))]
pub async fn raw(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let bytes = state
        .store
        .quarantine_raw(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    // The id is a store id, but it came from the URL: keep only safe characters in the name.
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("message/rfc822")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.eml\""),
        ))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .body(bytes))
}

/// Deletes a quarantined message (it can no longer be released or downloaded).
#[utoipa::path(delete, path = "/v1/quarantine/{id}", tag = "quarantine",
    operation_id = "delete_quarantined",
    params(("id" = String, Path, description = "Quarantined message id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    service::quarantine::delete(&state.ctx(), caller.customer_id(), caller.actor(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Delivers a quarantined message to its original recipients at the domain's real server.
/// Idempotent: a released message answers 200 again without a second delivery.
#[utoipa::path(post, path = "/v1/quarantine/{id}/release", tag = "quarantine",
    operation_id = "release_quarantined",
    params(("id" = String, Path, description = "Quarantined message id")),
    responses((status = 200, body = QuarantineOut)))]
pub async fn release(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item =
        service::quarantine::release(&state.ctx(), caller.customer_id(), caller.actor(), &id)
            .await?;
    Ok(HttpResponse::Ok().json(QuarantineOut::of(&item)))
}

/// What a report says about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Spam,
    NotSpam,
}

/// A report on a quarantined message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub kind: ReportKind,
}

/// What the report changed.
#[derive(Serialize, ToSchema)]
pub struct ReportOutcome {
    pub id: String,
    pub kind: ReportKind,
    /// Whether your spam model learnt from the message now: false for a sandbox, for bytes
    /// that are not mail, and for a repeat of the message's current label (each message
    /// counts once; reporting it again with the other kind relabels it).
    pub learned: bool,
    /// Messages your model knows as spam (your reports; the gateway's own model is the
    /// operator's and no customer's report changes it).
    pub model_spam: u32,
    /// Messages your model knows as not spam.
    pub model_ham: u32,
}

/// Reports a quarantined message as spam or not spam. Your own spam model learns from it:
/// it is added to the gateway's model for your mail only, so no customer's reports move
/// another customer's verdicts. A running scanner picks the change up at its next reload.
/// At most `policy.reports_per_day` reports a day per customer (429 beyond).
#[utoipa::path(post, path = "/v1/quarantine/{id}/report", tag = "quarantine",
    operation_id = "report_quarantined",
    params(("id" = String, Path, description = "Quarantined message id")),
    request_body = NewReport,
    responses((status = 200, body = ReportOutcome)))]
pub async fn report(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<NewReport>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Quarantine)?;
    let customer = caller.customer_id();
    // Only a message Moat quarantined for this customer can be reported by it.
    let item = item(&state, &caller, &id).await?;
    let kind = body.kind;
    let limit = state.config.policy.reports_per_customer.max(1);
    let counts = |reports: &[moat_core::model::SpamReportRecord]| {
        let spam = reports.iter().filter(|r| r.spam).count() as u32;
        (spam, reports.len() as u32 - spam)
    };
    // A sandbox's reports are accepted but teach nothing.
    if moat_core::tenancy::is_sandbox(customer) {
        return Ok(HttpResponse::Ok().json(ReportOutcome {
            id: item.id,
            kind,
            learned: false,
            model_spam: 0,
            model_ham: 0,
        }));
    }
    let now = now_ms();
    let per_day = state.config.policy.reports_per_day.max(1);
    let recent = state.store.spam_reports(customer, per_day).await?;
    let today = recent
        .iter()
        .filter(|r| r.reported_at > now - 86_400_000)
        .count() as u32;
    if today >= per_day {
        let oldest = recent.iter().map(|r| r.reported_at).min().unwrap_or(now);
        return Err(ApiError::RateLimited {
            retry_after: ((oldest + 86_400_000 - now) / 1000).max(1),
        });
    }
    let raw = state
        .store
        .quarantine_raw(customer, &item.id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    let tokens = web::block(move || moat_core::detect::spam::corpus::tokens_of(&raw))
        .await
        .map_err(|e| ApiError::Store(moat_core::StoreError::Backend(e.to_string())))?;
    let learned = !tokens.is_empty()
        && state
            .store
            .put_spam_report(moat_core::model::SpamReportRecord {
                customer_id: customer.to_string(),
                item_id: item.id.clone(),
                spam: kind == ReportKind::Spam,
                tokens,
                reporter: caller.token.id.clone(),
                reported_at: now,
            })
            .await?;
    tracing::info!(quarantine_id = %item.id, customer = %customer, report = ?kind, learned, "message reported");
    let (model_spam, model_ham) = counts(&state.store.spam_reports(customer, limit).await?);
    Ok(HttpResponse::Ok().json(ReportOutcome {
        id: item.id,
        kind,
        learned,
        model_spam,
        model_ham,
    }))
}
