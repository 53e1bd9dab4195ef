//! Bulk release or delete of quarantined mail by filter, run as a job whose progress is polled:
//! `POST /v1/quarantine/bulk` answers 202 with the job at once; `GET /v1/quarantine/bulk/{id}`
//! shows how far it got. A job walks the matching messages with the same keyset cursor as the
//! list (so releasing as it goes never skips or repeats one) and acts on each exactly as the
//! single-message endpoints do. Jobs live in the API process that runs them (kept an hour
//! after they end); the messages' own states are in the store.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{QuarantineFilter, QuarantineStatus, ThreatType, TokenScope},
    time::{now_ms, rfc3339},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{quarantine::short, resource, time_param};
use crate::body::Body;
use crate::{AppState, auth::Caller, error::ApiError};

/// Messages one job may act on.
pub const MAX_JOB_MESSAGES: u64 = 100_000;
/// Finished jobs are forgotten after this.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/quarantine/bulk", "POST").route(web::post().to(start)))
        .service(resource("/quarantine/bulk/{id}", "GET").route(web::get().to(get)));
}

/// What a bulk job does to each matching message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Release,
    Delete,
}

/// Which quarantined messages a job acts on (only ones still `quarantined`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    pub threat_type: Option<ThreatType>,
    /// Part of the envelope sender or From header.
    #[schema(max_length = 320)]
    pub from: Option<String>,
    /// A domain id.
    #[schema(max_length = 100)]
    pub domain: Option<String>,
    #[schema(format = DateTime)]
    pub since: Option<String>,
    #[schema(format = DateTime)]
    pub until: Option<String>,
}

/// A bulk job to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBulkJob {
    pub action: BulkAction,
    #[serde(default)]
    pub filter: BulkFilter,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    /// Finished, but some messages could not be acted on (see `failed` and `last_error`).
    CompletedWithErrors,
}

/// A bulk job and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkJob {
    pub id: String,
    pub action: BulkAction,
    pub status: JobStatus,
    /// Messages acted on.
    pub done: u64,
    /// Messages that could not be acted on.
    pub failed: u64,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
}

struct Tracked {
    customer: String,
    job: BulkJob,
    ended: Option<Instant>,
}

/// The API process's jobs.
#[derive(Default, Clone)]
pub struct Jobs(Arc<Mutex<HashMap<String, Tracked>>>);

impl Jobs {
    fn update(&self, id: &str, f: impl FnOnce(&mut BulkJob)) {
        let mut jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = jobs.get_mut(id) {
            f(&mut t.job);
            if t.job.status != JobStatus::Running && t.ended.is_none() {
                t.ended = Some(Instant::now());
            }
        }
    }

    fn get(&self, customer: &str, id: &str) -> Option<BulkJob> {
        let mut jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        jobs.retain(|_, t| t.ended.is_none_or(|e| e.elapsed() < KEEP_FINISHED));
        jobs.get(id)
            .filter(|t| t.customer == customer)
            .map(|t| t.job.clone())
    }

    fn running(&self, customer: &str) -> usize {
        let jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        jobs.values()
            .filter(|t| t.customer == customer && t.job.status == JobStatus::Running)
            .count()
    }
}

/// Starts releasing or deleting every matching quarantined message; answers the job at once.
/// At most two jobs run per customer, each over at most 100 000 messages.
#[utoipa::path(post, path = "/v1/quarantine/bulk", tag = "quarantine",
    operation_id = "start_bulk_job",
    request_body = NewBulkJob,
    responses((status = 202, body = BulkJob)))]
pub async fn start(
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<NewBulkJob>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Quarantine)?;
    let NewBulkJob { action, filter } = body.into_inner();
    let customer = caller.customer_id().to_string();
    let base = QuarantineFilter {
        status: Some(QuarantineStatus::Quarantined),
        threat_type: filter.threat_type,
        from: short("from", filter.from, 320)?.filter(|f| !f.is_empty()),
        domain_id: short("domain", filter.domain, 100)?,
        since: time_param("since", filter.since.as_deref())?,
        until: time_param("until", filter.until.as_deref())?,
        after: None,
        limit: 100,
    };
    if state.jobs.running(&customer) >= 2 {
        return Err(ApiError::Conflict(
            "two bulk jobs are already running; wait for one to finish".into(),
        ));
    }
    let job = BulkJob {
        id: uuid::Uuid::now_v7().to_string(),
        action,
        status: JobStatus::Running,
        done: 0,
        failed: 0,
        last_error: None,
        started_at: rfc3339(now_ms()),
        finished_at: None,
    };
    state
        .jobs
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            job.id.clone(),
            Tracked {
                customer: customer.clone(),
                job: job.clone(),
                ended: None,
            },
        );
    let (id, actor) = (job.id.clone(), caller.actor());
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        run(&state, &customer, actor, &id, action, base).await;
    });
    Ok(HttpResponse::Accepted().json(job))
}

async fn run(
    state: &AppState,
    customer: &str,
    actor: crate::service::quarantine::Actor,
    id: &str,
    action: BulkAction,
    mut filter: QuarantineFilter,
) {
    let mut seen = 0u64;
    'pages: loop {
        let page = match state.store.quarantine_list(customer, filter.clone()).await {
            Ok(p) => p,
            Err(e) => {
                state.jobs.update(id, |j| {
                    j.last_error = Some(format!("the store failed: {e}"));
                    j.failed += 1;
                });
                break;
            }
        };
        for item in &page {
            seen += 1;
            if seen > MAX_JOB_MESSAGES {
                state.jobs.update(id, |j| {
                    j.last_error = Some(format!(
                        "stopped after {MAX_JOB_MESSAGES} messages; start another job for the rest"
                    ));
                });
                break 'pages;
            }
            let outcome = match action {
                BulkAction::Release => {
                    crate::service::quarantine::release(&state.ctx(), customer, actor, &item.id)
                        .await
                        .map(|_| ())
                }
                BulkAction::Delete => {
                    crate::service::quarantine::delete(&state.ctx(), customer, actor, &item.id)
                        .await
                }
            };
            state.jobs.update(id, |j| match outcome {
                Ok(()) => j.done += 1,
                Err(e) => {
                    j.failed += 1;
                    j.last_error = Some(format!("{}: {e}", item.id));
                }
            });
        }
        match page.last() {
            Some(last) if page.len() == filter.limit as usize => {
                filter.after = Some((last.received_at, last.id.clone()));
            }
            _ => break,
        }
    }
    state.jobs.update(id, |j| {
        j.status = if j.failed == 0 {
            JobStatus::Succeeded
        } else {
            JobStatus::CompletedWithErrors
        };
        j.finished_at = Some(rfc3339(now_ms()));
    });
}

/// A bulk job's progress (kept an hour after it ends).
#[utoipa::path(get, path = "/v1/quarantine/bulk/{id}", tag = "quarantine",
    operation_id = "get_bulk_job",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = BulkJob)))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state
        .jobs
        .get(caller.customer_id(), &id)
        .ok_or(ApiError::NotFound("bulk job"))?;
    Ok(HttpResponse::Ok().json(job))
}
