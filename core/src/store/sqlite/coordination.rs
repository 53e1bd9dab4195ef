//! Coordination between hosts on one SQLite file (several processes on one machine or one
//! shared volume): request counts, leases and once-only claims, each a statement or two on the
//! writer, so SQLite's own file locking makes them atomic across processes.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{
    error::StoreError,
    store::{RateBudget, RateTake},
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
