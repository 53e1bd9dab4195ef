//! `/v1/verdicts`: every decision Moat took for the customer's domains, with its findings.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{Action, VerdictFilter, VerdictRecord},
    time::rfc3339,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{enum_param, limit_param, time_param};
use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/verdicts", web::get().to(list))
        .route("/verdicts/{id}", web::get().to(get));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// A domain id.
    domain: Option<String>,
    verdict: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
}

fn verdict_json(v: &VerdictRecord) -> Value {
    json!({
        "id": v.id,
        "queue_id": v.queue_id,
        "received_at": rfc3339(v.received_at),
        "domain_id": v.domain_id,
        "client_ip": v.client_ip,
        "mail_from": v.mail_from,
        "rcpt_to": v.rcpt_to,
        "from": v.from_header,
        "subject": v.subject,
        "size": v.size,
        "verdict": v.action,
        "threat_type": v.threat_type,
        "findings": v.findings,
        "auth": v.auth,
    })
}

async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let action = enum_param(
        "verdict",
        q.verdict.as_deref(),
        Action::parse,
        "deliver, quarantine, reject",
    )?;
    let filter = VerdictFilter {
        domain_id: q.domain,
        action,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        limit: limit_param(q.limit)?,
    };
    let limit = filter.limit;
    let verdicts = state.store.verdicts(caller.customer_id(), filter).await?;
    let data: Vec<Value> = verdicts.iter().map(verdict_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "limit": limit })))
}

async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store
        .verdict(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("verdict"))?;
    Ok(HttpResponse::Ok().json(verdict_json(&v)))
}
