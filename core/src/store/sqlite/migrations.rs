//! The SQLite schema as a list of migrations, applied in order and tracked in
//! `PRAGMA user_version`. A migration is never edited once released; a change is a new one.

use rusqlite::Connection;

use crate::error::StoreError;

pub(super) const MIGRATIONS: &[&str] = &[
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
    // Coordination between hosts on one store: request counts per (key, window), leases with
    // an epoch (fencing), and once-only claims. Each row carries its expiry; expired rows are
    // swept as new ones are written.
    r#"
CREATE TABLE rate_counts (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;
CREATE INDEX rate_counts_expiry ON rate_counts(expires_at);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE claims (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX claims_expiry ON claims(expires_at);
"#,
    // The answers kept for Idempotency-Key retries (status 0: still running), the API's
    // background jobs, the secrets every host shares and each scanner's spool report, so any
    // API host answers alike.
    r#"
CREATE TABLE idempotency (
    slot TEXT PRIMARY KEY,
    fingerprint BLOB NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT,
    body BLOB,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency(expires_at);
CREATE TABLE jobs (
    customer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    running INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (customer_id, id)
) WITHOUT ROWID;
CREATE INDEX jobs_expiry ON jobs(expires_at);
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE spool_reports (
    customer_id TEXT NOT NULL,
    node TEXT NOT NULL,
    depth INTEGER NOT NULL,
    oldest_ms INTEGER,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (customer_id, node)
) WITHOUT ROWID;
"#,
];

/// Applies the schema migrations the file has not seen yet (tracked in `PRAGMA user_version`).
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}
