//! Coordination between hosts on one SQLite file (several processes on one machine or one
//! shared volume): request counts, leases, once-only claims, kept idempotent answers and jobs,
//! each a statement or two in the writer's `BEGIN IMMEDIATE` transaction, so SQLite's own file
//! locking makes them atomic across processes.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{
    error::StoreError,
    store::{IdempotencyBegin, JobRecord, KeptAnswer, RateBudget, RateTake, SpoolRow},
    time::now_ms,
};

/// One in this many writes also sweeps expired rows (an indexed range delete).
const SWEEP_ONE_IN: u8 = 64;

fn sweep(conn: &Connection, table: &str, now: i64) -> Result<(), StoreError> {
    if rand::random::<u8>().is_multiple_of(SWEEP_ONE_IN) {
        conn.execute(
            &format!("DELETE FROM {table} WHERE expires_at < ?1"),
            params![now],
        )?;
    }
    Ok(())
}

/// Draws on every budget in order; on the first spent one, gives back what was drawn.
pub(super) fn rate_take(conn: &Connection, budgets: &[RateBudget]) -> Result<RateTake, StoreError> {
    let mut counts = Vec::with_capacity(budgets.len());
    for (i, b) in budgets.iter().enumerate() {
        let count: Option<u32> = conn
            .query_row(
                "INSERT INTO rate_counts (key, window_start, count, expires_at) \
                 VALUES (?1, ?2, 1, ?3) \
                 ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 \
                 WHERE count < ?4 RETURNING count",
                params![b.key, b.window_start, b.resets_at(), b.budget],
                |r| r.get(0),
            )
            .optional()?;
        match count {
            Some(c) => counts.push(c),
            None => {
                for drawn in &budgets[..i] {
                    conn.execute(
                        "UPDATE rate_counts SET count = count - 1 \
                         WHERE key = ?1 AND window_start = ?2 AND count > 0",
                        params![drawn.key, drawn.window_start],
                    )?;
                }
                return Ok(RateTake::Refused(i));
            }
        }
    }
    sweep(conn, "rate_counts", now_ms())?;
    Ok(RateTake::Allowed(counts))
}

/// Takes the lease when it is free or expired (a new epoch), renews it for its holder.
pub(super) fn lease(
    conn: &Connection,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?1, ?2, 1, ?4) \
             ON CONFLICT (name) DO UPDATE SET \
                 epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at >= ?3 \
                         THEN leases.epoch ELSE leases.epoch + 1 END, \
                 holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < ?3 \
             RETURNING epoch",
            params![name, holder, now, now + ttl_ms.max(1)],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn lease_held(
    conn: &Connection,
    name: &str,
    holder: &str,
    epoch: i64,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM leases WHERE name = ?1 AND holder = ?2 AND epoch = ?3 \
             AND expires_at >= ?4",
            params![name, holder, epoch, now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(super) fn release_lease(conn: &Connection, name: &str, holder: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE leases SET expires_at = 0 WHERE name = ?1 AND holder = ?2",
        params![name, holder],
    )?;
    Ok(())
}

pub(super) fn claim_once(
    conn: &Connection,
    key: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "INSERT INTO claims (key, expires_at) VALUES (?1, ?3) \
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE claims.expires_at < ?2",
        params![key, now, expires_at],
    )?;
    sweep(conn, "claims", now)?;
    Ok(changed > 0)
}

pub(super) fn unclaim(conn: &Connection, key: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM claims WHERE key = ?1", params![key])?;
    Ok(())
}

pub(super) fn idempotency_begin(
    conn: &Connection,
    slot: &str,
    fingerprint: &[u8],
    now: i64,
    running_until: i64,
) -> Result<IdempotencyBegin, StoreError> {
    let taken = conn.execute(
        "INSERT INTO idempotency (slot, fingerprint, status, expires_at) VALUES (?1, ?2, 0, ?4) \
         ON CONFLICT (slot) DO UPDATE SET fingerprint = excluded.fingerprint, status = 0, \
             content_type = NULL, body = NULL, expires_at = excluded.expires_at \
         WHERE idempotency.expires_at < ?3",
        params![slot, fingerprint, now, running_until],
    )?;
    sweep(conn, "idempotency", now)?;
    if taken > 0 {
        return Ok(IdempotencyBegin::Run);
    }
    let (kept_fp, status, content_type, body): (Vec<u8>, u16, Option<String>, Option<Vec<u8>>) =
        conn.query_row(
            "SELECT fingerprint, status, content_type, body FROM idempotency WHERE slot = ?1",
            params![slot],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    Ok(if kept_fp != fingerprint {
        IdempotencyBegin::Mismatch
    } else if status == 0 {
        IdempotencyBegin::Running
    } else {
        IdempotencyBegin::Replay(KeptAnswer {
            status,
            content_type,
            body: body.unwrap_or_default(),
        })
    })
}

pub(super) fn idempotency_finish(
    conn: &Connection,
    slot: &str,
    fingerprint: &[u8],
    answer: Option<&KeptAnswer>,
    expires_at: i64,
) -> Result<(), StoreError> {
    match answer {
        Some(a) => conn.execute(
            "UPDATE idempotency SET status = ?3, content_type = ?4, body = ?5, expires_at = ?6 \
             WHERE slot = ?1 AND fingerprint = ?2 AND status = 0",
            params![
                slot,
                fingerprint,
                a.status.max(1),
                a.content_type,
                a.body,
                expires_at
            ],
        )?,
        None => conn.execute(
            "DELETE FROM idempotency WHERE slot = ?1 AND fingerprint = ?2 AND status = 0",
            params![slot, fingerprint],
        )?,
    };
    Ok(())
}

pub(super) fn job_start(
    conn: &Connection,
    job: &JobRecord,
    max_running: u32,
    live_after: i64,
) -> Result<bool, StoreError> {
    let running: u32 = conn.query_row(
        "SELECT COUNT(*) FROM jobs WHERE customer_id = ?1 AND running = 1 \
         AND heartbeat_at >= ?2 AND id != ?3",
        params![job.customer_id, live_after, job.id],
        |r| r.get(0),
    )?;
    if running >= max_running {
        return Ok(false);
    }
    job_put(conn, job)?;
    sweep(conn, "jobs", job.heartbeat_at)?;
    Ok(true)
}

pub(super) fn job_put(conn: &Connection, job: &JobRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO jobs (customer_id, id, running, heartbeat_at, expires_at, doc) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (customer_id, id) DO UPDATE SET running = excluded.running, \
             heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at, \
             doc = excluded.doc",
        params![
            job.customer_id,
            job.id,
            job.running,
            job.heartbeat_at,
            job.expires_at,
            job.doc
        ],
    )?;
    Ok(())
}

pub(super) fn job_get(
    conn: &Connection,
    customer_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<JobRecord>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT running, heartbeat_at, expires_at, doc FROM jobs \
             WHERE customer_id = ?1 AND id = ?2 AND expires_at >= ?3",
            params![customer_id, id, now],
            |r| {
                Ok(JobRecord {
                    customer_id: customer_id.to_string(),
                    id: id.to_string(),
                    running: r.get(0)?,
                    heartbeat_at: r.get(1)?,
                    expires_at: r.get(2)?,
                    doc: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn shared_secret(
    conn: &Connection,
    name: &str,
    candidate: &[u8],
) -> Result<Vec<u8>, StoreError> {
    conn.execute(
        "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![name, candidate],
    )?;
    Ok(conn.query_row(
        "SELECT value FROM secrets WHERE name = ?1",
        params![name],
        |r| r.get(0),
    )?)
}

pub(super) fn put_spool_report(
    conn: &Connection,
    rows: &[SpoolRow],
    expires_at: i64,
) -> Result<(), StoreError> {
    for row in rows {
        conn.execute(
            "INSERT INTO spool_reports (customer_id, node, depth, oldest_ms, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (customer_id, node) DO UPDATE SET \
             depth = excluded.depth, oldest_ms = excluded.oldest_ms, \
             expires_at = excluded.expires_at",
            params![
                row.customer_id,
                row.node,
                i64::try_from(row.depth).unwrap_or(i64::MAX),
                row.oldest_ms,
                expires_at
            ],
        )?;
    }
    sweep(conn, "spool_reports", now_ms())?;
    Ok(())
}

pub(super) fn spool_reports(
    conn: &Connection,
    customer_id: &str,
    now: i64,
) -> Result<Vec<SpoolRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT node, depth, oldest_ms FROM spool_reports \
         WHERE customer_id = ?1 AND expires_at >= ?2",
    )?;
    let rows = st.query_map(params![customer_id, now], |r| {
        Ok(SpoolRow {
            node: r.get(0)?,
            customer_id: customer_id.to_string(),
            depth: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            oldest_ms: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
