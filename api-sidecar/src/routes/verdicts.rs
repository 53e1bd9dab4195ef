//! `/v1/verdicts`: every decision Moat took for the customer's domains, with its findings.

use actix_web::{HttpResponse, web};
use moat_core::model::{Action, VerdictFilter};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{limit_param, quarantine::short, resource, time_param};
use crate::{
    AppState,
    auth::Caller,
    cursor::{self, Listing},
    error::ApiError,
    schema::{VerdictOut, VerdictPage},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/verdicts", "GET").route(web::get().to(list)))
        .service(resource("/verdicts/{id}", "GET").route(web::get().to(get)));
}

/// Filters of the verdict list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A domain id.
    #[param(max_length = 100)]
    pub domain: Option<String>,
    pub verdict: Option<Action>,
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

/// Verdicts, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/verdicts", tag = "verdicts", operation_id = "list_verdicts",
    params(ListQuery),
    responses((status = 200, body = VerdictPage)))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let customer = caller.customer_id();
    let limit = limit_param(q.limit)?;
    let after = short("cursor", q.cursor, 1000)?
        .map(|c| cursor::decode(&state.signing, Listing::Verdicts, customer, &c))
        .transpose()?;
    let filter = VerdictFilter {
        domain_id: short("domain", q.domain, 100)?,
        action: q.verdict,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        after,
        limit,
        ..Default::default()
    };
    let verdicts = state.store.verdicts(customer, filter).await?;
    let next_cursor = cursor::next(
        &state.signing,
        Listing::Verdicts,
        customer,
        &verdicts,
        limit,
        |v| (v.received_at, v.id.as_str()),
    );
    Ok(HttpResponse::Ok().json(VerdictPage {
        data: verdicts.iter().map(VerdictOut::of).collect(),
        limit,
        next_cursor,
    }))
}

/// One verdict with every finding: rule, field, MIME part, byte range, severity.
#[utoipa::path(get, path = "/v1/verdicts/{id}", tag = "verdicts", operation_id = "get_verdict",
    params(("id" = String, Path, description = "Verdict id")),
    responses((status = 200, body = VerdictOut)))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let v = state
        .store
        .verdict(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("verdict"))?;
    Ok(HttpResponse::Ok().json(VerdictOut::of(&v)))
}
