//! `GET /v1/stats`: the customer's verdict counts over a window and its mail waiting in the
//! spool (depth and age of the oldest message), read from `data_dir/spool/queue`.

use actix_web::{HttpResponse, web};
use moat_core::{model::Action, spoolfile, time::now_ms};
use serde::Deserialize;
use utoipa::IntoParams;

use super::resource;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    schema::{Breakdown, SpoolStats, Stats, VerdictCounts},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/stats", "GET").route(web::get().to(stats)));
}

/// The window of `GET /v1/stats`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Window in hours, 1 to 8 784 (a year); default 24.
    #[param(minimum = 1, maximum = 8784)]
    pub hours: Option<u32>,
}

/// Messages scanned in a window, per verdict, per domain and per day, the quarantine rate and
/// the spool's state.
#[utoipa::path(get, path = "/v1/stats", tag = "stats", operation_id = "get_stats",
    params(StatsQuery),
    responses((status = 200, body = Stats)))]
pub async fn stats(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=8784).contains(&hours) {
        return Err(ApiError::BadRequest(
            "hours must be between 1 and 8784".into(),
        ));
    }
    let now = now_ms();
    let since = now - i64::from(hours) * 3_600_000;
    let counts = state
        .store
        .verdict_counts(caller.customer_id(), since)
        .await?;
    let count = |a: Action| counts.iter().find(|(x, _)| *x == a).map_or(0, |(_, n)| *n);
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let spool = spool_of(&state, caller.customer_id(), now).await?;
    let (per_domain, per_day, breakdown_complete) =
        breakdowns(&state, caller.customer_id(), since).await?;
    Ok(HttpResponse::Ok().json(Stats {
        per_domain,
        per_day,
        breakdown_complete,
        window_hours: hours,
        messages_scanned: total,
        verdicts: VerdictCounts {
            deliver: count(Action::Deliver),
            quarantine: count(Action::Quarantine),
            reject: count(Action::Reject),
        },
        quarantine_rate: if total == 0 {
            0.0
        } else {
            count(Action::Quarantine) as f64 / total as f64
        },
        spool: SpoolStats {
            depth: spool.depth as u64,
            oldest_age_seconds: spool.oldest_ms.map_or(0, |t| (now - t).max(0) / 1000),
        },
    }))
}

/// The customer's mail waiting in every node's spool: this host's own spool read now (when a
/// scanner shares its `data_dir`), the other nodes' as they last reported it to the store.
async fn spool_of(
    state: &AppState,
    customer: &str,
    now: i64,
) -> Result<spoolfile::SpoolStats, ApiError> {
    let queue = state.config.data_dir.join("spool").join("queue");
    let owned = customer.to_string();
    let mut spool = web::block(move || spoolfile::stats(&queue, Some(&owned)))
        .await
        .map_err(|e| ApiError::Store(moat_core::StoreError::Backend(e.to_string())))?
        .map_err(|e| ApiError::Store(moat_core::StoreError::Backend(e.to_string())))?;
    for row in state.store.spool_reports(customer, now).await? {
        if row.node != state.node_id {
            spool.merge(spoolfile::SpoolStats {
                depth: row.depth,
                oldest_ms: row.oldest_ms.filter(|_| row.depth > 0),
            });
        }
    }
    Ok(spool)
}

/// Verdicts read at most for the per-domain and per-day breakdowns.
const BREAKDOWN_SCAN: usize = 200_000;

fn rate(c: &VerdictCounts) -> (u64, f64) {
    let total = c.deliver + c.quarantine + c.reject;
    let rate = if total == 0 {
        0.0
    } else {
        c.quarantine as f64 / total as f64
    };
    (total, rate)
}

/// Per-domain and per-day verdict counts since `since`, read from the verdicts themselves.
async fn breakdowns(
    state: &AppState,
    customer: &str,
    since: i64,
) -> Result<(Vec<Breakdown>, Vec<Breakdown>, bool), ApiError> {
    use std::collections::BTreeMap;
    let mut by_domain: BTreeMap<String, VerdictCounts> = BTreeMap::new();
    let mut by_day: BTreeMap<String, VerdictCounts> = BTreeMap::new();
    let filter = moat_core::model::VerdictFilter {
        since: Some(since),
        ..Default::default()
    };
    let mut pages = crate::pages::VerdictPages::new(&state.store, customer, filter);
    let complete = loop {
        let Some(page) = pages.next().await? else {
            break true;
        };
        for v in &page {
            let day = moat_core::time::rfc3339(v.received_at)[..10].to_string();
            by_domain
                .entry(v.domain_id.clone())
                .or_default()
                .add(v.action);
            by_day.entry(day).or_default().add(v.action);
        }
        if !pages.is_done() && pages.read >= BREAKDOWN_SCAN {
            break false;
        }
    };
    let domains = state.store.domains(customer).await?;
    let row = |key: String, domain: Option<String>, verdicts: VerdictCounts| {
        let (scanned, quarantine_rate) = rate(&verdicts);
        Breakdown {
            key,
            domain,
            scanned,
            verdicts,
            quarantine_rate,
        }
    };
    let per_domain = by_domain
        .into_iter()
        .map(|(id, c)| {
            let name = domains.iter().find(|d| d.id == id).map(|d| d.name.clone());
            row(id, name, c)
        })
        .collect();
    let per_day = by_day.into_iter().map(|(d, c)| row(d, None, c)).collect();
    Ok((per_domain, per_day, complete))
}
