//! The data model shared by scanner, API and store: customers, tokens, domains, policies,
//! verdicts and quarantined messages. Serialised forms are the API's JSON shapes.

use serde::{Deserialize, Serialize};

use crate::policy::Condition;

/// What Moat does with a message for one recipient domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Action {
    Deliver,
    Quarantine,
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deliver" => Some(Action::Deliver),
            "quarantine" => Some(Action::Quarantine),
            "reject" => Some(Action::Reject),
            _ => None,
        }
    }
}

/// What a policy does when its condition holds: one of the verdict actions, or `tag`, which
/// delivers the message with an `X-Moat-Tag` header naming the policy (mail clients can
/// filter on it) and changes nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    Deliver,
    Quarantine,
    Reject,
    Tag,
}

impl PolicyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Deliver => "deliver",
            PolicyAction::Quarantine => "quarantine",
            PolicyAction::Reject => "reject",
            PolicyAction::Tag => "tag",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tag" => Some(PolicyAction::Tag),
            other => Action::parse(other).map(PolicyAction::from),
        }
    }

    /// The verdict action it asks for (`tag` asks for none).
    pub fn verdict(self) -> Option<Action> {
        match self {
            PolicyAction::Deliver => Some(Action::Deliver),
            PolicyAction::Quarantine => Some(Action::Quarantine),
            PolicyAction::Reject => Some(Action::Reject),
            PolicyAction::Tag => None,
        }
    }
}

impl From<Action> for PolicyAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Deliver => PolicyAction::Deliver,
            Action::Quarantine => PolicyAction::Quarantine,
            Action::Reject => PolicyAction::Reject,
        }
    }
}

/// The class of threat a verdict is about. `policy` means a customer's own rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum ThreatType {
    Spam,
    Phishing,
    Malware,
    Bec,
    Policy,
}

impl ThreatType {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatType::Spam => "spam",
            ThreatType::Phishing => "phishing",
            ThreatType::Malware => "malware",
            ThreatType::Bec => "bec",
            ThreatType::Policy => "policy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spam" => Some(ThreatType::Spam),
            "phishing" => Some(ThreatType::Phishing),
            "malware" => Some(ThreatType::Malware),
            "bec" => Some(ThreatType::Bec),
            "policy" => Some(ThreatType::Policy),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// Live tokens act on real data; test tokens on the customer's sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum TokenKind {
    Live,
    Test,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Live => "live",
            TokenKind::Test => "test",
        }
    }
}

/// What a token may do. Each scope includes the ones before it: `read_only` reads
/// everything; `quarantine` also releases, deletes and reports quarantined mail; `admin` also
/// changes domains, policies, sender rules, webhooks and tokens.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    ReadOnly,
    Quarantine,
    #[default]
    Admin,
}

impl TokenScope {
    pub const ALL: [TokenScope; 3] = [
        TokenScope::ReadOnly,
        TokenScope::Quarantine,
        TokenScope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::ReadOnly => "read_only",
            TokenScope::Quarantine => "quarantine",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The scopes this one grants (itself and every narrower one).
    pub fn granted(self) -> Vec<TokenScope> {
        Self::ALL.into_iter().filter(|s| *s <= self).collect()
    }
}

/// A stored token: never the secret, only its hash and a display prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub customer_id: String,
    pub kind: TokenKind,
    /// The first characters of the secret, enough to recognise it in a list.
    pub prefix: String,
    pub created_at: i64,
    /// What the token may do (tokens made before scopes existed are `admin`).
    #[serde(default)]
    pub scope: TokenScope,
}

/// Lifecycle of a protected domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum DomainStatus {
    PendingMxVerification,
    Active,
}

impl DomainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainStatus::PendingMxVerification => "pending_mx_verification",
            DomainStatus::Active => "active",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending_mx_verification" => Some(DomainStatus::PendingMxVerification),
            "active" => Some(DomainStatus::Active),
            _ => None,
        }
    }
}

/// How accepted mail reaches a domain's real server.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum DeliveryMode {
    /// Written durably to Moat's spool before `250`, then relayed with retries.
    #[default]
    Spool,
    /// Relayed before answering; the sender keeps responsibility until the real server accepts.
    Proxy,
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Spool => "spool",
            DeliveryMode::Proxy => "proxy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spool" => Some(DeliveryMode::Spool),
            "proxy" => Some(DeliveryMode::Proxy),
            _ => None,
        }
    }
}

/// How the relay protects the hop to a domain's real mail server (RFC 3207 STARTTLS).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum RelayTls {
    /// STARTTLS whenever the server offers it, any certificate; clear text otherwise (as
    /// Postfix's `may`).
    #[default]
    Opportunistic,
    /// STARTTLS or no delivery (a temporary failure, retried), any certificate.
    Required,
    /// STARTTLS with a certificate valid for the server's name (system roots, or the CA in
    /// `relay.tls_ca_file`), or no delivery.
    Verify,
}

impl RelayTls {
    pub fn as_str(self) -> &'static str {
        match self {
            RelayTls::Opportunistic => "opportunistic",
            RelayTls::Required => "required",
            RelayTls::Verify => "verify",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "opportunistic" => Some(RelayTls::Opportunistic),
            "required" => Some(RelayTls::Required),
            "verify" => Some(RelayTls::Verify),
            _ => None,
        }
    }
}

/// A person whose name impersonators borrow (business email compromise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct Executive {
    /// The name as it appears in a From display name ("Jane Doe").
    pub name: String,
    /// The executive's real addresses; mail in their name from any other address is suspect.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// A domain's detection settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DomainDetection {
    /// Spam score at or above which mail is quarantined; `None`: the gateway's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executives: Vec<Executive>,
    /// Where the daily quarantine digest is mailed (an address at the domain itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    pub id: String,
    pub customer_id: String,
    /// Lower-case ASCII (punycode) domain name.
    pub name: String,
    /// `host:port` of the customer's real mail server.
    pub real_mx_host: String,
    pub delivery_mode: DeliveryMode,
    pub status: DomainStatus,
    pub created_at: i64,
    /// Spam threshold and executives list.
    #[serde(default)]
    pub detection: DomainDetection,
    /// When the domain's owner proved control of it (the DNS TXT record of
    /// `verification_token`), or the operator activated it.
    #[serde(default)]
    pub verified_at: Option<i64>,
    /// STARTTLS on the hop to `real_mx_host`.
    #[serde(default)]
    pub tls: RelayTls,
    /// The operator allowed `real_mx_host` to be an internal address (loopback, private,
    /// link-local…); customers cannot set this.
    #[serde(default)]
    pub allow_internal_target: bool,
    /// The secret the owner publishes as `moat-verify=<token>` in a TXT record at
    /// `_moat-verify.<domain>` to prove control of the domain.
    #[serde(default)]
    pub verification_token: String,
}

/// Whether a sender rule lets mail through or keeps it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum SenderRuleKind {
    /// Skips content verdicts (policies, spam, DMARC dispositions) but never malware; with
    /// `require_auth`, only for mail whose sender authenticates.
    Allow,
    /// Rejects the sender's mail.
    Block,
}

impl SenderRuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderRuleKind::Allow => "allow",
            SenderRuleKind::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(SenderRuleKind::Allow),
            "block" => Some(SenderRuleKind::Block),
            _ => None,
        }
    }
}

/// A protected domain's allow or block entry for a sender address or domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRule {
    pub id: String,
    pub customer_id: String,
    pub domain_id: String,
    pub kind: SenderRuleKind,
    /// Lower case: `user@example.com`, `example.com`, or `*.example.com` (the domain and its
    /// subdomains).
    pub sender: String,
    /// Allow entries: the sender must pass DMARC (From) or SPF (envelope) for the entry to apply,
    /// so a forged sender cannot ride on it.
    pub require_auth: bool,
    /// Unix ms after which the rule no longer applies.
    pub expires_at: Option<i64>,
    /// Messages the rule has applied to.
    pub hits: u64,
    pub created_at: i64,
}

impl SenderRule {
    /// Whether `address` (lower-cased `local@domain`) is covered by the rule's sender.
    pub fn covers(&self, address: &str) -> bool {
        let address = address.trim().to_ascii_lowercase();
        let Some((_, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let domain = domain.trim_end_matches('.');
        if self.sender.contains('@') {
            return self.sender == address;
        }
        match self.sender.strip_prefix("*.") {
            Some(base) => domain == base || domain.ends_with(&format!(".{base}")),
            None => domain == self.sender,
        }
    }

    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now_ms)
    }
}

/// A customer's rule: when `condition` holds, take `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub condition: Condition,
    pub action: PolicyAction,
    pub notify_admin: bool,
    pub enabled: bool,
    pub created_at: i64,
    /// Shadow mode: the policy is evaluated and what it would have done is recorded on the
    /// verdict (`shadow:<name>` findings), but it changes nothing.
    #[serde(default)]
    pub shadow: bool,
}

/// The fields a client gives to create a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct NewPolicy {
    pub name: String,
    pub condition: Condition,
    pub action: PolicyAction,
    #[serde(default)]
    pub notify_admin: bool,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Record what the policy would do without doing it (try a rule on live mail first).
    #[serde(default)]
    pub shadow: bool,
}

fn default_true() -> bool {
    true
}

/// How bad a finding is. A class's findings of `high` or `critical` quarantine the message on
/// their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// Why a verdict was reached: one matched rule, with where it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// The rule that matched (a policy's name for customer policies).
    pub rule: String,
    pub threat_type: ThreatType,
    /// What was inspected: `subject`, `body`, `from`, `header:<name>`, `envelope_from`.
    pub field: String,
    /// Index of the MIME part for body matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// Byte range of the match within the inspected field's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<u32>>, min_items = 2, max_items = 2)]
    pub range: Option<(u32, u32)>,
    /// The literal or value that matched.
    pub matched: String,
    /// How bad it is (findings stored before severities existed read as `medium`).
    #[serde(default)]
    pub severity: Severity,
    /// What the rule added to its class's score (spam rules), when it is a scored rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// An authentication result (RFC 8601 section 2.7 vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum AuthResult {
    Pass,
    Fail,
    Softfail,
    Neutral,
    #[default]
    None,
    Temperror,
    Permerror,
    /// DKIM: signed, but not acceptably (rsa-sha1, a short RSA key); RFC 8601 2.7.1.
    Policy,
}

impl AuthResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::Softfail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::None => "none",
            AuthResult::Temperror => "temperror",
            AuthResult::Permerror => "permerror",
            AuthResult::Policy => "policy",
        }
    }
}

/// One SPF, DKIM or ARC check.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthCheck {
    pub result: AuthResult,
    /// SPF: the domain checked (MAIL FROM, or HELO for bounces); DKIM: the signing domain (d=).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// DKIM: the selector (s=).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    /// Why the result is not a pass, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// DMARC for the author domain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DmarcCheck {
    pub result: AuthResult,
    /// The author (From) domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The policy the domain publishes for failing mail: none, quarantine or reject.
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Sender authentication of one message, as recorded with each of its verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthSummary {
    pub spf: AuthCheck,
    /// One entry per DKIM signature.
    pub dkim: Vec<AuthCheck>,
    pub arc: AuthCheck,
    pub dmarc: DmarcCheck,
}

/// A customer's report that a message Moat quarantined for it is spam or not: what the
/// customer's own spam model learns from (never the gateway's shared one). One per message:
/// a later report of the same message replaces the label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamReportRecord {
    pub customer_id: String,
    /// The quarantined message reported.
    pub item_id: String,
    pub spam: bool,
    /// The message's model tokens (`detect::spam::bayes::tokens`), each once.
    pub tokens: Vec<u64>,
    /// The token that reported it.
    pub reporter: String,
    pub reported_at: i64,
}

impl SpamReportRecord {
    /// The tokens as stored: little-endian `u64`s.
    pub fn token_bytes(&self) -> Vec<u8> {
        self.tokens.iter().flat_map(|t| t.to_le_bytes()).collect()
    }

    /// Tokens from their stored form (a trailing partial token is ignored).
    pub fn tokens_from(bytes: &[u8]) -> Vec<u64> {
        bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect()
    }
}

/// What a protected domain's mail history says about one sender (first-contact detection):
/// whether mail from the address was delivered to the domain before, and since when the
/// domain has any such history (a young history cannot tell a new sender from an old one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderHistory {
    pub known: bool,
    /// When the oldest sender the domain knows first had mail delivered (ms since the epoch).
    pub history_since: Option<i64>,
}

impl VerdictRecord {
    /// The sender this verdict makes a known correspondent of its domain: the From header's
    /// address, lower case (`"Name" <a@b>` and bare `a@b` alike), of mail delivered clean. A
    /// quarantined or rejected message, or a From without an address, teaches nothing.
    pub fn correspondent(&self) -> Option<String> {
        if self.action != Action::Deliver || self.threat_type.is_some() {
            return None;
        }
        let h = self.from_header.trim();
        let inner = match (h.rfind('<'), h.rfind('>')) {
            (Some(open), Some(close)) if open < close => &h[open + 1..close],
            _ => h,
        };
        let inner = inner.trim();
        (inner.contains('@') && !inner.contains(char::is_whitespace))
            .then(|| inner.to_ascii_lowercase())
    }
}

/// The decision for one recipient domain of one message, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub id: String,
    /// The id given to the client in the SMTP reply; shared by all verdicts of one message.
    pub queue_id: String,
    pub received_at: i64,
    pub customer_id: String,
    pub domain_id: String,
    pub client_ip: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub from_header: String,
    pub subject: String,
    pub size: u64,
    pub action: Action,
    pub threat_type: Option<ThreatType>,
    /// Policies that fired, with `notify_admin` set (the API raises `policy.triggered`).
    pub notify_admin: bool,
    pub findings: Vec<Finding>,
    /// SPF, DKIM, ARC and DMARC results (absent when authentication is switched off).
    #[serde(default)]
    pub auth: Option<AuthSummary>,
    /// Whether the hops of the message were encrypted (absent on verdicts stored before).
    #[serde(default)]
    pub transport: Option<Transport>,
}

/// Encryption of a message's hops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transport {
    /// TLS version of the hop that brought the message to Moat (`TLSv1.3`); null: clear text.
    pub inbound_tls: Option<String>,
    /// TLS version of the hop to the real server when Moat relayed the message while the
    /// sender waited (proxy mode); null otherwise: clear text, or a spooled delivery that
    /// happens later (the spool logs its TLS version per delivery).
    pub outbound_tls: Option<String>,
}

/// Lifecycle of a quarantined message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum QuarantineStatus {
    Quarantined,
    /// A release has claimed the message and is delivering it (`released_at` holds when the
    /// claim was made; a claim older than [`RELEASE_CLAIM_MS`] is taken over).
    Releasing,
    Released,
    Deleted,
}

/// How long a release's claim holds before another release may take it over (a process that
/// died mid-release must not leave the message stuck).
pub const RELEASE_CLAIM_MS: i64 = 10 * 60 * 1000;

impl QuarantineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineStatus::Quarantined => "quarantined",
            QuarantineStatus::Releasing => "releasing",
            QuarantineStatus::Released => "released",
            QuarantineStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quarantined" => Some(QuarantineStatus::Quarantined),
            "releasing" => Some(QuarantineStatus::Releasing),
            "released" => Some(QuarantineStatus::Released),
            "deleted" => Some(QuarantineStatus::Deleted),
            _ => None,
        }
    }
}

/// Metadata of a quarantined message (the raw bytes are fetched separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineItem {
    pub id: String,
    pub verdict_id: String,
    pub customer_id: String,
    pub domain_id: String,
    pub received_at: i64,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub from_header: String,
    pub subject: String,
    pub threat_type: ThreatType,
    pub status: QuarantineStatus,
    pub size: u64,
    pub findings: Vec<Finding>,
    pub released_at: Option<i64>,
}

/// Filters of `GET /v1/quarantine`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuarantineFilter {
    pub status: Option<QuarantineStatus>,
    pub threat_type: Option<ThreatType>,
    /// Substring of the envelope sender or the From header, case-insensitive.
    pub from: Option<String>,
    pub domain_id: Option<String>,
    /// Received at or after (Unix ms).
    pub since: Option<i64>,
    /// Received before (Unix ms).
    pub until: Option<i64>,
    /// Keyset pagination: only rows after this `(received_at, id)` in newest-first order.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

/// Filters of `GET /v1/verdicts` and `GET /v1/threats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerdictFilter {
    pub domain_id: Option<String>,
    pub action: Option<Action>,
    /// Only verdicts about this class of threat.
    pub threat_type: Option<ThreatType>,
    /// Only verdicts that found a threat (any `threat_type`).
    pub threats_only: bool,
    /// Received at or after (Unix ms).
    pub since: Option<i64>,
    /// Received before (Unix ms).
    pub until: Option<i64>,
    /// Keyset pagination: only rows after this `(received_at, id)` in newest-first order.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

/// Whether a row at `(received_at, id)` comes after the cursor `after` in newest-first order.
pub fn is_after(after: Option<&(i64, String)>, received_at: i64, id: &str) -> bool {
    after.is_none_or(|(t, last)| received_at < *t || (received_at == *t && id < last.as_str()))
}

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum WebhookEvent {
    /// A verdict found a threat (whatever was done with the message).
    #[serde(rename = "threat.detected")]
    ThreatDetected,
    /// A message was quarantined.
    #[serde(rename = "threat.quarantined")]
    ThreatQuarantined,
    /// A quarantined message was released.
    #[serde(rename = "quarantine.released")]
    QuarantineReleased,
    /// A policy with `notify_admin` matched.
    #[serde(rename = "policy.triggered")]
    PolicyTriggered,
    /// A message failed DMARC or SPF.
    #[serde(rename = "auth.failed")]
    AuthFailed,
    /// Yesterday's summary per domain (sent after midnight UTC).
    #[serde(rename = "report.daily")]
    ReportDaily,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 6] = [
        WebhookEvent::ThreatDetected,
        WebhookEvent::ThreatQuarantined,
        WebhookEvent::QuarantineReleased,
        WebhookEvent::PolicyTriggered,
        WebhookEvent::AuthFailed,
        WebhookEvent::ReportDaily,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::ThreatDetected => "threat.detected",
            WebhookEvent::ThreatQuarantined => "threat.quarantined",
            WebhookEvent::QuarantineReleased => "quarantine.released",
            WebhookEvent::PolicyTriggered => "policy.triggered",
            WebhookEvent::AuthFailed => "auth.failed",
            WebhookEvent::ReportDaily => "report.daily",
        }
    }
}

/// A customer's HTTPS endpoint that receives signed event deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub customer_id: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// HMAC-SHA256 key of the `Moat-Signature` header (`whsec_…`).
    pub secret: String,
    pub created_at: i64,
    /// The newest verdict `(received_at, id)` turned into events so far.
    #[serde(default)]
    pub watermark: Option<(i64, String)>,
    /// The last day (`YYYY-MM-DD`) whose `report.daily` was queued.
    #[serde(default)]
    pub last_report_day: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Retries ran out (24 hours) or the endpoint cannot be called.
    Failed,
}

/// One event sent (or to be sent) to one webhook, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Deterministic per (webhook, event, object), so an event is queued once.
    pub id: String,
    pub webhook_id: String,
    pub customer_id: String,
    /// The event name (`threat.detected`, …, or `webhook.test`).
    pub event: String,
    /// The exact JSON body sent (and signed).
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<i64>,
    /// No attempt is made after this (24 hours after queueing or redelivery).
    pub give_up_at: i64,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Changes `PATCH /v1/domains/{id}` may make.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct DomainPatch {
    pub real_mx_host: Option<String>,
    pub delivery_mode: Option<DeliveryMode>,
    pub spam_threshold: Option<f64>,
    pub executives: Option<Vec<Executive>>,
    /// Where the daily digest is mailed; an address at the domain itself; `""` stops it.
    pub admin_email: Option<String>,
    /// STARTTLS on the hop to the real server: `opportunistic`, `required` or `verify`.
    pub tls: Option<RelayTls>,
}
