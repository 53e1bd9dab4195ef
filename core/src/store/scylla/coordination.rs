//! Coordination between hosts on ScyllaDB: request budgets as rows with a time to live,
//! leases, once-only claims and idempotency slots as lightweight transactions, jobs as rows
//! with a time to live (see `schema.rs` for the tables).

use scylla::{client::session::Session, statement::prepared::PreparedStatement};

use super::{Inner, prepared};
use crate::{
    error::StoreError,
    store::{IdempotencyBegin, JobRecord, KeptAnswer, RateBudget, RateTake, SpoolRow},
};

/// The prepared statements of coordination.
pub(super) struct Statements {
    rate_count: PreparedStatement,
    rate_hit: PreparedStatement,
    lease_insert: PreparedStatement,
    lease_get: PreparedStatement,
    lease_cas: PreparedStatement,
    lease_release: PreparedStatement,
    claim: PreparedStatement,
    unclaim: PreparedStatement,
    idem_insert: PreparedStatement,
    idem_get: PreparedStatement,
    idem_keep: PreparedStatement,
    idem_free: PreparedStatement,
    job_put: PreparedStatement,
    job_get: PreparedStatement,
    jobs_of: PreparedStatement,
    secret_insert: PreparedStatement,
    secret_get: PreparedStatement,
    spool_put: PreparedStatement,
    spool_get: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(session: &Session, ks: &str) -> Result<Statements, StoreError> {
        let prepare = |cql: String| prepared(session, cql);
        Ok(Statements {
            rate_count: prepare(format!(
                "SELECT COUNT(*) FROM {ks}.rate_hits WHERE key = ? AND window = ?"
            ))
            .await?,
            rate_hit: prepare(format!(
                "INSERT INTO {ks}.rate_hits (key, window, hit) VALUES (?, ?, now()) USING TTL ?"
            ))
            .await?,
            lease_insert: prepare(format!(
                "INSERT INTO {ks}.leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?) \
                 IF NOT EXISTS"
            ))
            .await?,
            lease_get: prepare(format!(
                "SELECT holder, epoch, expires_at FROM {ks}.leases WHERE name = ?"
            ))
            .await?,
            lease_cas: prepare(format!(
                "UPDATE {ks}.leases SET holder = ?, epoch = ?, expires_at = ? \
                 WHERE name = ? IF holder = ? AND epoch = ? AND expires_at = ?"
            ))
            .await?,
            lease_release: prepare(format!(
                "UPDATE {ks}.leases SET expires_at = 0 WHERE name = ? IF holder = ?"
            ))
            .await?,
            claim: prepare(format!(
                "INSERT INTO {ks}.claims (key, claimed_at) VALUES (?, ?) IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            unclaim: prepare(format!("DELETE FROM {ks}.claims WHERE key = ?")).await?,
            idem_insert: prepare(format!(
                "INSERT INTO {ks}.idempotency (slot, fingerprint, status) VALUES (?, ?, 0) \
                 IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            idem_get: prepare(format!(
                "SELECT fingerprint, status, content_type, body FROM {ks}.idempotency \
                 WHERE slot = ?"
            ))
            .await?,
            idem_keep: prepare(format!(
                "UPDATE {ks}.idempotency USING TTL ? \
                 SET fingerprint = ?, status = ?, content_type = ?, body = ? \
                 WHERE slot = ? IF status = 0 AND fingerprint = ?"
            ))
            .await?,
            idem_free: prepare(format!(
                "DELETE FROM {ks}.idempotency WHERE slot = ? IF status = 0 AND fingerprint = ?"
            ))
            .await?,
            job_put: prepare(format!(
                "INSERT INTO {ks}.jobs (customer_id, id, running, heartbeat_at, expires_at, doc) \
                 VALUES (?, ?, ?, ?, ?, ?) USING TTL ?"
            ))
            .await?,
            job_get: prepare(format!(
                "SELECT running, heartbeat_at, expires_at, doc FROM {ks}.jobs \
                 WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            jobs_of: prepare(format!(
                "SELECT id, running, heartbeat_at FROM {ks}.jobs WHERE customer_id = ?"
            ))
            .await?,
            secret_insert: prepare(format!(
                "INSERT INTO {ks}.secrets (name, value) VALUES (?, ?) IF NOT EXISTS"
            ))
            .await?,
            secret_get: prepare(format!("SELECT value FROM {ks}.secrets WHERE name = ?")).await?,
            spool_put: prepare(format!(
                "INSERT INTO {ks}.spool_reports (customer_id, node, depth, oldest_ms) \
                 VALUES (?, ?, ?, ?) USING TTL ?"
            ))
            .await?,
            spool_get: prepare(format!(
                "SELECT node, depth, oldest_ms FROM {ks}.spool_reports WHERE customer_id = ?"
            ))
            .await?,
        })
    }
}

impl Inner {
    async fn rate_count(&self, b: &RateBudget) -> Result<u32, StoreError> {
        let n = self
            .first::<(i64,)>(&self.coord.rate_count, (&b.key, b.window_start))
            .await?
            .map_or(0, |(n,)| n);
        Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
    }

    /// Refuses a spent budget before writing; otherwise writes one hit to each budget and
    /// counts again. A request is allowed only if every count, its own hit included, is
    /// within budget, so at most `budget` requests are ever allowed per window; requests
    /// racing for the last place may all be refused (their hits stay: conservative).
    pub(super) async fn rate_take(&self, budgets: &[RateBudget]) -> Result<RateTake, StoreError> {
        for (i, b) in budgets.iter().enumerate() {
            if self.rate_count(b).await? >= b.budget {
                return Ok(RateTake::Refused(i));
            }
        }
        for b in budgets {
            let ttl = i32::try_from((b.len_ms / 1000).max(1) + 1).unwrap_or(i32::MAX);
            self.exec(&self.coord.rate_hit, (&b.key, b.window_start, ttl))
                .await?;
        }
        let mut counts = Vec::with_capacity(budgets.len());
        for (i, b) in budgets.iter().enumerate() {
            let n = self.rate_count(b).await?;
            if n > b.budget {
                return Ok(RateTake::Refused(i));
            }
            counts.push(n);
        }
        Ok(RateTake::Allowed(counts))
    }

    pub(super) async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let until = now + ttl_ms.max(1);
        if self
            .lwt(&self.coord.lease_insert, (name, holder, until))
            .await?
        {
            return Ok(Some(1));
        }
        let Some((held_by, epoch, expires_at)) = self
            .first::<(String, i64, i64)>(&self.coord.lease_get, (name,))
            .await?
        else {
            return Ok(None);
        };
        let renewal = held_by == holder && expires_at >= now;
        if !renewal && expires_at >= now {
            return Ok(None);
        }
        let new_epoch = if renewal { epoch } else { epoch + 1 };
        let won = self
            .lwt(
                &self.coord.lease_cas,
                (holder, new_epoch, until, name, &held_by, epoch, expires_at),
            )
            .await?;
        Ok(won.then_some(new_epoch))
    }

    pub(super) async fn lease_held(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .first::<(String, i64, i64)>(&self.coord.lease_get, (name,))
            .await?
            .is_some_and(|(h, e, until)| h == holder && e == epoch && until >= now))
    }

    pub(super) async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.lwt(&self.coord.lease_release, (name, holder)).await?;
        Ok(())
    }

    pub(super) async fn claim_once(
        &self,
        key: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let ttl = i32::try_from(((expires_at - now) / 1000).max(1)).unwrap_or(i32::MAX);
        self.lwt(&self.coord.claim, (key, now, ttl)).await
    }

    pub(super) async fn unclaim(&self, key: &str) -> Result<(), StoreError> {
        self.exec(&self.coord.unclaim, (key,)).await
    }

    /// Takes the slot with a lightweight transaction (its running mark expires by TTL); when
    /// another request holds it, reads what it holds. A slot that expires between the two
    /// steps is tried once more.
    pub(super) async fn idempotency_begin(
        &self,
        slot: &str,
        fingerprint: &[u8],
        now: i64,
        running_until: i64,
    ) -> Result<IdempotencyBegin, StoreError> {
        let ttl = ttl_secs(now, running_until);
        for _ in 0..2 {
            if self
                .lwt(&self.coord.idem_insert, (slot, fingerprint, ttl))
                .await?
            {
                return Ok(IdempotencyBegin::Run);
            }
            type Kept = (
                Option<Vec<u8>>,
                Option<i32>,
                Option<String>,
                Option<Vec<u8>>,
            );
            let Some((kept_fp, status, content_type, body)) =
                self.first::<Kept>(&self.coord.idem_get, (slot,)).await?
            else {
                continue;
            };
            return Ok(if kept_fp.as_deref() != Some(fingerprint) {
                IdempotencyBegin::Mismatch
            } else {
                match status.and_then(|s| u16::try_from(s).ok()).unwrap_or(0) {
                    0 => IdempotencyBegin::Running,
                    status => IdempotencyBegin::Replay(KeptAnswer {
                        status,
                        content_type,
                        body: body.unwrap_or_default(),
                    }),
                }
            });
        }
        // Taken and gone twice within a moment: report it running, the caller retries.
        Ok(IdempotencyBegin::Running)
    }

    pub(super) async fn idempotency_finish(
        &self,
        slot: &str,
        fingerprint: &[u8],
        answer: Option<&KeptAnswer>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        match answer {
            Some(a) => {
                let values = (
                    ttl_secs(now, expires_at),
                    fingerprint,
                    i32::from(a.status.max(1)),
                    &a.content_type,
                    &a.body,
                    slot,
                    fingerprint,
                );
                self.lwt(&self.coord.idem_keep, values).await?;
            }
            None => {
                self.lwt(&self.coord.idem_free, (slot, fingerprint)).await?;
            }
        }
        Ok(())
    }

    /// Counts the customer's live running jobs, then writes the new one. Not atomic: hosts
    /// starting jobs for one customer at the same moment may each see room, so the limit
    /// holds within one extra job per racing host.
    pub(super) async fn job_start(
        &self,
        job: &JobRecord,
        max_running: u32,
        live_after: i64,
    ) -> Result<bool, StoreError> {
        let jobs = self
            .rows::<(String, Option<bool>, Option<i64>)>(&self.coord.jobs_of, (&job.customer_id,))
            .await?;
        let running = jobs
            .iter()
            .filter(|(id, running, beat)| {
                *id != job.id && *running == Some(true) && beat.is_some_and(|b| b >= live_after)
            })
            .count();
        if running >= max_running as usize {
            return Ok(false);
        }
        self.job_put(job).await?;
        Ok(true)
    }

    pub(super) async fn job_put(&self, job: &JobRecord) -> Result<(), StoreError> {
        let ttl = ttl_secs(job.heartbeat_at, job.expires_at);
        let values = (
            &job.customer_id,
            &job.id,
            job.running,
            job.heartbeat_at,
            job.expires_at,
            &job.doc,
            ttl,
        );
        self.exec(&self.coord.job_put, values).await
    }

    pub(super) async fn job_get(
        &self,
        customer_id: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .first::<(Option<bool>, Option<i64>, Option<i64>, Option<String>)>(
                &self.coord.job_get,
                (customer_id, id),
            )
            .await?
            .and_then(|(running, heartbeat_at, expires_at, doc)| {
                let expires_at = expires_at.unwrap_or(0);
                (expires_at >= now).then(|| JobRecord {
                    customer_id: customer_id.to_string(),
                    id: id.to_string(),
                    running: running.unwrap_or(false),
                    heartbeat_at: heartbeat_at.unwrap_or(0),
                    expires_at,
                    doc: doc.unwrap_or_default(),
                })
            }))
    }
}

impl Inner {
    /// Offers the candidate by LWT, then reads whichever value won.
    pub(super) async fn shared_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.lwt(&self.coord.secret_insert, (name, candidate))
            .await?;
        self.first::<(Vec<u8>,)>(&self.coord.secret_get, (name,))
            .await?
            .map(|(v,)| v)
            .ok_or_else(|| StoreError::Backend(format!("secret {name} vanished after its write")))
    }
}

impl Inner {
    pub(super) async fn put_spool_report(
        &self,
        rows: &[SpoolRow],
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let ttl = ttl_secs(now, expires_at);
        for row in rows {
            let depth = i64::try_from(row.depth).unwrap_or(i64::MAX);
            let values = (&row.customer_id, &row.node, depth, row.oldest_ms, ttl);
            self.exec(&self.coord.spool_put, values).await?;
        }
        Ok(())
    }

    pub(super) async fn spool_reports(
        &self,
        customer_id: &str,
    ) -> Result<Vec<SpoolRow>, StoreError> {
        Ok(self
            .rows::<(String, Option<i64>, Option<i64>)>(&self.coord.spool_get, (customer_id,))
            .await?
            .into_iter()
            .map(|(node, depth, oldest_ms)| SpoolRow {
                node,
                customer_id: customer_id.to_string(),
                depth: depth.and_then(|d| u64::try_from(d).ok()).unwrap_or(0),
                oldest_ms,
            })
            .collect())
    }
}

/// A TTL in whole seconds (at least one) from `now` to `until`, both Unix ms.
fn ttl_secs(now: i64, until: i64) -> i32 {
    i32::try_from(((until - now) / 1000).max(1)).unwrap_or(i32::MAX)
}
