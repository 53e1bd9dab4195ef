//! `GET /v1/threats`: the threat feed. Every verdict that found a threat, newest first, in the
//! shape integrations expect (`{"threats": [{"id", "type", "severity", "from", "target",
//! "detected_at", "action"}]}`), filtered by type, lowest severity, domain and time.

use actix_web::{HttpResponse, web};
use moat_core::model::{Severity, ThreatType, VerdictFilter};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{limit_param, quarantine::short, resource, time_param};
use crate::{
    AppState,
    auth::Caller,
    cursor::{self, Listing},
    error::ApiError,
    schema::ThreatFeed,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/threats", "GET").route(web::get().to(list)));
}

/// Filters of the threat feed.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThreatQuery {
    /// Only threats of this class.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<ThreatType>,
    /// Lowest severity to include (`high` gives high and critical).
    pub severity: Option<Severity>,
    /// A domain id.
    #[param(max_length = 100)]
    pub domain: Option<String>,
    /// Detected at or after (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Detected before (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

/// Store pages read at most per request when a severity filter skips rows.
const MAX_SCANNED_PAGES: usize = 10;

/// Threats found in the customer's mail, newest first.
#[utoipa::path(get, path = "/v1/threats", tag = "threats", operation_id = "list_threats",
    params(ThreatQuery),
    responses((status = 200, body = ThreatFeed)))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ThreatQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let customer = caller.customer_id();
    let limit = limit_param(q.limit)?;
    let mut after = short("cursor", q.cursor, 1000)?
        .map(|c| cursor::decode(&state.signing, Listing::Threats, customer, &c))
        .transpose()?;
    let base = VerdictFilter {
        domain_id: short("domain", q.domain, 100)?,
        threat_type: q.kind,
        threats_only: true,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        limit,
        ..Default::default()
    };
    let mut threats = Vec::new();
    let mut more = false;
    for _ in 0..MAX_SCANNED_PAGES {
        let filter = VerdictFilter {
            after: after.clone(),
            ..base.clone()
        };
        let page = state.store.verdicts(customer, filter).await?;
        more = page.len() == limit as usize;
        for v in &page {
            after = Some((v.received_at, v.id.clone()));
            if let Some(t) = crate::service::threats::threat_of(v)
                && q.severity.is_none_or(|min| t.severity >= min)
            {
                threats.push(t);
                if threats.len() == limit as usize {
                    break;
                }
            }
        }
        if !more || threats.len() == limit as usize {
            break;
        }
    }
    let next_cursor = match (&after, more || threats.len() == limit as usize) {
        (Some((t, id)), true) => Some(cursor::encode(
            &state.signing,
            Listing::Threats,
            customer,
            *t,
            id,
        )),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(ThreatFeed {
        threats,
        next_cursor,
    }))
}
