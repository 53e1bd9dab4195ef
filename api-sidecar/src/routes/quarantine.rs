//! `/v1/quarantine`: held messages. Release re-delivers to the domain's real server and is
//! idempotent (releasing a released message answers 200 without sending it twice).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{QuarantineFilter, QuarantineItem, QuarantineStatus, ThreatType},
    relay::{RelayOutcome, deliver},
    time::{now_ms, rfc3339},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{enum_param, limit_param, opt_time, time_param};
use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/quarantine", web::get().to(list))
        .route("/quarantine/{id}", web::get().to(get))
        .route("/quarantine/{id}/raw", web::get().to(raw))
        .route("/quarantine/{id}", web::delete().to(delete))
        .route("/quarantine/{id}/release", web::post().to(release));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    threat_type: Option<String>,
    from: Option<String>,
    /// A domain id.
    domain: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
}

pub fn item_json(q: &QuarantineItem) -> Value {
    json!({
        "id": q.id,
        "verdict_id": q.verdict_id,
        "domain_id": q.domain_id,
        "received_at": rfc3339(q.received_at),
        "mail_from": q.mail_from,
        "rcpt_to": q.rcpt_to,
        "from": q.from_header,
        "subject": q.subject,
        "threat_type": q.threat_type,
        "status": q.status,
        "size": q.size,
        "findings": q.findings,
        "released_at": opt_time(q.released_at),
    })
}

async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = enum_param(
        "status",
        q.status.as_deref(),
        QuarantineStatus::parse,
        "quarantined, released, deleted",
    )?;
    let threat_type = enum_param(
        "threat_type",
        q.threat_type.as_deref(),
        ThreatType::parse,
        "spam, phishing, malware, bec, policy",
    )?;
    let limit = limit_param(q.limit)?;
    let filter = QuarantineFilter {
        status,
        threat_type,
        from: q.from.filter(|f| !f.is_empty()),
        domain_id: q.domain,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        limit,
    };
    let items = state
        .store
        .quarantine_list(caller.customer_id(), filter)
        .await?;
    let data: Vec<Value> = items.iter().map(item_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "limit": limit })))
}

async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item = state
        .store
        .quarantine_get(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    Ok(HttpResponse::Ok().json(item_json(&item)))
}

/// The message as it was quarantined (`message/rfc822`).
async fn raw(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let bytes = state
        .store
        .quarantine_raw(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    Ok(HttpResponse::Ok()
        .content_type("message/rfc822")
        .body(bytes))
}

async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .store
        .quarantine_set_status(
            caller.customer_id(),
            &id,
            QuarantineStatus::Deleted,
            now_ms(),
        )
        .await?;
    if found {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("quarantined message"))
    }
}

async fn release(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer_id();
    let item = state
        .store
        .quarantine_get(customer, &id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    match item.status {
        QuarantineStatus::Released => return Ok(HttpResponse::Ok().json(item_json(&item))),
        QuarantineStatus::Deleted => {
            return Err(ApiError::Conflict(
                "the message was deleted and cannot be released".into(),
            ));
        }
        QuarantineStatus::Quarantined => {}
    }
    let domain = state
        .store
        .domain(customer, &item.domain_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict("the message's domain is no longer protected by Moat".into())
        })?;
    let raw = state
        .store
        .quarantine_raw(customer, &id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    let timeout = Duration::from_secs(state.config.relay.timeout_secs);
    match deliver(
        &domain.real_mx_host,
        &state.config.hostname,
        &item.mail_from,
        &item.rcpt_to,
        &raw,
        Default::default(),
        timeout,
    )
    .await
    {
        RelayOutcome::Delivered(_) => {}
        RelayOutcome::TempFail(why) => {
            return Err(ApiError::RelayFailed(format!(
                "{} did not take the message, try again: {why}",
                domain.real_mx_host
            )));
        }
        RelayOutcome::PermFail { code, text, .. } => {
            return Err(ApiError::RelayFailed(format!(
                "{} refused the message: {code} {text}",
                domain.real_mx_host
            )));
        }
    }
    state
        .store
        .quarantine_set_status(customer, &id, QuarantineStatus::Released, now_ms())
        .await?;
    let item = state
        .store
        .quarantine_get(customer, &id)
        .await?
        .ok_or(ApiError::NotFound("quarantined message"))?;
    tracing::info!(quarantine_id = %item.id, customer = %customer, "quarantined message released");
    Ok(HttpResponse::Ok().json(item_json(&item)))
}
