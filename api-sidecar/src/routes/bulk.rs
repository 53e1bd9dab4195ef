//! Bulk release or delete of quarantined mail by filter, run as a job whose progress is polled:
//! `POST /v1/quarantine/bulk` answers 202 with the job at once; `GET /v1/quarantine/bulk/{id}`
//! shows how far it got. A job walks the matching messages with the same keyset cursor as the
//! list (so releasing as it goes never skips or repeats one) and acts on each exactly as the
//! single-message endpoints do. A job runs on the API host that started it and writes its
//! progress to the store (`Store::job_put`) every few seconds, so any host answers its
//! progress; it is kept an hour after it ends. A job whose host dies stops: after a minute
//! without progress it reads `completed_with_errors`, with `last_error` saying so, and
//! starting it again acts on the messages it had not reached (they are still quarantined).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{QuarantineFilter, QuarantineStatus, ThreatType, TokenScope},
    store::JobRecord,
    time::{now_ms, rfc3339},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{quarantine::short, resource, time_param};
use crate::body::Body;
use crate::{AppState, auth::Caller, error::ApiError};

/// Messages one job may act on.
pub const MAX_JOB_MESSAGES: u64 = 100_000;
/// Finished jobs are forgotten after this (ms).
const KEEP_FINISHED_MS: i64 = 3600 * 1000;
/// A running job's record lives this long past its last heartbeat (ms).
const KEEP_RUNNING_MS: i64 = 24 * 3600 * 1000;
/// How often a running job writes its progress.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// A running job without progress for this long lost its host (ms).
const STALE_MS: i64 = 60 * 1000;
/// Jobs running at once per customer, across all API hosts.
const MAX_RUNNING: u32 = 2;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    /// Finished, but some messages could not be acted on (see `failed` and `last_error`).
    CompletedWithErrors,
}

/// A bulk job and its progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

impl BulkJob {
    /// The store's record of this job as of `now`.
    fn record(&self, customer: &str, now: i64) -> JobRecord {
        let running = self.status == JobStatus::Running;
        JobRecord {
            customer_id: customer.to_string(),
            id: self.id.clone(),
            running,
            heartbeat_at: now,
            expires_at: now
                + if running {
                    KEEP_RUNNING_MS
                } else {
                    KEEP_FINISHED_MS
                },
            doc: serde_json::to_string(self).unwrap_or_default(),
        }
    }

    /// The job a record holds, as it stands at `now`: a running job whose heartbeat stopped
    /// lost its host.
    fn from_record(record: &JobRecord, now: i64) -> Option<BulkJob> {
        let mut job: BulkJob = serde_json::from_str(&record.doc).ok()?;
        if job.status == JobStatus::Running && record.heartbeat_at < now - STALE_MS {
            job.status = JobStatus::CompletedWithErrors;
            job.finished_at = Some(rfc3339(record.heartbeat_at));
            job.last_error = Some(
                "the API host running this job stopped before it finished; start the job \
                 again to act on the messages it had not reached"
                    .into(),
            );
        }
        Some(job)
    }
}

/// A running job's progress, shared by the worker and its heartbeat.
type Progress = Arc<Mutex<BulkJob>>;

fn update(progress: &Progress, f: impl FnOnce(&mut BulkJob)) {
    f(&mut progress.lock().unwrap_or_else(|p| p.into_inner()));
}

fn snapshot(progress: &Progress) -> BulkJob {
    progress.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
    let now = now_ms();
    let started = state
        .store
        .job_start(job.record(&customer, now), MAX_RUNNING, now - STALE_MS)
        .await?;
    if !started {
        return Err(ApiError::Conflict(
            "two bulk jobs are already running; wait for one to finish".into(),
        ));
    }
    let (actor, progress) = (caller.actor(), Arc::new(Mutex::new(job.clone())));
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let beat = actix_web::rt::spawn(heartbeat(
            state.clone(),
            customer.clone(),
            progress.clone(),
            stopped,
        ));
        run(&state, &customer, actor, &progress, action, base).await;
        // The heartbeat stops (after any write it has begun) before the final state is
        // written, so the last word in the store is the job's end.
        let _ = stop.send(());
        let _ = beat.await;
        let job = snapshot(&progress);
        if let Err(e) = state.store.job_put(job.record(&customer, now_ms())).await {
            tracing::warn!(job = %job.id, error = %e, "could not record a bulk job's end");
        }
    });
    Ok(HttpResponse::Accepted().json(job))
}

/// Writes a running job's progress every few seconds until told to stop.
async fn heartbeat(
    state: Arc<AppState>,
    customer: String,
    progress: Progress,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(HEARTBEAT) => {}
        }
        let job = snapshot(&progress);
        if let Err(e) = state.store.job_put(job.record(&customer, now_ms())).await {
            tracing::warn!(job = %job.id, error = %e, "could not record a bulk job's progress");
        }
    }
}

async fn run(
    state: &AppState,
    customer: &str,
    actor: crate::service::quarantine::Actor,
    progress: &Progress,
    action: BulkAction,
    mut filter: QuarantineFilter,
) {
    let mut seen = 0u64;
    'pages: loop {
        let page = match state.store.quarantine_list(customer, filter.clone()).await {
            Ok(p) => p,
            Err(e) => {
                update(progress, |j| {
                    j.last_error = Some(format!("the store failed: {e}"));
                    j.failed += 1;
                });
                break;
            }
        };
        for item in &page {
            seen += 1;
            if seen > MAX_JOB_MESSAGES {
                update(progress, |j| {
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
            update(progress, |j| match outcome {
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
    update(progress, |j| {
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
    let now = now_ms();
    let job = state
        .store
        .job_get(caller.customer_id(), &id, now)
        .await?
        .and_then(|record| BulkJob::from_record(&record, now))
        .ok_or(ApiError::NotFound("bulk job"))?;
    Ok(HttpResponse::Ok().json(job))
}
