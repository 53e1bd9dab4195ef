//! The ScyllaDB store: the same [`Store`] on a cluster, for fleets of scanner and API hosts.
//!
//! The scylla driver needs tokio, so the store owns a small tokio runtime; every trait method
//! spawns its work there and answers through a oneshot, exactly as the SQLite backend answers
//! from its threads. Statements are prepared once (token- and shard-aware routing comes with
//! prepared statements and the driver's default policy) and run at LOCAL_QUORUM; uniqueness
//! (customer names, domain names) uses lightweight transactions at LOCAL_SERIAL.
//!
//! Durability: `quarantine()` resolves only after the message bytes, its metadata and its
//! verdict are acknowledged by a quorum of replicas in the local data centre, so the `250`
//! that follows it survives the loss of any one replica. Other verdicts are written by a
//! background writer with at most `write_window` inserts in flight; `flush()` waits for them.
//! Schema and key choices are explained in `docs/SCYLLA.md`.

mod coordination;
pub mod rows;
pub mod schema;

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use futures::{StreamExt, TryStreamExt, channel::oneshot};
use scylla::{
    client::{
        execution_profile::ExecutionProfile, session::Session, session_builder::SessionBuilder,
    },
    frame::types::{Consistency, SerialConsistency},
    policies::load_balancing::DefaultPolicy,
    serialize::row::SerializeRow,
    statement::prepared::PreparedStatement,
    value::{CqlValue, Row},
};
use tokio::sync::Semaphore;

use self::rows::{
    CustomerRow, DomainRow, PointerRow, PolicyRow, QuarantineRow, RawChunkRow, SenderRuleRow,
    SpamReportRow, TokenRow, VerdictRow, day_of, hour_of,
};
use super::{
    IdempotencyBegin, JobRecord, KeptAnswer, RateBudget, RateTake, SpoolRow, Store, StoreFuture,
};
use crate::{
    auth::dmarc_report::DmarcRow,
    config::StoreConfig,
    error::StoreError,
    metrics::metrics,
    model::{
        Action, Customer, DeliveryStatus, Domain, DomainPatch, DomainStatus, Policy,
        QuarantineFilter, QuarantineItem, QuarantineStatus, SenderHistory, SenderRule,
        SpamReportRecord, TokenInfo, VerdictFilter, VerdictRecord, Webhook, WebhookDelivery,
        is_after,
    },
};

/// Quarantined messages are stored in chunks of this size (large cells hurt compaction).
const RAW_CHUNK: usize = 1 << 20;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Settings the store needs from `[store]`.
#[derive(Debug, Clone)]
struct Settings {
    nodes: Vec<String>,
    keyspace: String,
    replication_factor: u32,
    local_dc: Option<String>,
    verdict_ttl_secs: u64,
    quarantine_ttl_secs: u64,
    write_window: usize,
}

impl Settings {
    fn from_config(config: &StoreConfig) -> Result<Settings, StoreError> {
        let StoreConfig::Scylla {
            nodes,
            keyspace,
            replication_factor,
            local_dc,
            verdict_retention_days,
            quarantine_retention_days,
            write_window,
        } = config
        else {
            return Err(StoreError::Open {
                path: String::new(),
                reason: "not a ScyllaDB store configuration".into(),
            });
        };
        let valid_keyspace = !keyspace.is_empty()
            && keyspace.len() <= 48
            && keyspace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_keyspace || nodes.is_empty() {
            return Err(StoreError::Open {
                path: keyspace.clone(),
                reason: "store.nodes must name at least one host:port and store.keyspace be \
                         1-48 letters, digits or underscores"
                    .into(),
            });
        }
        Ok(Settings {
            nodes: nodes.clone(),
            keyspace: keyspace.clone(),
            replication_factor: (*replication_factor).max(1),
            local_dc: local_dc.clone(),
            verdict_ttl_secs: u64::from(*verdict_retention_days).max(1) * 86_400,
            quarantine_ttl_secs: u64::from(*quarantine_retention_days).max(1) * 86_400,
            write_window: (*write_window).max(1),
        })
    }
}

/// Every statement, prepared once.
struct Statements {
    customer_by_name: PreparedStatement,
    customer_by_id: PreparedStatement,
    claim_customer_name: PreparedStatement,
    insert_customer: PreparedStatement,
    insert_token_by_hash: PreparedStatement,
    insert_token_by_customer: PreparedStatement,
    token_by_hash: PreparedStatement,
    tokens_by_customer: PreparedStatement,
    token_of_customer: PreparedStatement,
    revoke_token_by_hash: PreparedStatement,
    revoke_token_by_customer: PreparedStatement,
    claim_domain_name: PreparedStatement,
    release_domain_name: PreparedStatement,
    domain_name_holder: PreparedStatement,
    claim_customer_domain_name: PreparedStatement,
    release_customer_domain_name: PreparedStatement,
    activate_domain: PreparedStatement,
    update_domain: PreparedStatement,
    set_domain_internal: PreparedStatement,
    insert_domain: PreparedStatement,
    domains_of_customer: PreparedStatement,
    domain: PreparedStatement,
    delete_domain: PreparedStatement,
    all_domains: PreparedStatement,
    insert_policy: PreparedStatement,
    policies_of_customer: PreparedStatement,
    policy: PreparedStatement,
    delete_policy: PreparedStatement,
    all_policies: PreparedStatement,
    bump_config: PreparedStatement,
    config_version: PreparedStatement,
    insert_verdict: PreparedStatement,
    insert_verdict_pointer: PreparedStatement,
    count_verdict: PreparedStatement,
    verdicts_of_day: PreparedStatement,
    verdict_pointer: PreparedStatement,
    verdict_in_day: PreparedStatement,
    verdict_counts: PreparedStatement,
    insert_quarantine: PreparedStatement,
    insert_quarantine_pointer: PreparedStatement,
    cas_quarantine: PreparedStatement,
    insert_raw_chunk: PreparedStatement,
    quarantine_of_day: PreparedStatement,
    quarantine_pointer: PreparedStatement,
    quarantine_in_day: PreparedStatement,
    raw_chunks: PreparedStatement,
    delete_raw: PreparedStatement,
    insert_sender_rule: PreparedStatement,
    sender_rules_of_domain: PreparedStatement,
    sender_rule: PreparedStatement,
    delete_sender_rule: PreparedStatement,
    all_sender_rules: PreparedStatement,
    count_sender_rule_hit: PreparedStatement,
    sender_rule_hits: PreparedStatement,
    insert_webhook: PreparedStatement,
    update_webhook: PreparedStatement,
    webhooks_of_customer: PreparedStatement,
    all_webhooks: PreparedStatement,
    delete_webhook: PreparedStatement,
    delete_deliveries_of: PreparedStatement,
    add_delivery: PreparedStatement,
    put_delivery: PreparedStatement,
    deliveries_of: PreparedStatement,
    delivery: PreparedStatement,
    queue_insert: PreparedStatement,
    queue_delete: PreparedStatement,
    queue_due: PreparedStatement,
    touch_correspondent: PreparedStatement,
    note_correspondence_since: PreparedStatement,
    correspondent: PreparedStatement,
    correspondence_since: PreparedStatement,
    spam_report_label: PreparedStatement,
    insert_spam_report: PreparedStatement,
    spam_reports_of: PreparedStatement,
    put_spam_report_head: PreparedStatement,
    spam_report_heads: PreparedStatement,
    dmarc_count_add: PreparedStatement,
    dmarc_pending_add: PreparedStatement,
    dmarc_pending: PreparedStatement,
    dmarc_claim: PreparedStatement,
    dmarc_counts_of: PreparedStatement,
    dmarc_counts_delete: PreparedStatement,
    dmarc_pending_delete: PreparedStatement,
    link_epoch: PreparedStatement,
    bump_link_epoch: PreparedStatement,
}

const SPAM_REPORT_COLS: &str = "customer_id, item_id, spam, tokens, reporter, reported_at";

const DELIVERY_COLS: &str = "customer_id, webhook_id, id, created_at, doc";
const QUEUE_COLS: &str = "bucket, next_attempt_at, id, customer_id, webhook_id";

/// The due-queue partition of a time: its hour.
fn queue_bucket(at_ms: i64) -> i64 {
    at_ms.div_euclid(3_600_000)
}

const TOKEN_COLS: &str = "hash, id, customer_id, kind, prefix, created_at, revoked_at, scope";
const DOMAIN_COLS: &str = "customer_id, id, name, real_mx_host, delivery_mode, status, created_at, \
    detection, verified_at, tls, allow_internal, verification_token";
const POLICY_COLS: &str =
    "customer_id, id, name, condition, action, notify_admin, enabled, created_at, shadow";
const VERDICT_COLS: &str = "customer_id, day, received_at, id, queue_id, domain_id, client_ip, \
    mail_from, rcpt_to, from_header, subject, size, action, threat_type, notify_admin, findings, auth, \
    transport";
const SENDER_RULE_COLS: &str =
    "customer_id, domain_id, id, kind, sender, require_auth, expires_at, created_at";
const QUARANTINE_COLS: &str = "customer_id, day, received_at, id, verdict_id, domain_id, \
    mail_from, rcpt_to, from_header, subject, threat_type, status, size, findings, released_at";

fn placeholders(cols: &str) -> String {
    vec!["?"; cols.split(',').count()].join(", ")
}

/// A statement prepared at LOCAL_QUORUM (LOCAL_SERIAL for lightweight transactions).
async fn prepared(session: &Session, cql: String) -> Result<PreparedStatement, StoreError> {
    let mut s = session.prepare(cql).await.map_err(backend)?;
    s.set_consistency(Consistency::LocalQuorum);
    s.set_serial_consistency(Some(SerialConsistency::LocalSerial));
    Ok(s)
}

impl Statements {
    async fn prepare(session: &Session, ks: &str) -> Result<Statements, StoreError> {
        let p = |cql: String| prepared(session, cql);
        let insert = |table: &str, cols: &str| {
            format!(
                "INSERT INTO {ks}.{table} ({cols}) VALUES ({})",
                placeholders(cols)
            )
        };
        Ok(Statements {
            customer_by_name: p(format!(
                "SELECT id, name, created_at FROM {ks}.customers_by_name WHERE name = ?"
            ))
            .await?,
            customer_by_id: p(format!(
                "SELECT id, name, created_at FROM {ks}.customers WHERE id = ?"
            ))
            .await?,
            claim_customer_name: p(format!(
                "INSERT INTO {ks}.customers_by_name (id, name, created_at) VALUES (?, ?, ?) \
                 IF NOT EXISTS"
            ))
            .await?,
            insert_customer: p(insert("customers", "id, name, created_at")).await?,
            insert_token_by_hash: p(insert("tokens_by_hash", TOKEN_COLS)).await?,
            insert_token_by_customer: p(insert("tokens_by_customer", TOKEN_COLS)).await?,
            token_by_hash: p(format!(
                "SELECT {TOKEN_COLS} FROM {ks}.tokens_by_hash WHERE hash = ?"
            ))
            .await?,
            tokens_by_customer: p(format!(
                "SELECT {TOKEN_COLS} FROM {ks}.tokens_by_customer WHERE customer_id = ?"
            ))
            .await?,
            token_of_customer: p(format!(
                "SELECT {TOKEN_COLS} FROM {ks}.tokens_by_customer WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            revoke_token_by_hash: p(format!(
                "UPDATE {ks}.tokens_by_hash SET revoked_at = ? WHERE hash = ?"
            ))
            .await?,
            revoke_token_by_customer: p(format!(
                "UPDATE {ks}.tokens_by_customer SET revoked_at = ? WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            claim_domain_name: p(format!(
                "INSERT INTO {ks}.domain_names (name, customer_id, id) VALUES (?, ?, ?) IF NOT EXISTS"
            ))
            .await?,
            release_domain_name: p(format!(
                "DELETE FROM {ks}.domain_names WHERE name = ? IF id = ?"
            ))
            .await?,
            domain_name_holder: p(format!("SELECT id FROM {ks}.domain_names WHERE name = ?"))
                .await?,
            claim_customer_domain_name: p(format!(
                "INSERT INTO {ks}.customer_domain_names (customer_id, name, id) VALUES (?, ?, ?) \
                 IF NOT EXISTS"
            ))
            .await?,
            release_customer_domain_name: p(format!(
                "DELETE FROM {ks}.customer_domain_names WHERE customer_id = ? AND name = ? IF id = ?"
            ))
            .await?,
            // Conditional updates: a domain deleted meanwhile is not written back to life.
            activate_domain: p(format!(
                "UPDATE {ks}.domains SET status = 'active', verified_at = ? \
                 WHERE customer_id = ? AND id = ? IF EXISTS"
            ))
            .await?,
            update_domain: p(format!(
                "UPDATE {ks}.domains SET real_mx_host = ?, delivery_mode = ?, detection = ?, tls = ? \
                 WHERE customer_id = ? AND id = ? IF EXISTS"
            ))
            .await?,
            set_domain_internal: p(format!(
                "UPDATE {ks}.domains SET allow_internal = ? WHERE customer_id = ? AND id = ? IF EXISTS"
            ))
            .await?,
            insert_domain: p(insert("domains", DOMAIN_COLS)).await?,
            domains_of_customer: p(format!(
                "SELECT {DOMAIN_COLS} FROM {ks}.domains WHERE customer_id = ?"
            ))
            .await?,
            domain: p(format!(
                "SELECT {DOMAIN_COLS} FROM {ks}.domains WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            delete_domain: p(format!(
                "DELETE FROM {ks}.domains WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            all_domains: p(format!("SELECT {DOMAIN_COLS} FROM {ks}.domains")).await?,
            insert_policy: p(insert("policies", POLICY_COLS)).await?,
            policies_of_customer: p(format!(
                "SELECT {POLICY_COLS} FROM {ks}.policies WHERE customer_id = ?"
            ))
            .await?,
            policy: p(format!(
                "SELECT {POLICY_COLS} FROM {ks}.policies WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            delete_policy: p(format!(
                "DELETE FROM {ks}.policies WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            all_policies: p(format!("SELECT {POLICY_COLS} FROM {ks}.policies")).await?,
            bump_config: p(format!(
                "UPDATE {ks}.config_version SET value = value + 1 WHERE key = 'config'"
            ))
            .await?,
            config_version: p(format!(
                "SELECT value FROM {ks}.config_version WHERE key = 'config'"
            ))
            .await?,
            insert_verdict: p(insert("verdicts_by_day", VERDICT_COLS)).await?,
            insert_verdict_pointer: p(insert(
                "verdicts_by_id",
                "customer_id, id, day, received_at",
            ))
            .await?,
            count_verdict: p(format!(
                "UPDATE {ks}.verdict_counts SET n = n + 1 WHERE customer_id = ? AND hour = ? \
                 AND action = ?"
            ))
            .await?,
            verdicts_of_day: p(format!(
                "SELECT {VERDICT_COLS} FROM {ks}.verdicts_by_day WHERE customer_id = ? AND day = ? \
                 AND received_at >= ? AND received_at < ?"
            ))
            .await?,
            verdict_pointer: p(format!(
                "SELECT customer_id, id, day, received_at FROM {ks}.verdicts_by_id \
                 WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            verdict_in_day: p(format!(
                "SELECT {VERDICT_COLS} FROM {ks}.verdicts_by_day WHERE customer_id = ? AND day = ? \
                 AND received_at = ? AND id = ?"
            ))
            .await?,
            verdict_counts: p(format!(
                "SELECT action, n FROM {ks}.verdict_counts WHERE customer_id = ? AND hour = ?"
            ))
            .await?,
            insert_quarantine: p(insert("quarantine_by_day", QUARANTINE_COLS)).await?,
            cas_quarantine: p(format!(
                "UPDATE {ks}.quarantine_by_day USING TTL ? SET status = ?, released_at = ? \
                 WHERE customer_id = ? AND day = ? AND received_at = ? AND id = ? \
                 IF status = ? AND released_at = ?"
            ))
            .await?,
            insert_quarantine_pointer: p(insert(
                "quarantine_by_id",
                "customer_id, id, day, received_at",
            ))
            .await?,
            insert_raw_chunk: p(insert("quarantine_raw", "id, chunk, data")).await?,
            quarantine_of_day: p(format!(
                "SELECT {QUARANTINE_COLS} FROM {ks}.quarantine_by_day WHERE customer_id = ? \
                 AND day = ? AND received_at >= ? AND received_at < ?"
            ))
            .await?,
            quarantine_pointer: p(format!(
                "SELECT customer_id, id, day, received_at FROM {ks}.quarantine_by_id \
                 WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            quarantine_in_day: p(format!(
                "SELECT {QUARANTINE_COLS} FROM {ks}.quarantine_by_day WHERE customer_id = ? \
                 AND day = ? AND received_at = ? AND id = ?"
            ))
            .await?,
            raw_chunks: p(format!(
                "SELECT id, chunk, data FROM {ks}.quarantine_raw WHERE id = ?"
            ))
            .await?,
            delete_raw: p(format!("DELETE FROM {ks}.quarantine_raw WHERE id = ?")).await?,
            insert_sender_rule: p(insert("sender_rules", SENDER_RULE_COLS)).await?,
            sender_rules_of_domain: p(format!(
                "SELECT {SENDER_RULE_COLS} FROM {ks}.sender_rules WHERE customer_id = ? \
                 AND domain_id = ?"
            ))
            .await?,
            sender_rule: p(format!(
                "SELECT {SENDER_RULE_COLS} FROM {ks}.sender_rules WHERE customer_id = ? \
                 AND domain_id = ? AND id = ?"
            ))
            .await?,
            delete_sender_rule: p(format!(
                "DELETE FROM {ks}.sender_rules WHERE customer_id = ? AND domain_id = ? AND id = ?"
            ))
            .await?,
            all_sender_rules: p(format!("SELECT {SENDER_RULE_COLS} FROM {ks}.sender_rules"))
                .await?,
            count_sender_rule_hit: p(format!(
                "UPDATE {ks}.sender_rule_hits SET hits = hits + 1 WHERE id = ?"
            ))
            .await?,
            sender_rule_hits: p(format!(
                "SELECT hits FROM {ks}.sender_rule_hits WHERE id = ?"
            ))
            .await?,
            touch_correspondent: p(format!(
                "UPDATE {ks}.correspondents SET last_seen = ? WHERE domain_id = ? AND sender = ?"
            ))
            .await?,
            note_correspondence_since: p(format!(
                "UPDATE {ks}.correspondence_since USING TIMESTAMP ? SET since = ? \
                 WHERE domain_id = ?"
            ))
            .await?,
            correspondent: p(format!(
                "SELECT last_seen FROM {ks}.correspondents WHERE domain_id = ? AND sender = ?"
            ))
            .await?,
            correspondence_since: p(format!(
                "SELECT since FROM {ks}.correspondence_since WHERE domain_id = ?"
            ))
            .await?,
            spam_report_label: p(format!(
                "SELECT spam FROM {ks}.spam_reports WHERE customer_id = ? AND item_id = ?"
            ))
            .await?,
            insert_spam_report: p(insert("spam_reports", SPAM_REPORT_COLS)).await?,
            spam_reports_of: p(format!(
                "SELECT {SPAM_REPORT_COLS} FROM {ks}.spam_reports WHERE customer_id = ?"
            ))
            .await?,
            put_spam_report_head: p(insert("spam_report_heads", "customer_id, updated_at"))
                .await?,
            spam_report_heads: p(format!(
                "SELECT customer_id, updated_at FROM {ks}.spam_report_heads"
            ))
            .await?,
            dmarc_count_add: p(format!(
                "UPDATE {ks}.dmarc_counts SET count = count + ? \
                 WHERE period = ? AND domain = ? AND record = ?"
            ))
            .await?,
            dmarc_pending_add: p(insert("dmarc_pending", "bucket, period, domain")).await?,
            dmarc_pending: p(format!(
                "SELECT period, domain FROM {ks}.dmarc_pending WHERE bucket = ? AND period < ?"
            ))
            .await?,
            dmarc_claim: p(format!(
                "INSERT INTO {ks}.dmarc_claims (period, domain, claimed_at) VALUES (?, ?, ?) \
                 IF NOT EXISTS"
            ))
            .await?,
            dmarc_counts_of: p(format!(
                "SELECT record, count FROM {ks}.dmarc_counts WHERE period = ? AND domain = ?"
            ))
            .await?,
            dmarc_counts_delete: p(format!(
                "DELETE FROM {ks}.dmarc_counts WHERE period = ? AND domain = ?"
            ))
            .await?,
            dmarc_pending_delete: p(format!(
                "DELETE FROM {ks}.dmarc_pending WHERE bucket = ? AND period = ? AND domain = ?"
            ))
            .await?,
            link_epoch: p(format!(
                "SELECT epoch FROM {ks}.link_epochs WHERE customer_id = ?"
            ))
            .await?,
            bump_link_epoch: p(format!(
                "UPDATE {ks}.link_epochs SET epoch = epoch + 1 WHERE customer_id = ?"
            ))
            .await?,
            insert_webhook: p(insert("webhooks", "customer_id, id, doc")).await?,
            update_webhook: p(format!(
                "UPDATE {ks}.webhooks SET doc = ? WHERE customer_id = ? AND id = ? IF EXISTS"
            ))
            .await?,
            webhooks_of_customer: p(format!(
                "SELECT doc FROM {ks}.webhooks WHERE customer_id = ?"
            ))
            .await?,
            all_webhooks: p(format!("SELECT doc FROM {ks}.webhooks")).await?,
            delete_webhook: p(format!(
                "DELETE FROM {ks}.webhooks WHERE customer_id = ? AND id = ?"
            ))
            .await?,
            delete_deliveries_of: p(format!(
                "DELETE FROM {ks}.webhook_deliveries WHERE customer_id = ? AND webhook_id = ?"
            ))
            .await?,
            add_delivery: p(format!(
                "{} IF NOT EXISTS",
                insert("webhook_deliveries", DELIVERY_COLS)
            ))
            .await?,
            put_delivery: p(insert("webhook_deliveries", DELIVERY_COLS)).await?,
            deliveries_of: p(format!(
                "SELECT doc FROM {ks}.webhook_deliveries WHERE customer_id = ? AND webhook_id = ?"
            ))
            .await?,
            delivery: p(format!(
                "SELECT doc FROM {ks}.webhook_deliveries WHERE customer_id = ? \
                 AND webhook_id = ? AND id = ?"
            ))
            .await?,
            queue_insert: p(insert("webhook_queue", QUEUE_COLS)).await?,
            queue_delete: p(format!(
                "DELETE FROM {ks}.webhook_queue WHERE bucket = ? AND next_attempt_at = ? AND id = ?"
            ))
            .await?,
            queue_due: p(format!(
                "SELECT {QUEUE_COLS} FROM {ks}.webhook_queue WHERE bucket = ? \
                 AND next_attempt_at <= ?"
            ))
            .await?,
        })
    }
}

struct Inner {
    session: Session,
    st: Statements,
    coord: coordination::Statements,
    settings: Settings,
    /// Verdict inserts in flight.
    window: Semaphore,
    /// Verdict writes queued or in flight (for `flush` and the queue-depth gauge).
    pending: AtomicI64,
    idle: tokio::sync::Notify,
}

/// A ScyllaDB-backed store. Cheap to share; holds the runtime its work runs on.
pub struct ScyllaStore {
    runtime: Option<tokio::runtime::Runtime>,
    inner: Arc<Inner>,
}

impl Drop for ScyllaStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `cql` statements of a migration (schema changes are not prepared).
async fn run_ddl(session: &Session, cql: &str) -> Result<(), StoreError> {
    session
        .query_unpaged(cql.to_string(), ())
        .await
        .map_err(|e| StoreError::Backend(format!("{e} (in: {cql})")))?;
    Ok(())
}

/// Creates the keyspace and applies the migrations it has not seen.
async fn migrate(session: &Session, s: &Settings) -> Result<(), StoreError> {
    let ks = &s.keyspace;
    run_ddl(session, &schema::keyspace(ks, s.replication_factor)).await?;
    let render = |stmt: &str| schema::render(stmt, ks, s.verdict_ttl_secs, s.quarantine_ttl_secs);
    run_ddl(session, &render(schema::MIGRATIONS_TABLE)).await?;
    let applied: Vec<i32> = session
        .query_unpaged(format!("SELECT version FROM {ks}.schema_migrations"), ())
        .await
        .map_err(backend)?
        .into_rows_result()
        .map_err(backend)?
        .rows::<(i32,)>()
        .map_err(backend)?
        .map(|r| r.map(|(v,)| v))
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    for (i, statements) in schema::MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        if applied.contains(&version) {
            continue;
        }
        for stmt in *statements {
            run_ddl(session, &render(stmt)).await?;
        }
        session
            .query_unpaged(
                format!("INSERT INTO {ks}.schema_migrations (version, applied_at) VALUES (?, ?)"),
                (version, crate::time::now_ms()),
            )
            .await
            .map_err(backend)?;
        tracing::info!(version, keyspace = %ks, "ScyllaDB schema migration applied");
    }
    session.await_schema_agreement().await.map_err(backend)?;
    Ok(())
}

impl ScyllaStore {
    /// Connects, migrates the schema and prepares every statement.
    pub fn open(config: &StoreConfig) -> Result<ScyllaStore, StoreError> {
        let settings = Settings::from_config(config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("moat-scylla")
            .enable_all()
            .build()
            .map_err(backend)?;
        let inner = runtime.block_on(async {
            let mut policy = DefaultPolicy::builder().token_aware(true);
            if let Some(dc) = &settings.local_dc {
                policy = policy
                    .prefer_datacenter(dc.clone())
                    .permit_dc_failover(false);
            }
            let profile = ExecutionProfile::builder()
                .load_balancing_policy(policy.build())
                .consistency(Consistency::LocalQuorum)
                .serial_consistency(Some(SerialConsistency::LocalSerial))
                .build();
            let session = SessionBuilder::new()
                .known_nodes(&settings.nodes)
                .default_execution_profile_handle(profile.into_handle())
                .build()
                .await
                .map_err(|e| StoreError::Open {
                    path: settings.nodes.join(","),
                    reason: e.to_string(),
                })?;
            migrate(&session, &settings).await?;
            let st = Statements::prepare(&session, &settings.keyspace).await?;
            let coord = coordination::Statements::prepare(&session, &settings.keyspace).await?;
            Ok::<_, StoreError>(Inner {
                session,
                st,
                coord,
                window: Semaphore::new(settings.write_window),
                settings,
                pending: AtomicI64::new(0),
                idle: tokio::sync::Notify::new(),
            })
        })?;
        Ok(ScyllaStore {
            runtime: Some(runtime),
            inner: Arc::new(inner),
        })
    }

    /// Runs `f` on the store's runtime; the returned future may be awaited anywhere.
    fn run<T, F, Fut>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        match &self.runtime {
            Some(rt) => {
                rt.spawn(async move {
                    let _ = tx.send(f(inner).await);
                });
            }
            None => return Box::pin(async { Err(StoreError::Closed) }),
        }
        Box::pin(async move { rx.await.map_err(|_| StoreError::Closed)? })
    }
}

impl Inner {
    async fn exec(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(st, values)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Every row of a (paged) query.
    async fn rows<R>(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + Send + 'static,
    {
        self.session
            .execute_iter(st.clone(), values)
            .await
            .map_err(backend)?
            .rows_stream::<R>()
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)
    }

    async fn first<R>(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Option<R>, StoreError>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + Send + 'static,
    {
        Ok(self.rows(st, values).await?.into_iter().next())
    }

    /// Runs a lightweight transaction; true when it was applied.
    async fn lwt(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<bool, StoreError> {
        let rows = self
            .session
            .execute_unpaged(st, values)
            .await
            .map_err(backend)?
            .into_rows_result()
            .map_err(backend)?;
        let first = rows
            .rows::<Row>()
            .map_err(backend)?
            .next()
            .transpose()
            .map_err(backend)?;
        Ok(matches!(
            first.and_then(|r| r.columns.into_iter().next().flatten()),
            Some(CqlValue::Boolean(true))
        ))
    }

    /// Claims `d`'s name cluster-wide for it; true when it holds the claim (already did, or
    /// won it now).
    async fn claim_live_name(&self, d: &Domain) -> Result<bool, StoreError> {
        if self
            .lwt(&self.st.claim_domain_name, (&d.name, &d.customer_id, &d.id))
            .await?
        {
            return Ok(true);
        }
        let holder = self
            .first::<(Option<String>,)>(&self.st.domain_name_holder, (&d.name,))
            .await?;
        Ok(holder.and_then(|(id,)| id).as_deref() == Some(d.id.as_str()))
    }

    /// A quarantined message's row, found through its id pointer.
    async fn quarantine_row(
        &self,
        customer_id: &str,
        id: &str,
    ) -> Result<Option<QuarantineRow>, StoreError> {
        let Some(p) = self
            .first::<PointerRow>(&self.st.quarantine_pointer, (customer_id, id))
            .await?
        else {
            return Ok(None);
        };
        self.first::<QuarantineRow>(
            &self.st.quarantine_in_day,
            (customer_id, p.day, p.received_at, id),
        )
        .await
    }

    /// Moves a quarantined message from the state `row` shows to `status`/`released_at`, as a
    /// lightweight transaction on exactly what was read (status and claim time): of
    /// concurrent movers, one wins. The cells keep the row's remaining time to live.
    async fn cas_quarantine(
        &self,
        row: &QuarantineRow,
        status: QuarantineStatus,
        released_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let age_secs = (crate::time::now_ms() - row.received_at).max(0) / 1000;
        let ttl = (self.settings.quarantine_ttl_secs as i64 - age_secs).max(1) as i32;
        self.lwt(
            &self.st.cas_quarantine,
            (
                ttl,
                status.as_str(),
                released_at,
                &row.customer_id,
                row.day,
                row.received_at,
                &row.id,
                &row.status,
                row.released_at,
            ),
        )
        .await
    }

    async fn bump_config(&self) -> Result<(), StoreError> {
        self.exec(&self.st.bump_config, ()).await
    }

    async fn write_verdict(&self, v: &VerdictRecord) -> Result<(), StoreError> {
        let row = VerdictRow::new(v)?;
        let pointer = PointerRow {
            customer_id: v.customer_id.clone(),
            id: v.id.clone(),
            day: row.day,
            received_at: v.received_at,
        };
        let (a, b, c, d) = futures::join!(
            self.exec(&self.st.insert_verdict, &row),
            self.exec(&self.st.insert_verdict_pointer, &pointer),
            self.exec(
                &self.st.count_verdict,
                (&v.customer_id, hour_of(v.received_at), v.action.as_str())
            ),
            self.note_correspondent(v),
        );
        a.and(b).and(c).and(d)
    }

    /// Records the author of clean delivered mail as a correspondent of the verdict's domain.
    /// `since` must keep the earliest time whatever order writes arrive in, without a
    /// read-before-write: each write's timestamp falls as its time rises, so the earliest
    /// write carries the highest timestamp and wins Scylla's last-write-wins merge.
    async fn note_correspondent(&self, v: &VerdictRecord) -> Result<(), StoreError> {
        const EARLIEST_WINS: i64 = 1 << 62;
        let Some(author) = v.correspondent() else {
            return Ok(());
        };
        let (a, b) = futures::join!(
            self.exec(
                &self.st.touch_correspondent,
                (v.received_at, &v.domain_id, &author)
            ),
            self.exec(
                &self.st.note_correspondence_since,
                (EARLIEST_WINS - v.received_at, v.received_at, &v.domain_id)
            ),
        );
        a.and(b)
    }

    fn finished_one(&self) {
        let left = self.pending.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics().store_queue_depth.set(left);
        if left == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Day buckets from `until` back to `since` (or the retention period), newest first.
    fn days(&self, since: Option<i64>, until: Option<i64>, retention_secs: u64) -> Vec<i32> {
        let now = crate::time::now_ms();
        let until = until.unwrap_or(now + 1);
        let oldest = since.unwrap_or_else(|| now - (retention_secs as i64) * 1000);
        let (first, last) = (day_of(until.saturating_sub(1)), day_of(oldest));
        (last..=first).rev().collect()
    }
}

fn sort_tokens(mut t: Vec<TokenRow>) -> Vec<TokenRow> {
    t.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    t
}

impl Store for ScyllaStore {
    fn customer_by_name(&self, name: &str) -> StoreFuture<Option<Customer>> {
        let name = name.to_string();
        self.run(move |db| async move {
            Ok(db
                .first::<CustomerRow>(&db.st.customer_by_name, (&name,))
                .await?
                .map(Into::into))
        })
    }

    fn ensure_customer(&self, name: &str) -> StoreFuture<Customer> {
        let name = name.to_string();
        self.run(move |db| async move {
            if let Some(c) = db
                .first::<CustomerRow>(&db.st.customer_by_name, (&name,))
                .await?
            {
                return Ok(c.into());
            }
            let row = CustomerRow {
                id: uuid::Uuid::now_v7().to_string(),
                name: name.clone(),
                created_at: crate::time::now_ms(),
            };
            // The name is claimed once cluster-wide; a racing host reads the winner's id.
            db.lwt(
                &db.st.claim_customer_name,
                (&row.id, &row.name, row.created_at),
            )
            .await?;
            let winner = db
                .first::<CustomerRow>(&db.st.customer_by_name, (&name,))
                .await?
                .ok_or_else(|| StoreError::Backend("customer name claim vanished".into()))?;
            db.exec(&db.st.insert_customer, &winner).await?;
            Ok(winner.into())
        })
    }

    fn ensure_sandbox(&self, customer: &Customer) -> StoreFuture<()> {
        // No foreign keys here: the row only lets look-ups by id find the sandbox.
        let row = CustomerRow {
            id: crate::tenancy::tenant_of(&customer.id, crate::model::TokenKind::Test),
            name: format!("{}{}", customer.name, crate::tenancy::SANDBOX_SUFFIX),
            created_at: customer.created_at,
        };
        self.run(move |db| async move { db.exec(&db.st.insert_customer, &row).await })
    }

    fn customer(&self, id: &str) -> StoreFuture<Option<Customer>> {
        let id = id.to_string();
        self.run(move |db| async move {
            Ok(db
                .first::<CustomerRow>(&db.st.customer_by_id, (&id,))
                .await?
                .map(Customer::from))
        })
    }

    fn insert_token(&self, token: TokenInfo, hash: String) -> StoreFuture<()> {
        self.run(move |db| async move {
            let row = TokenRow::new(&token, hash);
            db.exec(&db.st.insert_token_by_customer, &row).await?;
            db.exec(&db.st.insert_token_by_hash, &row).await
        })
    }

    fn token_by_hash(&self, hash: &str) -> StoreFuture<Option<TokenInfo>> {
        let hash = hash.to_string();
        self.run(move |db| async move {
            db.first::<TokenRow>(&db.st.token_by_hash, (&hash,))
                .await?
                .filter(|t| t.revoked_at.is_none())
                .map(TokenRow::into_model)
                .transpose()
        })
    }

    fn tokens(&self, customer_id: &str) -> StoreFuture<Vec<TokenInfo>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let rows = db
                .rows::<TokenRow>(&db.st.tokens_by_customer, (&customer_id,))
                .await?;
            sort_tokens(rows)
                .into_iter()
                .filter(|t| t.revoked_at.is_none())
                .map(TokenRow::into_model)
                .collect()
        })
    }

    fn revoke_token(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(row) = db
                .first::<TokenRow>(&db.st.token_of_customer, (&customer_id, &id))
                .await?
                .filter(|t| t.revoked_at.is_none())
            else {
                return Ok(false);
            };
            // The hash table first: that is what authentication reads.
            db.exec(&db.st.revoke_token_by_hash, (at, &row.hash))
                .await?;
            db.exec(&db.st.revoke_token_by_customer, (at, &customer_id, &id))
                .await?;
            Ok(true)
        })
    }

    fn insert_domain(&self, domain: Domain) -> StoreFuture<()> {
        self.run(move |db| async move {
            let mine = db
                .lwt(
                    &db.st.claim_customer_domain_name,
                    (&domain.customer_id, &domain.name, &domain.id),
                )
                .await?;
            if !mine {
                return Err(StoreError::Conflict(format!(
                    "domain {} is already protected",
                    domain.name
                )));
            }
            if domain.status == DomainStatus::Active
                && crate::tenancy::claims_domain_names(&domain.customer_id)
                && !db.claim_live_name(&domain).await?
            {
                db.lwt(
                    &db.st.release_customer_domain_name,
                    (&domain.customer_id, &domain.name, &domain.id),
                )
                .await?;
                return Err(StoreError::Conflict(format!(
                    "domain {} is already protected",
                    domain.name
                )));
            }
            db.exec(&db.st.insert_domain, DomainRow::from(&domain))
                .await?;
            db.bump_config().await
        })
    }

    fn activate_domain(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<Option<Domain>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(row) = db
                .first::<DomainRow>(&db.st.domain, (&customer_id, &id))
                .await?
            else {
                return Ok(None);
            };
            let mut d = row.into_model()?;
            if crate::tenancy::claims_domain_names(&customer_id) && !db.claim_live_name(&d).await? {
                return Err(StoreError::Conflict(
                    "the domain is already active for another account".into(),
                ));
            }
            let at = d.verified_at.unwrap_or(at);
            if !db
                .lwt(&db.st.activate_domain, (at, &customer_id, &id))
                .await?
            {
                // Deleted meanwhile: give the name back.
                db.lwt(&db.st.release_domain_name, (&d.name, &id)).await?;
                return Ok(None);
            }
            d.status = DomainStatus::Active;
            d.verified_at = Some(at);
            db.bump_config().await?;
            Ok(Some(d))
        })
    }

    fn set_domain_internal_target(
        &self,
        customer_id: &str,
        id: &str,
        allowed: bool,
    ) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let done = db
                .lwt(&db.st.set_domain_internal, (allowed, &customer_id, &id))
                .await?;
            if done {
                db.bump_config().await?;
            }
            Ok(done)
        })
    }

    fn domains(&self, customer_id: &str) -> StoreFuture<Vec<Domain>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let mut out: Vec<Domain> = db
                .rows::<DomainRow>(&db.st.domains_of_customer, (&customer_id,))
                .await?
                .into_iter()
                .map(DomainRow::into_model)
                .collect::<Result<_, _>>()?;
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }

    fn domain(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Domain>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            db.first::<DomainRow>(&db.st.domain, (&customer_id, &id))
                .await?
                .map(DomainRow::into_model)
                .transpose()
        })
    }

    fn delete_domain(&self, customer_id: &str, id: &str) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(d) = db
                .first::<DomainRow>(&db.st.domain, (&customer_id, &id))
                .await?
            else {
                return Ok(false);
            };
            db.exec(&db.st.delete_domain, (&customer_id, &id)).await?;
            db.lwt(&db.st.release_domain_name, (&d.name, &id)).await?;
            db.lwt(
                &db.st.release_customer_domain_name,
                (&customer_id, &d.name, &id),
            )
            .await?;
            db.bump_config().await?;
            Ok(true)
        })
    }

    fn update_domain(
        &self,
        customer_id: &str,
        id: &str,
        patch: DomainPatch,
    ) -> StoreFuture<Option<Domain>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(row) = db
                .first::<DomainRow>(&db.st.domain, (&customer_id, &id))
                .await?
            else {
                return Ok(None);
            };
            let mut d = row.into_model()?;
            if let Some(host) = patch.real_mx_host {
                d.real_mx_host = host;
            }
            if let Some(mode) = patch.delivery_mode {
                d.delivery_mode = mode;
            }
            if let Some(t) = patch.spam_threshold {
                d.detection.spam_threshold = Some(t);
            }
            if let Some(execs) = patch.executives {
                d.detection.executives = execs;
            }
            if let Some(admin) = patch.admin_email {
                d.detection.admin_email = Some(admin).filter(|a| !a.is_empty());
            }
            if let Some(tls) = patch.tls {
                d.tls = tls;
            }
            let row = DomainRow::from(&d);
            let written = db
                .lwt(
                    &db.st.update_domain,
                    (
                        &row.real_mx_host,
                        &row.delivery_mode,
                        &row.detection,
                        &row.tls,
                        &customer_id,
                        &id,
                    ),
                )
                .await?;
            if !written {
                // Deleted between the read and the write: not brought back.
                return Ok(None);
            }
            db.bump_config().await?;
            Ok(Some(d))
        })
    }

    fn all_domains(&self) -> StoreFuture<Vec<Domain>> {
        self.run(move |db| async move {
            db.rows::<DomainRow>(&db.st.all_domains, ())
                .await?
                .into_iter()
                .map(DomainRow::into_model)
                .collect()
        })
    }

    fn insert_policy(&self, policy: Policy) -> StoreFuture<()> {
        self.run(move |db| async move {
            db.exec(&db.st.insert_policy, PolicyRow::new(&policy)?)
                .await?;
            db.bump_config().await
        })
    }

    fn policies(&self, customer_id: &str) -> StoreFuture<Vec<Policy>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let mut out: Vec<Policy> = db
                .rows::<PolicyRow>(&db.st.policies_of_customer, (&customer_id,))
                .await?
                .into_iter()
                .map(PolicyRow::into_model)
                .collect::<Result<_, _>>()?;
            out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(out)
        })
    }

    fn policy(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Policy>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            db.first::<PolicyRow>(&db.st.policy, (&customer_id, &id))
                .await?
                .map(PolicyRow::into_model)
                .transpose()
        })
    }

    fn update_policy(&self, policy: Policy) -> StoreFuture<bool> {
        self.run(move |db| async move {
            let Some(old) = db
                .first::<PolicyRow>(&db.st.policy, (&policy.customer_id, &policy.id))
                .await?
            else {
                return Ok(false);
            };
            let mut row = PolicyRow::new(&policy)?;
            row.created_at = old.created_at;
            db.exec(&db.st.insert_policy, row).await?;
            db.bump_config().await?;
            Ok(true)
        })
    }

    fn delete_policy(&self, customer_id: &str, id: &str) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            if db
                .first::<PolicyRow>(&db.st.policy, (&customer_id, &id))
                .await?
                .is_none()
            {
                return Ok(false);
            }
            db.exec(&db.st.delete_policy, (&customer_id, &id)).await?;
            db.bump_config().await?;
            Ok(true)
        })
    }

    fn all_policies(&self) -> StoreFuture<Vec<Policy>> {
        self.run(move |db| async move {
            let mut out: Vec<Policy> = db
                .rows::<PolicyRow>(&db.st.all_policies, ())
                .await?
                .into_iter()
                .map(PolicyRow::into_model)
                .collect::<Result<_, _>>()?;
            out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(out)
        })
    }

    fn insert_sender_rule(&self, rule: SenderRule) -> StoreFuture<()> {
        self.run(move |db| async move {
            db.exec(&db.st.insert_sender_rule, SenderRuleRow::from(&rule))
                .await?;
            db.bump_config().await
        })
    }

    fn sender_rules(&self, customer_id: &str, domain_id: &str) -> StoreFuture<Vec<SenderRule>> {
        let (customer_id, domain_id) = (customer_id.to_string(), domain_id.to_string());
        self.run(move |db| async move {
            let rows = db
                .rows::<SenderRuleRow>(&db.st.sender_rules_of_domain, (&customer_id, &domain_id))
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let hits = db
                    .first::<(scylla::value::Counter,)>(&db.st.sender_rule_hits, (&row.id,))
                    .await?
                    .map_or(0, |(c,)| u64::try_from(c.0).unwrap_or_default());
                out.push(row.into_model(hits)?);
            }
            out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(out)
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
        self.run(move |db| async move {
            if db
                .first::<SenderRuleRow>(&db.st.sender_rule, (&customer_id, &domain_id, &id))
                .await?
                .is_none()
            {
                return Ok(false);
            }
            db.exec(&db.st.delete_sender_rule, (&customer_id, &domain_id, &id))
                .await?;
            db.bump_config().await?;
            Ok(true)
        })
    }

    fn all_sender_rules(&self) -> StoreFuture<Vec<SenderRule>> {
        self.run(move |db| async move {
            // Hit counts are not needed by the scanner's snapshot.
            db.rows::<SenderRuleRow>(&db.st.all_sender_rules, ())
                .await?
                .into_iter()
                .map(|r| r.into_model(0))
                .collect()
        })
    }

    fn count_sender_rule_hits(&self, rule_ids: Vec<String>) -> StoreFuture<()> {
        self.run(move |db| async move {
            for id in &rule_ids {
                db.exec(&db.st.count_sender_rule_hit, (id,)).await?;
            }
            Ok(())
        })
    }

    fn config_version(&self) -> StoreFuture<i64> {
        self.run(move |db| async move {
            Ok(db
                .first::<(scylla::value::Counter,)>(&db.st.config_version, ())
                .await?
                .map_or(0, |(c,)| c.0))
        })
    }

    fn flush(&self) -> StoreFuture<()> {
        self.run(move |db| async move {
            loop {
                let notified = db.idle.notified();
                if db.pending.load(Ordering::Acquire) <= 0 {
                    return Ok(());
                }
                notified.await;
            }
        })
    }

    fn record_verdicts(&self, verdicts: Vec<VerdictRecord>) -> StoreFuture<()> {
        // Counted now, so `flush` waits for these even if the caller never polls the future.
        let n = verdicts.len() as i64;
        let depth = self.inner.pending.fetch_add(n, Ordering::AcqRel) + n;
        metrics().store_queue_depth.set(depth);
        self.run(move |db| async move {
            let writes = verdicts.into_iter().map(|v| {
                let db = db.clone();
                async move {
                    let permit = db.window.acquire().await.map_err(|_| StoreError::Closed);
                    let result = match permit {
                        Ok(_permit) => db.write_verdict(&v).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = &result {
                        tracing::error!(verdict = %v.id, error = %e, "verdict write failed");
                    }
                    db.finished_one();
                    result
                }
            });
            let results: Vec<Result<(), StoreError>> = futures::stream::iter(writes)
                .buffer_unordered(64)
                .collect()
                .await;
            results.into_iter().collect()
        })
    }

    fn link_epoch(&self, customer_id: &str) -> StoreFuture<i64> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            Ok(db
                .first::<(Option<scylla::value::Counter>,)>(&db.st.link_epoch, (&customer_id,))
                .await?
                .and_then(|(c,)| c)
                .map_or(0, |c| c.0))
        })
    }

    fn bump_link_epoch(&self, customer_id: &str) -> StoreFuture<i64> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            db.exec(&db.st.bump_link_epoch, (&customer_id,)).await?;
            Ok(db
                .first::<(Option<scylla::value::Counter>,)>(&db.st.link_epoch, (&customer_id,))
                .await?
                .and_then(|(c,)| c)
                .map_or(0, |c| c.0))
        })
    }

    fn put_spam_report(&self, r: SpamReportRecord) -> StoreFuture<bool> {
        self.run(move |db| async move {
            let current = db
                .first::<(Option<bool>,)>(&db.st.spam_report_label, (&r.customer_id, &r.item_id))
                .await?
                .and_then(|(spam,)| spam);
            if current == Some(r.spam) {
                return Ok(false);
            }
            db.exec(&db.st.insert_spam_report, SpamReportRow::from(&r))
                .await?;
            db.exec(&db.st.put_spam_report_head, (&r.customer_id, r.reported_at))
                .await?;
            db.bump_config().await?;
            Ok(true)
        })
    }

    fn spam_reports(&self, customer_id: &str, limit: u32) -> StoreFuture<Vec<SpamReportRecord>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let mut out: Vec<SpamReportRecord> = db
                .rows::<SpamReportRow>(&db.st.spam_reports_of, (&customer_id,))
                .await?
                .into_iter()
                .map(SpamReportRow::into_model)
                .collect();
            out.sort_by(|a, b| (b.reported_at, &b.item_id).cmp(&(a.reported_at, &a.item_id)));
            out.truncate(limit as usize);
            Ok(out)
        })
    }

    fn spam_report_heads(&self) -> StoreFuture<Vec<(String, i64)>> {
        self.run(move |db| async move {
            Ok(db
                .rows::<(String, Option<i64>)>(&db.st.spam_report_heads, ())
                .await?
                .into_iter()
                .map(|(c, t)| (c, t.unwrap_or(0)))
                .collect())
        })
    }

    fn add_dmarc_rows(&self, rows: Vec<DmarcRow>) -> StoreFuture<()> {
        self.run(move |db| async move {
            for r in &rows {
                let n = scylla::value::Counter(i64::try_from(r.count).unwrap_or(i64::MAX));
                db.exec(&db.st.dmarc_count_add, (n, r.period, &r.domain, &r.record))
                    .await?;
                db.exec(&db.st.dmarc_pending_add, (0i32, r.period, &r.domain))
                    .await?;
            }
            Ok(())
        })
    }

    fn dmarc_due(&self, before_ms: i64) -> StoreFuture<Vec<(i64, String)>> {
        self.run(move |db| async move {
            db.rows::<(i64, String)>(&db.st.dmarc_pending, (0i32, before_ms))
                .await
        })
    }

    /// The claim (a lightweight transaction) makes one reporter of a cluster the taker; the
    /// counts are then read and deleted. Counts added to a period after its claim (a scanner
    /// flushing late) are not reported; the TTLs clear them.
    fn take_dmarc_rows(&self, period: i64, domain: &str) -> StoreFuture<Vec<DmarcRow>> {
        let domain = domain.to_string();
        self.run(move |db| async move {
            let won = db
                .lwt(&db.st.dmarc_claim, (period, &domain, crate::time::now_ms()))
                .await?;
            let mut out = Vec::new();
            if won {
                for (record, count) in db
                    .rows::<(String, Option<scylla::value::Counter>)>(
                        &db.st.dmarc_counts_of,
                        (period, &domain),
                    )
                    .await?
                {
                    out.push(DmarcRow {
                        period,
                        domain: domain.clone(),
                        record,
                        count: count.map_or(0, |c| c.0.max(0) as u64),
                    });
                }
                db.exec(&db.st.dmarc_counts_delete, (period, &domain))
                    .await?;
            }
            db.exec(&db.st.dmarc_pending_delete, (0i32, period, &domain))
                .await?;
            Ok(out)
        })
    }

    fn sender_history(&self, domain_id: &str, sender: &str) -> StoreFuture<SenderHistory> {
        let (domain_id, sender) = (domain_id.to_string(), sender.to_ascii_lowercase());
        self.run(move |db| async move {
            let (known, since) = futures::join!(
                db.first::<(Option<i64>,)>(&db.st.correspondent, (&domain_id, &sender)),
                db.first::<(Option<i64>,)>(&db.st.correspondence_since, (&domain_id,)),
            );
            Ok(SenderHistory {
                known: known?.is_some(),
                history_since: since?.and_then(|(s,)| s),
            })
        })
    }

    fn verdicts(
        &self,
        customer_id: &str,
        filter: VerdictFilter,
    ) -> StoreFuture<Vec<VerdictRecord>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let limit = filter.limit.max(1) as usize;
            // A cursor bounds the window too: nothing newer than its row is read.
            let until = match (&filter.after, filter.until) {
                (Some((t, _)), Some(u)) => Some(u.min(t.saturating_add(1))),
                (Some((t, _)), None) => Some(t.saturating_add(1)),
                (None, u) => u,
            };
            let (lo, hi) = (filter.since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
            let mut out = Vec::new();
            for day in db.days(filter.since, until, db.settings.verdict_ttl_secs) {
                let rows = db
                    .rows::<VerdictRow>(&db.st.verdicts_of_day, (&customer_id, day, lo, hi))
                    .await?;
                for row in rows {
                    if filter
                        .domain_id
                        .as_ref()
                        .is_some_and(|d| *d != row.domain_id)
                        || filter.action.is_some_and(|a| a.as_str() != row.action)
                        || filter
                            .threat_type
                            .is_some_and(|t| row.threat_type.as_deref() != Some(t.as_str()))
                        || (filter.threats_only && row.threat_type.is_none())
                        || !is_after(filter.after.as_ref(), row.received_at, &row.id)
                    {
                        continue;
                    }
                    out.push(row.into_model()?);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            Ok(out)
        })
    }

    fn verdict(&self, customer_id: &str, id: &str) -> StoreFuture<Option<VerdictRecord>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(p) = db
                .first::<PointerRow>(&db.st.verdict_pointer, (&customer_id, &id))
                .await?
            else {
                return Ok(None);
            };
            db.first::<VerdictRow>(
                &db.st.verdict_in_day,
                (&customer_id, p.day, p.received_at, &id),
            )
            .await?
            .map(VerdictRow::into_model)
            .transpose()
        })
    }

    fn verdict_counts(&self, customer_id: &str, since_ms: i64) -> StoreFuture<Vec<(Action, u64)>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let now = crate::time::now_ms();
            let mut totals: Vec<(Action, u64)> = Vec::new();
            // Hour buckets: the window is rounded out to whole hours.
            for hour in hour_of(since_ms.max(now - 400 * 86_400_000))..=hour_of(now) {
                let rows = db
                    .rows::<(String, scylla::value::Counter)>(
                        &db.st.verdict_counts,
                        (&customer_id, hour),
                    )
                    .await?;
                for (action, n) in rows {
                    let Some(action) = Action::parse(&action) else {
                        continue;
                    };
                    let n = u64::try_from(n.0).unwrap_or_default();
                    match totals.iter_mut().find(|(a, _)| *a == action) {
                        Some((_, total)) => *total += n,
                        None => totals.push((action, n)),
                    }
                }
            }
            totals.sort_by_key(|(a, _)| a.as_str());
            Ok(totals)
        })
    }

    fn quarantine(
        &self,
        item: QuarantineItem,
        raw: Vec<u8>,
        verdict: VerdictRecord,
    ) -> StoreFuture<()> {
        self.run(move |db| async move {
            // Bytes first, then the metadata that points at them, then the verdict: a reader
            // never finds metadata without its message.
            let chunks = raw.chunks(RAW_CHUNK).enumerate().map(|(i, c)| RawChunkRow {
                id: item.id.clone(),
                chunk: i32::try_from(i).unwrap_or(i32::MAX),
                data: c.to_vec(),
            });
            for chunk in chunks {
                db.exec(&db.st.insert_raw_chunk, &chunk).await?;
            }
            let row = QuarantineRow::new(&item)?;
            db.exec(&db.st.insert_quarantine, &row).await?;
            db.exec(
                &db.st.insert_quarantine_pointer,
                PointerRow {
                    customer_id: item.customer_id.clone(),
                    id: item.id.clone(),
                    day: row.day,
                    received_at: item.received_at,
                },
            )
            .await?;
            db.write_verdict(&verdict).await
        })
    }

    fn quarantine_list(
        &self,
        customer_id: &str,
        filter: QuarantineFilter,
    ) -> StoreFuture<Vec<QuarantineItem>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let limit = filter.limit.max(1) as usize;
            // A cursor bounds the window too: nothing newer than its row is read.
            let until = match (&filter.after, filter.until) {
                (Some((t, _)), Some(u)) => Some(u.min(t.saturating_add(1))),
                (Some((t, _)), None) => Some(t.saturating_add(1)),
                (None, u) => u,
            };
            let (lo, hi) = (filter.since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
            let needle = filter.from.as_ref().map(|f| f.to_lowercase());
            let mut out = Vec::new();
            for day in db.days(filter.since, until, db.settings.quarantine_ttl_secs) {
                let rows = db
                    .rows::<QuarantineRow>(&db.st.quarantine_of_day, (&customer_id, day, lo, hi))
                    .await?;
                for row in rows {
                    let keep = is_after(filter.after.as_ref(), row.received_at, &row.id)
                        && filter.status.is_none_or(|s| s.as_str() == row.status)
                        && filter
                            .threat_type
                            .is_none_or(|t| t.as_str() == row.threat_type)
                        && filter
                            .domain_id
                            .as_ref()
                            .is_none_or(|d| *d == row.domain_id)
                        && needle.as_ref().is_none_or(|n| {
                            row.mail_from.to_lowercase().contains(n)
                                || row.from_header.to_lowercase().contains(n)
                        });
                    if keep {
                        out.push(row.into_model()?);
                        if out.len() == limit {
                            return Ok(out);
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    fn quarantine_get(&self, customer_id: &str, id: &str) -> StoreFuture<Option<QuarantineItem>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            db.quarantine_row(&customer_id, &id)
                .await?
                .map(QuarantineRow::into_model)
                .transpose()
        })
    }

    fn quarantine_raw(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Vec<u8>>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(row) = db.quarantine_row(&customer_id, &id).await? else {
                return Ok(None);
            };
            if row.status == QuarantineStatus::Deleted.as_str() {
                return Ok(None);
            }
            let mut chunks = db.rows::<RawChunkRow>(&db.st.raw_chunks, (&id,)).await?;
            chunks.sort_by_key(|c| c.chunk);
            Ok(Some(chunks.into_iter().flat_map(|c| c.data).collect()))
        })
    }

    fn quarantine_claim_release(
        &self,
        customer_id: &str,
        id: &str,
        claim_at: i64,
    ) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(row) = db.quarantine_row(&customer_id, &id).await? else {
                return Ok(false);
            };
            let free = row.status == QuarantineStatus::Quarantined.as_str()
                || (row.status == QuarantineStatus::Releasing.as_str()
                    && row
                        .released_at
                        .is_some_and(|t| t < claim_at - crate::model::RELEASE_CLAIM_MS));
            if !free {
                return Ok(false);
            }
            db.cas_quarantine(&row, QuarantineStatus::Releasing, Some(claim_at))
                .await
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
        self.run(move |db| async move {
            let Some(row) = db.quarantine_row(&customer_id, &id).await? else {
                return Ok(false);
            };
            if row.status != QuarantineStatus::Releasing.as_str()
                || row.released_at != Some(claim_at)
            {
                return Ok(false);
            }
            let (to, released_at) = if delivered {
                (QuarantineStatus::Released, Some(at))
            } else {
                (QuarantineStatus::Quarantined, None)
            };
            db.cas_quarantine(&row, to, released_at).await
        })
    }

    fn quarantine_delete(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let Some(row) = db.quarantine_row(&customer_id, &id).await? else {
                return Ok(false);
            };
            if row.status == QuarantineStatus::Deleted.as_str() {
                return Ok(true);
            }
            let held = row.status == QuarantineStatus::Releasing.as_str()
                && row
                    .released_at
                    .is_some_and(|t| t >= at - crate::model::RELEASE_CLAIM_MS);
            if held {
                return Ok(false);
            }
            let released_at = row.released_at;
            if !db
                .cas_quarantine(&row, QuarantineStatus::Deleted, released_at)
                .await?
            {
                return Ok(false);
            }
            db.exec(&db.st.delete_raw, (&id,)).await?;
            Ok(true)
        })
    }

    fn insert_webhook(&self, w: Webhook) -> StoreFuture<()> {
        self.run(move |db| async move {
            let doc = doc_of(&w)?;
            db.exec(&db.st.insert_webhook, (&w.customer_id, &w.id, doc))
                .await
        })
    }

    fn update_webhook(&self, w: Webhook) -> StoreFuture<bool> {
        self.run(move |db| async move {
            let doc = doc_of(&w)?;
            db.lwt(&db.st.update_webhook, (doc, &w.customer_id, &w.id))
                .await
        })
    }

    fn webhooks(&self, customer_id: &str) -> StoreFuture<Vec<Webhook>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move {
            let mut out: Vec<Webhook> = docs(
                db.rows(&db.st.webhooks_of_customer, (&customer_id,))
                    .await?,
            )?;
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        })
    }

    fn all_webhooks(&self) -> StoreFuture<Vec<Webhook>> {
        self.run(move |db| async move { docs(db.rows(&db.st.all_webhooks, ()).await?) })
    }

    fn delete_webhook(&self, customer_id: &str, id: &str) -> StoreFuture<bool> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move {
            let existing: Vec<Webhook> = docs(
                db.rows(&db.st.webhooks_of_customer, (&customer_id,))
                    .await?,
            )?;
            if !existing.iter().any(|w| w.id == id) {
                return Ok(false);
            }
            db.exec(&db.st.delete_deliveries_of, (&customer_id, &id))
                .await?;
            db.exec(&db.st.delete_webhook, (&customer_id, &id)).await?;
            Ok(true)
        })
    }

    fn add_delivery(&self, d: WebhookDelivery) -> StoreFuture<bool> {
        self.run(move |db| async move {
            let doc = doc_of(&d)?;
            let added = db
                .lwt(
                    &db.st.add_delivery,
                    (&d.customer_id, &d.webhook_id, &d.id, d.created_at, doc),
                )
                .await?;
            if added && let Some(at) = d.next_attempt_at {
                db.exec(
                    &db.st.queue_insert,
                    (queue_bucket(at), at, &d.id, &d.customer_id, &d.webhook_id),
                )
                .await?;
            }
            Ok(added)
        })
    }

    fn put_delivery(&self, d: WebhookDelivery, was_due: Option<i64>) -> StoreFuture<()> {
        self.run(move |db| async move {
            let doc = doc_of(&d)?;
            db.exec(
                &db.st.put_delivery,
                (&d.customer_id, &d.webhook_id, &d.id, d.created_at, doc),
            )
            .await?;
            if let Some(at) = was_due
                && d.next_attempt_at != Some(at)
            {
                db.exec(&db.st.queue_delete, (queue_bucket(at), at, &d.id))
                    .await?;
            }
            if d.status == DeliveryStatus::Pending
                && let Some(at) = d.next_attempt_at
            {
                db.exec(
                    &db.st.queue_insert,
                    (queue_bucket(at), at, &d.id, &d.customer_id, &d.webhook_id),
                )
                .await?;
            }
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
        self.run(move |db| async move {
            let mut out: Vec<WebhookDelivery> = docs(
                db.rows(&db.st.deliveries_of, (&customer_id, &webhook_id))
                    .await?,
            )?;
            out.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            out.truncate(limit as usize);
            Ok(out)
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
        self.run(move |db| async move {
            Ok(docs(
                db.rows(&db.st.delivery, (&customer_id, &webhook_id, &id))
                    .await?,
            )?
            .into_iter()
            .next())
        })
    }

    fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<Vec<WebhookDelivery>> {
        self.run(move |db| async move {
            let mut out = Vec::new();
            // Retries stop after a day; two days of buckets cover every pending delivery.
            for bucket in queue_bucket(now - 48 * 3_600_000)..=queue_bucket(now) {
                let due: Vec<(i64, i64, String, String, String)> =
                    db.rows(&db.st.queue_due, (bucket, now)).await?;
                for (bucket, at, id, customer_id, webhook_id) in due {
                    let current: Option<WebhookDelivery> = docs(
                        db.rows(&db.st.delivery, (&customer_id, &webhook_id, &id))
                            .await?,
                    )?
                    .into_iter()
                    .next();
                    match current {
                        Some(d)
                            if d.status == DeliveryStatus::Pending
                                && d.next_attempt_at == Some(at) =>
                        {
                            out.push(d);
                            if out.len() == limit as usize {
                                return Ok(out);
                            }
                        }
                        // Delivered, rescheduled or deleted since: drop the stale entry.
                        _ => {
                            db.exec(&db.st.queue_delete, (bucket, at, &id)).await?;
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    fn rate_take(&self, budgets: Vec<RateBudget>) -> StoreFuture<RateTake> {
        self.run(move |db| async move { db.rate_take(&budgets).await })
    }

    fn lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> StoreFuture<Option<i64>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |db| async move { db.lease(&name, &holder, now, ttl_ms).await })
    }

    fn lease_held(&self, name: &str, holder: &str, epoch: i64, now: i64) -> StoreFuture<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |db| async move { db.lease_held(&name, &holder, epoch, now).await })
    }

    fn release_lease(&self, name: &str, holder: &str) -> StoreFuture<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |db| async move { db.release_lease(&name, &holder).await })
    }

    fn claim_once(&self, key: &str, now: i64, expires_at: i64) -> StoreFuture<bool> {
        let key = key.to_string();
        self.run(move |db| async move { db.claim_once(&key, now, expires_at).await })
    }

    fn unclaim(&self, key: &str) -> StoreFuture<()> {
        let key = key.to_string();
        self.run(move |db| async move { db.unclaim(&key).await })
    }

    fn idempotency_begin(
        &self,
        slot: &str,
        fingerprint: Vec<u8>,
        now: i64,
        running_until: i64,
    ) -> StoreFuture<IdempotencyBegin> {
        let slot = slot.to_string();
        self.run(move |db| async move {
            db.idempotency_begin(&slot, &fingerprint, now, running_until)
                .await
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
        self.run(move |db| async move {
            db.idempotency_finish(
                &slot,
                &fingerprint,
                answer.as_ref(),
                crate::time::now_ms(),
                expires_at,
            )
            .await
        })
    }

    fn job_start(&self, job: JobRecord, max_running: u32, live_after: i64) -> StoreFuture<bool> {
        self.run(move |db| async move { db.job_start(&job, max_running, live_after).await })
    }

    fn job_put(&self, job: JobRecord) -> StoreFuture<()> {
        self.run(move |db| async move { db.job_put(&job).await })
    }

    fn job_get(&self, customer_id: &str, id: &str, now: i64) -> StoreFuture<Option<JobRecord>> {
        let (customer_id, id) = (customer_id.to_string(), id.to_string());
        self.run(move |db| async move { db.job_get(&customer_id, &id, now).await })
    }

    fn put_spool_report(&self, rows: Vec<SpoolRow>, expires_at: i64) -> StoreFuture<()> {
        self.run(move |db| async move {
            db.put_spool_report(&rows, crate::time::now_ms(), expires_at)
                .await
        })
    }

    fn spool_reports(&self, customer_id: &str, _now: i64) -> StoreFuture<Vec<SpoolRow>> {
        let customer_id = customer_id.to_string();
        self.run(move |db| async move { db.spool_reports(&customer_id).await })
    }

    fn shared_secret(&self, name: &str, candidate: Vec<u8>) -> StoreFuture<Vec<u8>> {
        let name = name.to_string();
        self.run(move |db| async move { db.shared_secret(&name, &candidate).await })
    }
}

#[cfg(test)]
mod offline_tests;

fn doc_of<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(backend)
}

/// Decodes `(doc,)` rows.
fn docs<T: serde::de::DeserializeOwned>(rows: Vec<(String,)>) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|(doc,)| {
            serde_json::from_str(&doc)
                .map_err(|e| StoreError::Backend(format!("bad stored document: {e}")))
        })
        .collect()
}
