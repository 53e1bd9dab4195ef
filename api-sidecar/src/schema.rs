//! The JSON bodies the API answers, as types: handlers build them, serde writes them, and utoipa
//! reads them into the OpenAPI document, so the spec and the wire cannot drift apart.
//! Times are RFC 3339 strings (UTC); ids are opaque strings.

use moat_core::{
    model::{
        Action, AuthSummary, DeliveryMode, Domain, DomainStatus, Executive, Finding, Policy,
        PolicyAction, QuarantineItem, QuarantineStatus, RelayTls, SenderRule, SenderRuleKind,
        Severity, ThreatType, TokenInfo, TokenKind, TokenScope, Transport, VerdictRecord,
    },
    policy::Condition,
    time::rfc3339,
};
use serde::Serialize;
use utoipa::ToSchema;

/// A DNS record the customer publishes so mail reaches Moat.
#[derive(Debug, Serialize, ToSchema)]
pub struct MxRecord {
    /// Always `MX`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub priority: u16,
    /// The host name to publish.
    pub value: String,
}

/// The DNS record that proves the customer controls the domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct TxtRecord {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where to publish it: `_moat-verify.<domain>`.
    pub name: String,
    /// What to publish: `moat-verify=<token>`.
    pub value: String,
}

/// A protected domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainOut {
    pub id: String,
    pub domain: String,
    /// `host:port` of the customer's real mail server.
    pub real_mx_host: String,
    pub delivery_mode: DeliveryMode,
    /// STARTTLS on the hop to the real server: `opportunistic` (default), `required`, `verify`.
    pub tls: RelayTls,
    /// `pending_mx_verification` until `POST /v1/domains/{id}/verify` finds the
    /// `verification_record` in DNS, then `active`. Moat takes mail only for active domains.
    pub status: DomainStatus,
    /// When ownership was proven.
    #[schema(format = DateTime)]
    pub verified_at: Option<String>,
    /// Spam score at or above which mail is quarantined; null: the gateway's default.
    pub spam_threshold: Option<f64>,
    pub executives: Vec<Executive>,
    /// Where the daily quarantine digest is mailed.
    pub admin_email: Option<String>,
    /// Whether the operator allowed `real_mx_host` to be an internal address.
    pub internal_target_allowed: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Publish these (after the verification record) so mail for the domain reaches Moat.
    pub mx_records: Vec<MxRecord>,
    /// Publish this to prove the domain is yours; then call `POST /v1/domains/{id}/verify`.
    pub verification_record: TxtRecord,
    /// Only in the answer to a creation without `real_mx_host`: where Moat took the real
    /// server from (the domain's MX records at that moment) and how to change it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_mx_host_note: Option<String>,
}

/// The name of the TXT record that proves control of `domain`.
pub fn verification_name(domain: &str) -> String {
    format!("_moat-verify.{domain}")
}

/// The value of that record for a domain's token.
pub fn verification_value(token: &str) -> String {
    format!("moat-verify={token}")
}

impl DomainOut {
    pub fn of(d: &Domain, hostname: &str) -> DomainOut {
        DomainOut {
            id: d.id.clone(),
            domain: d.name.clone(),
            real_mx_host: d.real_mx_host.clone(),
            delivery_mode: d.delivery_mode,
            tls: d.tls,
            status: d.status,
            verified_at: d.verified_at.map(rfc3339),
            spam_threshold: d.detection.spam_threshold,
            executives: d.detection.executives.clone(),
            admin_email: d.detection.admin_email.clone(),
            internal_target_allowed: d.allow_internal_target,
            created_at: rfc3339(d.created_at),
            mx_records: vec![MxRecord {
                kind: "MX",
                priority: 10,
                value: hostname.to_string(),
            }],
            verification_record: TxtRecord {
                kind: "TXT",
                name: verification_name(&d.name),
                value: verification_value(&d.verification_token),
            },
            real_mx_host_note: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainList {
    pub data: Vec<DomainOut>,
}

/// The outcome of `POST /v1/domains/{id}/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub domain: DomainOut,
    /// Whether ownership is proven (the verification TXT record was found) and the domain
    /// is active.
    pub verified: bool,
    /// Whether a MX record of the domain names this gateway (mail arrives only once it does).
    pub mx_points_here: bool,
    /// The MX hosts the look-up found, lowest preference first.
    pub found: Vec<String>,
    /// Why it is not verified, or what is still missing.
    pub detail: Option<String>,
}

/// A customer's policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    pub id: String,
    pub name: String,
    pub condition: Condition,
    pub action: PolicyAction,
    pub notify_admin: bool,
    pub enabled: bool,
    /// Shadow mode: recorded on verdicts as `shadow:<name>` findings, never acted on.
    pub shadow: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl PolicyOut {
    pub fn of(p: &Policy) -> PolicyOut {
        PolicyOut {
            id: p.id.clone(),
            name: p.name.clone(),
            condition: p.condition.clone(),
            action: p.action,
            notify_admin: p.notify_admin,
            enabled: p.enabled,
            shadow: p.shadow,
            created_at: rfc3339(p.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    pub data: Vec<PolicyOut>,
}

/// An allow or block entry of a domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct SenderRuleOut {
    pub id: String,
    pub domain_id: String,
    pub kind: SenderRuleKind,
    pub sender: String,
    pub require_auth: bool,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Messages the rule has applied to.
    pub hits: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl SenderRuleOut {
    pub fn of(r: &SenderRule) -> SenderRuleOut {
        SenderRuleOut {
            id: r.id.clone(),
            domain_id: r.domain_id.clone(),
            kind: r.kind,
            sender: r.sender.clone(),
            require_auth: r.require_auth,
            expires_at: r.expires_at.map(rfc3339),
            hits: r.hits,
            created_at: rfc3339(r.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SenderRuleList {
    pub data: Vec<SenderRuleOut>,
}

/// An API token (never its secret, except once in the creation response).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: String,
    pub kind: TokenKind,
    pub scope: TokenScope,
    /// The first characters of the secret.
    pub prefix: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The secret: only in the answer to `POST /v1/tokens`, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TokenOut {
    pub fn of(t: &TokenInfo) -> TokenOut {
        TokenOut {
            id: t.id.clone(),
            kind: t.kind,
            scope: t.scope,
            prefix: t.prefix.clone(),
            created_at: rfc3339(t.created_at),
            token: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub data: Vec<TokenOut>,
}

/// A quarantined message's metadata and why it was held.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineOut {
    pub id: String,
    pub verdict_id: String,
    pub domain_id: String,
    #[schema(format = DateTime)]
    pub received_at: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The From header.
    pub from: String,
    pub subject: String,
    pub threat_type: ThreatType,
    pub status: QuarantineStatus,
    pub size: u64,
    pub findings: Vec<Finding>,
    #[schema(format = DateTime)]
    pub released_at: Option<String>,
}

impl QuarantineOut {
    pub fn of(q: &QuarantineItem) -> QuarantineOut {
        QuarantineOut {
            id: q.id.clone(),
            verdict_id: q.verdict_id.clone(),
            domain_id: q.domain_id.clone(),
            received_at: rfc3339(q.received_at),
            mail_from: q.mail_from.clone(),
            rcpt_to: q.rcpt_to.clone(),
            from: q.from_header.clone(),
            subject: q.subject.clone(),
            threat_type: q.threat_type,
            status: q.status,
            size: q.size,
            findings: q.findings.clone(),
            released_at: q.released_at.map(rfc3339),
        }
    }
}

/// One page of quarantined messages, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinePage {
    pub data: Vec<QuarantineOut>,
    pub limit: u32,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A decision Moat took for one recipient domain of one message.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictOut {
    pub id: String,
    /// The id given to the sender in the SMTP reply.
    pub queue_id: String,
    #[schema(format = DateTime)]
    pub received_at: String,
    pub domain_id: String,
    pub client_ip: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub from: String,
    pub subject: String,
    pub size: u64,
    pub verdict: Action,
    pub threat_type: Option<ThreatType>,
    pub findings: Vec<Finding>,
    pub auth: Option<AuthSummary>,
    /// Whether the message's hops were encrypted (TLS versions).
    pub transport: Option<Transport>,
}

impl VerdictOut {
    pub fn of(v: &VerdictRecord) -> VerdictOut {
        VerdictOut {
            id: v.id.clone(),
            queue_id: v.queue_id.clone(),
            received_at: rfc3339(v.received_at),
            domain_id: v.domain_id.clone(),
            client_ip: v.client_ip.clone(),
            mail_from: v.mail_from.clone(),
            rcpt_to: v.rcpt_to.clone(),
            from: v.from_header.clone(),
            subject: v.subject.clone(),
            size: v.size,
            verdict: v.action,
            threat_type: v.threat_type,
            findings: v.findings.clone(),
            auth: v.auth.clone(),
            transport: v.transport.clone(),
        }
    }
}

/// One page of verdicts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictPage {
    pub data: Vec<VerdictOut>,
    pub limit: u32,
    pub next_cursor: Option<String>,
}

/// What was done with a threat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreatAction {
    Delivered,
    Quarantined,
    Rejected,
}

impl From<Action> for ThreatAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Deliver => ThreatAction::Delivered,
            Action::Quarantine => ThreatAction::Quarantined,
            Action::Reject => ThreatAction::Rejected,
        }
    }
}

/// One entry of the threat feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Threat {
    /// The verdict's id (`GET /v1/verdicts/{id}` explains it finding by finding).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ThreatType,
    /// The highest severity among the verdict's findings of this type.
    pub severity: Severity,
    /// The sender: the From header's address, or the envelope sender when it has none.
    pub from: String,
    /// The first recipient.
    pub target: String,
    /// Every recipient at the domain.
    pub recipients: Vec<String>,
    pub domain_id: String,
    pub subject: String,
    #[schema(format = DateTime)]
    pub detected_at: String,
    pub action: ThreatAction,
    /// The rules that found it.
    pub rules: Vec<String>,
}

/// A page of the threat feed, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreatFeed {
    pub threats: Vec<Threat>,
    pub next_cursor: Option<String>,
}

/// The token's owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOut {
    pub id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// `GET /v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub customer: CustomerOut,
    pub token: TokenOut,
    /// What the token may do; each scope includes the narrower ones.
    pub scopes: Vec<TokenScope>,
}

/// Verdict counts in a window.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct VerdictCounts {
    pub deliver: u64,
    pub quarantine: u64,
    pub reject: u64,
}

impl VerdictCounts {
    /// Counts one verdict.
    pub fn add(&mut self, action: Action) {
        match action {
            Action::Deliver => self.deliver += 1,
            Action::Quarantine => self.quarantine += 1,
            Action::Reject => self.reject += 1,
        }
    }
}

/// Mail accepted and waiting in the spool for the customer's servers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpoolStats {
    pub depth: u64,
    pub oldest_age_seconds: i64,
}

/// Verdict counts of one domain or one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct Breakdown {
    /// The domain id (per-domain rows) or the UTC day `YYYY-MM-DD` (per-day rows).
    pub key: String,
    /// The domain name, in per-domain rows.
    pub domain: Option<String>,
    pub scanned: u64,
    pub verdicts: VerdictCounts,
    pub quarantine_rate: f64,
}

/// `GET /v1/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub window_hours: u32,
    pub messages_scanned: u64,
    pub verdicts: VerdictCounts,
    /// Quarantined / scanned, 0 when nothing was scanned.
    pub quarantine_rate: f64,
    pub spool: SpoolStats,
    /// The window per protected domain.
    pub per_domain: Vec<Breakdown>,
    /// The window per UTC day, oldest first.
    pub per_day: Vec<Breakdown>,
    /// False when the window held more verdicts than the breakdowns read (200 000); the
    /// totals above are always complete.
    pub breakdown_complete: bool,
}
