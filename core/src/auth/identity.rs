//! Who a message claims to be from (RFC 5322 From), computed once from the raw header bytes,
//! strictly. DMARC is only as good as this answer: two From fields, two author domains, a
//! header name with a space before its colon, or an address that exists only after decoding an
//! RFC 2047 word are each read differently by different software, so none of them may yield a
//! DMARC pass (reliability checklist, section H).

use mail_parser::{Address, HeaderValue, parsers::MessageStream};

/// Why the author identity cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromProblem {
    /// No From field (RFC 5322 requires exactly one).
    Missing,
    /// A From field whose value has no usable address (`From: john`).
    Unparsable,
    /// More than one From field.
    Multiple,
    /// One From field naming mailboxes in different domains.
    MultipleDomains,
    /// A header name that some readers take for From and others do not (`From :`, a
    /// first header line that starts with white space).
    MalformedName,
    /// The address only appears after decoding an encoded-word, or holds characters no
    /// address may (RFC 2047 section 5 forbids encoded-words in an addr-spec).
    EncodedAddress,
}

impl FromProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            FromProblem::Missing => "no From header",
            FromProblem::Unparsable => "From header has no valid address",
            FromProblem::Multiple => "more than one From header",
            FromProblem::MultipleDomains => "From header names mailboxes in different domains",
            FromProblem::MalformedName => "malformed From header name",
            FromProblem::EncodedAddress => "encoded or invalid characters in the From address",
        }
    }

    /// Problems that mean there is no author at all (rejected), rather than an ambiguous one
    /// (quarantined).
    pub fn is_missing(self) -> bool {
        matches!(self, FromProblem::Missing | FromProblem::Unparsable)
    }
}

/// The author identity of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// Lower-case addresses of the From field (one, unless `problem` says otherwise).
    pub addresses: Vec<String>,
    /// The author domain DMARC is evaluated for; empty when there is none.
    pub domain: String,
    pub problem: Option<FromProblem>,
}

fn addresses_of(value: &HeaderValue<'_>) -> Vec<String> {
    let lower = |a: &mail_parser::Addr<'_>| a.address.as_ref().map(|s| s.to_lowercase());
    match value {
        HeaderValue::Address(Address::List(list)) => list.iter().filter_map(lower).collect(),
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter().filter_map(lower))
            .collect(),
        _ => Vec::new(),
    }
}

fn valid_address(address: &str, raw_value: &[u8]) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let raw_lower = raw_value.to_ascii_lowercase();
    !local.is_empty()
        && !domain.is_empty()
        && !address.contains("=?")
        && !address.chars().any(|c| c.is_control() || c.is_whitespace())
        && local.matches('@').count() == 0
        // The domain must be written in the header, not produced by decoding.
        && memchr::memmem::find(&raw_lower, domain.as_bytes()).is_some()
}

/// Reads the author identity of a raw message.
pub fn author(raw: &[u8]) -> Author {
    let scan = super::headers::scan(raw);
    let leading_ws = scan.leading_whitespace;
    let mut problem = None;
    let mut from_values = Vec::new();
    for field in &scan.fields {
        let (name, value) = (field.name(raw), field.value(raw));
        let trimmed = name.trim_ascii();
        if !trimmed.eq_ignore_ascii_case(b"from") {
            continue;
        }
        if trimmed.len() != name.len() {
            problem = Some(FromProblem::MalformedName);
        }
        from_values.push(value);
    }
    if leading_ws {
        problem = problem.or(Some(FromProblem::MalformedName));
    }
    let mut addresses = Vec::new();
    for value in &from_values {
        let parsed = MessageStream::new(value).parse_address();
        let found = addresses_of(&parsed);
        if found.iter().any(|a| !valid_address(a, value)) {
            problem = problem.or(Some(FromProblem::EncodedAddress));
        }
        addresses.extend(found);
    }
    let problem = match from_values.len() {
        0 => Some(FromProblem::Missing),
        1 if addresses.is_empty() => Some(FromProblem::Unparsable),
        1 => problem,
        _ => problem.or(Some(FromProblem::Multiple)),
    };
    let mut domains: Vec<String> = addresses
        .iter()
        .filter_map(|a| {
            a.rsplit_once('@')
                .map(|(_, d)| d.trim_end_matches('.').to_string())
        })
        .collect();
    domains.dedup();
    let problem = match problem {
        None if domains.len() > 1 => Some(FromProblem::MultipleDomains),
        p => p,
    };
    Author {
        domain: domains.first().cloned().unwrap_or_default(),
        addresses,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(headers: &str) -> Option<FromProblem> {
        author(format!("{headers}\r\nbody\r\n").as_bytes()).problem
    }

    #[test]
    fn one_plain_from_is_the_author() {
        let a = author(b"Subject: x\r\nFrom: \"Boss\" <Boss@Example.COM>\r\n\r\nbody\r\n");
        assert_eq!(a.problem, None);
        assert_eq!(a.domain, "example.com");
        assert_eq!(a.addresses, vec!["boss@example.com".to_string()]);
        // Case of the name and a tab after the colon are fine (HDR-4).
        assert_eq!(problem("FROM:\tx@example.com\r\n"), None);
        // Folded values are one field.
        assert_eq!(problem("From: Someone\r\n <x@example.com>\r\n"), None);
    }

    #[test]
    fn section_h_ambiguities_are_problems() {
        // HDR-1: two From fields.
        assert_eq!(
            problem("From: a@victim.example\r\nFrom: b@evil.example\r\n"),
            Some(FromProblem::Multiple)
        );
        // HDR-2: one field, two domains.
        assert_eq!(
            problem("From: a@victim.example, b@evil.example\r\n"),
            Some(FromProblem::MultipleDomains)
        );
        // HDR-3: none, or no address.
        assert_eq!(problem("Subject: hi\r\n"), Some(FromProblem::Missing));
        assert_eq!(problem("From: john\r\n"), Some(FromProblem::Unparsable));
        // HDR-4: name variants.
        assert_eq!(
            problem("From : a@victim.example\r\n"),
            Some(FromProblem::MalformedName)
        );
        assert_eq!(
            problem(" From: a@victim.example\r\nSubject: x\r\n"),
            Some(FromProblem::MalformedName)
        );
        // HDR-5: an encoded-word inside the address.
        assert_eq!(
            problem("From: =?utf-8?B?Y2VvQHZpY3RpbS5leGFtcGxl?=@evil.example\r\n"),
            Some(FromProblem::EncodedAddress)
        );
        // An angle address that is only an encoded-word has no address at all.
        assert_eq!(
            problem("From: <=?utf-8?Q?ceo=40victim.example?=>\r\n"),
            Some(FromProblem::Unparsable)
        );
    }

    #[test]
    fn quote_and_route_tricks_resolve_to_the_true_domain() {
        // HDR-7: the DMARC domain is the addr-spec's, whatever surrounds it.
        for from in [
            "From: <@victim.example:x@evil.example>",
            "From: x@evil.example(victim.example)",
            "From: \"ceo@victim.example\" <x@evil.example>",
        ] {
            let a = author(format!("{from}\r\n\r\nbody\r\n").as_bytes());
            assert_eq!(a.domain, "evil.example", "{from}: {a:?}");
        }
        // A Mailsploit-style NUL in the display name does not cut the address.
        let a = author(b"From: =?utf-8?Q?ceo=00?= <x@evil.example>\r\n\r\n");
        assert_eq!(a.domain, "evil.example");
    }
}
