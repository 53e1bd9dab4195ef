//! Sender authentication: SPF (RFC 7208), DKIM (RFC 6376), ARC (RFC 8617) and DMARC (RFC 7489)
//! with mail-auth, over Moat's resolver ([`crate::dns`]) and TTL caches shared by every shard.
//! The result is a summary for the verdict record, an `Authentication-Results` field (RFC 8601)
//! and, when the author identity is unusable or DMARC says so, a disposition for the message.
//!
//! Runs on tokio (mail-auth's resolver needs it); the scanner reaches it through a handle that
//! sends the message to the auth thread and awaits a oneshot.

mod arc_sets;
mod dkim;
mod dkim_policy;
pub mod dmarc_report;
pub mod headers;
pub mod identity;
pub mod results;
pub mod spf;
mod taglist;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use futures::FutureExt;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput,
    DmarcResult, MX, MessageAuthenticator, Parameters, RecordSet, SpfOutput, SpfResult, Txt,
    arc::ArcSealer,
    common::{
        crypto::{RsaKey, Sha256},
        headers::HeaderWriter,
    },
    dkim::Done,
    dmarc::{Policy, verify::DmarcParameters},
};
use tokio::time::{Instant, timeout_at};

use crate::{
    config::Config,
    dns::{Dns, DnsSetupError, cache::TtlCache},
    metrics::metrics,
    model::{
        Action, AuthCheck, AuthResult, AuthSummary, DmarcCheck, Finding, Severity, ThreatType,
    },
};

pub use identity::{Author, FromProblem};

/// Header fields Moat's ARC-Message-Signature covers (those present are signed; RFC 6376 5.4.1).
const SEALED_HEADERS: [&str; 12] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "DKIM-Signature",
];

/// What the checks need to know about one SMTP transaction.
#[derive(Debug, Clone, Copy)]
pub struct AuthInput<'a> {
    pub client_ip: IpAddr,
    /// The EHLO/HELO name.
    pub helo: &'a str,
    /// The MAIL FROM address, empty for bounces.
    pub mail_from: &'a str,
    /// The message as the client sent it (without Moat's own trace header).
    pub message: &'a [u8],
}

/// What authentication alone requires of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthDisposition {
    pub action: Action,
    /// The SMTP reply for a rejection.
    pub reply: String,
    pub finding: Finding,
}

#[derive(Debug, Clone)]
pub struct AuthOutcome {
    pub summary: AuthSummary,
    pub author: Author,
    /// Moat's `Authentication-Results: ...\r\n` field.
    pub header: String,
    pub disposition: Option<AuthDisposition>,
    /// What this message adds to its author domain's DMARC aggregate report (the domain
    /// publishes `rua=`); `None` otherwise.
    pub dmarc_report: Option<dmarc_report::Observation>,
}

/// Caches of parsed answers, one per record kind mail-auth asks for.
struct Caches {
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
    /// Parsed SPF records (Moat's evaluator).
    spf: spf::RecordCache,
    /// DKIM key records as Moat's acceptance rules read them.
    dkim_keys: dkim_policy::KeyCache,
}

type CachedParameters<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

pub struct Authenticator {
    inner: MessageAuthenticator,
    caches: Caches,
    authserv_id: String,
    deadline: Duration,
    enforce_dmarc: bool,
    /// `dmarc_reports.enabled`: observations for aggregate reports are built.
    dmarc_reports: bool,
    /// Seals relayed mail with Moat's own ARC set, when configured.
    sealer: Option<ArcSealer<RsaKey<Sha256>, Done>>,
    /// Moat's resolver (SPF asks it directly); keeps a static-zone server alive as long as
    /// the resolvers that ask it.
    dns: Dns,
}

impl Authenticator {
    /// Builds the resolver from `[dns]` and the checks from `[auth]`; call on a tokio runtime.
    pub async fn start(config: &Config) -> Result<Authenticator, DnsSetupError> {
        let dns = Dns::start(&config.dns).await?;
        Ok(Authenticator::with_dns(dns, config))
    }

    pub fn with_dns(dns: Dns, config: &Config) -> Authenticator {
        let n = config.dns.cache_entries.max(16);
        let authserv_id = if config.auth.authserv_id.is_empty() {
            config.hostname.clone()
        } else {
            config.auth.authserv_id.clone()
        };
        Authenticator {
            inner: MessageAuthenticator(dns.resolver.clone()),
            caches: Caches {
                txt: TtlCache::new(n),
                mx: TtlCache::new(n / 4),
                ipv4: TtlCache::new(n),
                ipv6: TtlCache::new(n / 4),
                ptr: TtlCache::new(n / 4),
                spf: spf::RecordCache::new(n),
                dkim_keys: dkim_policy::KeyCache::new(n / 4),
            },
            authserv_id,
            deadline: Duration::from_secs(config.auth.deadline_secs.max(1)),
            enforce_dmarc: config.auth.enforce_dmarc,
            dmarc_reports: config.dmarc_reports.enabled,
            sealer: None,
            dns,
        }
    }

    /// Loads the ARC sealing key `[auth.arc_seal]` names (nothing when unset).
    pub fn with_arc_sealer(mut self, config: &crate::config::AuthConfig) -> Result<Self, String> {
        let Some(seal) = &config.arc_seal else {
            return Ok(self);
        };
        use rustls::pki_types::{PrivateKeyDer, pem::PemObject};
        let der = PrivateKeyDer::from_pem_file(&seal.key_file)
            .map_err(|e| format!("auth.arc_seal.key_file {}: {e}", seal.key_file.display()))?;
        let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| {
            format!(
                "auth.arc_seal.key_file {} is not an RSA private key in PEM: {e}",
                seal.key_file.display()
            )
        })?;
        self.sealer = Some(
            ArcSealer::from_key(key)
                .domain(seal.domain.clone())
                .selector(seal.selector.clone())
                .headers(SEALED_HEADERS),
        );
        Ok(self)
    }

    pub fn authserv_id(&self) -> &str {
        &self.authserv_id
    }

    fn params<P>(&self, params: P) -> CachedParameters<'_, P> {
        Parameters {
            params,
            cache_txt: Some(&self.caches.txt),
            cache_mx: Some(&self.caches.mx),
            cache_ptr: Some(&self.caches.ptr),
            cache_ipv4: Some(&self.caches.ipv4),
            cache_ipv6: Some(&self.caches.ipv6),
        }
    }

    /// The client's forward-confirmed reverse DNS name (its PTR name, when that name resolves
    /// back to the address), as MTAs write it in `Received` fields; `None` when there is none
    /// or DNS does not answer within the authentication deadline.
    /// Those of `addresses` (from `policy_domain`'s DMARC record) that may receive its
    /// aggregate reports (RFC 7489 §7.1): an address in the policy domain or below it always,
    /// one elsewhere only when its domain publishes `<policy>._report._dmarc.<its domain>`.
    /// `None` when DNS failed or was too slow (try again later).
    pub async fn report_addresses(
        &self,
        policy_domain: &str,
        addresses: &[String],
    ) -> Option<Vec<String>> {
        let allowed = tokio::time::timeout(
            self.deadline,
            self.inner.verify_dmarc_report_address(
                policy_domain,
                addresses,
                Some(&self.caches.txt),
            ),
        )
        .await
        .ok()??;
        Some(allowed.into_iter().cloned().collect())
    }

    pub async fn confirmed_name(&self, ip: IpAddr) -> Option<String> {
        let lookup = async {
            let names = self
                .inner
                .ptr_lookup(ip, Some(&self.caches.ptr))
                .await
                .ok()?;
            for name in names.rrset.iter().take(3) {
                let name = name.trim_end_matches('.');
                if name.is_empty() {
                    continue;
                }
                let strategy = if ip.is_ipv4() {
                    mail_auth::IpLookupStrategy::Ipv4Only
                } else {
                    mail_auth::IpLookupStrategy::Ipv6Only
                };
                let back = self
                    .inner
                    .ip_lookup(
                        name,
                        strategy,
                        16,
                        Some(&self.caches.ipv4),
                        Some(&self.caches.ipv6),
                    )
                    .await
                    .unwrap_or_default();
                if back.contains(&ip) {
                    return Some(name.to_ascii_lowercase());
                }
            }
            None
        };
        // A client waits for this before its first command is read: at most 5 s.
        let wait = self.deadline.min(Duration::from_secs(5));
        timeout_at(Instant::now() + wait, lookup)
            .await
            .ok()
            .flatten()
    }

    /// Looks the client's address up in the configured IP lists and the HELO name, the
    /// envelope sender's domain and `link_domains` in the domain lists, all at once, within
    /// the authentication deadline; answers are cached by their TTL. Refusals are logged.
    pub async fn reputation(
        &self,
        lists: &crate::config::ReputationConfig,
        client_ip: IpAddr,
        helo: &str,
        mail_from: &str,
        link_domains: &[String],
    ) -> Vec<Finding> {
        use crate::detect::reputation::{self as rep, Answer};
        let mut queries: Vec<(String, &rep::ListConfig, String, String)> = Vec::new();
        if rep::worth_asking(client_ip) {
            for l in &lists.ip_lists {
                queries.push((
                    rep::ip_query(client_ip, &l.zone),
                    l,
                    "client_ip".into(),
                    format!("client address {client_ip}"),
                ));
            }
        }
        let mut domains: Vec<(&str, String)> = Vec::new();
        let envelope_domain = crate::message::domain_of(mail_from);
        for (field, d) in [
            ("helo", helo.to_string()),
            ("envelope_from", envelope_domain),
        ]
        .into_iter()
        .chain(
            link_domains
                .iter()
                .take(lists.max_domains)
                .map(|d| ("link", d.clone())),
        ) {
            if !d.is_empty() && !domains.iter().any(|(_, x)| *x == d) {
                domains.push((field, d));
            }
        }
        for l in &lists.domain_lists {
            for (field, d) in &domains {
                if let Some(q) = rep::domain_query(d, &l.zone) {
                    queries.push((q, l, (*field).to_string(), format!("{field} domain {d}")));
                }
            }
        }
        // Several hosts of one registrable domain ask one name.
        queries.sort_by(|a, b| a.0.cmp(&b.0));
        queries.dedup_by(|a, b| a.0 == b.0);
        let lookups = queries.iter().map(|(name, ..)| async move {
            self.inner
                .ipv4_lookup(name, Some(&self.caches.ipv4))
                .await
                .map(|r| r.rrset.to_vec())
                .unwrap_or_default()
        });
        let answers = match timeout_at(
            Instant::now() + self.deadline,
            futures::future::join_all(lookups),
        )
        .await
        {
            Ok(a) => a,
            Err(_) => {
                tracing::warn!("reputation look-ups took longer than the auth deadline");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for ((name, list, field, what), addrs) in queries.iter().zip(answers) {
            let mut listed = None;
            for a in addrs {
                match list.read(a) {
                    Answer::Listed => listed = listed.or(Some(a)),
                    Answer::Refused => {
                        tracing::warn!(query = %name, answer = %a, "reputation list refused the query (registration or resolver needed); not counted")
                    }
                    Answer::NotCounted => {}
                }
            }
            if let Some(a) = listed {
                out.push(rep::finding(field, list, what, a));
            }
        }
        out
    }

    /// Runs every check on one message.
    pub async fn check(&self, input: &AuthInput<'_>) -> AuthOutcome {
        let timer = metrics().auth_duration.start_timer();
        let deadline = Instant::now() + self.deadline;
        let author = identity::author(input.message);
        // Not strict: signatures with l= are verified; `judge_signatures` then refuses to trust
        // one whose l= leaves part of the body unsigned.
        let message = AuthenticatedMessage::parse_with_opts(input.message, None, false);
        let helo = input.helo.trim_end_matches('.');

        // SPF checks MAIL FROM, or the HELO name for bounces (RFC 7208 2.4); HDR-8.
        let (spf_domain, spf_sender) = if input.mail_from.is_empty() {
            (helo.to_ascii_lowercase(), format!("postmaster@{helo}"))
        } else {
            (
                crate::message::domain_of(input.mail_from),
                input.mail_from.to_string(),
            )
        };
        let spf_outcome = if !spf_identity_is_valid(&spf_domain) {
            // RFC 7208 4.3: a malformed domain (empty or over-long label, domain literal,
            // single label) is not looked up at all; the result is none.
            SpfResult::None
        } else {
            let request = spf::SpfRequest {
                ip: input.client_ip,
                domain: &spf_domain,
                sender: &spf_sender,
                helo,
            };
            timeout_at(
                deadline,
                spf::check(&self.dns.resolver, &self.caches.spf, &request),
            )
            .await
            .unwrap_or(SpfResult::TempError)
        };
        let spf = SpfOutput::new(spf_domain.clone()).with_result(spf_outcome);

        let mut ar = AuthenticationResults::new(&self.authserv_id);
        let mut summary = AuthSummary {
            spf: AuthCheck {
                result: spf_result(spf.result()),
                domain: spf_domain.clone(),
                ..AuthCheck::default()
            },
            ..AuthSummary::default()
        };
        ar = if input.mail_from.is_empty() {
            ar.with_spf_ehlo_result(&spf, input.client_ip, helo)
        } else {
            ar.with_spf_mailfrom_result(&spf, input.client_ip, input.mail_from, helo)
        };

        let mut dmarc_out = DmarcOutput::default();
        let mut dkim_rewrites: Vec<dkim_policy::Rewrite> = Vec::new();
        let mut arc_for_seal: Option<ArcOutput<'_>> = None;
        if let Some(message) = &message {
            // mail-auth 0.13 applies l= to the raw body; for relaxed signatures with l= the
            // relaxed body is verified instead (relaxed canonicalisation is idempotent).
            let relaxed_raw = dkim::needs_relaxed_copy(message)
                .then(|| dkim::relaxed_copy(input.message, message.body_offset));
            let relaxed = relaxed_raw
                .as_deref()
                .and_then(|r| AuthenticatedMessage::parse_with_opts(r, None, false));
            let verify = |m| {
                timeout_at(deadline, self.inner.verify_dkim(self.params(m)))
                    .map(|r| r.unwrap_or_else(|_| vec![DkimOutput::temp_err(timeout_error())]))
            };
            let mut dkim = verify(message).await;
            let mut sources = vec![message];
            if let Some(relaxed) = &relaxed {
                dkim = dkim::merge(dkim, verify(relaxed).await);
                sources.push(relaxed);
            }
            let body = input
                .message
                .get(message.body_offset as usize..)
                .unwrap_or_default();
            let dkim = dkim::judge_signatures(&sources, body, dkim);
            let (dkim, rewrites) = dkim_policy::enforce(
                &self.dns.resolver,
                &self.caches.dkim_keys,
                &sources,
                dkim,
                deadline.saturating_duration_since(Instant::now()),
            )
            .await;
            summary.dkim = dkim
                .iter()
                .zip(&rewrites)
                .map(|(o, r)| match r {
                    Some(r) => AuthCheck {
                        result: r.result(),
                        reason: Some(r.reason().to_string()),
                        ..dkim_check(o)
                    },
                    None => dkim_check(o),
                })
                .collect();
            dkim_rewrites = rewrites.into_iter().flatten().collect();
            ar = ar.with_dkim_results(&dkim, author.addresses.first().map_or("", |s| s));

            let arc = timeout_at(deadline, self.inner.verify_arc(self.params(message)))
                .await
                .map(
                    |arc| match arc_sets::structural_problem_of(&message.headers) {
                        // A malformed set is a failed chain, whatever mail-auth made of it.
                        Some(problem) if !matches!(arc.result(), DkimResult::Fail(_)) => {
                            arc.with_result(DkimResult::Fail(mail_auth::Error::Io(problem)))
                        }
                        _ => arc,
                    },
                );
            match &arc {
                Ok(arc) => {
                    summary.arc = AuthCheck {
                        result: arc_result(arc.result()),
                        reason: reason_of(arc.result()),
                        ..AuthCheck::default()
                    };
                    ar = ar.with_arc_result(arc, input.client_ip);
                    arc_for_seal = Some(arc.clone());
                }
                Err(_) => {
                    summary.arc = AuthCheck {
                        result: AuthResult::Temperror,
                        reason: Some("time limit reached".into()),
                        ..AuthCheck::default()
                    };
                }
            }

            if author.problem.is_none() {
                let mail_from_domain = if input.mail_from.is_empty() {
                    helo.to_ascii_lowercase()
                } else {
                    spf_domain.clone()
                };
                let params = DmarcParameters::new(message, &dkim, &mail_from_domain, &spf);
                dmarc_out = timeout_at(deadline, self.inner.verify_dmarc(self.params(params)))
                    .await
                    .unwrap_or_else(|_| {
                        DmarcOutput::default()
                            .with_domain(&author.domain)
                            .with_spf_result(DmarcResult::TempError(timeout_error()))
                            .with_dkim_result(DmarcResult::TempError(timeout_error()))
                    });
            }
        }

        let disposition;
        if let Some(problem) = author.problem {
            // Never a DMARC pass for an identity that software can read two ways.
            let err = DmarcResult::PermError(mail_auth::Error::Io(problem.as_str().to_string()));
            dmarc_out = DmarcOutput::default()
                .with_domain(&author.domain)
                .with_spf_result(err.clone())
                .with_dkim_result(err);
            summary.dmarc = DmarcCheck {
                result: AuthResult::Permerror,
                domain: author.domain.clone(),
                policy: "none".into(),
                reason: Some(problem.as_str().into()),
            };
            disposition = Some(from_disposition(problem, &author));
        } else {
            let result = dmarc_out.result();
            let published = dmarc_out.dmarc_record().is_some();
            summary.dmarc = DmarcCheck {
                result: dmarc_result(&result),
                domain: dmarc_out.domain().to_string(),
                policy: if published {
                    policy_name(dmarc_out.policy()).into()
                } else {
                    "none".into()
                },
                reason: match &result {
                    DmarcResult::Pass | DmarcResult::None => None,
                    DmarcResult::Fail(e)
                    | DmarcResult::TempError(e)
                    | DmarcResult::PermError(e) => Some(e.to_string()),
                },
            };
            disposition = if self.enforce_dmarc && matches!(result, DmarcResult::Fail(_)) {
                dmarc_disposition(&dmarc_out)
            } else {
                None
            };
        }
        ar = ar.with_dmarc_result(&dmarc_out);
        let dmarc_report = if !self.dmarc_reports
            || (summary.dmarc.result == AuthResult::Permerror && author.problem.is_some())
        {
            None
        } else {
            let applied = disposition.as_ref().map(|d| d.action.as_str());
            dmarc_report::Observation::of(
                &dmarc_out,
                &summary,
                input.client_ip,
                &author.domain,
                if input.mail_from.is_empty() {
                    helo
                } else {
                    &spf_domain
                },
                input.mail_from.is_empty(),
                applied,
            )
        };

        let m = metrics();
        let count = |check: &str, r: AuthResult| {
            m.auth_results.with_label_values(&[check, r.as_str()]).inc();
        };
        count("spf", summary.spf.result);
        for d in &summary.dkim {
            count("dkim", d.result);
        }
        count("arc", summary.arc.result);
        count("dmarc", summary.dmarc.result);
        timer.observe_duration();
        // mail-auth writes Moat's rewritten DKIM results as permerror placeholders, in order.
        let mut header = ar.to_header();
        for r in &dkim_rewrites {
            header = header.replacen(dkim_policy::Rewrite::PLACEHOLDER, &r.clause(), 1);
        }
        // Moat's own ARC set above its results, so the customer's server can trust them
        // (RFC 8617 5.1; a chain that already failed is not sealed).
        if let (Some(sealer), Some(message), Some(arc)) = (&self.sealer, &message, &arc_for_seal)
            && arc.can_be_sealed()
        {
            match sealer.seal(message, &ar, arc) {
                Ok(set) => header = format!("{}{header}", set.to_header()),
                Err(e) => tracing::warn!(error = %e, "ARC sealing failed; relaying unsealed"),
            }
        }
        AuthOutcome {
            header,
            summary,
            author,
            disposition,
            dmarc_report,
        }
    }
}

/// Whether an SPF identity can be looked up (RFC 7208 4.3): a fully qualified name of at most
/// 253 octets whose labels are 1 to 63 octets long.
fn spf_identity_is_valid(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    !d.is_empty()
        && d.len() <= 253
        && !d.starts_with('[')
        && d.contains('.')
        && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

fn timeout_error() -> mail_auth::Error {
    mail_auth::Error::Dns(mail_auth::DnsError::Resolver(
        "authentication time limit reached".into(),
    ))
}

fn from_disposition(problem: FromProblem, author: &Author) -> AuthDisposition {
    let finding = Finding {
        rule: if problem.is_missing() {
            "auth.from_missing".into()
        } else {
            "auth.from_ambiguous".into()
        },
        threat_type: ThreatType::Phishing,
        field: "header:from".into(),
        part: None,
        range: None,
        matched: format!("{}: {}", problem.as_str(), author.addresses.join(", ")),
        severity: Severity::High,
        score: None,
    };
    if problem.is_missing() {
        AuthDisposition {
            action: Action::Reject,
            reply: format!(
                "550 5.7.7 Message needs exactly one From header with a valid address ({})",
                problem.as_str()
            ),
            finding,
        }
    } else {
        AuthDisposition {
            action: Action::Quarantine,
            reply: String::new(),
            finding,
        }
    }
}

fn dmarc_disposition(dmarc: &DmarcOutput) -> Option<AuthDisposition> {
    let action = match dmarc.policy() {
        Policy::Reject => Action::Reject,
        Policy::Quarantine => Action::Quarantine,
        Policy::None | Policy::Unspecified => return None,
    };
    let domain = dmarc.domain();
    Some(AuthDisposition {
        action,
        reply: format!(
            "550 5.7.1 Message rejected: it fails the DMARC policy of {}",
            domain
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        ),
        finding: Finding {
            rule: format!("auth.dmarc_{}", policy_name(dmarc.policy())),
            threat_type: ThreatType::Phishing,
            field: "auth".into(),
            part: None,
            range: None,
            matched: format!(
                "dmarc=fail header.from={domain} policy.dmarc={}",
                policy_name(dmarc.policy())
            ),
            severity: Severity::High,
            score: None,
        },
    })
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Reject => "reject",
        Policy::Quarantine => "quarantine",
        Policy::None | Policy::Unspecified => "none",
    }
}

fn spf_result(r: SpfResult) -> AuthResult {
    match r {
        SpfResult::Pass => AuthResult::Pass,
        SpfResult::Fail => AuthResult::Fail,
        SpfResult::SoftFail => AuthResult::Softfail,
        SpfResult::Neutral => AuthResult::Neutral,
        SpfResult::TempError => AuthResult::Temperror,
        SpfResult::PermError => AuthResult::Permerror,
        SpfResult::None => AuthResult::None,
    }
}

fn dkim_result(r: &DkimResult) -> AuthResult {
    match r {
        DkimResult::Pass => AuthResult::Pass,
        DkimResult::Neutral(_) => AuthResult::Neutral,
        DkimResult::Fail(_) => AuthResult::Fail,
        DkimResult::PermError(_) => AuthResult::Permerror,
        DkimResult::TempError(_) => AuthResult::Temperror,
        DkimResult::None => AuthResult::None,
    }
}

/// RFC 8617 5.2 knows three chain validation results: none, pass and fail. mail-auth reports
/// a structurally broken chain as neutral or permerror; both are a failed chain.
fn arc_result(r: &DkimResult) -> AuthResult {
    match r {
        DkimResult::Pass => AuthResult::Pass,
        DkimResult::None => AuthResult::None,
        DkimResult::TempError(_) => AuthResult::Temperror,
        DkimResult::Neutral(_) | DkimResult::Fail(_) | DkimResult::PermError(_) => AuthResult::Fail,
    }
}

fn reason_of(r: &DkimResult) -> Option<String> {
    match r {
        DkimResult::Pass | DkimResult::None => None,
        DkimResult::Neutral(e)
        | DkimResult::Fail(e)
        | DkimResult::PermError(e)
        | DkimResult::TempError(e) => Some(e.to_string()),
    }
}

fn dmarc_result(r: &DmarcResult) -> AuthResult {
    match r {
        DmarcResult::Pass => AuthResult::Pass,
        DmarcResult::Fail(_) => AuthResult::Fail,
        DmarcResult::TempError(_) => AuthResult::Temperror,
        DmarcResult::PermError(_) => AuthResult::Permerror,
        DmarcResult::None => AuthResult::None,
    }
}

fn dkim_check(o: &DkimOutput<'_>) -> AuthCheck {
    let (domain, selector) = o
        .signature()
        .map(|s| (s.d.to_ascii_lowercase(), s.s.clone()))
        .unwrap_or_default();
    AuthCheck {
        result: dkim_result(o.result()),
        domain,
        selector,
        reason: reason_of(o.result()),
    }
}
