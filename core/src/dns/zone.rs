//! A static DNS zone: records read from a file instead of the internet, for tests, labs and
//! air-gapped deployments. [`super::server`] serves it on loopback so every look-up Moat makes
//! (SPF, DKIM keys, DMARC, MX for delivery) goes through the same resolver code as in production.
//!
//! The file has one record per line, `#` starts a comment:
//!
//! ```text
//! example.com.            TXT   "v=spf1 ip4:192.0.2.0/24 -all"
//! sel._domainkey.example.com 300 TXT "v=DKIM1; k=rsa; " "p=MIIBIjAN..."
//! mail.example.com        A     192.0.2.10
//! mail.example.com        AAAA  2001:db8::10
//! example.com             MX    10 mail.example.com
//! 10.2.0.192.in-addr.arpa PTR   mail.example.com
//! www.example.com         CNAME example.com
//! slow.example.com        TIMEOUT
//! ```
//!
//! The TTL is optional (default 300). A TXT record is one or more quoted strings (`\"`, `\\`
//! and `\DDD` decimal escapes as in RFC 1035 zone files). `TIMEOUT` makes the server ignore
//! queries for the name of every type it has no record of, so a resolver's time-out path can be
//! tested. A name that is not in
//! the zone answers NXDOMAIN unless a longer name ends with it (an empty non-terminal answers
//! with no records, as RFC 8020 requires).

use std::{
    collections::HashMap,
    net::{Ipv4Addr, Ipv6Addr},
    path::Path,
};

use thiserror::Error;

/// One record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// The character-strings of one TXT record (raw bytes, concatenated by readers).
    Txt(Vec<Vec<u8>>),
    Mx(u16, String),
    Ptr(String),
    Cname(String),
    /// Queries for this name are never answered.
    Timeout,
}

impl ZoneData {
    /// The record type name used in zone files.
    pub fn type_name(&self) -> &'static str {
        match self {
            ZoneData::A(_) => "A",
            ZoneData::Aaaa(_) => "AAAA",
            ZoneData::Txt(_) => "TXT",
            ZoneData::Mx(..) => "MX",
            ZoneData::Ptr(_) => "PTR",
            ZoneData::Cname(_) => "CNAME",
            ZoneData::Timeout => "TIMEOUT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    pub ttl: u32,
    pub data: ZoneData,
}

/// What the zone says about a name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The chain of names followed through CNAMEs (first is the queried name) and the records.
    Records(Vec<(String, &'a ZoneRecord)>),
    /// The name exists but has no record of this type.
    NoData,
    NxDomain,
    /// Do not answer.
    Timeout,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ZoneError {
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("cannot read zone file {path}: {reason}")]
    Io { path: String, reason: String },
}

/// Records by lower-case name without the trailing dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zone {
    names: HashMap<String, Vec<ZoneRecord>>,
}

/// The canonical key of a domain name: lower case, no trailing dot.
pub fn zone_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

const DEFAULT_TTL: u32 = 300;
/// CNAME chains longer than this answer with what was found (resolvers stop at 8 or so).
const MAX_CNAME_CHAIN: usize = 8;

impl Zone {
    pub fn new() -> Self {
        Zone::default()
    }

    pub fn insert(&mut self, name: &str, ttl: u32, data: ZoneData) {
        self.names
            .entry(zone_key(name))
            .or_default()
            .push(ZoneRecord { ttl, data });
    }

    pub fn len(&self) -> usize {
        self.names.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn load(path: &Path) -> Result<Zone, ZoneError> {
        let text = std::fs::read_to_string(path).map_err(|e| ZoneError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Zone::parse(&text)
    }

    /// Parses zone-file text (format in the module documentation).
    pub fn parse(text: &str) -> Result<Zone, ZoneError> {
        let mut zone = Zone::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let err = |reason: &str| ZoneError::Syntax {
                line: line_no,
                reason: reason.to_string(),
            };
            let content = strip_comment(line);
            let mut rest = content.trim();
            if rest.is_empty() {
                continue;
            }
            let name = next_word(&mut rest).ok_or_else(|| err("missing name"))?;
            let mut word = next_word(&mut rest).ok_or_else(|| err("missing type"))?;
            let mut ttl = DEFAULT_TTL;
            if let Ok(t) = word.parse::<u32>() {
                ttl = t;
                word = next_word(&mut rest).ok_or_else(|| err("missing type"))?;
            }
            let data = match word.to_ascii_uppercase().as_str() {
                "A" => ZoneData::A(rest.trim().parse().map_err(|_| err("bad IPv4 address"))?),
                "AAAA" => ZoneData::Aaaa(rest.trim().parse().map_err(|_| err("bad IPv6 address"))?),
                "TXT" => ZoneData::Txt(parse_strings(rest).map_err(|r| err(&r))?),
                "MX" => {
                    let pref = next_word(&mut rest)
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| err("MX needs a preference"))?;
                    let host = next_word(&mut rest).ok_or_else(|| err("MX needs a host"))?;
                    ZoneData::Mx(pref, host.to_string())
                }
                "PTR" => ZoneData::Ptr(
                    next_word(&mut rest)
                        .ok_or_else(|| err("PTR needs a name"))?
                        .to_string(),
                ),
                "CNAME" => ZoneData::Cname(
                    next_word(&mut rest)
                        .ok_or_else(|| err("CNAME needs a name"))?
                        .to_string(),
                ),
                "TIMEOUT" => ZoneData::Timeout,
                other => return Err(err(&format!("unsupported record type {other}"))),
            };
            zone.insert(name, ttl, data);
        }
        Ok(zone)
    }

    fn exists(&self, key: &str) -> bool {
        self.names.contains_key(key) || {
            let suffix = format!(".{key}");
            self.names.keys().any(|k| k.ends_with(&suffix))
        }
    }

    /// Answers a query for `name` of type `rtype` (a zone-file type name, e.g. `TXT`).
    pub fn lookup(&self, name: &str, rtype: &str) -> Answer<'_> {
        let mut key = zone_key(name);
        let mut chain = Vec::new();
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(records) = self.names.get(&key) else {
                if chain.is_empty() {
                    return if self.exists(&key) {
                        Answer::NoData
                    } else {
                        Answer::NxDomain
                    };
                }
                return Answer::Records(chain);
            };
            let times_out = records.iter().any(|r| r.data == ZoneData::Timeout);
            if times_out && !records.iter().any(|r| r.data.type_name() == rtype) {
                return Answer::Timeout;
            }
            let cname = records.iter().find_map(|r| match &r.data {
                ZoneData::Cname(target) if rtype != "CNAME" => Some((r, target)),
                _ => None,
            });
            if let Some((record, target)) = cname {
                chain.push((key.clone(), record));
                key = zone_key(target);
                continue;
            }
            chain.extend(
                records
                    .iter()
                    .filter(|r| r.data.type_name() == rtype)
                    .map(|r| (key.clone(), r)),
            );
            return if chain.is_empty() {
                Answer::NoData
            } else {
                Answer::Records(chain)
            };
        }
        Answer::Records(chain)
    }
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn next_word<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    let (word, tail) = s.split_at(end);
    *rest = tail;
    Some(word)
}

/// Parses `"a" "b\"c" "\255"` into raw byte strings.
fn parse_strings(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let bytes = text.trim().as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                let mut s = Vec::new();
                loop {
                    match bytes.get(i) {
                        None => return Err("unterminated string".into()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes
                                .get(i + 1..i + 4)
                                .filter(|d| d.iter().all(u8::is_ascii_digit));
                            if let Some(d) = digits {
                                let v: u32 =
                                    d.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
                                let byte = u8::try_from(v)
                                    .map_err(|_| format!("escape \\{v} is over 255"))?;
                                s.push(byte);
                                i += 4;
                            } else {
                                let c = bytes.get(i + 1).ok_or("dangling backslash")?;
                                s.push(*c);
                                i += 2;
                            }
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                if s.len() > 255 {
                    return Err("a TXT string is at most 255 bytes; split it".into());
                }
                out.push(s);
            }
            _ => return Err("TXT data must be quoted strings".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_record_type() {
        let zone = Zone::parse(
            r#"
# a comment
Example.COM.  TXT "v=spf1 " "-all"  # trailing comment
k._domainkey.example.com 60 TXT "p=a\"b\\c\059"
mail.example.com A 192.0.2.1
mail.example.com AAAA 2001:db8::1
example.com MX 10 mail.example.com
1.2.0.192.in-addr.arpa PTR mail.example.com
www.example.com CNAME example.com
slow.example.com TIMEOUT
"#,
        )
        .expect("parses");
        assert_eq!(zone.len(), 8);
        let Answer::Records(txt) = zone.lookup("example.com.", "TXT") else {
            panic!("no TXT");
        };
        assert_eq!(
            txt[0].1.data,
            ZoneData::Txt(vec![b"v=spf1 ".to_vec(), b"-all".to_vec()])
        );
        let Answer::Records(key) = zone.lookup("K._domainkey.example.com", "TXT") else {
            panic!("no key");
        };
        assert_eq!(key[0].1.ttl, 60);
        assert_eq!(key[0].1.data, ZoneData::Txt(vec![b"p=a\"b\\c;".to_vec()]));
        let Answer::Records(via) = zone.lookup("www.example.com", "MX") else {
            panic!("no MX via CNAME");
        };
        assert_eq!(via.len(), 2);
        assert_eq!(via[1].1.data, ZoneData::Mx(10, "mail.example.com".into()));
        assert_eq!(zone.lookup("slow.example.com", "A"), Answer::Timeout);
        let mut partial = Zone::new();
        partial.insert("p.example", 300, ZoneData::Timeout);
        partial.insert(
            "p.example",
            300,
            ZoneData::A("192.0.2.1".parse().expect("ip")),
        );
        assert!(matches!(
            partial.lookup("p.example", "A"),
            Answer::Records(_)
        ));
        assert_eq!(partial.lookup("p.example", "TXT"), Answer::Timeout);
        assert_eq!(zone.lookup("example.com", "A"), Answer::NoData);
        assert_eq!(zone.lookup("_domainkey.example.com", "TXT"), Answer::NoData);
        assert_eq!(zone.lookup("nope.example.com", "TXT"), Answer::NxDomain);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = Zone::parse("a.example A 1.2.3.4\nb.example A nope\n").expect_err("bad");
        assert_eq!(
            err,
            ZoneError::Syntax {
                line: 2,
                reason: "bad IPv4 address".into()
            }
        );
        assert!(Zone::parse("x TXT unquoted").is_err());
        assert!(Zone::parse("x TXT \"open").is_err());
        assert!(Zone::parse("x SRV 1 2 3 y").is_err());
        assert!(Zone::parse("x TXT \"\\999\"").is_err());
    }
}
