//! The embedded default backend: one SQLite file in WAL mode.
//!
//! One writer thread owns the only read-write connection. It drains every queued write, runs
//! each in its own savepoint inside one transaction, commits once (`synchronous=FULL`: the WAL
//! is fsynced) and only then answers the waiters. That is group commit: under load, hundreds of
//! verdicts and quarantined messages share one fsync, and a quarantined message's waiter learns
//! of success only when its bytes are durable. Reads run on a small pool of read-only
//! connections, which WAL lets proceed while the writer commits.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::Path,
    thread,
};

use futures::channel::oneshot;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};

use super::{Store, StoreFuture};
use crate::{
    auth::dmarc_report::DmarcRow,
    error::StoreError,
    model::{
        Action, Customer, DeliveryMode, DeliveryStatus, Domain, DomainDetection, DomainPatch,
        DomainStatus, Finding, Policy, PolicyAction, QuarantineFilter, QuarantineItem,
        QuarantineStatus, RELEASE_CLAIM_MS, RelayTls, SenderHistory, SenderRule, SenderRuleKind,
        SpamReportRecord, ThreatType, TokenInfo, TokenKind, TokenScope, VerdictFilter,
        VerdictRecord, Webhook, WebhookDelivery,
    },
    time::now_ms,
};

/// Writes per group commit at most; more wait for the next transaction.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type WriteJob = Box<dyn FnOnce(&Connection) -> Completion + Send>;
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    name TEXT NOT NULL UNIQUE,
    real_mx_host TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX domains_customer ON domains(customer_id);
CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    name TEXT NOT NULL,
    condition TEXT NOT NULL,
    action TEXT NOT NULL,
    notify_admin INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX policies_customer ON policies(customer_id);
CREATE TABLE verdicts (
    id TEXT PRIMARY KEY,
    queue_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    from_header TEXT NOT NULL,
    subject TEXT NOT NULL,
    size INTEGER NOT NULL,
    action TEXT NOT NULL,
    threat_type TEXT,
    notify_admin INTEGER NOT NULL,
    findings TEXT NOT NULL
);
CREATE INDEX verdicts_customer_time ON verdicts(customer_id, received_at);
CREATE INDEX verdicts_queue ON verdicts(queue_id);
CREATE TABLE quarantine (
    id TEXT PRIMARY KEY,
    verdict_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    from_header TEXT NOT NULL,
    subject TEXT NOT NULL,
    threat_type TEXT NOT NULL,
    status TEXT NOT NULL,
    size INTEGER NOT NULL,
    findings TEXT NOT NULL,
    released_at INTEGER,
    raw BLOB NOT NULL
);
CREATE INDEX quarantine_customer ON quarantine(customer_id, status, received_at);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('config_version', 0);
CREATE TRIGGER domains_ins AFTER INSERT ON domains BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER domains_upd AFTER UPDATE ON domains BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER domains_del AFTER DELETE ON domains BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER policies_ins AFTER INSERT ON policies BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER policies_upd AFTER UPDATE ON policies BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER policies_del AFTER DELETE ON policies BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
"#,
    r#"
ALTER TABLE domains ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'spool';
"#,
    r#"
ALTER TABLE verdicts ADD COLUMN auth TEXT;
"#,
    r#"
CREATE TABLE sender_rules (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    require_auth INTEGER NOT NULL,
    expires_at INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX sender_rules_domain ON sender_rules(customer_id, domain_id);
CREATE TRIGGER sender_rules_ins AFTER INSERT ON sender_rules BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER sender_rules_del AFTER DELETE ON sender_rules BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
"#,
    r#"
ALTER TABLE domains ADD COLUMN detection TEXT NOT NULL DEFAULT '{}';
"#,
    r#"
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE domains ADD COLUMN verified_at INTEGER;
"#,
    r#"
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    doc TEXT NOT NULL
);
CREATE INDEX webhooks_customer ON webhooks(customer_id);
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries(customer_id, webhook_id, created_at);
"#,
    r#"
ALTER TABLE policies ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
CREATE TABLE correspondents (
    domain_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (domain_id, sender)
) WITHOUT ROWID;
CREATE INDEX correspondents_since ON correspondents(domain_id, first_seen);
"#,
    // Domain names are claimed when ownership is proven, not when a domain is added: any
    // number of customers may have a pending domain of one name (so adding one reveals
    // nothing about other tenants), one customer has each name once, and one live domain of a
    // name is active at a time (sandbox domains never claim a name). Rebuilt to drop the old
    // UNIQUE(name); the relay's STARTTLS mode, the operator's internal-target exception and
    // the ownership token are new columns.
    r#"
CREATE TABLE domains_v2 (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    name TEXT NOT NULL,
    real_mx_host TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    delivery_mode TEXT NOT NULL DEFAULT 'spool',
    detection TEXT NOT NULL DEFAULT '{}',
    verified_at INTEGER,
    tls TEXT NOT NULL DEFAULT 'opportunistic',
    allow_internal INTEGER NOT NULL DEFAULT 0,
    verification_token TEXT NOT NULL DEFAULT ''
);
INSERT INTO domains_v2 (id, customer_id, name, real_mx_host, status, created_at, delivery_mode,
    detection, verified_at, verification_token)
    SELECT id, customer_id, name, real_mx_host, status, created_at, delivery_mode, detection,
    verified_at, lower(hex(randomblob(16))) FROM domains;
DROP TABLE domains;
ALTER TABLE domains_v2 RENAME TO domains;
CREATE INDEX domains_customer ON domains(customer_id);
CREATE UNIQUE INDEX domains_customer_name ON domains(customer_id, name);
CREATE UNIQUE INDEX domains_live_name ON domains(name)
    WHERE status = 'active' AND customer_id NOT LIKE '%:test';
CREATE TRIGGER domains_ins AFTER INSERT ON domains BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER domains_upd AFTER UPDATE ON domains BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER domains_del AFTER DELETE ON domains BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
"#,
    // Customers' spam reports: each customer's model learns from its own (one row per
    // reported message). A change reloads the scanner's snapshot.
    r#"
CREATE TABLE spam_reports (
    customer_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    spam INTEGER NOT NULL,
    tokens BLOB NOT NULL,
    reporter TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    PRIMARY KEY (customer_id, item_id)
) WITHOUT ROWID;
CREATE INDEX spam_reports_time ON spam_reports(customer_id, reported_at);
CREATE TRIGGER spam_reports_ins AFTER INSERT ON spam_reports BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER spam_reports_upd AFTER UPDATE ON spam_reports BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TABLE link_epochs (
    customer_id TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE verdicts ADD COLUMN transport TEXT;
"#,
    // DMARC aggregate report counts, per reporting period and policy domain, until the
    // period's report is taken.
    r#"
CREATE TABLE dmarc_rows (
    period INTEGER NOT NULL,
    domain TEXT NOT NULL,
    record TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (period, domain, record)
) WITHOUT ROWID;
"#,
];

/// The SQLite store. Cheap to share: it only holds channel ends.
pub struct SqliteStore {
    writer: flume::Sender<WriteJob>,
    readers: flume::Sender<ReadJob>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Applies the schema migrations the file has not seen yet (tracked in `PRAGMA user_version`).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn run_guarded<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(StoreError::Backend("store operation panicked".into())))
}

fn writer_loop(conn: Connection, jobs: flume::Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let m = crate::metrics::metrics();
        m.store_queue_depth.set(jobs.len() as i64);
        let started = std::time::Instant::now();
        let began = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(&conn)).collect();
        let commit = if began {
            conn.execute_batch("COMMIT").map_err(backend)
        } else {
            Ok(())
        };
        if let Err(e) = &commit {
            tracing::error!(error = %e, "store commit failed; rolling back the batch");
            let _ = conn.execute_batch("ROLLBACK");
        }
        m.store_write_duration
            .with_label_values(&[if commit.is_ok() { "ok" } else { "error" }])
            .observe(started.elapsed().as_secs_f64());
        for done in completions {
            done(commit.clone());
        }
    }
}

fn reader_loop(conn: Connection, jobs: flume::Receiver<ReadJob>) {
    while let Ok(job) = jobs.recv() {
        job(&conn);
    }
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path` with `readers` read threads.
    pub fn open(path: &Path, readers: usize) -> Result<SqliteStore, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(open_err)?;
        migrate(&mut conn)?;
        let (wtx, wrx) = flume::unbounded::<WriteJob>();
        thread::Builder::new()
            .name("moat-sqlite-writer".into())
            .spawn(move || writer_loop(conn, wrx))
            .map_err(backend)?;
        let (rtx, rrx) = flume::unbounded::<ReadJob>();
        for i in 0..readers.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(open_err)?;
            conn.execute_batch("PRAGMA busy_timeout = 5000;")
                .map_err(open_err)?;
            let rx = rrx.clone();
            thread::Builder::new()
                .name(format!("moat-sqlite-reader-{i}"))
                .spawn(move || reader_loop(conn, rx))
                .map_err(backend)?;
        }
        Ok(SqliteStore {
            writer: wtx,
            readers: rtx,
        })
    }

    /// Runs `f` in its own savepoint inside the writer's next group commit.
    fn write<T, F>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn: &Connection| {
            let result = run_guarded(|| {
                conn.execute_batch("SAVEPOINT job")?;
                match f(conn) {
                    Ok(v) => {
                        conn.execute_batch("RELEASE job")?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                        Err(e)
                    }
                }
            });
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(result.and_then(|v| commit.map(|()| v)));
            })
        });
        let sent = self.writer.send(job).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }

    /// Runs `f` on a read connection.
    fn read<T, F>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn: &Connection| {
            let _ = tx.send(run_guarded(|| f(conn)));
        });
        let sent = self.readers.send(job).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn bad_value(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{v}`").into(),
    )
}

fn action_of(s: String) -> rusqlite::Result<Action> {
    Action::parse(&s).ok_or_else(|| bad_value("action", &s))
}

fn threat_of(s: String) -> rusqlite::Result<ThreatType> {
    ThreatType::parse(&s).ok_or_else(|| bad_value("threat type", &s))
}

const TOKEN_COLS: &str = "id, customer_id, kind, prefix, created_at, scope";

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    let kind: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        kind: if kind == "test" {
            TokenKind::Test
        } else {
            TokenKind::Live
        },
        prefix: r.get(3)?,
        created_at: r.get(4)?,
        scope: {
            let scope: String = r.get(5)?;
            TokenScope::parse(&scope).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    5,
                    rusqlite::types::Type::Text,
                    format!("unknown token scope {scope:?}").into(),
                )
            })?
        },
    })
}

const DOMAIN_COLS: &str = "id, customer_id, name, real_mx_host, status, created_at, delivery_mode, detection, verified_at, tls, allow_internal, verification_token";

fn domain_row(r: &Row<'_>) -> rusqlite::Result<Domain> {
    let status: String = r.get(4)?;
    Ok(Domain {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        name: r.get(2)?,
        real_mx_host: r.get(3)?,
        status: DomainStatus::parse(&status).ok_or_else(|| bad_value("status", &status))?,
        created_at: r.get(5)?,
        delivery_mode: {
            let mode: String = r.get(6)?;
            DeliveryMode::parse(&mode).ok_or_else(|| bad_value("delivery mode", &mode))?
        },
        detection: {
            let json: String = r.get(7)?;
            serde_json::from_str(&json).map_err(|_| bad_value("domain detection", &json))?
        },
        verified_at: r.get(8)?,
        tls: {
            let tls: String = r.get(9)?;
            RelayTls::parse(&tls).ok_or_else(|| bad_value("relay tls", &tls))?
        },
        allow_internal_target: r.get(10)?,
        verification_token: r.get(11)?,
    })
}

const SENDER_RULE_COLS: &str =
    "id, customer_id, domain_id, kind, sender, require_auth, expires_at, hits, created_at";

fn sender_rule_row(r: &Row<'_>) -> rusqlite::Result<SenderRule> {
    let kind: String = r.get(3)?;
    Ok(SenderRule {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        domain_id: r.get(2)?,
        kind: SenderRuleKind::parse(&kind).ok_or_else(|| bad_value("sender rule kind", &kind))?,
        sender: r.get(4)?,
        require_auth: r.get(5)?,
        expires_at: r.get(6)?,
        hits: r.get::<_, i64>(7)?.max(0) as u64,
        created_at: r.get(8)?,
    })
}

const POLICY_COLS: &str =
    "id, customer_id, name, condition, action, notify_admin, enabled, created_at, shadow";

fn policy_row(r: &Row<'_>) -> rusqlite::Result<Policy> {
    Ok(Policy {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        name: r.get(2)?,
        condition: from_json(&r.get::<_, String>(3)?)?,
        action: {
            let a: String = r.get(4)?;
            PolicyAction::parse(&a).ok_or_else(|| bad_value("policy action", &a))?
        },
        notify_admin: r.get(5)?,
        enabled: r.get(6)?,
        created_at: r.get(7)?,
        shadow: r.get(8)?,
    })
}

const VERDICT_COLS: &str = "id, queue_id, received_at, customer_id, domain_id, client_ip, \
    mail_from, rcpt_to, from_header, subject, size, action, threat_type, notify_admin, findings, auth, \
    transport";

fn verdict_row(r: &Row<'_>) -> rusqlite::Result<VerdictRecord> {
    Ok(VerdictRecord {
        id: r.get(0)?,
        queue_id: r.get(1)?,
        received_at: r.get(2)?,
        customer_id: r.get(3)?,
        domain_id: r.get(4)?,
        client_ip: r.get(5)?,
        mail_from: r.get(6)?,
        rcpt_to: from_json(&r.get::<_, String>(7)?)?,
        from_header: r.get(8)?,
        subject: r.get(9)?,
        size: r.get::<_, i64>(10)? as u64,
        action: action_of(r.get(11)?)?,
        threat_type: r.get::<_, Option<String>>(12)?.map(threat_of).transpose()?,
        notify_admin: r.get(13)?,
        findings: from_json(&r.get::<_, String>(14)?)?,
        auth: r
            .get::<_, Option<String>>(15)?
            .map(|a| from_json(&a))
            .transpose()?,
        transport: r
            .get::<_, Option<String>>(16)?
            .map(|t| from_json(&t))
            .transpose()?,
    })
}

fn insert_verdict(conn: &Connection, v: &VerdictRecord) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO verdicts ({VERDICT_COLS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
    ))?
    .execute(params![
        v.id,
        v.queue_id,
        v.received_at,
        v.customer_id,
        v.domain_id,
        v.client_ip,
        v.mail_from,
        json(&v.rcpt_to)?,
        v.from_header,
        v.subject,
        v.size as i64,
        v.action.as_str(),
        v.threat_type.map(ThreatType::as_str),
        v.notify_admin,
        json(&v.findings)?,
        v.auth.as_ref().map(json).transpose()?,
        v.transport.as_ref().map(json).transpose()?,
    ])?;
    Ok(())
}

/// Notes that `sender` had clean mail delivered to the domain at `at`.
fn record_correspondent(
    conn: &Connection,
    domain_id: &str,
    sender: &str,
    at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO correspondents (domain_id, sender, first_seen, last_seen, messages) \
         VALUES (?1, ?2, ?3, ?3, 1) ON CONFLICT (domain_id, sender) DO UPDATE SET \
         first_seen = MIN(first_seen, excluded.first_seen), \
         last_seen = MAX(last_seen, excluded.last_seen), messages = messages + 1",
    )?
    .execute(params![domain_id, sender, at])?;
    Ok(())
}

const QUARANTINE_COLS: &str = "id, verdict_id, customer_id, domain_id, received_at, mail_from, \
    rcpt_to, from_header, subject, threat_type, status, size, findings, released_at";

fn quarantine_row(r: &Row<'_>) -> rusqlite::Result<QuarantineItem> {
    let status: String = r.get(10)?;
    Ok(QuarantineItem {
        id: r.get(0)?,
        verdict_id: r.get(1)?,
        customer_id: r.get(2)?,
        domain_id: r.get(3)?,
        received_at: r.get(4)?,
        mail_from: r.get(5)?,
        rcpt_to: from_json(&r.get::<_, String>(6)?)?,
        from_header: r.get(7)?,
        subject: r.get(8)?,
        threat_type: threat_of(r.get(9)?)?,
        status: QuarantineStatus::parse(&status).ok_or_else(|| bad_value("status", &status))?,
        size: r.get::<_, i64>(11)? as u64,
        findings: from_json::<Vec<Finding>>(&r.get::<_, String>(12)?)?,
        released_at: r.get(13)?,
    })
}

/// Finishes a filtered list query: `received_at` bounds, newest first, at most `limit` rows.
#[allow(clippy::too_many_arguments)]
fn newest_first<T>(
    conn: &Connection,
    mut sql: String,
    mut args: Vec<rusqlite::types::Value>,
    since: Option<i64>,
    until: Option<i64>,
    after: Option<(i64, String)>,
    limit: u32,
    row: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    if let Some(t) = since {
        sql.push_str(" AND received_at >= ?");
        args.push(t.into());
    }
    if let Some(t) = until {
        sql.push_str(" AND received_at < ?");
        args.push(t.into());
    }
    if let Some((t, id)) = after {
        sql.push_str(" AND (received_at < ? OR (received_at = ? AND id < ?))");
        args.extend([t.into(), t.into(), id.into()]);
    }
    sql.push_str(" ORDER BY received_at DESC, id DESC LIMIT ?");
    args.push(i64::from(limit).into());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

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
                    crate::token::tenant_of(&c.id, crate::model::TokenKind::Test),
                    format!("{}{}", c.name, crate::token::SANDBOX_SUFFIX),
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
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(backend)
}

fn delivery_status(d: &WebhookDelivery) -> &'static str {
    match d.status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
    }
}

/// Rows of one JSON `doc` column, decoded.
fn docs<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, |r| r.get::<_, String>(0))?;
    rows.map(|doc| {
        let doc = doc?;
        serde_json::from_str(&doc)
            .map_err(|e| StoreError::Backend(format!("bad stored document: {e}")))
    })
    .collect()
}
