//! An SPF record read to the letter of RFC 7208 4.6 and 12 (ABNF): any term that does not
//! parse makes the whole record a `permerror`, even when an earlier mechanism would match.
//! Lenient readers skip or truncate a bad term and evaluate the rest, so a malformed record
//! can authorise mail; this one never does.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a record is a `permerror`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("a character outside printable ASCII (terms are separated by spaces only)")]
    Charset,
    #[error("unknown mechanism {0:?}")]
    UnknownMechanism(String),
    #[error("mechanism {0} takes no argument here: {1:?}")]
    BadArgument(&'static str, String),
    #[error("{0}: the domain is missing")]
    MissingDomain(&'static str),
    #[error("bad CIDR length {0:?}")]
    Cidr(String),
    #[error("bad IP network {0:?}")]
    Network(String),
    #[error("bad macro in {0:?}")]
    Macro(String),
    #[error("{0:?} does not end in a valid top-level label or a macro")]
    DomainEnd(String),
    #[error("bad modifier {0:?}")]
    Modifier(String),
    #[error("modifier {0} appears twice")]
    DuplicateModifier(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// One piece of a macro-string (RFC 7208 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// `%%`, `%_`, `%-`: a percent sign, a space, `%20`.
    Escape(&'static str),
    Macro {
        /// Lower-case letter: s l o d i p h v (c r t in explanations).
        letter: char,
        /// Upper-case letter: the value is URL-escaped.
        escape: bool,
        /// Keep this many right-hand parts.
        keep: Option<usize>,
        reverse: bool,
        /// Split at these (default `.`).
        delimiters: String,
    },
}

/// A macro-string: what a domain-spec or modifier value is before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(MacroString),
    A {
        domain: Option<MacroString>,
        v4: u8,
        v6: u8,
    },
    Mx {
        domain: Option<MacroString>,
        v4: u8,
        v6: u8,
    },
    Ptr(Option<MacroString>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(MacroString),
}

impl Mechanism {
    /// Mechanisms (and `redirect`) that cost DNS queries count towards the limit of 10.
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub directives: Vec<Directive>,
    pub redirect: Option<MacroString>,
    pub explanation: Option<MacroString>,
}

/// Whether a TXT record's text is an SPF record: `v=spf1` (any case) alone or followed by a
/// space (RFC 7208 4.5).
pub fn is_spf(text: &[u8]) -> bool {
    text.len() >= 6
        && text[..6].eq_ignore_ascii_case(b"v=spf1")
        && (text.len() == 6 || text[6] == b' ')
}

/// Parses a whole record (its text starts with `v=spf1`).
pub fn parse(text: &[u8]) -> Result<Record, SyntaxError> {
    if text.iter().any(|b| !(0x20..=0x7e).contains(b)) {
        return Err(SyntaxError::Charset);
    }
    // Checked above: ASCII.
    let text = std::str::from_utf8(&text[6..]).map_err(|_| SyntaxError::Charset)?;
    let mut record = Record::default();
    for term in text.split(' ').filter(|t| !t.is_empty()) {
        if let Some((name, value)) = modifier(term)? {
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "redirect" => {
                    if record.redirect.is_some() {
                        return Err(SyntaxError::DuplicateModifier("redirect"));
                    }
                    record.redirect = Some(domain_spec(value, false)?);
                }
                "exp" => {
                    if record.explanation.is_some() {
                        return Err(SyntaxError::DuplicateModifier("exp"));
                    }
                    record.explanation = Some(domain_spec(value, false)?);
                }
                // Unknown modifiers are ignored, but their value must be a macro-string.
                _ => {
                    macro_string(value, false)?;
                }
            }
            continue;
        }
        record.directives.push(directive(term)?);
    }
    Ok(record)
}

/// `name=value` when `term` is a modifier; an `=` after something that is not a name is a
/// syntax error unless the term is a mechanism whose argument holds the `=`.
fn modifier(term: &str) -> Result<Option<(&str, &str)>, SyntaxError> {
    let Some((name, value)) = term.split_once('=') else {
        return Ok(None);
    };
    let is_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if is_name {
        return Ok(Some((name, value)));
    }
    // `a:x=y` is a mechanism with `=` in its domain-spec; `=x` or `1a=x` is nothing.
    if name.contains(':') || name.contains('/') {
        return Ok(None);
    }
    Err(SyntaxError::Modifier(term.to_string()))
}

fn directive(term: &str) -> Result<Directive, SyntaxError> {
    let (qualifier, rest) = match term.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &term[1..]),
        b'-' => (Qualifier::Fail, &term[1..]),
        b'~' => (Qualifier::SoftFail, &term[1..]),
        b'?' => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let end = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, arg) = rest.split_at(end);
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if arg.is_empty() => Mechanism::All,
        "all" => return Err(SyntaxError::BadArgument("all", arg.to_string())),
        "include" => Mechanism::Include(required_domain("include", arg)?),
        "exists" => Mechanism::Exists(required_domain("exists", arg)?),
        "ptr" => Mechanism::Ptr(match arg {
            "" => None,
            _ => Some(required_domain("ptr", arg)?),
        }),
        "a" | "mx" => {
            let (domain, v4, v6) = domain_and_cidr(arg)?;
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A { domain, v4, v6 }
            } else {
                Mechanism::Mx { domain, v4, v6 }
            }
        }
        "ip4" => {
            let net = arg
                .strip_prefix(':')
                .ok_or_else(|| SyntaxError::Network(arg.to_string()))?;
            let (addr, len) = match net.split_once('/') {
                Some((a, l)) => (a, cidr(l, 32)?),
                None => (net, 32),
            };
            Mechanism::Ip4(ip4_network(addr)?, len)
        }
        "ip6" => {
            let net = arg
                .strip_prefix(':')
                .ok_or_else(|| SyntaxError::Network(arg.to_string()))?;
            let (addr, len) = match net.split_once('/') {
                Some((a, l)) => (a, cidr(l, 128)?),
                None => (net, 128),
            };
            let addr: Ipv6Addr = addr
                .parse()
                .map_err(|_| SyntaxError::Network(net.to_string()))?;
            Mechanism::Ip6(addr, len)
        }
        _ => return Err(SyntaxError::UnknownMechanism(term.to_string())),
    };
    Ok(Directive {
        qualifier,
        mechanism,
    })
}

fn required_domain(mechanism: &'static str, arg: &str) -> Result<MacroString, SyntaxError> {
    match arg.strip_prefix(':') {
        Some(spec) if !spec.is_empty() => domain_spec(spec, false),
        _ => Err(SyntaxError::MissingDomain(mechanism)),
    }
}

/// `[":" domain-spec] [dual-cidr-length]` of `a` and `mx`. A `/` inside the domain-spec is a
/// literal: only a trailing `/digits` or `//digits` is a prefix length.
fn domain_and_cidr(arg: &str) -> Result<(Option<MacroString>, u8, u8), SyntaxError> {
    let (spec, cidrs) = match arg.strip_prefix(':') {
        Some(spec) => {
            let mut body = spec;
            let mut tail_start = spec.len();
            if let Some(at) = body.rfind("//")
                && is_digits(&body[at + 2..])
            {
                tail_start = at;
                body = &body[..at];
            }
            if let Some(at) = body.rfind('/')
                && is_digits(&body[at + 1..])
            {
                tail_start = at;
            }
            (Some(&spec[..tail_start]), &spec[tail_start..])
        }
        None => (None, arg),
    };
    let (v4, v6) = dual_cidr(cidrs)?;
    let domain = match spec {
        Some("") => return Err(SyntaxError::MissingDomain("a/mx")),
        Some(s) => Some(domain_spec(s, false)?),
        None => None,
    };
    Ok((domain, v4, v6))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `[ip4-cidr-length] ["/" ip6-cidr-length]`, e.g. `/24`, `//64`, `/24//64`.
fn dual_cidr(s: &str) -> Result<(u8, u8), SyntaxError> {
    if s.is_empty() {
        return Ok((32, 128));
    }
    if let Some(v6) = s.strip_prefix("//") {
        return Ok((32, cidr(v6, 128)?));
    }
    let Some(rest) = s.strip_prefix('/') else {
        return Err(SyntaxError::Cidr(s.to_string()));
    };
    match rest.split_once("//") {
        Some((v4, v6)) => Ok((cidr(v4, 32)?, cidr(v6, 128)?)),
        None => Ok((cidr(rest, 32)?, 128)),
    }
}

/// A prefix length: `0`, or digits without a leading zero, at most `max`.
fn cidr(s: &str, max: u8) -> Result<u8, SyntaxError> {
    let bad = || SyntaxError::Cidr(s.to_string());
    if !is_digits(s) || (s.len() > 1 && s.starts_with('0')) || s.len() > 3 {
        return Err(bad());
    }
    let n: u8 = s.parse().map_err(|_| bad())?;
    if n > max {
        return Err(bad());
    }
    Ok(n)
}

/// A dotted quad with no leading zeros (RFC 7208 `qnum`).
fn ip4_network(s: &str) -> Result<Ipv4Addr, SyntaxError> {
    let bad = || SyntaxError::Network(s.to_string());
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4
        || parts
            .iter()
            .any(|p| !is_digits(p) || p.len() > 3 || (p.len() > 1 && p.starts_with('0')))
    {
        return Err(bad());
    }
    s.parse().map_err(|_| bad())
}

/// A domain-spec: a macro-string that ends in a macro or in `.toplabel` (optionally `.`).
pub fn domain_spec(s: &str, explanation: bool) -> Result<MacroString, SyntaxError> {
    let ms = macro_string(s, explanation)?;
    match ms.0.last() {
        Some(Piece::Macro { .. }) | Some(Piece::Escape(_)) => return Ok(ms),
        Some(Piece::Literal(tail)) => {
            let tail = tail.strip_suffix('.').unwrap_or(tail);
            if let Some((_, top)) = tail.rsplit_once('.')
                && is_toplabel(top)
            {
                return Ok(ms);
            }
        }
        None => {}
    }
    Err(SyntaxError::DomainEnd(s.to_string()))
}

/// RFC 7208 `toplabel`: letters, digits and inner hyphens, not all digits (a hyphenated
/// all-digit label is allowed by the grammar's second form).
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().any(|c| c.is_ascii_alphabetic() || *c == b'-')
}

/// RFC 7208 7.1 `macro-string`. `explanation` allows the letters c, r and t.
pub fn macro_string(s: &str, explanation: bool) -> Result<MacroString, SyntaxError> {
    let bad = || SyntaxError::Macro(s.to_string());
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            let visible = ('\x21'..='\x7e').contains(&c);
            if !(visible || (c == ' ' && explanation)) {
                return Err(bad());
            }
            literal.push(c);
            continue;
        }
        let piece = match chars.next() {
            Some('%') => Piece::Escape("%"),
            Some('_') => Piece::Escape(" "),
            Some('-') => Piece::Escape("%20"),
            Some('{') => {
                let letter = chars.next().ok_or_else(bad)?;
                let lower = letter.to_ascii_lowercase();
                let allowed = matches!(lower, 's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'v')
                    || (explanation && matches!(lower, 'c' | 'r' | 't'));
                if !allowed {
                    return Err(bad());
                }
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let reverse = chars.next_if(|c| c.eq_ignore_ascii_case(&'r')).is_some();
                let mut delimiters = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(d) if ".-+,/_=".contains(d) => delimiters.push(d),
                        _ => return Err(bad()),
                    }
                }
                let keep = match digits.as_str() {
                    "" => None,
                    d => {
                        // RFC 7208 7.3: a DIGIT transformer must be nonzero; a huge one keeps
                        // every part.
                        let n: usize = d.parse().unwrap_or(usize::MAX);
                        if n == 0 {
                            return Err(bad());
                        }
                        Some(n)
                    }
                };
                Piece::Macro {
                    letter: lower,
                    escape: letter.is_ascii_uppercase(),
                    keep,
                    reverse,
                    delimiters,
                }
            }
            _ => return Err(bad()),
        };
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(piece);
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(MacroString(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Record, SyntaxError> {
        parse(s.as_bytes())
    }

    #[test]
    fn records_parse_strictly() {
        let r = p("v=spf1 ip4:192.0.2.0/24 a:mail.%{d}/24//64 -mx ~all redirect=_spf.example.com")
            .expect("valid");
        assert_eq!(r.directives.len(), 4);
        assert_eq!(
            r.directives[0].mechanism,
            Mechanism::Ip4(Ipv4Addr::new(192, 0, 2, 0), 24)
        );
        assert!(matches!(
            r.directives[1].mechanism,
            Mechanism::A { v4: 24, v6: 64, .. }
        ));
        assert_eq!(r.directives[2].qualifier, Qualifier::Fail);
        assert!(r.redirect.is_some());
        // A colon and a slash inside a domain-spec are literals.
        let r = p("v=spf1 a:foo:bar/baz.example.com").expect("valid");
        assert!(matches!(
            r.directives[0].mechanism,
            Mechanism::A { v4: 32, .. }
        ));
        for bad in [
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip6::1/129",
            "v=spf1 ip4:1.2.3",
            "v=spf1 a:111.222.33.44",
            "v=spf1 a:museum",
            "v=spf1 a/",
            "v=spf1 foo",
            "v=spf1 =bar",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 exists:%{x}.example.com",
            "v=spf1 include:%{d0}.example.com",
            "v=spf1 a:\u{e9}.example.com",
            "v=spf1 ip4:1.2.3.4\t-all",
            "v=spf1 -all exp=",
        ] {
            assert!(p(bad).is_err(), "{bad} parsed");
        }
        assert!(p("v=spf1 -all moo.cow-2_3=fooey").is_ok());
        assert!(is_spf(b"V=SPF1") && is_spf(b"v=spf1 -all") && !is_spf(b"v=spf10"));
    }
}
