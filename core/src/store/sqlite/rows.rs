//! Row mapping: each table's column list and the function that turns one of its rows into the
//! model's type, plus the JSON and enum columns' conversions.

use rusqlite::{Connection, Row, params, params_from_iter};

use super::backend;
use crate::{
    error::StoreError,
    model::{
        Action, DeliveryMode, DeliveryStatus, Domain, DomainStatus, Finding, Policy, PolicyAction,
        QuarantineItem, QuarantineStatus, RelayTls, SenderRule, SenderRuleKind, ThreatType,
        TokenInfo, TokenKind, TokenScope, VerdictRecord, WebhookDelivery,
    },
};

pub(super) fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn bad_value(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{v}`").into(),
    )
}

pub(super) fn action_of(s: String) -> rusqlite::Result<Action> {
    Action::parse(&s).ok_or_else(|| bad_value("action", &s))
}

pub(super) fn threat_of(s: String) -> rusqlite::Result<ThreatType> {
    ThreatType::parse(&s).ok_or_else(|| bad_value("threat type", &s))
}

pub(super) const TOKEN_COLS: &str = "id, customer_id, kind, prefix, created_at, scope";

pub(super) fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenInfo> {
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

pub(super) const DOMAIN_COLS: &str = "id, customer_id, name, real_mx_host, status, created_at, delivery_mode, detection, verified_at, tls, allow_internal, verification_token";

pub(super) fn domain_row(r: &Row<'_>) -> rusqlite::Result<Domain> {
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

pub(super) const SENDER_RULE_COLS: &str =
    "id, customer_id, domain_id, kind, sender, require_auth, expires_at, hits, created_at";

pub(super) fn sender_rule_row(r: &Row<'_>) -> rusqlite::Result<SenderRule> {
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

pub(super) const POLICY_COLS: &str =
    "id, customer_id, name, condition, action, notify_admin, enabled, created_at, shadow";

pub(super) fn policy_row(r: &Row<'_>) -> rusqlite::Result<Policy> {
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

pub(super) const VERDICT_COLS: &str = "id, queue_id, received_at, customer_id, domain_id, client_ip, \
    mail_from, rcpt_to, from_header, subject, size, action, threat_type, notify_admin, findings, auth, \
    transport";

pub(super) fn verdict_row(r: &Row<'_>) -> rusqlite::Result<VerdictRecord> {
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

pub(super) fn insert_verdict(conn: &Connection, v: &VerdictRecord) -> Result<(), StoreError> {
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
pub(super) fn record_correspondent(
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

pub(super) const QUARANTINE_COLS: &str = "id, verdict_id, customer_id, domain_id, received_at, mail_from, \
    rcpt_to, from_header, subject, threat_type, status, size, findings, released_at";

pub(super) fn quarantine_row(r: &Row<'_>) -> rusqlite::Result<QuarantineItem> {
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
pub(super) fn newest_first<T>(
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
pub(super) fn like_pattern(s: &str) -> String {
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

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(backend)
}

pub(super) fn delivery_status(d: &WebhookDelivery) -> &'static str {
    match d.status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
    }
}

/// Rows of one JSON `doc` column, decoded.
pub(super) fn docs<T: serde::de::DeserializeOwned>(
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
