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
    schema::{SpoolStats, Stats, VerdictCounts},
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

/// Messages scanned in a window, per verdict, the quarantine rate and the spool's state.
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
    let queue = state.config.data_dir.join("spool").join("queue");
    let customer = caller.customer_id().to_string();
    let spool = web::block(move || spoolfile::stats(&queue, Some(&customer)))
        .await
        .map_err(|e| ApiError::Store(moat_core::StoreError::Backend(e.to_string())))?
        .map_err(|e| ApiError::Store(moat_core::StoreError::Backend(e.to_string())))?;
    Ok(HttpResponse::Ok().json(Stats {
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
