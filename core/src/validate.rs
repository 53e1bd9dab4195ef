//! Validation of names customers give us (domain names, relay targets), shared by the API and
//! the CLI so both refuse the same things with the same words.

/// Lower-cases and checks a DNS domain name (LDH labels, at least two labels, RFC 1035 lengths).
pub fn domain_name(input: &str) -> Result<String, String> {
    let name = input.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return Err(format!(
            "`{input}` is not a domain name (1 to 253 characters)"
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("`{input}` is not a domain name (needs a dot)"));
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-');
        if !ok {
            return Err(format!(
                "`{input}` is not a domain name (label `{l}`: letters, digits, inner hyphens, 1-63 chars; use punycode for IDNs)"
            ));
        }
    }
    Ok(name)
}

/// Checks a customer name: 1 to 100 characters of letters, digits and `. _ - @ +`. Never a
/// `:`, which the sandbox tenants' names use (`acme:test`), so no name can reach a sandbox
/// row or pass for one.
pub fn customer_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    let ok = (1..=100).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{input}` is not a customer name (1 to 100 letters, digits or . _ - @ +)"
        ))
    }
}

/// Checks a `host[:port]` relay target; returns it normalised to `host:port`.
pub fn relay_target(input: &str) -> Result<String, String> {
    let (host, port) = crate::relay::split_host_port(input.trim());
    if port == 0 {
        return Err(format!("`{input}`: port must be 1-65535"));
    }
    let host_ok = host.parse::<std::net::IpAddr>().is_ok()
        || domain_name(&host).is_ok()
        || host == "localhost";
    if !host_ok {
        return Err(format!("`{input}` is not host:port"));
    }
    if host.contains(':') {
        Ok(format!("[{host}]:{port}"))
    } else {
        Ok(format!("{host}:{port}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert_eq!(domain_name("Example.COM.").as_deref(), Ok("example.com"));
        assert!(domain_name("localhost").is_err());
        assert!(domain_name("a..b").is_err());
        assert!(domain_name("-a.b").is_err());
        assert!(domain_name("exa mple.com").is_err());
        assert!(domain_name(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn customer_names_cannot_name_a_sandbox() {
        assert_eq!(customer_name(" acme-2 ").as_deref(), Ok("acme-2"));
        assert!(customer_name("acme2:test").is_err());
        assert!(customer_name("").is_err());
        assert!(customer_name("a b").is_err());
        assert!(customer_name("a\nb").is_err());
        assert!(customer_name(&"x".repeat(101)).is_err());
    }

    #[test]
    fn relay_targets() {
        assert_eq!(
            relay_target("127.0.0.1:2526").as_deref(),
            Ok("127.0.0.1:2526")
        );
        assert_eq!(
            relay_target("mx.example.com").as_deref(),
            Ok("mx.example.com:25")
        );
        assert_eq!(relay_target("[::1]:25").as_deref(), Ok("[::1]:25"));
        assert!(relay_target("bad host:25").is_err());
        assert!(relay_target("x.com:0").is_err());
    }
}
