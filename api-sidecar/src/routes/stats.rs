//! `GET /v1/stats`: the customer's verdict counts over a window and its mail waiting in the
//! spool (depth and age of the oldest message), read from `data_dir/spool/queue`.

use actix_web::{HttpResponse, web};
use moat_core::{model::Action, spoolfile, time::now_ms};
use serde::Deserialize;
use serde_json::json;

use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/stats", web::get().to(stats));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    /// Window in hours, 1 to 8 784 (a year); default 24.
    hours: Option<u32>,
}

async fn stats(
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
    Ok(HttpResponse::Ok().json(json!({
        "window_hours": hours,
        "messages_scanned": total,
        "verdicts": {
            "deliver": count(Action::Deliver),
            "quarantine": count(Action::Quarantine),
            "reject": count(Action::Reject),
        },
        "quarantine_rate": if total == 0 { 0.0 } else { count(Action::Quarantine) as f64 / total as f64 },
        "spool": {
            "depth": spool.depth,
            "oldest_age_seconds": spool.oldest_ms.map_or(0, |t| (now - t).max(0) / 1000),
        },
    })))
}
