//! MTA-STS (RFC 8461) for mail Moat sends to other organisations' MX hosts (DSNs): a domain that
//! publishes `_mta-sts.<domain>` TXT `v=STSv1; id=…` and a policy at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` with `mode: enforce` gets its mail only
//! through the MX hosts the policy names, over TLS with a certificate valid for that host name.
//! Policies are cached for their `max_age` and fetched again when the TXT record's id changes;
//! a fetch goes through the same address guard as every other outbound connection, follows no
//! redirect, and reads at most [`MAX_POLICY_BYTES`].

use std::{
    collections::HashMap,
    io::Read,
    net::{SocketAddr, ToSocketAddrs},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::netguard::TargetGuard;

/// Largest policy read (RFC 8461 3.3 suggests 64 KiB).
pub const MAX_POLICY_BYTES: u64 = 64 * 1024;
/// Longest a policy is kept (RFC 8461 3.2: max_age at most 31557600).
pub const MAX_AGE_SECS: u64 = 31_557_600;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a policy asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only to listed MX hosts, over verified TLS.
    Enforce,
    /// Report failures, deliver anyway.
    Testing,
    /// No policy.
    None,
}

/// A domain's MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX patterns: exact host names or `*.` + a domain (one label).
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// Parses a policy file (RFC 8461 3.2).
pub fn parse_policy(text: &str) -> Result<Policy, String> {
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("not a key: value line: {line:?}"));
        };
        let value = value.trim();
        match key.trim() {
            "version" => version = Some(value.to_string()),
            "mode" => {
                mode = Some(match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("unknown mode {other:?}")),
                })
            }
            "max_age" => {
                let v: u64 = value
                    .parse()
                    .map_err(|_| format!("max_age {value:?} is not a number"))?;
                max_age = Some(v.min(MAX_AGE_SECS));
            }
            "mx" => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
            // Unknown keys are ignored (RFC 8461 3.2).
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("version is not STSv1".into());
    }
    let mode = mode.ok_or("no mode")?;
    let max_age = max_age.ok_or("no max_age")?;
    if mode != Mode::None && mx.is_empty() {
        return Err("no mx".into());
    }
    Ok(Policy { mode, mx, max_age })
}

/// The policy id of a `_mta-sts` TXT record (`v=STSv1; id=…`), when it is one.
pub fn record_id(txt: &str) -> Option<String> {
    let mut fields = txt.split(';').map(str::trim);
    if fields.next()? != "v=STSv1" {
        return None;
    }
    fields
        .filter_map(|f| f.strip_prefix("id="))
        .map(str::trim)
        .find(|id| {
            !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .map(str::to_string)
}

impl Policy {
    /// Whether an MX host name is one the policy names (RFC 8461 4.1).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => *pattern == host,
            })
    }
}

struct Cached {
    id: String,
    policy: Policy,
    expires: Instant,
}

/// Fetches and caches policies. Blocking (ureq): call it off async threads.
pub struct Fetcher {
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Fetcher {
    /// `tls` verifies the policy host's certificate (system roots and `relay.tls_ca_file`);
    /// `guard` refuses internal addresses for the policy host.
    pub fn new(tls: Arc<rustls::ClientConfig>, guard: TargetGuard) -> Fetcher {
        let agent = ureq::AgentBuilder::new()
            .timeout(FETCH_TIMEOUT)
            .redirects(0)
            .tls_config(tls)
            .resolver(move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
                let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
                let allowed: Vec<SocketAddr> = addrs
                    .into_iter()
                    .filter(|a| guard.permits(a.ip(), false))
                    .collect();
                if allowed.is_empty() {
                    return Err(std::io::Error::other(format!(
                        "{netloc} resolves only to internal addresses"
                    )));
                }
                Ok(allowed)
            })
            .build();
        Fetcher {
            agent,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The policy of `domain` given its TXT record's id (`None`: no record). A cached policy
    /// with the same id is reused until it expires; when no record is published any more, an
    /// unexpired cached policy still applies (RFC 8461 5.1: a policy outlives its record).
    pub fn policy(&self, domain: &str, id: Option<&str>) -> Result<Option<Policy>, String> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(&domain)
                && c.expires > now
                && id.is_none_or(|id| id == c.id)
            {
                return Ok(Some(c.policy.clone()));
            }
        }
        let Some(id) = id else {
            return Ok(None);
        };
        let policy = self.fetch(&format!("https://mta-sts.{domain}/.well-known/mta-sts.txt"))?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            domain,
            Cached {
                id: id.to_string(),
                policy: policy.clone(),
                expires: now + Duration::from_secs(policy.max_age),
            },
        );
        Ok(Some(policy))
    }

    /// The cached, unexpired policy of `domain`, whatever its id (when a new one cannot be
    /// fetched, the one in force stays in force: RFC 8461 5.1).
    pub fn cached(&self, domain: &str) -> Option<Policy> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&domain)
            .filter(|c| c.expires > Instant::now())
            .map(|c| c.policy.clone())
    }

    /// Fetches and parses one policy file.
    pub fn fetch(&self, url: &str) -> Result<Policy, String> {
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status() != 200 {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        if !response.content_type().eq_ignore_ascii_case("text/plain") {
            return Err(format!("{url}: content type {}", response.content_type()));
        }
        let mut text = String::new();
        response
            .into_reader()
            .take(MAX_POLICY_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| format!("{url}: {e}"))?;
        parse_policy(&text)
    }
}

/// The routes to try for a domain's MX targets (`(MX host name, ip:port)`, most preferred
/// first) under its policy: with `enforce`, only the MX hosts the policy names, each over TLS
/// verified for its name; otherwise every target, opportunistic TLS.
pub fn routes(
    domain: &str,
    targets: Vec<(String, String)>,
    policy: Option<&Policy>,
) -> Result<Vec<super::Route>, String> {
    match policy {
        Some(p) if p.mode == Mode::Enforce => {
            let allowed: Vec<super::Route> = targets
                .iter()
                .filter(|(name, _)| p.allows(name))
                .map(|(name, target)| super::Route::to_mx_enforced(target.clone(), name))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "no MX host of {domain} is one its MTA-STS policy names ({})",
                    p.mx.join(", ")
                ));
            }
            Ok(allowed)
        }
        _ => Ok(targets
            .into_iter()
            .map(|(_, target)| super::Route::to_mx(target))
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_the_rfc_writes_them() {
        let p = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n",
        )
        .expect("parses");
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.mx, ["mail.example.com", "*.example.net"]);
        assert_eq!(p.max_age, 86400);
        assert!(p.allows("mail.example.com."));
        assert!(p.allows("MX1.example.net"));
        assert!(!p.allows("a.b.example.net"), "a wildcard covers one label");
        assert!(!p.allows("example.net"));
        assert!(!p.allows("evil-mail.example.com"));
        let testing = parse_policy(
            "version: STSv1\nmode: testing\nmx: mx.example\nmax_age: 99999999999\nextension: x\n",
        )
        .expect("parses");
        assert_eq!(
            (testing.mode, testing.max_age),
            (Mode::Testing, MAX_AGE_SECS)
        );
    }

    #[test]
    fn broken_policies_and_records_are_refused() {
        assert!(parse_policy("mode: enforce\nmx: a\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: sometimes\nmx: a\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmx: a\nmax_age: soon\n").is_err());
        assert!(parse_policy("<html>not a policy</html>").is_err());
        assert_eq!(
            record_id("v=STSv1; id=20261201T000000;").as_deref(),
            Some("20261201T000000")
        );
        assert_eq!(record_id("v=STSv1;id=abc").as_deref(), Some("abc"));
        assert!(record_id("v=spf1 -all").is_none());
        assert!(record_id("v=STSv1; id=has-dash").is_none());
        assert!(record_id("v=STSv1;").is_none());
    }

    #[test]
    fn an_enforced_policy_picks_the_named_mx_hosts_and_verifies_them() {
        use crate::model::RelayTls;
        let targets = vec![
            ("mx1.example.com".to_string(), "192.0.2.1:25".to_string()),
            (
                "backup.elsewhere.example".to_string(),
                "192.0.2.9:25".to_string(),
            ),
        ];
        let enforce =
            parse_policy("version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 60\n")
                .expect("parses");
        let r = routes("example.com", targets.clone(), Some(&enforce)).expect("one matches");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].hostport, "192.0.2.1:25");
        assert_eq!(r[0].tls, RelayTls::Verify);
        assert_eq!(r[0].tls_name.as_deref(), Some("mx1.example.com"));
        let testing = Policy {
            mode: Mode::Testing,
            ..enforce.clone()
        };
        let r = routes("example.com", targets.clone(), Some(&testing)).expect("all");
        assert_eq!(r.len(), 2);
        assert!(
            r.iter()
                .all(|r| r.tls == RelayTls::Opportunistic && r.tls_name.is_none())
        );
        assert_eq!(
            routes("example.com", targets.clone(), None).map(|r| r.len()),
            Ok(2)
        );
        let elsewhere = Policy {
            mx: vec!["mail.other.example".into()],
            ..enforce
        };
        let e = routes("example.com", targets, Some(&elsewhere)).expect_err("none matches");
        assert!(e.contains("MTA-STS"), "{e}");
    }
}
