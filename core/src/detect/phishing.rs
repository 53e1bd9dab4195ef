//! The phishing class: links whose visible text names another site than they lead to, links to
//! raw IP addresses, punycode and lookalike hosts of well-known brands and of the protected
//! domain, a From that imitates a brand, and credential-harvest phrasing. Each finding has a
//! severity; `high` and `critical` ones quarantine on their own, lower ones are recorded and
//! raise the others when they come together (a lookalike link in a "verify your password"
//! message is critical).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::{
    detect::{
        links::{Link, Rendered, host_of},
        lookalike::{
            BRANDS, Imitation, imitated_brand, imitates, name_label, registrable, unicode_host,
        },
    },
    message::{MessageView, domain_of},
    model::{Finding, Severity, ThreatType},
};

/// Phrasing that asks a reader to hand over credentials or act on an account.
const CREDENTIAL_PHRASES: &[&str] = &[
    "verify your account",
    "verify your identity",
    "confirm your account",
    "confirm your identity",
    "confirm your password",
    "update your password",
    "reset your password",
    "your password expires",
    "your password will expire",
    "validate your account",
    "validate your mailbox",
    "your mailbox is full",
    "mailbox quota",
    "your account has been suspended",
    "your account will be suspended",
    "your account has been locked",
    "your account will be closed",
    "account has been limited",
    "unusual sign-in activity",
    "unusual activity",
    "suspicious activity",
    "login to restore",
    "log in to restore",
    "sign in to restore",
    "update your payment information",
    "update your billing information",
    "confirm your billing",
    "enter your credentials",
    "re-enter your password",
];

fn credential_phrases() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(CREDENTIAL_PHRASES)
            .expect("the static phrase list compiles")
    })
}

fn finding(
    rule: &str,
    severity: Severity,
    field: &str,
    part: Option<u32>,
    range: Option<(u32, u32)>,
    matched: String,
) -> Finding {
    Finding {
        rule: rule.into(),
        threat_type: ThreatType::Phishing,
        field: field.into(),
        part,
        range,
        matched,
        severity,
        score: None,
    }
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// The host a link's visible text names, when the text reads as a URL or a host name.
fn host_in_text(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches('/');
    if t.is_empty() || t.contains(char::is_whitespace) {
        return None;
    }
    let host = if t.contains("://") {
        host_of(t)
    } else {
        host_of(&format!("http://{t}"))
    };
    let tld = host.rsplit('.').next().unwrap_or("");
    (host.contains('.') && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        .then_some(host)
}

fn link_finding(rule: &str, severity: Severity, l: &Link, matched: String) -> Finding {
    finding(rule, severity, "body", Some(l.part), Some(l.range), matched)
}

/// Findings that do not depend on the recipient domain.
pub fn scan(view: &MessageView<'_>, rendered: &Rendered) -> Vec<Finding> {
    let mut out = Vec::new();
    let credential = rendered
        .texts
        .iter()
        .map(|(p, t, _)| (Some(*p), t.as_str()))
        .chain(std::iter::once((None, view.subject)))
        .find_map(|(part, text)| {
            credential_phrases().find(text).map(|m| {
                (
                    part,
                    m.start(),
                    m.end(),
                    CREDENTIAL_PHRASES[m.pattern().as_usize()],
                )
            })
        });
    let has_links = !rendered.links.is_empty();
    let mut brand_of_host: std::collections::HashMap<&str, Option<(&'static str, Imitation)>> =
        std::collections::HashMap::new();
    for l in &rendered.links {
        let scheme_ok = l
            .href
            .get(..4)
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
            || l.href
                .get(..4)
                .is_some_and(|s| s.eq_ignore_ascii_case("www."));
        if !scheme_ok || l.host.is_empty() {
            continue;
        }
        if let Some(shown) = host_in_text(&l.text)
            && registrable(&shown) != registrable(&l.host)
        {
            let brand = imitated_brand(&shown).map(|b| b.0).or_else(|| {
                BRANDS.iter().find_map(|(b, genuine)| {
                    genuine
                        .contains(&registrable(&shown).as_str())
                        .then_some(*b)
                })
            });
            let severity = if brand.is_some() || credential.is_some() {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(link_finding(
                "phishing.link_text_mismatch",
                severity,
                l,
                format!("text shows {shown}, link goes to {}", l.host),
            ));
        }
        if is_ip(&l.host) {
            let severity = if credential.is_some() {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(link_finding(
                "phishing.link_to_ip",
                severity,
                l,
                l.href.clone(),
            ));
        }
        // A newsletter repeats one host dozens of times: each host is judged once.
        let verdict = match brand_of_host.get(l.host.as_str()) {
            Some(v) => *v,
            None => {
                let v = imitated_brand(&l.host);
                brand_of_host.insert(l.host.as_str(), v);
                v
            }
        };
        if let Some((brand, how)) = verdict {
            out.push(link_finding(
                "phishing.lookalike_link",
                if credential.is_some() {
                    Severity::Critical
                } else {
                    Severity::High
                },
                l,
                format!(
                    "{} imitates {brand} ({})",
                    unicode_host(&l.host),
                    how.as_str()
                ),
            ));
        } else if l.host.split('.').any(|label| label.starts_with("xn--")) {
            out.push(link_finding(
                "phishing.punycode_link",
                Severity::Medium,
                l,
                format!("{} ({})", l.host, unicode_host(&l.host)),
            ));
        }
    }
    let from_domain = domain_of(view.from_address);
    let shown_name: String = view
        .from_name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if !from_domain.is_empty() {
        if let Some((brand, how)) = imitated_brand(&from_domain) {
            out.push(finding(
                "phishing.lookalike_sender",
                Severity::High,
                "from",
                None,
                None,
                format!("{from_domain} imitates {brand} ({})", how.as_str()),
            ));
        } else if let Some((brand, genuine)) = BRANDS.iter().find(|(b, _)| shown_name.contains(b))
            && !genuine.contains(&registrable(&from_domain).as_str())
            && credential.is_some()
        {
            // "PayPal Service <alerts@random.example>" asking to confirm a password.
            out.push(finding(
                "phishing.brand_display_name",
                Severity::High,
                "from",
                None,
                None,
                format!("display name says {brand}, sender is {from_domain}"),
            ));
        }
    }
    if let Some((part, start, end, phrase)) = credential
        && has_links
    {
        let severity = if out.iter().any(|f| f.severity >= Severity::Medium) {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(finding(
            "phishing.credential_request",
            severity,
            if part.is_some() { "body" } else { "subject" },
            part,
            Some((start as u32, end as u32)),
            phrase.to_string(),
        ));
    }
    out
}

/// Findings about the recipient domain itself: links and senders imitating it.
pub fn scan_for_domain(rendered: &Rendered, protected: &str) -> Vec<Finding> {
    let label = name_label(protected);
    let genuine = registrable(protected);
    let mut out = Vec::new();
    if label.len() < 4 {
        return out;
    }
    let mut seen = std::collections::HashSet::new();
    for l in &rendered.links {
        if !seen.insert(l.host.as_str()) {
            continue;
        }
        if let Some(how) = imitates(&l.host, &label, &[genuine.as_str()]) {
            out.push(link_finding(
                "phishing.lookalike_of_protected_domain",
                Severity::Critical,
                l,
                format!(
                    "{} imitates {protected} ({})",
                    unicode_host(&l.host),
                    how.as_str()
                ),
            ));
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn findings(raw: &str, protected: &str) -> Vec<Finding> {
        let msg = parse(raw.as_bytes()).expect("parses");
        let view = MessageView::new(&msg, "");
        let rendered = Rendered::of(&view);
        let mut f = scan(&view, &rendered);
        f.extend(scan_for_domain(&rendered, protected));
        f
    }

    fn html(from: &str, subject: &str, body: &str) -> String {
        format!(
            "From: {from}\r\nTo: u@acme.example\r\nSubject: {subject}\r\nContent-Type: text/html\r\n\r\n<html><body>{body}</body></html>\r\n"
        )
    }

    fn rules(f: &[Finding]) -> Vec<(&str, Severity)> {
        f.iter().map(|f| (f.rule.as_str(), f.severity)).collect()
    }

    #[test]
    fn a_link_showing_one_site_and_leading_to_another() {
        let f = findings(
            &html(
                "PayPal <service@paypal.com>",
                "Receipt",
                "<a href=\"http://evil.example/x\">https://www.paypal.com/signin</a>",
            ),
            "acme.example",
        );
        assert_eq!(rules(&f), [("phishing.link_text_mismatch", Severity::High)]);
        assert_eq!(
            f[0].matched,
            "text shows www.paypal.com, link goes to evil.example"
        );
        // Text that is not a host name is not a mismatch.
        let f = findings(
            &html(
                "a@b.example",
                "x",
                "<a href=\"http://evil.example/x\">Click here</a>",
            ),
            "acme.example",
        );
        assert!(f.is_empty(), "{f:?}");
        // Same site under another host name is fine.
        let f = findings(
            &html(
                "a@b.example",
                "x",
                "<a href=\"https://click.shop.example/x\">www.shop.example</a>",
            ),
            "acme.example",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn credential_harvest_with_raw_ip_and_lookalikes() {
        let f = findings(
            &html(
                "Security <alert@mail.example>",
                "Action needed",
                "Unusual sign-in activity. Please verify your account <a href=\"http://192.0.2.44/login\">here</a>",
            ),
            "acme.example",
        );
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.link_to_ip", Severity::High)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.credential_request", Severity::High)),
            "{r:?}"
        );

        let puny = idna::domain_to_ascii("pаypal.com").expect("encodes");
        let f = findings(
            &html(
                "PayPal <service@paypa1.com>",
                "x",
                &format!(
                    "Please confirm your password at <a href=\"https://{puny}/\">our site</a>"
                ),
            ),
            "acme.example",
        );
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.lookalike_link", Severity::Critical)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.lookalike_sender", Severity::High)),
            "{r:?}"
        );
    }

    #[test]
    fn links_imitating_the_protected_domain() {
        let f = findings(
            &html(
                "a@b.example",
                "Invoice",
                "<a href=\"https://portal.acrne-billing.com/\">portal</a>",
            ),
            "acme.com",
        );
        assert_eq!(
            rules(&f),
            [("phishing.lookalike_of_protected_domain", Severity::Critical)]
        );
        let f = findings(
            &html(
                "a@b.example",
                "Invoice",
                "<a href=\"https://portal.acme.com/\">portal</a>",
            ),
            "acme.com",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn brand_in_display_name_only_counts_with_credential_phrasing() {
        let f = findings(
            &html(
                "Microsoft Teams <news@events.example>",
                "Webinar",
                "Join us <a href=\"https://events.example/\">here</a>",
            ),
            "acme.example",
        );
        assert!(f.is_empty(), "{f:?}");
        let f = findings(
            &html(
                "Microsoft Support <help@random.example>",
                "Mailbox",
                "Your mailbox is full, <a href=\"https://random.example/\">validate</a>",
            ),
            "acme.example",
        );
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.brand_display_name", Severity::High)),
            "{r:?}"
        );
    }
}
