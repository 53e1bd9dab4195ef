//! The CQL schema of the ScyllaDB store, designed from the store trait's access patterns
//! (`docs/SCYLLA.md` justifies every key), and its migrations. `moat migrate` (and every start)
//! applies the statements a keyspace has not seen yet, recorded in `schema_migrations`.

/// Versioned migrations; each is a list of statements with `{ks}` for the keyspace and `{ttl}`
/// / `{qttl}` for the verdict and quarantine retention in seconds.
pub const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.customers (
        id text PRIMARY KEY, name text, created_at bigint)",
        "CREATE TABLE IF NOT EXISTS {ks}.customers_by_name (
        name text PRIMARY KEY, id text, created_at bigint)",
        "CREATE TABLE IF NOT EXISTS {ks}.tokens_by_hash (
        hash text PRIMARY KEY, id text, customer_id text, kind text, prefix text,
        created_at bigint, revoked_at bigint)",
        "CREATE TABLE IF NOT EXISTS {ks}.tokens_by_customer (
        customer_id text, id text, hash text, kind text, prefix text, created_at bigint,
        revoked_at bigint, PRIMARY KEY (customer_id, id))",
        "CREATE TABLE IF NOT EXISTS {ks}.domain_names (
        name text PRIMARY KEY, customer_id text, id text)",
        "CREATE TABLE IF NOT EXISTS {ks}.domains (
        customer_id text, id text, name text, real_mx_host text, delivery_mode text,
        status text, created_at bigint, PRIMARY KEY (customer_id, id))",
        "CREATE TABLE IF NOT EXISTS {ks}.policies (
        customer_id text, id text, name text, condition text, action text,
        notify_admin boolean, enabled boolean, created_at bigint,
        PRIMARY KEY (customer_id, id))",
        "CREATE TABLE IF NOT EXISTS {ks}.config_version (
        key text PRIMARY KEY, value counter)",
        "CREATE TABLE IF NOT EXISTS {ks}.verdicts_by_day (
        customer_id text, day int, received_at bigint, id text, queue_id text,
        domain_id text, client_ip text, mail_from text, rcpt_to list<text>,
        from_header text, subject text, size bigint, action text, threat_type text,
        notify_admin boolean, findings text, auth text,
        PRIMARY KEY ((customer_id, day), received_at, id))
        WITH CLUSTERING ORDER BY (received_at DESC, id DESC)
        AND default_time_to_live = {ttl}",
        "CREATE TABLE IF NOT EXISTS {ks}.verdicts_by_id (
        customer_id text, id text, day int, received_at bigint,
        PRIMARY KEY (customer_id, id))
        WITH default_time_to_live = {ttl}",
        "CREATE TABLE IF NOT EXISTS {ks}.verdict_counts (
        customer_id text, hour int, action text, n counter,
        PRIMARY KEY ((customer_id, hour), action))",
        "CREATE TABLE IF NOT EXISTS {ks}.quarantine_by_day (
        customer_id text, day int, received_at bigint, id text, verdict_id text,
        domain_id text, mail_from text, rcpt_to list<text>, from_header text, subject text,
        threat_type text, status text, size bigint, findings text, released_at bigint,
        PRIMARY KEY ((customer_id, day), received_at, id))
        WITH CLUSTERING ORDER BY (received_at DESC, id DESC)
        AND default_time_to_live = {qttl}",
        "CREATE TABLE IF NOT EXISTS {ks}.quarantine_by_id (
        customer_id text, id text, day int, received_at bigint,
        PRIMARY KEY (customer_id, id))
        WITH default_time_to_live = {qttl}",
        "CREATE TABLE IF NOT EXISTS {ks}.quarantine_raw (
        id text, chunk int, data blob, PRIMARY KEY (id, chunk))
        WITH default_time_to_live = {qttl}",
    ],
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.sender_rules (
        customer_id text, domain_id text, id text, kind text, sender text,
        require_auth boolean, expires_at bigint, created_at bigint,
        PRIMARY KEY (customer_id, domain_id, id))",
        "CREATE TABLE IF NOT EXISTS {ks}.sender_rule_hits (
        id text PRIMARY KEY, hits counter)",
    ],
    // A domain's detection settings (spam threshold, executives) as JSON.
    &["ALTER TABLE {ks}.domains ADD detection text"],
    // What a token may do (read_only, quarantine, admin).
    &[
        "ALTER TABLE {ks}.tokens_by_hash ADD scope text",
        "ALTER TABLE {ks}.tokens_by_customer ADD scope text",
        "ALTER TABLE {ks}.domains ADD verified_at bigint",
    ],
    // Webhooks (JSON documents), their deliveries (kept two weeks) and the due queue,
    // partitioned by the hour of the next attempt so the dispatcher reads a bounded set.
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.webhooks (
        customer_id text, id text, doc text,
        PRIMARY KEY (customer_id, id))",
        "CREATE TABLE IF NOT EXISTS {ks}.webhook_deliveries (
        customer_id text, webhook_id text, id text, created_at bigint, doc text,
        PRIMARY KEY ((customer_id, webhook_id), id))
        WITH default_time_to_live = 1209600",
        "CREATE TABLE IF NOT EXISTS {ks}.webhook_queue (
        bucket bigint, next_attempt_at bigint, id text, customer_id text, webhook_id text,
        PRIMARY KEY (bucket, next_attempt_at, id))
        WITH default_time_to_live = 172800",
    ],
    // Shadow-mode policies.
    &["ALTER TABLE {ks}.policies ADD shadow boolean"],
    // Senders whose clean mail each domain received (BEC first contact), and since when the
    // domain has such history (written earliest-wins, see `Inner::note_correspondent`).
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.correspondents (
        domain_id text, sender text, last_seen bigint,
        PRIMARY KEY (domain_id, sender))",
        "CREATE TABLE IF NOT EXISTS {ks}.correspondence_since (
        domain_id text PRIMARY KEY, since bigint)",
    ],
    // Names are claimed cluster-wide (`domain_names`) when ownership is proven, not when a
    // domain is added; each customer has a name once (`customer_domain_names`). The relay's
    // STARTTLS mode, the operator's internal-target exception and the ownership token.
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.customer_domain_names (
        customer_id text, name text, id text, PRIMARY KEY (customer_id, name))",
        "ALTER TABLE {ks}.domains ADD tls text",
        "ALTER TABLE {ks}.domains ADD allow_internal boolean",
        "ALTER TABLE {ks}.domains ADD verification_token text",
        // Customers' spam reports (kept as long as quarantined messages), and when each
        // customer's reports last changed (the scanner rebuilds only changed models).
        "CREATE TABLE IF NOT EXISTS {ks}.spam_reports (
        customer_id text, item_id text, spam boolean, tokens blob, reporter text,
        reported_at bigint, PRIMARY KEY (customer_id, item_id))
        WITH default_time_to_live = {qttl}",
        "CREATE TABLE IF NOT EXISTS {ks}.spam_report_heads (
        customer_id text PRIMARY KEY, updated_at bigint)",
        // Release links minted under an older epoch stop working (token revocation moves it).
        "CREATE TABLE IF NOT EXISTS {ks}.link_epochs (
        customer_id text PRIMARY KEY, epoch counter)",
        "ALTER TABLE {ks}.verdicts_by_day ADD transport text",
    ],
    // DMARC aggregate report counts per (period, policy domain) partition; the periods with
    // counts, in one small partition (`bucket` 0) the reporter scans; and the claim that makes
    // one reporter of a cluster take a period's rows. Reports are due daily, so the tables
    // hold about a day; the TTLs clear what no reporter ever took.
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.dmarc_counts (
        period bigint, domain text, record text, count counter,
        PRIMARY KEY ((period, domain), record))",
        "CREATE TABLE IF NOT EXISTS {ks}.dmarc_pending (
        bucket int, period bigint, domain text,
        PRIMARY KEY (bucket, period, domain))
        WITH default_time_to_live = 1209600",
        "CREATE TABLE IF NOT EXISTS {ks}.dmarc_claims (
        period bigint, domain text, claimed_at bigint,
        PRIMARY KEY ((period, domain)))
        WITH default_time_to_live = 1209600",
    ],
    // Coordination between hosts. Rate limits: one row per request drawn, in a partition per
    // (key, window), written with a TTL of the window's length (no counters: they cannot
    // expire) and counted; a spent budget is refused before writing, so a partition holds at
    // most the budget plus the requests racing for its last place. Leases and once-only
    // claims are lightweight transactions; claims expire by TTL.
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.rate_hits (
        key text, window bigint, hit timeuuid,
        PRIMARY KEY ((key, window), hit))",
        "CREATE TABLE IF NOT EXISTS {ks}.leases (
        name text PRIMARY KEY, holder text, epoch bigint, expires_at bigint)",
        "CREATE TABLE IF NOT EXISTS {ks}.claims (
        key text PRIMARY KEY, claimed_at bigint)",
    ],
    // Answers kept for Idempotency-Key retries (status 0 while the request runs; the running
    // mark and the kept answer expire by TTL), the API's background jobs, by customer, and the
    // secrets every host shares (the first one written wins, by LWT); scanners' spool reports
    // expire by TTL when a node stops reporting.
    &[
        "CREATE TABLE IF NOT EXISTS {ks}.idempotency (
        slot text PRIMARY KEY, fingerprint blob, status int, content_type text, body blob)",
        "CREATE TABLE IF NOT EXISTS {ks}.jobs (
        customer_id text, id text, running boolean, heartbeat_at bigint, expires_at bigint,
        doc text, PRIMARY KEY ((customer_id), id))",
        "CREATE TABLE IF NOT EXISTS {ks}.secrets (name text PRIMARY KEY, value blob)",
        "CREATE TABLE IF NOT EXISTS {ks}.spool_reports (
        customer_id text, node text, depth bigint, oldest_ms bigint,
        PRIMARY KEY ((customer_id), node))",
    ],
];

/// The keyspace statement (`NetworkTopologyStrategy`, so a second data centre can be added).
pub fn keyspace(ks: &str, replication_factor: u32) -> String {
    format!(
        "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = \
         {{'class': 'NetworkTopologyStrategy', 'replication_factor': {replication_factor}}}"
    )
}

pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS {ks}.schema_migrations (
    version int PRIMARY KEY, applied_at bigint)";

/// One statement with the keyspace and retention filled in.
pub fn render(statement: &str, ks: &str, ttl_secs: u64, quarantine_ttl_secs: u64) -> String {
    statement
        .replace("{ks}", ks)
        .replace("{ttl}", &ttl_secs.to_string())
        .replace("{qttl}", &quarantine_ttl_secs.to_string())
}

/// `(table, [(column, type)])` of every table, read from the statements above (tests use it to
/// check that every row Moat writes or reads matches the schema, without a server).
pub fn tables() -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for stmt in MIGRATIONS
        .iter()
        .flat_map(|m| m.iter())
        .chain(std::iter::once(&MIGRATIONS_TABLE))
    {
        let Some(rest) = stmt.split("{ks}.").nth(1) else {
            continue;
        };
        if stmt.starts_with("ALTER TABLE") {
            let mut words = rest.split_whitespace();
            if let (Some(table), Some("ADD"), Some(name), Some(ty)) =
                (words.next(), words.next(), words.next(), words.next())
                && let Some((_, columns)) = out
                    .iter_mut()
                    .find(|(t, _): &&mut (String, Vec<(String, String)>)| t == table)
            {
                columns.push((name.to_string(), ty.to_string()));
            }
            continue;
        }
        let Some((table, body)) = rest.split_once('(') else {
            continue;
        };
        let body = body.split("PRIMARY KEY (").next().unwrap_or(body);
        let mut columns = Vec::new();
        for def in body.split(',') {
            let mut words = def.split_whitespace();
            if let (Some(name), Some(ty)) = (words.next(), words.next()) {
                columns.push((name.to_string(), ty.trim_end_matches(')').to_string()));
            }
        }
        out.push((table.trim().to_string(), columns));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_columns_and_statements_render() {
        let tables = tables();
        assert_eq!(tables.len(), 36);
        let verdicts = tables
            .iter()
            .find(|(t, _)| t == "verdicts_by_day")
            .expect("verdicts table");
        assert!(
            verdicts
                .1
                .contains(&("rcpt_to".to_string(), "list<text>".to_string()))
        );
        let sql = render(MIGRATIONS[0][8], "moat", 100, 200);
        assert!(sql.contains("moat.verdicts_by_day") && sql.contains("default_time_to_live = 100"));
        assert!(keyspace("moat", 3).contains("'replication_factor': 3"));
    }
}
