//! Free hosting, cloud storage, form builders, URL shorteners, IPFS gateways and tunnels: the
//! places where anyone can publish a page in minutes, and where phishing keeps its landing
//! pages. The list is `hosting.txt` beside this file (one suffix per line, with its category
//! and an optional path prefix), read once. A match is one signal among others: the phishing
//! class decides what it means together with the rest of the message.

use std::{collections::HashMap, sync::OnceLock};

/// Where a link leads, when it is one of the listed places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hosted {
    /// `hosting`, `storage`, `forms`, `shortener`, `ipfs` or `tunnel`.
    pub category: &'static str,
    /// The listed suffix that matched.
    pub suffix: &'static str,
}

const LIST: &str = include_str!("hosting.txt");

/// Suffix → (category, path prefixes; empty: any path).
fn table() -> &'static HashMap<&'static str, Vec<(&'static str, &'static str)>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<(&'static str, &'static str)>>> =
        OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<&'static str, Vec<(&'static str, &'static str)>> = HashMap::new();
        for line in LIST.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(category), Some(suffix)) = (cols.next(), cols.next()) else {
                continue;
            };
            let path = cols.next().unwrap_or("");
            t.entry(suffix).or_default().push((category, path));
        }
        t
    })
}

/// The listed place a link (`host` lower-cased, `href` as written) leads to, if any. The most
/// specific entry wins (`docs.google.com/forms` is a form, the rest of the host storage).
pub fn hosted(host: &str, href: &str) -> Option<Hosted> {
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    let path = path_of(href);
    let t = table();
    // The host, then each parent domain.
    let mut candidate = host;
    loop {
        if let Some(entries) = t.get(candidate) {
            let best = entries
                .iter()
                .filter(|(_, prefix)| {
                    prefix.is_empty()
                        || path
                            .get(..prefix.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                })
                .max_by_key(|(_, prefix)| prefix.len());
            if let Some((category, _)) = best {
                let suffix = t.get_key_value(candidate).map_or("", |(k, _)| *k);
                return Some(Hosted { category, suffix });
            }
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') || t.contains_key(parent) => {
                candidate = parent;
            }
            _ => return None,
        }
    }
}

/// The path of a URL (`/…`), empty when it has none.
fn path_of(href: &str) -> &str {
    let rest = href.split_once("://").map_or(href, |(_, r)| r);
    match rest.find(['/', '?', '#']) {
        Some(i) if rest.as_bytes()[i] == b'/' => {
            let p = &rest[i..];
            p.split(['?', '#']).next().unwrap_or(p)
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_match_hosts_and_their_subdomains_only() {
        let h = hosted("login-secure.web.app", "https://login-secure.web.app/x").expect("web.app");
        assert_eq!((h.category, h.suffix), ("hosting", "web.app"));
        assert_eq!(
            hosted("bit.ly", "https://bit.ly/abc").map(|h| h.category),
            Some("shortener")
        );
        assert_eq!(
            hosted("pub-1234.r2.dev", "https://pub-1234.r2.dev/a.html").map(|h| h.category),
            Some("hosting")
        );
        assert!(hosted("notweb.app.example", "https://notweb.app.example/").is_none());
        assert!(hosted("myweb.app", "https://myweb.app/").is_none());
        assert!(hosted("acme.example", "https://acme.example/").is_none());
        assert!(hosted("", "").is_none());
    }

    #[test]
    fn a_path_prefix_makes_an_entry_more_specific() {
        assert_eq!(
            hosted(
                "docs.google.com",
                "https://docs.google.com/forms/d/e/x/viewform"
            )
            .map(|h| h.category),
            Some("forms")
        );
        assert_eq!(
            hosted("docs.google.com", "https://docs.google.com/document/d/x").map(|h| h.category),
            Some("storage")
        );
        assert_eq!(
            hosted("www.icloud.com", "https://www.icloud.com/iclouddrive/x").map(|h| h.category),
            Some("storage")
        );
        assert!(hosted("www.icloud.com", "https://www.icloud.com/mail").is_none());
    }

    #[test]
    fn every_line_of_the_list_reads() {
        for line in LIST
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(
                (2..=3).contains(&cols.len()),
                "{line:?}: category<TAB>suffix[<TAB>path]"
            );
            assert!(
                ["hosting", "storage", "forms", "shortener", "ipfs", "tunnel"].contains(&cols[0]),
                "{line:?}"
            );
            assert_eq!(cols[1], cols[1].to_ascii_lowercase(), "{line:?}");
        }
    }
}
