//! Rows as the CQL tables hold them, and their conversion to and from the model. Columns are
//! matched by name, so `schema::tests` can check every row type against the schema text
//! without a server.

use scylla::{DeserializeRow, SerializeRow};

use crate::{
    error::StoreError,
    model::{
        Action, Customer, DeliveryMode, Domain, DomainStatus, Policy, QuarantineItem,
        QuarantineStatus, RelayTls, SenderRule, SenderRuleKind, ThreatType, TokenInfo, TokenKind,
        TokenScope, VerdictRecord,
    },
};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The day bucket (days since the Unix epoch) of a time in ms.
pub fn day_of(ms: i64) -> i32 {
    i32::try_from(ms.div_euclid(DAY_MS)).unwrap_or(i32::MAX)
}

/// The hour bucket of a time in ms.
pub fn hour_of(ms: i64) -> i32 {
    i32::try_from(ms.div_euclid(HOUR_MS)).unwrap_or(i32::MAX)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Customer {
        Customer {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

/// Both token tables hold these columns.
#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct TokenRow {
    pub hash: String,
    pub id: String,
    pub customer_id: String,
    pub kind: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Absent in rows written before scopes existed: `admin`.
    pub scope: Option<String>,
}

impl TokenRow {
    pub fn new(t: &TokenInfo, hash: String) -> TokenRow {
        TokenRow {
            hash,
            id: t.id.clone(),
            customer_id: t.customer_id.clone(),
            kind: t.kind.as_str().into(),
            prefix: t.prefix.clone(),
            created_at: t.created_at,
            revoked_at: None,
            scope: Some(t.scope.as_str().into()),
        }
    }

    pub fn into_model(self) -> Result<TokenInfo, StoreError> {
        let kind = match self.kind.as_str() {
            "live" => TokenKind::Live,
            "test" => TokenKind::Test,
            other => return Err(corrupt("token kind", other)),
        };
        Ok(TokenInfo {
            id: self.id,
            customer_id: self.customer_id,
            kind,
            prefix: self.prefix,
            created_at: self.created_at,
            scope: match self.scope.as_deref() {
                None => TokenScope::Admin,
                Some(s) => TokenScope::parse(s).ok_or_else(|| corrupt("token scope", s))?,
            },
        })
    }
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct DomainRow {
    pub customer_id: String,
    pub id: String,
    pub name: String,
    pub real_mx_host: String,
    pub delivery_mode: String,
    pub status: String,
    pub created_at: i64,
    /// JSON of the domain's detection settings; absent on rows written before it existed.
    pub detection: Option<String>,
    pub verified_at: Option<i64>,
    /// Absent on rows written before these existed: opportunistic, not allowed, no token.
    pub tls: Option<String>,
    pub allow_internal: Option<bool>,
    pub verification_token: Option<String>,
}

impl From<&Domain> for DomainRow {
    fn from(d: &Domain) -> DomainRow {
        DomainRow {
            customer_id: d.customer_id.clone(),
            id: d.id.clone(),
            name: d.name.clone(),
            real_mx_host: d.real_mx_host.clone(),
            delivery_mode: d.delivery_mode.as_str().into(),
            status: d.status.as_str().into(),
            created_at: d.created_at,
            detection: serde_json::to_string(&d.detection).ok(),
            verified_at: d.verified_at,
            tls: Some(d.tls.as_str().into()),
            allow_internal: Some(d.allow_internal_target),
            verification_token: Some(d.verification_token.clone()),
        }
    }
}

impl DomainRow {
    pub fn into_model(self) -> Result<Domain, StoreError> {
        Ok(Domain {
            delivery_mode: DeliveryMode::parse(&self.delivery_mode)
                .ok_or_else(|| corrupt("delivery mode", &self.delivery_mode))?,
            status: DomainStatus::parse(&self.status)
                .ok_or_else(|| corrupt("domain status", &self.status))?,
            id: self.id,
            customer_id: self.customer_id,
            name: self.name,
            real_mx_host: self.real_mx_host,
            created_at: self.created_at,
            detection: match self.detection.as_deref() {
                None | Some("") => Default::default(),
                Some(json) => {
                    serde_json::from_str(json).map_err(|_| corrupt("domain detection", json))?
                }
            },
            verified_at: self.verified_at,
            tls: match self.tls.as_deref() {
                None | Some("") => RelayTls::default(),
                Some(t) => RelayTls::parse(t).ok_or_else(|| corrupt("relay tls", t))?,
            },
            allow_internal_target: self.allow_internal.unwrap_or(false),
            verification_token: self.verification_token.unwrap_or_default(),
        })
    }
}

/// A customer's spam report (`spam_reports`).
#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct SpamReportRow {
    pub customer_id: String,
    pub item_id: String,
    pub spam: bool,
    pub tokens: Vec<u8>,
    pub reporter: String,
    pub reported_at: i64,
}

impl From<&crate::model::SpamReportRecord> for SpamReportRow {
    fn from(r: &crate::model::SpamReportRecord) -> Self {
        SpamReportRow {
            customer_id: r.customer_id.clone(),
            item_id: r.item_id.clone(),
            spam: r.spam,
            tokens: r.token_bytes(),
            reporter: r.reporter.clone(),
            reported_at: r.reported_at,
        }
    }
}

impl SpamReportRow {
    pub fn into_model(self) -> crate::model::SpamReportRecord {
        crate::model::SpamReportRecord {
            tokens: crate::model::SpamReportRecord::tokens_from(&self.tokens),
            customer_id: self.customer_id,
            item_id: self.item_id,
            spam: self.spam,
            reporter: self.reporter,
            reported_at: self.reported_at,
        }
    }
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct PolicyRow {
    pub customer_id: String,
    pub id: String,
    pub name: String,
    pub condition: String,
    pub action: String,
    pub notify_admin: bool,
    pub enabled: bool,
    pub created_at: i64,
    /// Absent in rows written before shadow mode existed: false.
    pub shadow: Option<bool>,
}

impl PolicyRow {
    pub fn new(p: &Policy) -> Result<PolicyRow, StoreError> {
        Ok(PolicyRow {
            customer_id: p.customer_id.clone(),
            id: p.id.clone(),
            name: p.name.clone(),
            condition: json(&p.condition)?,
            action: p.action.as_str().into(),
            notify_admin: p.notify_admin,
            enabled: p.enabled,
            created_at: p.created_at,
            shadow: Some(p.shadow),
        })
    }

    pub fn into_model(self) -> Result<Policy, StoreError> {
        Ok(Policy {
            condition: from_json(&self.condition)?,
            action: crate::model::PolicyAction::parse(&self.action)
                .ok_or_else(|| corrupt("policy action", &self.action))?,
            id: self.id,
            customer_id: self.customer_id,
            name: self.name,
            notify_admin: self.notify_admin,
            enabled: self.enabled,
            created_at: self.created_at,
            shadow: self.shadow.unwrap_or(false),
        })
    }
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct VerdictRow {
    pub customer_id: String,
    pub day: i32,
    pub received_at: i64,
    pub id: String,
    pub queue_id: String,
    pub domain_id: String,
    pub client_ip: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub from_header: String,
    pub subject: String,
    pub size: i64,
    pub action: String,
    pub threat_type: Option<String>,
    pub notify_admin: bool,
    pub findings: String,
    pub auth: Option<String>,
    pub transport: Option<String>,
}

impl VerdictRow {
    pub fn new(v: &VerdictRecord) -> Result<VerdictRow, StoreError> {
        Ok(VerdictRow {
            customer_id: v.customer_id.clone(),
            day: day_of(v.received_at),
            received_at: v.received_at,
            id: v.id.clone(),
            queue_id: v.queue_id.clone(),
            domain_id: v.domain_id.clone(),
            client_ip: v.client_ip.clone(),
            mail_from: v.mail_from.clone(),
            rcpt_to: v.rcpt_to.clone(),
            from_header: v.from_header.clone(),
            subject: v.subject.clone(),
            size: i64::try_from(v.size).unwrap_or(i64::MAX),
            action: v.action.as_str().into(),
            threat_type: v.threat_type.map(|t| t.as_str().to_string()),
            notify_admin: v.notify_admin,
            findings: json(&v.findings)?,
            auth: v.auth.as_ref().map(json).transpose()?,
            transport: v.transport.as_ref().map(json).transpose()?,
        })
    }

    pub fn into_model(self) -> Result<VerdictRecord, StoreError> {
        Ok(VerdictRecord {
            action: Action::parse(&self.action).ok_or_else(|| corrupt("action", &self.action))?,
            threat_type: self
                .threat_type
                .map(|t| ThreatType::parse(&t).ok_or_else(|| corrupt("threat type", &t)))
                .transpose()?,
            findings: from_json(&self.findings)?,
            auth: self.auth.map(|a| from_json(&a)).transpose()?,
            transport: self.transport.map(|t| from_json(&t)).transpose()?,
            id: self.id,
            queue_id: self.queue_id,
            received_at: self.received_at,
            customer_id: self.customer_id,
            domain_id: self.domain_id,
            client_ip: self.client_ip,
            mail_from: self.mail_from,
            rcpt_to: self.rcpt_to,
            from_header: self.from_header,
            subject: self.subject,
            size: u64::try_from(self.size).unwrap_or_default(),
            notify_admin: self.notify_admin,
        })
    }
}

/// Where a verdict or quarantined message lives: its day bucket and time.
#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct PointerRow {
    pub customer_id: String,
    pub id: String,
    pub day: i32,
    pub received_at: i64,
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct QuarantineRow {
    pub customer_id: String,
    pub day: i32,
    pub received_at: i64,
    pub id: String,
    pub verdict_id: String,
    pub domain_id: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub from_header: String,
    pub subject: String,
    pub threat_type: String,
    pub status: String,
    pub size: i64,
    pub findings: String,
    pub released_at: Option<i64>,
}

impl QuarantineRow {
    pub fn new(q: &QuarantineItem) -> Result<QuarantineRow, StoreError> {
        Ok(QuarantineRow {
            customer_id: q.customer_id.clone(),
            day: day_of(q.received_at),
            received_at: q.received_at,
            id: q.id.clone(),
            verdict_id: q.verdict_id.clone(),
            domain_id: q.domain_id.clone(),
            mail_from: q.mail_from.clone(),
            rcpt_to: q.rcpt_to.clone(),
            from_header: q.from_header.clone(),
            subject: q.subject.clone(),
            threat_type: q.threat_type.as_str().into(),
            status: q.status.as_str().into(),
            size: i64::try_from(q.size).unwrap_or(i64::MAX),
            findings: json(&q.findings)?,
            released_at: q.released_at,
        })
    }

    pub fn into_model(self) -> Result<QuarantineItem, StoreError> {
        Ok(QuarantineItem {
            threat_type: ThreatType::parse(&self.threat_type)
                .ok_or_else(|| corrupt("threat type", &self.threat_type))?,
            status: QuarantineStatus::parse(&self.status)
                .ok_or_else(|| corrupt("quarantine status", &self.status))?,
            findings: from_json(&self.findings)?,
            id: self.id,
            verdict_id: self.verdict_id,
            customer_id: self.customer_id,
            domain_id: self.domain_id,
            received_at: self.received_at,
            mail_from: self.mail_from,
            rcpt_to: self.rcpt_to,
            from_header: self.from_header,
            subject: self.subject,
            size: u64::try_from(self.size).unwrap_or_default(),
            released_at: self.released_at,
        })
    }
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct RawChunkRow {
    pub id: String,
    pub chunk: i32,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, SerializeRow, DeserializeRow)]
pub struct SenderRuleRow {
    pub customer_id: String,
    pub domain_id: String,
    pub id: String,
    pub kind: String,
    pub sender: String,
    pub require_auth: bool,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

impl From<&SenderRule> for SenderRuleRow {
    fn from(r: &SenderRule) -> SenderRuleRow {
        SenderRuleRow {
            customer_id: r.customer_id.clone(),
            domain_id: r.domain_id.clone(),
            id: r.id.clone(),
            kind: r.kind.as_str().into(),
            sender: r.sender.clone(),
            require_auth: r.require_auth,
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

impl SenderRuleRow {
    pub fn into_model(self, hits: u64) -> Result<SenderRule, StoreError> {
        Ok(SenderRule {
            kind: SenderRuleKind::parse(&self.kind)
                .ok_or_else(|| corrupt("sender rule kind", &self.kind))?,
            id: self.id,
            customer_id: self.customer_id,
            domain_id: self.domain_id,
            sender: self.sender,
            require_auth: self.require_auth,
            expires_at: self.expires_at,
            hits,
            created_at: self.created_at,
        })
    }
}
