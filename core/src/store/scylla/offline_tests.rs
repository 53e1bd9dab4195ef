//! What can be checked without a ScyllaDB server: every row Moat writes serialises against the
//! column types the schema declares, every row it reads type-checks against them, every column
//! a statement names exists, and the bind values of the key look-ups match their columns.

use scylla::{
    deserialize::row::DeserializeRow,
    frame::response::result::{CollectionType, ColumnSpec, ColumnType, NativeType, TableSpec},
    serialize::{
        row::{RowSerializationContext, SerializeRow},
        writers::RowWriter,
    },
};

use super::{
    DOMAIN_COLS, POLICY_COLS, QUARANTINE_COLS, SENDER_RULE_COLS, SPAM_REPORT_COLS, TOKEN_COLS,
    VERDICT_COLS,
    rows::{
        CustomerRow, DomainRow, PointerRow, PolicyRow, QuarantineRow, RawChunkRow, SenderRuleRow,
        SpamReportRow, TokenRow, VerdictRow,
    },
    schema,
};
use crate::model::{
    Action, AuthSummary, DeliveryMode, Domain, DomainStatus, Finding, Policy, QuarantineItem,
    QuarantineStatus, Severity, ThreatType, VerdictRecord,
};

fn column_type(cql: &str) -> ColumnType<'static> {
    let native = |t: &str| {
        ColumnType::Native(match t {
            "text" => NativeType::Text,
            "bigint" => NativeType::BigInt,
            "int" => NativeType::Int,
            "boolean" => NativeType::Boolean,
            "blob" => NativeType::Blob,
            "counter" => NativeType::Counter,
            other => panic!("type {other} not mapped in the test"),
        })
    };
    match cql.strip_prefix("list<").and_then(|t| t.strip_suffix('>')) {
        Some(inner) => ColumnType::Collection {
            frozen: false,
            typ: CollectionType::List(Box::new(native(inner))),
        },
        None => native(cql),
    }
}

/// Column specs of `table` for `cols` (comma-separated), in that order.
fn specs(table: &str, cols: &str) -> Vec<ColumnSpec<'static>> {
    let tables = schema::tables();
    let (_, columns) = tables
        .iter()
        .find(|(t, _)| t == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    cols.split(',')
        .map(str::trim)
        .map(|c| {
            let (_, ty) = columns
                .iter()
                .find(|(name, _)| name == c)
                .unwrap_or_else(|| panic!("{table} has no column {c}"));
            ColumnSpec::owned(
                c.to_string(),
                column_type(ty),
                TableSpec::owned("moat".into(), table.into()),
            )
        })
        .collect()
}

fn serializes(row: &impl SerializeRow, table: &str, cols: &str) {
    let specs = specs(table, cols);
    let mut buf = Vec::new();
    let mut writer = RowWriter::new(&mut buf);
    row.serialize(&RowSerializationContext::from_specs(&specs), &mut writer)
        .unwrap_or_else(|e| panic!("{table} ({cols}): {e}"));
    assert_eq!(writer.value_count(), specs.len(), "{table}");
}

fn reads<R: for<'f, 'm> DeserializeRow<'f, 'm>>(table: &str, cols: &str) {
    let specs = specs(table, cols);
    R::type_check(&specs).unwrap_or_else(|e| panic!("{table} ({cols}): {e}"));
}

fn sample_verdict() -> VerdictRecord {
    VerdictRecord {
        id: "v1".into(),
        queue_id: "Q1".into(),
        received_at: 1_795_000_000_000,
        customer_id: "c1".into(),
        domain_id: "d1".into(),
        client_ip: "192.0.2.1".into(),
        mail_from: "a@example.com".into(),
        rcpt_to: vec!["b@acme.example".into()],
        from_header: "A <a@example.com>".into(),
        subject: "hi".into(),
        size: 1234,
        action: Action::Quarantine,
        threat_type: Some(ThreatType::Phishing),
        notify_admin: true,
        findings: vec![Finding {
            rule: "auth.dmarc_quarantine".into(),
            threat_type: ThreatType::Phishing,
            field: "auth".into(),
            part: None,
            range: Some((1, 2)),
            matched: "dmarc=fail".into(),
            severity: Severity::High,
            score: None,
        }],
        auth: Some(AuthSummary::default()),
        transport: Some(crate::model::Transport::default()),
    }
}

#[test]
fn every_written_row_matches_the_schema() {
    serializes(
        &CustomerRow {
            id: "c".into(),
            name: "n".into(),
            created_at: 1,
        },
        "customers",
        "id, name, created_at",
    );
    let token = TokenRow {
        hash: "h".into(),
        id: "t".into(),
        customer_id: "c".into(),
        kind: "live".into(),
        prefix: "moat_live_ab".into(),
        created_at: 1,
        revoked_at: None,
        scope: Some("admin".into()),
    };
    serializes(&token, "tokens_by_hash", TOKEN_COLS);
    serializes(&token, "tokens_by_customer", TOKEN_COLS);
    let domain = Domain {
        id: "d".into(),
        customer_id: "c".into(),
        name: "acme.example".into(),
        real_mx_host: "mx:25".into(),
        delivery_mode: DeliveryMode::Proxy,
        status: DomainStatus::Active,
        created_at: 1,
        detection: Default::default(),
        verified_at: None,
        tls: Default::default(),
        allow_internal_target: false,
        verification_token: "t".into(),
    };
    serializes(&DomainRow::from(&domain), "domains", DOMAIN_COLS);
    let row = DomainRow::from(&domain);
    serializes(
        &(
            &row.real_mx_host,
            &row.delivery_mode,
            &row.detection,
            &row.tls,
            &domain.customer_id,
            &domain.id,
        ),
        "domains",
        "real_mx_host, delivery_mode, detection, tls, customer_id, id",
    );
    serializes(
        &(1i64, &domain.customer_id, &domain.id),
        "domains",
        "verified_at, customer_id, id",
    );
    serializes(
        &(true, &domain.customer_id, &domain.id),
        "domains",
        "allow_internal, customer_id, id",
    );
    serializes(
        &(&domain.customer_id, &domain.name, &domain.id),
        "customer_domain_names",
        "customer_id, name, id",
    );
    reads::<(Option<String>,)>("domain_names", "id");
    let report = crate::model::SpamReportRecord {
        customer_id: "c".into(),
        item_id: "q".into(),
        spam: true,
        tokens: vec![1, 2, 3],
        reporter: "t".into(),
        reported_at: 5,
    };
    serializes(
        &SpamReportRow::from(&report),
        "spam_reports",
        SPAM_REPORT_COLS,
    );
    reads::<SpamReportRow>("spam_reports", SPAM_REPORT_COLS);
    assert_eq!(SpamReportRow::from(&report).into_model(), report);
    reads::<(Option<bool>,)>("spam_reports", "spam");
    serializes(
        &(&report.customer_id, 5i64),
        "spam_report_heads",
        "customer_id, updated_at",
    );
    reads::<(String, Option<i64>)>("spam_report_heads", "customer_id, updated_at");
    reads::<(Option<scylla::value::Counter>,)>("link_epochs", "epoch");
    serializes(
        &(scylla::value::Counter(3), 5i64, "d", "r"),
        "dmarc_counts",
        "count, period, domain, record",
    );
    reads::<(String, Option<scylla::value::Counter>)>("dmarc_counts", "record, count");
    serializes(
        &(0i32, 5i64, "d"),
        "dmarc_pending",
        "bucket, period, domain",
    );
    reads::<(i64, String)>("dmarc_pending", "period, domain");
    serializes(
        &(5i64, "d", 6i64),
        "dmarc_claims",
        "period, domain, claimed_at",
    );
    serializes(&(&report.customer_id,), "link_epochs", "customer_id");
    // Coordination: rate hits' partition key, the lease's CAS and claims.
    serializes(&("k", 5i64), "rate_hits", "key, window");
    reads::<(String, i64, i64)>("leases", "holder, epoch, expires_at");
    serializes(
        &("h", 2i64, 9i64, "n", "old", 1i64, 5i64),
        "leases",
        "holder, epoch, expires_at, name, holder, epoch, expires_at",
    );
    serializes(&("k", 5i64), "claims", "key, claimed_at");
    // Idempotency slots (the LWT insert, the kept answer's CAS and its read) and jobs.
    serializes(&("s", vec![1u8; 32]), "idempotency", "slot, fingerprint");
    serializes(
        &(
            vec![1u8; 32],
            201i32,
            Some("application/json"),
            vec![2u8],
            "s",
            vec![1u8; 32],
        ),
        "idempotency",
        "fingerprint, status, content_type, body, slot, fingerprint",
    );
    reads::<(
        Option<Vec<u8>>,
        Option<i32>,
        Option<String>,
        Option<Vec<u8>>,
    )>("idempotency", "fingerprint, status, content_type, body");
    serializes(
        &("c", "j", true, 5i64, 9i64, "{}"),
        "jobs",
        "customer_id, id, running, heartbeat_at, expires_at, doc",
    );
    reads::<(Option<bool>, Option<i64>, Option<i64>, Option<String>)>(
        "jobs",
        "running, heartbeat_at, expires_at, doc",
    );
    reads::<(String, Option<bool>, Option<i64>)>("jobs", "id, running, heartbeat_at");
    serializes(&("api-signing", vec![3u8; 32]), "secrets", "name, value");
    reads::<(Vec<u8>,)>("secrets", "value");
    serializes(
        &("c", "n", 3i64, Some(5i64)),
        "spool_reports",
        "customer_id, node, depth, oldest_ms",
    );
    reads::<(String, Option<i64>, Option<i64>)>("spool_reports", "node, depth, oldest_ms");
    let policy = Policy {
        id: "p".into(),
        customer_id: "c".into(),
        name: "x".into(),
        condition: serde_json::from_str(r#"{"subject_contains": ["a"]}"#).expect("condition"),
        action: Action::Reject.into(),
        notify_admin: false,
        enabled: true,
        created_at: 1,
        shadow: true,
    };
    serializes(
        &PolicyRow::new(&policy).expect("row"),
        "policies",
        POLICY_COLS,
    );
    let v = sample_verdict();
    let row = VerdictRow::new(&v).expect("row");
    serializes(&row, "verdicts_by_day", VERDICT_COLS);
    // The row reads back to the same record (JSON columns included).
    assert_eq!(row.into_model().expect("model"), v);
    let pointer = PointerRow {
        customer_id: "c".into(),
        id: "v".into(),
        day: 1,
        received_at: 2,
    };
    serializes(
        &pointer,
        "verdicts_by_id",
        "customer_id, id, day, received_at",
    );
    serializes(
        &pointer,
        "quarantine_by_id",
        "customer_id, id, day, received_at",
    );
    let q = QuarantineItem {
        id: "q".into(),
        verdict_id: "v1".into(),
        customer_id: "c1".into(),
        domain_id: "d1".into(),
        received_at: v.received_at,
        mail_from: v.mail_from.clone(),
        rcpt_to: v.rcpt_to.clone(),
        from_header: v.from_header.clone(),
        subject: v.subject.clone(),
        threat_type: ThreatType::Malware,
        status: QuarantineStatus::Released,
        size: 10,
        findings: v.findings.clone(),
        released_at: Some(5),
    };
    let qrow = QuarantineRow::new(&q).expect("row");
    serializes(&qrow, "quarantine_by_day", QUARANTINE_COLS);
    assert_eq!(qrow.into_model().expect("model"), q);
    serializes(
        &RawChunkRow {
            id: "q".into(),
            chunk: 0,
            data: vec![1, 2, 3],
        },
        "quarantine_raw",
        "id, chunk, data",
    );
    serializes(
        &SenderRuleRow {
            customer_id: "c".into(),
            domain_id: "d".into(),
            id: "r".into(),
            kind: "allow".into(),
            sender: "*.partner.example".into(),
            require_auth: true,
            expires_at: Some(9),
            created_at: 1,
        },
        "sender_rules",
        SENDER_RULE_COLS,
    );
}

#[test]
fn every_read_row_type_checks_against_the_schema() {
    reads::<CustomerRow>("customers_by_name", "id, name, created_at");
    reads::<CustomerRow>("customers", "id, name, created_at");
    reads::<TokenRow>("tokens_by_hash", TOKEN_COLS);
    reads::<TokenRow>("tokens_by_customer", TOKEN_COLS);
    reads::<DomainRow>("domains", DOMAIN_COLS);
    reads::<PolicyRow>("policies", POLICY_COLS);
    reads::<VerdictRow>("verdicts_by_day", VERDICT_COLS);
    reads::<PointerRow>("verdicts_by_id", "customer_id, id, day, received_at");
    reads::<PointerRow>("quarantine_by_id", "customer_id, id, day, received_at");
    reads::<QuarantineRow>("quarantine_by_day", QUARANTINE_COLS);
    reads::<RawChunkRow>("quarantine_raw", "id, chunk, data");
    reads::<SenderRuleRow>("sender_rules", SENDER_RULE_COLS);
    reads::<(scylla::value::Counter,)>("sender_rule_hits", "hits");
    reads::<(scylla::value::Counter,)>("config_version", "value");
    reads::<(String, scylla::value::Counter)>("verdict_counts", "action, n");
    reads::<(i32,)>("schema_migrations", "version");
}

#[test]
fn bind_values_of_key_lookups_match_their_columns() {
    let (c, id) = (String::from("c"), String::from("i"));
    serializes(
        &(&c, 5i32, "quarantine"),
        "verdict_counts",
        "customer_id, hour, action",
    );
    serializes(
        &(&c, 7i32, 0i64, 9i64),
        "verdicts_by_day",
        "customer_id, day, received_at, received_at",
    );
    serializes(
        &(&c, 7i32, 0i64, &id),
        "quarantine_by_day",
        "customer_id, day, received_at, id",
    );
    serializes(
        &(3i64, &c, &id),
        "tokens_by_customer",
        "revoked_at, customer_id, id",
    );
    serializes(&(&c, &c, &id), "domain_names", "name, customer_id, id");
    serializes(&(&c, &id), "domain_names", "name, id");
    serializes(&(1i32, 2i64), "schema_migrations", "version, applied_at");
}
