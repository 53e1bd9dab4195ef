//! Reputation lists (DNSBL for addresses, URIBL/DBL for domains): the client's address against
//! the configured IP lists, the HELO name, the envelope sender's domain and every link's domain
//! against the configured domain lists. A list answers an A record under its zone
//! (`2.0.0.127.zen.spamhaus.org` → `127.0.0.2`): the answer's code says what the listing is.
//! Answers in `127.255.255.0/24` are a list refusing the query (a public resolver, an
//! unregistered user, over quota): they never count as a listing and are logged, as are
//! answers outside `127.0.0.0/8`. Which codes count is each list's `codes`, or for bitmask lists
//! (SURBL, URIBL) its `mask`. This module builds the names and reads the answers; the look-ups
//! run on the authentication runtime (`crate::auth::Authenticator::reputation`), cached by TTL.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::{
    detect::lookalike::registrable,
    model::{Finding, Severity, ThreatType},
};

/// One configured list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// The list's zone (`zen.spamhaus.org`, or a DQS zone with its key).
    pub zone: String,
    /// Spam points a listing adds.
    pub score: f64,
    /// Answers that count (`127.0.0.2`…); empty: any `127.0.0.0/8` answer but refusals.
    #[serde(default)]
    pub codes: Vec<Ipv4Addr>,
    /// For bitmask lists: a listing when the answer's last octet has one of these bits.
    #[serde(default)]
    pub mask: Option<u8>,
}

/// What a list's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Listed,
    /// A code the configuration does not count.
    NotCounted,
    /// The list refused the query (`127.255.255.x`) or answered outside `127/8`.
    Refused,
}

impl ListConfig {
    /// How one answer reads under this list's configuration.
    pub fn read(&self, a: Ipv4Addr) -> Answer {
        let o = a.octets();
        if o[0] != 127 || (o[1] == 255 && o[2] == 255) {
            return Answer::Refused;
        }
        if let Some(mask) = self.mask {
            return if o[3] & mask != 0 {
                Answer::Listed
            } else {
                Answer::NotCounted
            };
        }
        if self.codes.is_empty() || self.codes.contains(&a) {
            Answer::Listed
        } else {
            Answer::NotCounted
        }
    }
}

/// The query name of an address under `zone` (IPv4 octets reversed; IPv6 nibbles reversed).
pub fn ip_query(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{zone}.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                out.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            format!("{out}{zone}.")
        }
    }
}

/// The query name of a domain under `zone`: its registrable domain (how URI lists list).
pub fn domain_query(domain: &str, zone: &str) -> Option<String> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.parse::<IpAddr>().is_ok() || !d.contains('.') {
        return None;
    }
    Some(format!(
        "{}.{}.",
        registrable(&d),
        zone.trim_end_matches('.')
    ))
}

/// Whether an address is worth asking about: public unicast (private, loopback and other
/// special-purpose addresses are never listed, and asking leaks internal topology).
pub fn worth_asking(ip: IpAddr) -> bool {
    !crate::netguard::is_internal(ip)
}

/// A finding for a listing: `what` is `client ip 192.0.2.1`, `link domain evil.example`….
pub fn finding(field: &str, list: &ListConfig, what: &str, answer: Ipv4Addr) -> Finding {
    Finding {
        rule: if field == "client_ip" {
            "reputation.ip_listed".into()
        } else {
            "reputation.domain_listed".into()
        },
        threat_type: ThreatType::Spam,
        field: field.into(),
        part: None,
        range: None,
        matched: format!("{what} is listed by {} ({answer})", list.zone),
        severity: Severity::Low,
        score: Some(list.score),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(codes: &[&str], mask: Option<u8>) -> ListConfig {
        ListConfig {
            zone: "zen.example".into(),
            score: 3.0,
            codes: codes.iter().map(|c| c.parse().expect("ip")).collect(),
            mask,
        }
    }

    #[test]
    fn names_are_built_as_lists_expect_them() {
        assert_eq!(
            ip_query("192.0.2.99".parse().expect("ip"), "zen.spamhaus.org"),
            "99.2.0.192.zen.spamhaus.org."
        );
        let v6 = ip_query("2001:db8::1".parse().expect("ip"), "bl.example.");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with(".8.b.d.0.1.0.0.2.bl.example."), "{v6}");
        assert_eq!(
            domain_query("Login.Evil.co.uk.", "dbl.example").as_deref(),
            Some("evil.co.uk.dbl.example.")
        );
        assert!(domain_query("192.0.2.1", "dbl.example").is_none());
        assert!(domain_query("localhost", "dbl.example").is_none());
        assert!(!worth_asking("10.1.2.3".parse().expect("ip")));
        assert!(worth_asking("8.8.8.8".parse().expect("ip")));
    }

    #[test]
    fn refusals_never_count_and_codes_or_masks_decide_the_rest() {
        let any = list(&[], None);
        assert_eq!(any.read("127.0.0.2".parse().expect("ip")), Answer::Listed);
        assert_eq!(
            any.read("127.255.255.254".parse().expect("ip")),
            Answer::Refused
        );
        assert_eq!(
            any.read("127.255.255.252".parse().expect("ip")),
            Answer::Refused
        );
        assert_eq!(any.read("192.0.2.1".parse().expect("ip")), Answer::Refused);
        let sbl = list(&["127.0.0.2", "127.0.0.3"], None);
        assert_eq!(
            sbl.read("127.0.0.10".parse().expect("ip")),
            Answer::NotCounted
        );
        assert_eq!(sbl.read("127.0.0.3".parse().expect("ip")), Answer::Listed);
        // URIBL: 127.0.0.1 is its refusal code; bit 2 (black) counts.
        let uribl = list(&[], Some(0b10));
        assert_eq!(
            uribl.read("127.0.0.1".parse().expect("ip")),
            Answer::NotCounted
        );
        assert_eq!(uribl.read("127.0.0.2".parse().expect("ip")), Answer::Listed);
        assert_eq!(
            uribl.read("127.0.0.14".parse().expect("ip")),
            Answer::Listed
        );
    }
}
