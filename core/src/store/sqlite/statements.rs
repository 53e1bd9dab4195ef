//! The [`Store`] methods on SQLite: each runs one statement or one transaction on the writer
//! (inside its group commit) or on a reader.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, backend, coordination, rows::*};
use crate::store::{
    IdempotencyBegin, JobRecord, KeptAnswer, RateBudget, RateTake, SpoolRow, Store, StoreFuture,
};
use crate::{
    auth::dmarc_report::DmarcRow,
    error::StoreError,
    model::{
        Action, Customer, Domain, DomainDetection, DomainPatch, Policy, QuarantineFilter,
        QuarantineItem, RELEASE_CLAIM_MS, SenderHistory, SenderRule, SpamReportRecord, TokenInfo,
        VerdictFilter, VerdictRecord, Webhook, WebhookDelivery,
    },
    time::now_ms,
};

impl Store for SqliteStore {
    fn customer_by_name(&self, name: &str) -> StoreFuture<Option<Customer>> {
        let name = name.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id, name, created_at FROM customers WHERE name = ?1",
                    [&name],
                    |r| {
                        Ok(Customer {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_at: r.get(2)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    fn ensure_customer(&self, name: &str) -> StoreFuture<Customer> {
        let name = name.to_string();
        self.write(move |conn| {
            if let Some(c) = conn
                .query_row(
                    "SELECT id, name, created_at FROM customers WHERE name = ?1",
                    [&name],
                    |r| {
                        Ok(Customer {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_at: r.get(2)?,
                        })
                    },
                )
                .optional()?
            {
                return Ok(c);
            }
            let c = Customer {
                id: uuid::Uuid::now_v7().to_string(),
                name,
                created_at: now_ms(),
            };
            conn.execute(
                "INSERT INTO customers (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![c.id, c.name, c.created_at],
            )?;
            Ok(c)
        })
    }

    fn ensure_sandbox(&self, customer: &Customer) -> StoreFuture<()> {
        let c = customer.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO customers (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![
                    crate::tenancy::tenant_of(&c.id, crate::model::TokenKind::Test),
                    format!("{}{}", c.name, crate::tenancy::SANDBOX_SUFFIX),
                    c.created_at
                ],
            )?;
            Ok(())
        })
    }

    fn customer(&self, id: &str) -> StoreFuture<Option<Customer>> {
        let id = id.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id, name, created_at FROM customers WHERE id = ?1",
                    [&id],
                    |r| {
                        Ok(Customer {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_at: r.get(2)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    fn insert_token(&self, token: TokenInfo, hash: String) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO tokens (id, customer_id, hash, prefix, kind, created_at, scope) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    token.id,
                    token.customer_id,
                    hash,
                    token.prefix,
                    token.kind.as_str(),
                    token.created_at,
                    token.scope.as_str(),
                ],
            )?;
            Ok(())
        })
    }

    fn token_by_hash(&self, hash: &str) -> StoreFuture<Option<TokenInfo>> {
        let hash = hash.to_string();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLS} FROM tokens WHERE hash = ?1 AND revoked_at IS NULL"
                ))?
                .query_row([&hash], token_row)
                .optional()?)
        })
    }

    fn tokens(&self, customer_id: &str) -> StoreFuture<Vec<TokenInfo>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE customer_id = ?1 AND revoked_at IS NULL \
                 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([&customer_id], token_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn revoke_token(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE tokens SET revoked_at = ?3 \
                 WHERE customer_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![customer_id, id, at],
            )? > 0)
        })
    }

    fn insert_domain(&self, d: Domain) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO domains ({DOMAIN_COLS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    d.id,
                    d.customer_id,
                    d.name,
                    d.real_mx_host,
                    d.status.as_str(),
                    d.created_at,
                    d.delivery_mode.as_str(),
                    serde_json::to_string(&d.detection).map_err(backend)?,
                    d.verified_at,
                    d.tls.as_str(),
                    d.allow_internal_target,
                    d.verification_token
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("domain {} is already protected", d.name))
                }
                other => other,
            })?;
            Ok(())
        })
    }

    fn activate_domain(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<Option<Domain>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            // The partial unique index on live active names refuses a second owner.
            conn.execute(
                "UPDATE domains SET status = 'active', verified_at = coalesce(verified_at, ?3) \
                 WHERE customer_id = ?1 AND id = ?2",
                params![customer_id, id, at],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict("the domain is already active for another account".into())
                }
                other => other,
            })?;
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {DOMAIN_COLS} FROM domains WHERE customer_id = ?1 AND id = ?2"
                    ),
                    [&customer_id, &id],
                    domain_row,
                )
                .optional()?)
        })
    }

    fn set_domain_internal_target(
        &self,
        customer_id: &str,
        id: &str,
        allowed: bool,
    ) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE domains SET allow_internal = ?3 WHERE customer_id = ?1 AND id = ?2",
                params![customer_id, id, allowed],
            )? > 0)
        })
    }

    fn domains(&self, customer_id: &str) -> StoreFuture<Vec<Domain>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DOMAIN_COLS} FROM domains WHERE customer_id = ?1 ORDER BY name"
            ))?;
            let rows = stmt.query_map([&customer_id], domain_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn domain(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Domain>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {DOMAIN_COLS} FROM domains WHERE customer_id = ?1 AND id = ?2"
                    ),
                    [&customer_id, &id],
                    domain_row,
                )
                .optional()?)
        })
    }

    fn delete_domain(&self, customer_id: &str, id: &str) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(conn.execute(
                "DELETE FROM domains WHERE customer_id = ?1 AND id = ?2",
                [&customer_id, &id],
            )? > 0)
        })
    }

    fn update_domain(
        &self,
        customer_id: &str,
        id: &str,
        patch: DomainPatch,
    ) -> StoreFuture<Option<Domain>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            if let Some(host) = &patch.real_mx_host {
                conn.execute(
                    "UPDATE domains SET real_mx_host = ?3 WHERE customer_id = ?1 AND id = ?2",
                    params![customer_id, id, host],
                )?;
            }
            if let Some(mode) = patch.delivery_mode {
                conn.execute(
                    "UPDATE domains SET delivery_mode = ?3 WHERE customer_id = ?1 AND id = ?2",
                    params![customer_id, id, mode.as_str()],
                )?;
            }
            if let Some(tls) = patch.tls {
                conn.execute(
                    "UPDATE domains SET tls = ?3 WHERE customer_id = ?1 AND id = ?2",
                    params![customer_id, id, tls.as_str()],
                )?;
            }
            if patch.spam_threshold.is_some()
                || patch.executives.is_some()
                || patch.admin_email.is_some()
            {
                let current: Option<String> = conn
                    .query_row(
                        "SELECT detection FROM domains WHERE customer_id = ?1 AND id = ?2",
                        [&customer_id, &id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(json) = current {
                    let mut det: DomainDetection = serde_json::from_str(&json).map_err(backend)?;
                    if let Some(t) = patch.spam_threshold {
                        det.spam_threshold = Some(t);
                    }
                    if let Some(execs) = patch.executives {
                        det.executives = execs;
                    }
                    if let Some(admin) = patch.admin_email {
                        det.admin_email = Some(admin).filter(|a| !a.is_empty());
                    }
                    conn.execute(
                        "UPDATE domains SET detection = ?3 WHERE customer_id = ?1 AND id = ?2",
                        params![
                            customer_id,
                            id,
                            serde_json::to_string(&det).map_err(backend)?
                        ],
                    )?;
                }
            }
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {DOMAIN_COLS} FROM domains WHERE customer_id = ?1 AND id = ?2"
                    ),
                    [&customer_id, &id],
                    domain_row,
                )
                .optional()?)
        })
    }

    fn all_domains(&self) -> StoreFuture<Vec<Domain>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {DOMAIN_COLS} FROM domains"))?;
            let rows = stmt.query_map([], domain_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn insert_policy(&self, p: Policy) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO policies ({POLICY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    p.id,
                    p.customer_id,
                    p.name,
                    json(&p.condition)?,
                    p.action.as_str(),
                    p.notify_admin,
                    p.enabled,
                    p.created_at,
                    p.shadow
                ],
            )?;
            Ok(())
        })
    }

    fn policies(&self, customer_id: &str) -> StoreFuture<Vec<Policy>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {POLICY_COLS} FROM policies WHERE customer_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([&customer_id], policy_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn policy(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Policy>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {POLICY_COLS} FROM policies WHERE customer_id = ?1 AND id = ?2"
                    ),
                    [&customer_id, &id],
                    policy_row,
                )
                .optional()?)
        })
    }

    fn update_policy(&self, p: Policy) -> StoreFuture<bool> {
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE policies SET name = ?3, condition = ?4, action = ?5, notify_admin = ?6, \
                 enabled = ?7, shadow = ?8 WHERE customer_id = ?1 AND id = ?2",
                params![
                    p.customer_id,
                    p.id,
                    p.name,
                    json(&p.condition)?,
                    p.action.as_str(),
                    p.notify_admin,
                    p.enabled,
                    p.shadow
                ],
            )? > 0)
        })
    }

    fn delete_policy(&self, customer_id: &str, id: &str) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(conn.execute(
                "DELETE FROM policies WHERE customer_id = ?1 AND id = ?2",
                [&customer_id, &id],
            )? > 0)
        })
    }

    fn insert_sender_rule(&self, r: SenderRule) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.prepare_cached(&format!(
                "INSERT INTO sender_rules ({SENDER_RULE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                r.id,
                r.customer_id,
                r.domain_id,
                r.kind.as_str(),
                r.sender,
                r.require_auth,
                r.expires_at,
                r.hits as i64,
                r.created_at
            ])?;
            Ok(())
        })
    }

    fn sender_rules(&self, customer_id: &str, domain_id: &str) -> StoreFuture<Vec<SenderRule>> {
        let (customer_id, domain_id) = (customer_id.to_string(), domain_id.to_string());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SENDER_RULE_COLS} FROM sender_rules WHERE customer_id = ?1 \
                 AND domain_id = ?2 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([&customer_id, &domain_id], sender_rule_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn delete_sender_rule(
        &self,
        customer_id: &str,
        domain_id: &str,
        id: &str,
    ) -> StoreFuture<bool> {
        let (customer_id, domain_id, id) = (
            customer_id.to_string(),
            domain_id.to_string(),
            id.to_string(),
        );
        self.write(move |conn| {
            Ok(conn.execute(
                "DELETE FROM sender_rules WHERE customer_id = ?1 AND domain_id = ?2 AND id = ?3",
                [&customer_id, &domain_id, &id],
            )? > 0)
        })
    }

    fn all_sender_rules(&self) -> StoreFuture<Vec<SenderRule>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SENDER_RULE_COLS} FROM sender_rules ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], sender_rule_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn count_sender_rule_hits(&self, rule_ids: Vec<String>) -> StoreFuture<()> {
        self.write(move |conn| {
            let mut stmt =
                conn.prepare_cached("UPDATE sender_rules SET hits = hits + 1 WHERE id = ?1")?;
            for id in &rule_ids {
                stmt.execute([id])?;
            }
            Ok(())
        })
    }

    fn all_policies(&self) -> StoreFuture<Vec<Policy>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {POLICY_COLS} FROM policies ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], policy_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn config_version(&self) -> StoreFuture<i64> {
        self.read(move |conn| {
            Ok(conn.query_row(
                "SELECT value FROM meta WHERE key = 'config_version'",
                [],
                |r| r.get(0),
            )?)
        })
    }

    fn flush(&self) -> StoreFuture<()> {
        // The writer runs jobs in order: this one commits after everything queued before it.
        self.write(|_| Ok(()))
    }

    fn record_verdicts(&self, verdicts: Vec<VerdictRecord>) -> StoreFuture<()> {
        self.write(move |conn| {
            for v in &verdicts {
                insert_verdict(conn, v)?;
                if let Some(sender) = v.correspondent() {
                    record_correspondent(conn, &v.domain_id, &sender, v.received_at)?;
                }
            }
            Ok(())
        })
    }

    fn link_epoch(&self, customer_id: &str) -> StoreFuture<i64> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT epoch FROM link_epochs WHERE customer_id = ?1",
                    [&customer_id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0))
        })
    }

    fn bump_link_epoch(&self, customer_id: &str) -> StoreFuture<i64> {
        let customer_id = customer_id.to_string();
        self.write(move |conn| {
            Ok(conn.query_row(
                "INSERT INTO link_epochs (customer_id, epoch) VALUES (?1, 1) \
                 ON CONFLICT (customer_id) DO UPDATE SET epoch = epoch + 1 RETURNING epoch",
                [&customer_id],
                |r| r.get(0),
            )?)
        })
    }

    fn put_spam_report(&self, r: SpamReportRecord) -> StoreFuture<bool> {
        self.write(move |conn| {
            let current: Option<bool> = conn
                .query_row(
                    "SELECT spam FROM spam_reports WHERE customer_id = ?1 AND item_id = ?2",
                    params![r.customer_id, r.item_id],
                    |row| row.get(0),
                )
                .optional()?;
            if current == Some(r.spam) {
                return Ok(false);
            }
            conn.execute(
                "INSERT INTO spam_reports (customer_id, item_id, spam, tokens, reporter, reported_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (customer_id, item_id) DO UPDATE SET \
                 spam = excluded.spam, tokens = excluded.tokens, reporter = excluded.reporter, \
                 reported_at = excluded.reported_at",
                params![
                    r.customer_id,
                    r.item_id,
                    r.spam,
                    r.token_bytes(),
                    r.reporter,
                    r.reported_at
                ],
            )?;
            Ok(true)
        })
    }

    fn spam_reports(&self, customer_id: &str, limit: u32) -> StoreFuture<Vec<SpamReportRecord>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT customer_id, item_id, spam, tokens, reporter, reported_at FROM spam_reports \
                 WHERE customer_id = ?1 ORDER BY reported_at DESC, item_id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![customer_id, limit], |r| {
                let tokens: Vec<u8> = r.get(3)?;
                Ok(SpamReportRecord {
                    customer_id: r.get(0)?,
                    item_id: r.get(1)?,
                    spam: r.get(2)?,
                    tokens: SpamReportRecord::tokens_from(&tokens),
                    reporter: r.get(4)?,
                    reported_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn spam_report_heads(&self) -> StoreFuture<Vec<(String, i64)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT customer_id, MAX(reported_at) FROM spam_reports GROUP BY customer_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn add_dmarc_rows(&self, rows: Vec<DmarcRow>) -> StoreFuture<()> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO dmarc_rows (period, domain, record, count) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (period, domain, record) DO UPDATE SET count = count + excluded.count",
            )?;
            for r in &rows {
                stmt.execute(params![r.period, r.domain, r.record, r.count as i64])?;
            }
            Ok(())
        })
    }

    fn dmarc_due(&self, before_ms: i64) -> StoreFuture<Vec<(i64, String)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT period, domain FROM dmarc_rows WHERE period < ?1 \
                 ORDER BY period, domain",
            )?;
            let rows = stmt.query_map(params![before_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn take_dmarc_rows(&self, period: i64, domain: &str) -> StoreFuture<Vec<DmarcRow>> {
        let domain = domain.to_string();
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "DELETE FROM dmarc_rows WHERE period = ?1 AND domain = ?2 \
                 RETURNING record, count",
            )?;
            let rows = stmt.query_map(params![period, domain], |r| {
                Ok(DmarcRow {
                    period,
                    domain: domain.clone(),
                    record: r.get(0)?,
                    count: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn sender_history(&self, domain_id: &str, sender: &str) -> StoreFuture<SenderHistory> {
        let (domain_id, sender) = (domain_id.to_string(), sender.to_ascii_lowercase());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM correspondents WHERE domain_id = ?1 \
                     AND sender = ?2), \
                     (SELECT MIN(first_seen) FROM correspondents WHERE domain_id = ?1)",
                )?
                .query_row(params![domain_id, sender], |r| {
                    Ok(SenderHistory {
                        known: r.get(0)?,
                        history_since: r.get(1)?,
                    })
                })?)
        })
    }

    fn verdicts(
        &self,
        customer_id: &str,
        filter: VerdictFilter,
    ) -> StoreFuture<Vec<VerdictRecord>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut sql = format!("SELECT {VERDICT_COLS} FROM verdicts WHERE customer_id = ?");
            let mut args: Vec<rusqlite::types::Value> = vec![customer_id.into()];
            if let Some(d) = filter.domain_id {
                sql.push_str(" AND domain_id = ?");
                args.push(d.into());
            }
            if let Some(a) = filter.action {
                sql.push_str(" AND action = ?");
                args.push(a.as_str().to_string().into());
            }
            if let Some(t) = filter.threat_type {
                sql.push_str(" AND threat_type = ?");
                args.push(t.as_str().to_string().into());
            } else if filter.threats_only {
                sql.push_str(" AND threat_type IS NOT NULL");
            }
            newest_first(
                conn,
                sql,
                args,
                filter.since,
                filter.until,
                filter.after,
                filter.limit,
                verdict_row,
            )
        })
    }

    fn verdict(&self, customer_id: &str, id: &str) -> StoreFuture<Option<VerdictRecord>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {VERDICT_COLS} FROM verdicts WHERE customer_id = ?1 AND id = ?2"
                    ),
                    [&customer_id, &id],
                    verdict_row,
                )
                .optional()?)
        })
    }

    fn verdict_counts(&self, customer_id: &str, since_ms: i64) -> StoreFuture<Vec<(Action, u64)>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT action, COUNT(*) FROM verdicts WHERE customer_id = ?1 AND received_at >= ?2 \
                 GROUP BY action ORDER BY action",
            )?;
            let rows = stmt.query_map(params![customer_id, since_ms], |r| {
                Ok((action_of(r.get(0)?)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn quarantine(
        &self,
        q: QuarantineItem,
        raw: Vec<u8>,
        verdict: VerdictRecord,
    ) -> StoreFuture<()> {
        self.write(move |conn| {
            insert_verdict(conn, &verdict)?;
            conn.prepare_cached(&format!(
                "INSERT INTO quarantine ({QUARANTINE_COLS}, raw) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(params![
                q.id,
                q.verdict_id,
                q.customer_id,
                q.domain_id,
                q.received_at,
                q.mail_from,
                json(&q.rcpt_to)?,
                q.from_header,
                q.subject,
                q.threat_type.as_str(),
                q.status.as_str(),
                q.size as i64,
                json(&q.findings)?,
                q.released_at,
                raw,
            ])?;
            Ok(())
        })
    }

    fn quarantine_list(
        &self,
        customer_id: &str,
        filter: QuarantineFilter,
    ) -> StoreFuture<Vec<QuarantineItem>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            let mut sql = format!("SELECT {QUARANTINE_COLS} FROM quarantine WHERE customer_id = ?");
            let mut args: Vec<rusqlite::types::Value> = vec![customer_id.into()];
            if let Some(s) = filter.status {
                sql.push_str(" AND status = ?");
                args.push(s.as_str().to_string().into());
            }
            if let Some(t) = filter.threat_type {
                sql.push_str(" AND threat_type = ?");
                args.push(t.as_str().to_string().into());
            }
            if let Some(from) = &filter.from {
                sql.push_str(
                    " AND (lower(mail_from) LIKE ? ESCAPE '\\' OR lower(from_header) LIKE ? ESCAPE '\\')",
                );
                args.push(like_pattern(from).into());
                args.push(like_pattern(from).into());
            }
            if let Some(d) = filter.domain_id {
                sql.push_str(" AND domain_id = ?");
                args.push(d.into());
            }
            newest_first(
                conn,
                sql,
                args,
                filter.since,
                filter.until,
                filter.after,
                filter.limit,
                quarantine_row,
            )
        })
    }

    fn quarantine_get(&self, customer_id: &str, id: &str) -> StoreFuture<Option<QuarantineItem>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {QUARANTINE_COLS} FROM quarantine WHERE customer_id = ?1 AND id = ?2"
                    ),
                    [&customer_id, &id],
                    quarantine_row,
                )
                .optional()?)
        })
    }

    fn quarantine_raw(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Vec<u8>>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT raw FROM quarantine WHERE customer_id = ?1 AND id = ?2 \
                     AND status != 'deleted'",
                    [&customer_id, &id],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn quarantine_claim_release(
        &self,
        customer_id: &str,
        id: &str,
        claim_at: i64,
    ) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE quarantine SET status = 'releasing', released_at = ?3 \
                 WHERE customer_id = ?1 AND id = ?2 AND (status = 'quarantined' \
                 OR (status = 'releasing' AND released_at < ?4))",
                params![customer_id, id, claim_at, claim_at - RELEASE_CLAIM_MS],
            )? > 0)
        })
    }

    fn quarantine_finish_release(
        &self,
        customer_id: &str,
        id: &str,
        claim_at: i64,
        delivered: bool,
        at: i64,
    ) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            let n = if delivered {
                conn.execute(
                    "UPDATE quarantine SET status = 'released', released_at = ?4 \
                     WHERE customer_id = ?1 AND id = ?2 AND status = 'releasing' \
                     AND released_at = ?3",
                    params![customer_id, id, claim_at, at],
                )?
            } else {
                conn.execute(
                    "UPDATE quarantine SET status = 'quarantined', released_at = NULL \
                     WHERE customer_id = ?1 AND id = ?2 AND status = 'releasing' \
                     AND released_at = ?3",
                    params![customer_id, id, claim_at],
                )?
            };
            Ok(n > 0)
        })
    }

    fn quarantine_delete(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE quarantine SET status = 'deleted', raw = x'' \
                 WHERE customer_id = ?1 AND id = ?2 AND (status <> 'releasing' \
                 OR released_at < ?3)",
                params![customer_id, id, at - RELEASE_CLAIM_MS],
            )? > 0)
        })
    }

    fn insert_webhook(&self, w: Webhook) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO webhooks (id, customer_id, doc) VALUES (?1, ?2, ?3)",
                params![w.id, w.customer_id, to_json(&w)?],
            )?;
            Ok(())
        })
    }

    fn update_webhook(&self, w: Webhook) -> StoreFuture<bool> {
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE webhooks SET doc = ?3 WHERE id = ?1 AND customer_id = ?2",
                params![w.id, w.customer_id, to_json(&w)?],
            )? > 0)
        })
    }

    fn webhooks(&self, customer_id: &str) -> StoreFuture<Vec<Webhook>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| {
            docs(
                conn,
                "SELECT doc FROM webhooks WHERE customer_id = ?1 ORDER BY id",
                [customer_id],
            )
        })
    }

    fn all_webhooks(&self) -> StoreFuture<Vec<Webhook>> {
        self.read(move |conn| docs(conn, "SELECT doc FROM webhooks ORDER BY id", []))
    }

    fn delete_webhook(&self, customer_id: &str, id: &str) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE customer_id = ?1 AND webhook_id = ?2",
                params![customer_id, id],
            )?;
            Ok(conn.execute(
                "DELETE FROM webhooks WHERE customer_id = ?1 AND id = ?2",
                params![customer_id, id],
            )? > 0)
        })
    }

    fn add_delivery(&self, d: WebhookDelivery) -> StoreFuture<bool> {
        self.write(move |conn| {
            Ok(conn.execute(
                "INSERT OR IGNORE INTO webhook_deliveries \
                 (id, customer_id, webhook_id, status, next_attempt_at, created_at, doc) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 \
                 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?3 AND customer_id = ?2)",
                params![
                    d.id,
                    d.customer_id,
                    d.webhook_id,
                    delivery_status(&d),
                    d.next_attempt_at,
                    d.created_at,
                    to_json(&d)?
                ],
            )? > 0)
        })
    }

    fn put_delivery(&self, d: WebhookDelivery, _was_due: Option<i64>) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE webhook_deliveries SET status = ?3, next_attempt_at = ?4, doc = ?5 \
                 WHERE id = ?1 AND customer_id = ?2",
                params![
                    d.id,
                    d.customer_id,
                    delivery_status(&d),
                    d.next_attempt_at,
                    to_json(&d)?
                ],
            )?;
            Ok(())
        })
    }

    fn deliveries(
        &self,
        customer_id: &str,
        webhook_id: &str,
        limit: u32,
    ) -> StoreFuture<Vec<WebhookDelivery>> {
        let (customer_id, webhook_id) = (customer_id.to_string(), webhook_id.to_string());
        self.read(move |conn| {
            docs(
                conn,
                "SELECT doc FROM webhook_deliveries WHERE customer_id = ?1 AND webhook_id = ?2 \
                 ORDER BY created_at DESC, id DESC LIMIT ?3",
                params![customer_id, webhook_id, limit],
            )
        })
    }

    fn delivery(
        &self,
        customer_id: &str,
        webhook_id: &str,
        id: &str,
    ) -> StoreFuture<Option<WebhookDelivery>> {
        let (customer_id, webhook_id, id) = (
            customer_id.to_string(),
            webhook_id.to_string(),
            id.to_string(),
        );
        self.read(move |conn| {
            Ok(docs(
                conn,
                "SELECT doc FROM webhook_deliveries \
                 WHERE customer_id = ?1 AND webhook_id = ?2 AND id = ?3",
                params![customer_id, webhook_id, id],
            )?
            .into_iter()
            .next())
        })
    }

    fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<Vec<WebhookDelivery>> {
        self.read(move |conn| {
            docs(
                conn,
                "SELECT doc FROM webhook_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 ORDER BY next_attempt_at LIMIT ?2",
                params![now, limit],
            )
        })
    }

    fn rate_take(&self, budgets: Vec<RateBudget>) -> StoreFuture<RateTake> {
        self.write(move |conn| coordination::rate_take(conn, &budgets))
    }

    fn lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> StoreFuture<Option<i64>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |conn| coordination::lease(conn, &name, &holder, now, ttl_ms))
    }

    fn lease_held(&self, name: &str, holder: &str, epoch: i64, now: i64) -> StoreFuture<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.read(move |conn| coordination::lease_held(conn, &name, &holder, epoch, now))
    }

    fn release_lease(&self, name: &str, holder: &str) -> StoreFuture<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |conn| coordination::release_lease(conn, &name, &holder))
    }

    fn claim_once(&self, key: &str, now: i64, expires_at: i64) -> StoreFuture<bool> {
        let key = key.to_string();
        self.write(move |conn| coordination::claim_once(conn, &key, now, expires_at))
    }

    fn unclaim(&self, key: &str) -> StoreFuture<()> {
        let key = key.to_string();
        self.write(move |conn| coordination::unclaim(conn, &key))
    }

    fn idempotency_begin(
        &self,
        slot: &str,
        fingerprint: Vec<u8>,
        now: i64,
        running_until: i64,
    ) -> StoreFuture<IdempotencyBegin> {
        let slot = slot.to_string();
        self.write(move |conn| {
            coordination::idempotency_begin(conn, &slot, &fingerprint, now, running_until)
        })
    }

    fn idempotency_finish(
        &self,
        slot: &str,
        fingerprint: Vec<u8>,
        answer: Option<KeptAnswer>,
        expires_at: i64,
    ) -> StoreFuture<()> {
        let slot = slot.to_string();
        self.write(move |conn| {
            coordination::idempotency_finish(conn, &slot, &fingerprint, answer.as_ref(), expires_at)
        })
    }

    fn job_start(&self, job: JobRecord, max_running: u32, live_after: i64) -> StoreFuture<bool> {
        self.write(move |conn| coordination::job_start(conn, &job, max_running, live_after))
    }

    fn job_put(&self, job: JobRecord) -> StoreFuture<()> {
        self.write(move |conn| coordination::job_put(conn, &job))
    }

    fn job_get(&self, customer_id: &str, id: &str, now: i64) -> StoreFuture<Option<JobRecord>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.read(move |conn| coordination::job_get(conn, &customer_id, &id, now))
    }

    fn shared_secret(&self, name: &str, candidate: Vec<u8>) -> StoreFuture<Vec<u8>> {
        let name = name.to_string();
        self.write(move |conn| coordination::shared_secret(conn, &name, &candidate))
    }

    fn put_spool_report(&self, rows: Vec<SpoolRow>, expires_at: i64) -> StoreFuture<()> {
        self.write(move |conn| coordination::put_spool_report(conn, &rows, expires_at))
    }

    fn spool_reports(&self, customer_id: &str, now: i64) -> StoreFuture<Vec<SpoolRow>> {
        let customer_id = customer_id.to_string();
        self.read(move |conn| coordination::spool_reports(conn, &customer_id, now))
    }
}
