//! SPF (RFC 7208) `check_host()`, Moat's own. mail-auth 0.13 reads records leniently (a
//! term it cannot parse is skipped or cut short, so a malformed record could authorise
//! mail), and its look-ups differ from the RFC in places (exists: asks AAAA too, IPv4
//! clients match ip6 networks through their mapped form, void look-ups are not counted).
//! Authorisation decides what reaches an inbox, so this module follows the RFC to the letter
//! and is held to the whole openspf suite (`core/tests/spf_suite.rs`). DNS goes through
//! Moat's resolver (and its cache); every look-up is bounded by the caller's deadline.

pub mod record;

use std::{
    net::{IpAddr, Ipv6Addr},
    sync::Arc,
    time::{Duration, Instant},
};

use hickory_resolver::{
    TokioResolver,
    proto::rr::{RData, RecordType},
};
use mail_auth::SpfResult;

use record::{Directive, MacroString, Mechanism, Piece, Qualifier, Record};

use crate::dns::cache::TtlCache;

/// RFC 7208 4.6.4: at most 10 mechanisms or modifiers that query DNS per evaluation.
const MAX_DNS_MECHANISMS: u32 = 10;
/// RFC 7208 4.6.4: more than 2 look-ups that find nothing is a permerror.
const MAX_VOID_LOOKUPS: u32 = 2;
/// RFC 7208 4.6.4: an `mx` or `ptr` mechanism looks at no more than 10 names.
const MAX_NAMES: usize = 10;

/// Parsed SPF records by domain, kept for their TXT answer's TTL (a domain without a record
/// for `NEGATIVE_TTL`), so a repeat sender's record is neither asked for nor parsed again.
/// A DNS failure is never kept.
pub struct RecordCache(TtlCache<Box<str>, CachedRecord>);

/// A domain's record, its absence, or why it is a permerror.
type CachedRecord = Arc<Result<Option<Record>, SpfResult>>;

/// How long "this domain has no SPF record" is believed.
const NEGATIVE_TTL: Duration = Duration::from_secs(300);

impl RecordCache {
    pub fn new(capacity: usize) -> RecordCache {
        RecordCache(TtlCache::new(capacity))
    }
}

/// What is checked: the client, the identity's sender and the HELO name.
#[derive(Debug, Clone)]
pub struct SpfRequest<'a> {
    pub ip: IpAddr,
    /// The domain checked (MAIL FROM's domain, or the HELO name).
    pub domain: &'a str,
    /// `local@domain` of the checked identity (`postmaster@<helo>` for the HELO check).
    pub sender: &'a str,
    pub helo: &'a str,
}

/// Evaluates SPF for `request` against DNS; `none` for a domain that cannot be checked.
pub async fn check(
    resolver: &TokioResolver,
    cache: &RecordCache,
    request: &SpfRequest<'_>,
) -> SpfResult {
    // An IPv4-mapped IPv6 client is an IPv4 client (RFC 7208 5: <ip> is the address as used).
    let ip = match request.ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (local, sender_domain) = match request.sender.rsplit_once('@') {
        Some((l, d)) if !l.is_empty() => (l.to_string(), d.to_string()),
        Some((_, d)) => ("postmaster".to_string(), d.to_string()),
        None => ("postmaster".to_string(), request.sender.to_string()),
    };
    let mut eval = Eval {
        resolver,
        cache,
        ip,
        local,
        sender_domain,
        helo: request.helo.to_string(),
        dns_mechanisms: 0,
        voids: 0,
    };
    match eval.check_host(request.domain.trim_end_matches('.')).await {
        Ok(r) => r,
        Err(r) => r,
    }
}

/// The outcome of one mechanism or look-up when it is not a plain answer.
type Outcome<T> = Result<T, SpfResult>;

struct Eval<'r> {
    resolver: &'r TokioResolver,
    cache: &'r RecordCache,
    ip: IpAddr,
    local: String,
    sender_domain: String,
    helo: String,
    dns_mechanisms: u32,
    voids: u32,
}

/// A name that can be queried: labels of 1 to 63 octets of printable ASCII (a DNS label may
/// hold any octet, and macros put spaces and `%` into names), at least two labels, at most
/// 253 octets (RFC 7208 4.3, RFC 1035).
fn is_queryable(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| (0x20..0x7f).contains(&b)))
}

/// RFC 7208 4.8: an expanded name over 253 octets loses labels from the left until it fits.
fn shorten(name: String) -> String {
    let mut name = name.as_str().trim_end_matches('.');
    while name.len() > 253 {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => break,
        }
    }
    name.to_string()
}

/// Whether `ip` lies in `net/len`.
fn in_network(ip: IpAddr, net: IpAddr, v4: u8, v6: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if v4 == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(v4))
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if v6 == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(v6))
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// `%{i}`: dotted quad, or an IPv6 address as 32 dot-separated nibbles (RFC 7208 7.3).
fn ip_macro(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => nibbles(v6).join("."),
    }
}

fn nibbles(v6: Ipv6Addr) -> Vec<String> {
    v6.octets()
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| format!("{n:x}"))
        .collect()
}

/// The reverse-lookup name of `ip`.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut n = nibbles(v6);
            n.reverse();
            format!("{}.ip6.arpa.", n.join("."))
        }
    }
}

/// URL-escapes a macro value for an upper-case macro letter (RFC 7208 7.3: RFC 3986
/// unreserved characters stay).
fn url_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a DNS question found.
enum Found<T> {
    Records(Vec<T>),
    /// NXDOMAIN or an empty answer: a void look-up.
    Nothing,
}

impl<'r> Eval<'r> {
    /// RFC 7208 4: the result for `domain`, or `Err` with the result that ended it early.
    fn check_host<'a>(
        &'a mut self,
        domain: &'a str,
    ) -> futures::future::BoxFuture<'a, Outcome<SpfResult>> {
        Box::pin(async move {
            if !is_queryable(domain) {
                return Ok(SpfResult::None);
            }
            let entry = self.record(domain).await?;
            let record = match entry.as_ref() {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(SpfResult::None),
                Err(e) => return Err(*e),
            };
            for Directive {
                qualifier,
                mechanism,
            } in &record.directives
            {
                if mechanism.queries_dns() {
                    self.count_dns_mechanism()?;
                }
                if self.matches(mechanism, domain).await? {
                    return Ok(match qualifier {
                        Qualifier::Pass => SpfResult::Pass,
                        Qualifier::Fail => SpfResult::Fail,
                        Qualifier::SoftFail => SpfResult::SoftFail,
                        Qualifier::Neutral => SpfResult::Neutral,
                    });
                }
            }
            if let Some(target) = &record.redirect {
                self.count_dns_mechanism()?;
                let target = shorten(self.expand(target, domain).await);
                // RFC 7208 6.1: a redirect to a domain without a record is a permerror.
                return match self.check_host(&target).await? {
                    SpfResult::None => Err(SpfResult::PermError),
                    other => Ok(other),
                };
            }
            Ok(SpfResult::Neutral)
        })
    }

    fn count_dns_mechanism(&mut self) -> Outcome<()> {
        self.dns_mechanisms += 1;
        if self.dns_mechanisms > MAX_DNS_MECHANISMS {
            return Err(SpfResult::PermError);
        }
        Ok(())
    }

    fn count_void(&mut self) -> Outcome<()> {
        self.voids += 1;
        if self.voids > MAX_VOID_LOOKUPS {
            return Err(SpfResult::PermError);
        }
        Ok(())
    }

    /// RFC 7208 4.4, 4.5: the one SPF record of `domain` (`None` when there is none), or the
    /// permerror it is; from the cache when a look-up is still valid.
    async fn record(&mut self, domain: &str) -> Outcome<CachedRecord> {
        let key = domain.to_ascii_lowercase();
        if let Some(hit) = self.cache.0.lookup(key.as_str()) {
            return Ok(hit);
        }
        let (found, valid_until) = self.lookup_until(domain, RecordType::TXT).await?;
        let texts: Vec<Vec<u8>> = match found {
            Found::Nothing => Vec::new(),
            Found::Records(records) => records
                .into_iter()
                .filter_map(|r| match r {
                    RData::TXT(t) => {
                        Some(t.txt_data.iter().flat_map(|s| s.iter()).copied().collect())
                    }
                    _ => None,
                })
                .collect(),
        };
        let mut spf = texts.iter().filter(|t| record::is_spf(t));
        let parsed = match (spf.next(), spf.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(SpfResult::PermError),
            (Some(text), None) => record::parse(text).map(Some).map_err(|e| {
                tracing::debug!(domain, error = %e, "SPF record is malformed");
                SpfResult::PermError
            }),
        };
        let entry = Arc::new(parsed);
        self.cache.0.store(key.into(), entry.clone(), valid_until);
        Ok(entry)
    }

    /// One question. A name that cannot be asked is treated as finding nothing; a server
    /// failure or time-out is a temperror.
    async fn lookup(&self, name: &str, kind: RecordType) -> Outcome<Found<RData>> {
        Ok(self.lookup_until(name, kind).await?.0)
    }

    /// One question, with until when its answer holds (finding nothing holds at most
    /// `NEGATIVE_TTL`).
    async fn lookup_until(&self, name: &str, kind: RecordType) -> Outcome<(Found<RData>, Instant)> {
        let negative = Instant::now() + NEGATIVE_TTL;
        let Some(query) = crate::dns::name_from_labels(name).filter(|_| is_queryable(name)) else {
            return Ok((Found::Nothing, negative));
        };
        let answer = match kind {
            RecordType::TXT => self.resolver.txt_lookup(query).await,
            RecordType::A => self.resolver.ipv4_lookup(query).await,
            RecordType::AAAA => self.resolver.ipv6_lookup(query).await,
            RecordType::MX => self.resolver.mx_lookup(query).await,
            RecordType::PTR => self.resolver.reverse_lookup(query).await,
            _ => return Ok((Found::Nothing, negative)),
        };
        match answer {
            Ok(lookup) => {
                let records: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == kind)
                    .map(|r| r.data.clone())
                    .collect();
                let until = lookup.valid_until();
                Ok(if records.is_empty() {
                    (Found::Nothing, until.min(negative))
                } else {
                    (Found::Records(records), until)
                })
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok((Found::Nothing, negative)),
            Err(e) => {
                tracing::debug!(name, ?kind, error = %e, "SPF look-up failed");
                Err(SpfResult::TempError)
            }
        }
    }

    /// The client family's addresses of `name` (A for IPv4 clients, AAAA for IPv6).
    async fn addresses(&self, name: &str) -> Outcome<Found<IpAddr>> {
        let kind = if self.ip.is_ipv4() {
            RecordType::A
        } else {
            RecordType::AAAA
        };
        Ok(match self.lookup(name, kind).await? {
            Found::Nothing => Found::Nothing,
            Found::Records(r) => Found::Records(
                r.into_iter()
                    .filter_map(|d| match d {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    })
                    .collect(),
            ),
        })
    }

    async fn target(&mut self, spec: &Option<MacroString>, domain: &str) -> String {
        match spec {
            Some(s) => shorten(self.expand(s, domain).await),
            None => domain.to_string(),
        }
    }

    async fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Outcome<bool> {
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(net, len) => Ok(in_network(self.ip, IpAddr::V4(*net), *len, 0)),
            Mechanism::Ip6(net, len) => Ok(in_network(self.ip, IpAddr::V6(*net), 0, *len)),
            Mechanism::Include(spec) => {
                let target = shorten(self.expand(spec, domain).await);
                // RFC 7208 5.2: only pass matches; none and permerror are permerrors.
                match self.check_host(&target).await? {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(SpfResult::TempError),
                    SpfResult::PermError | SpfResult::None => Err(SpfResult::PermError),
                }
            }
            Mechanism::A {
                domain: spec,
                v4,
                v6,
            } => {
                let target = self.target(spec, domain).await;
                match self.addresses(&target).await? {
                    Found::Nothing => {
                        self.count_void()?;
                        Ok(false)
                    }
                    Found::Records(ips) => {
                        Ok(ips.iter().any(|net| in_network(self.ip, *net, *v4, *v6)))
                    }
                }
            }
            Mechanism::Mx {
                domain: spec,
                v4,
                v6,
            } => {
                let target = self.target(spec, domain).await;
                let hosts: Vec<String> = match self.lookup(&target, RecordType::MX).await? {
                    Found::Nothing => {
                        self.count_void()?;
                        return Ok(false);
                    }
                    Found::Records(r) => r
                        .into_iter()
                        .filter_map(|d| match d {
                            RData::MX(mx) => Some(crate::dns::labels_text(&mx.exchange)),
                            _ => None,
                        })
                        .collect(),
                };
                if hosts.len() > MAX_NAMES {
                    return Err(SpfResult::PermError);
                }
                for host in hosts {
                    if let Found::Records(ips) = self.addresses(&host).await?
                        && ips.iter().any(|net| in_network(self.ip, *net, *v4, *v6))
                    {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                let target = self.target(spec, domain).await.to_ascii_lowercase();
                let names = self.validated_names().await;
                Ok(names
                    .iter()
                    .any(|n| *n == target || n.ends_with(&format!(".{target}"))))
            }
            Mechanism::Exists(spec) => {
                let target = shorten(self.expand(spec, domain).await);
                // RFC 7208 5.7: an A query whatever the client's family.
                match self.lookup(&target, RecordType::A).await? {
                    Found::Nothing => {
                        self.count_void()?;
                        Ok(false)
                    }
                    Found::Records(_) => Ok(true),
                }
            }
        }
    }

    /// RFC 7208 5.5: the client's PTR names (at most 10) that resolve back to it, lower case
    /// without the final dot. A DNS error means no names (the mechanism does not match).
    async fn validated_names(&self) -> Vec<String> {
        let names: Vec<String> = match self.lookup(&reverse_name(self.ip), RecordType::PTR).await {
            Ok(Found::Records(r)) => r
                .into_iter()
                .filter_map(|d| match d {
                    RData::PTR(p) => Some(crate::dns::labels_text(&p.0)),
                    _ => None,
                })
                .collect(),
            _ => return Vec::new(),
        };
        let mut out = Vec::new();
        for name in names.into_iter().take(MAX_NAMES) {
            if let Ok(Found::Records(ips)) = self.addresses(&name).await
                && ips.contains(&self.ip)
            {
                out.push(name.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        out
    }

    /// RFC 7208 7: expands a macro-string for `domain`.
    async fn expand(&self, ms: &MacroString, domain: &str) -> String {
        let mut out = String::new();
        for piece in &ms.0 {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Escape(e) => out.push_str(e),
                Piece::Macro {
                    letter,
                    escape,
                    keep,
                    reverse,
                    delimiters,
                } => {
                    let value = match letter {
                        's' => format!("{}@{}", self.local, self.sender_domain),
                        'l' => self.local.clone(),
                        'o' => self.sender_domain.clone(),
                        'd' => domain.to_string(),
                        'i' | 'c' => ip_macro(self.ip),
                        'p' => self.p_macro(domain).await,
                        'v' => if self.ip.is_ipv4() { "in-addr" } else { "ip6" }.to_string(),
                        'h' => self.helo.clone(),
                        'r' => "unknown".to_string(),
                        't' => std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0)
                            .to_string(),
                        _ => String::new(),
                    };
                    let delimiters = if delimiters.is_empty() {
                        "."
                    } else {
                        delimiters.as_str()
                    };
                    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
                    if *reverse {
                        parts.reverse();
                    }
                    if let Some(n) = keep
                        && parts.len() > *n
                    {
                        parts.drain(..parts.len() - n);
                    }
                    let joined = parts.join(".");
                    out.push_str(&if *escape { url_escape(&joined) } else { joined });
                }
            }
        }
        out
    }

    /// `%{p}`: a validated name of the client, preferring `domain` or a name under it;
    /// `unknown` when there is none (RFC 7208 7.3).
    async fn p_macro(&self, domain: &str) -> String {
        let names = self.validated_names().await;
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        names
            .iter()
            .find(|n| **n == domain)
            .or_else(|| names.iter().find(|n| n.ends_with(&format!(".{domain}"))))
            .or_else(|| names.first())
            .cloned()
            .unwrap_or_else(|| "unknown".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_names_and_macros_helpers() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(in_network(ip("192.0.2.7"), ip("192.0.2.0"), 24, 0));
        assert!(!in_network(ip("192.0.3.7"), ip("192.0.2.0"), 24, 0));
        assert!(in_network(ip("10.0.0.1"), ip("192.0.2.0"), 0, 0));
        assert!(!in_network(ip("192.0.2.7"), ip("::"), 0, 0));
        assert!(in_network(ip("2001:db8::1"), ip("2001:db8::"), 0, 32));
        assert_eq!(reverse_name(ip("192.0.2.7")), "7.2.0.192.in-addr.arpa.");
        assert!(ip_macro(ip("2001:db8::cb01")).starts_with("2.0.0.1.0.d.b.8."));
        assert!(is_queryable("example.com") && !is_queryable("com") && !is_queryable("a..b"));
        assert!(!is_queryable(&format!("{}.com", "x".repeat(64))));
        let long = format!("{}example.com", "abcdefghi.".repeat(30));
        let short = shorten(long);
        assert!(short.len() <= 253 && short.ends_with("example.com"));
        assert_eq!(url_escape("a b/c"), "a%20b%2Fc");
    }
}
