//! Coordination between hosts on ScyllaDB: request budgets as rows with a time to live,
//! leases and once-only claims as lightweight transactions (see `schema.rs` for the tables).

use scylla::{client::session::Session, statement::prepared::PreparedStatement};

use super::{Inner, prepared};
use crate::{
    error::StoreError,
    store::{RateBudget, RateTake},
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
}
