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
        hosting::hosted,
        links::{Link, LinkOrigin, Rendered, host_of},
        lookalike::{
            BRANDS, Imitation, imitated_brand, imitates, name_label, registrable, unicode_host,
        },
        pages::TraitKind,
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
    "sign in to view",
    "sign in to download",
    "sign in to access",
    "log in to view",
    "log in to access",
    "login to view",
    "verify your email",
    "confirm your email",
    "validate your email",
    "email password",
    "increase quota",
    "mailbox is almost full",
    "storage is full",
    "messages are on hold",
    "pending messages",
];

/// Words with which a message claims to come from an IT department or a mail system (they
/// name no company, so no sender can be genuine for them).
const DESK_WORDS: &[&str] = &[
    "help desk",
    "helpdesk",
    "it support",
    "it department",
    "it service desk",
    "service desk",
    "it team",
    "mail admin",
    "email admin",
    "mailbox admin",
    "webmail",
    "web mail",
    "system administrator",
    "systems administrator",
    "administrator",
    "postmaster",
    "mail server",
    "mail delivery system",
    "email support",
    "mail support",
    "account team",
    "security team",
    "security alert",
    "voicemail",
    "voice mail",
    "e-fax",
    "efax",
];

/// Brand names as people write them in a display name or a subject, with the brand (a key of
/// `BRANDS`) each stands for.
const BRAND_WORDS: &[(&str, &str)] = &[
    ("office 365", "microsoft"),
    ("office365", "microsoft"),
    ("microsoft 365", "microsoft"),
    ("microsoft", "microsoft"),
    ("outlook", "microsoft"),
    ("onedrive", "microsoft"),
    ("one drive", "microsoft"),
    ("sharepoint", "microsoft"),
    ("share point", "microsoft"),
    ("teams", "microsoft"),
    ("paypal", "paypal"),
    ("apple id", "apple"),
    ("apple", "apple"),
    ("icloud", "apple"),
    ("google", "google"),
    ("gmail", "google"),
    ("amazon", "amazon"),
    ("netflix", "netflix"),
    ("facebook", "facebook"),
    ("instagram", "instagram"),
    ("linkedin", "linkedin"),
    ("dropbox", "dropbox"),
    ("docusign", "docusign"),
    ("docu sign", "docusign"),
    ("wells fargo", "wellsfargo"),
    ("bank of america", "bankofamerica"),
    ("chase", "chase"),
    ("citibank", "citibank"),
    ("american express", "americanexpress"),
    ("amex", "americanexpress"),
    ("hsbc", "hsbc"),
    ("barclays", "barclays"),
    ("coinbase", "coinbase"),
    ("binance", "binance"),
    ("adobe", "adobe"),
    ("ebay", "ebay"),
    ("dhl", "dhl"),
    ("fedex", "fedex"),
    ("usps", "usps"),
    ("mcafee", "mcafee"),
    ("norton", "norton"),
    ("geek squad", "geeksquad"),
    ("lowe's", "lowes"),
    ("lowes", "lowes"),
    ("kohl's", "kohls"),
    ("costco", "costco"),
    ("walmart", "walmart"),
    ("t-mobile", "tmobile"),
    ("at&t", "att"),
    ("verizon", "verizon"),
    ("xfinity", "comcast"),
    ("comcast", "comcast"),
    ("home depot", "homedepot"),
    ("best buy", "bestbuy"),
    ("royal mail", "royalmail"),
    ("zelle", "zelle"),
    ("venmo", "venmo"),
    ("cash app", "cashapp"),
    ("capital one", "capitalone"),
    ("quickbooks", "intuit"),
    ("intuit", "intuit"),
    ("walgreens", "walgreens"),
    ("yahoo", "yahoo"),
    ("aol", "aol"),
    ("wetransfer", "wetransfer"),
    ("irs", "irs"),
    ("hmrc", "hmrc"),
];

/// The genuine domains of brands `BRAND_WORDS` names that the lookalike list (`BRANDS`) does
/// not carry (names too short or too common to judge hosts by).
const MORE_BRANDS: &[(&str, &[&str])] = &[
    ("mcafee", &["mcafee.com"]),
    ("norton", &["norton.com", "nortonlifelock.com", "gen.com"]),
    ("geeksquad", &["geeksquad.com", "bestbuy.com"]),
    ("lowes", &["lowes.com"]),
    ("kohls", &["kohls.com"]),
    ("costco", &["costco.com"]),
    ("walmart", &["walmart.com"]),
    ("tmobile", &["t-mobile.com"]),
    ("att", &["att.com", "att.net"]),
    ("verizon", &["verizon.com", "verizonwireless.com"]),
    ("comcast", &["comcast.net", "comcast.com", "xfinity.com"]),
    ("homedepot", &["homedepot.com"]),
    ("bestbuy", &["bestbuy.com"]),
    ("royalmail", &["royalmail.com", "royalmail.co.uk"]),
    ("zelle", &["zellepay.com"]),
    ("venmo", &["venmo.com"]),
    ("cashapp", &["cash.app", "square.com", "squareup.com"]),
    ("capitalone", &["capitalone.com"]),
    ("intuit", &["intuit.com", "quickbooks.com"]),
    ("walgreens", &["walgreens.com"]),
    ("yahoo", &["yahoo.com", "yahoo.co.uk", "yahoo.co.jp"]),
    ("aol", &["aol.com"]),
    ("wetransfer", &["wetransfer.com"]),
    ("irs", &["irs.gov"]),
    ("hmrc", &["hmrc.gov.uk", "gov.uk"]),
];

/// Cyrillic and Greek letters that look like Latin ones, folded to them so a display name
/// spelled with them still names its brand.
fn fold_confusables(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'а' | 'α' => 'a',
            'А' | 'Α' => 'A',
            'в' => 'b',
            'В' | 'Β' => 'B',
            'с' | 'ϲ' => 'c',
            'С' => 'C',
            'ԁ' => 'd',
            'е' | 'ε' | 'ё' => 'e',
            'Е' | 'Ε' => 'E',
            'һ' => 'h',
            'Н' | 'Η' => 'H',
            'і' | 'ι' => 'i',
            'І' | 'Ι' => 'I',
            'ј' => 'j',
            'Ј' => 'J',
            'к' | 'κ' => 'k',
            'К' | 'Κ' => 'K',
            'М' | 'Μ' => 'M',
            'Ν' => 'N',
            'о' | 'ο' | 'օ' => 'o',
            'О' | 'Ο' => 'O',
            'р' | 'ρ' => 'p',
            'Р' | 'Ρ' => 'P',
            'ѕ' => 's',
            'Ѕ' => 'S',
            'Т' | 'Τ' => 'T',
            'у' => 'y',
            'У' | 'Υ' => 'Y',
            'х' | 'χ' => 'x',
            'Х' | 'Χ' => 'X',
            'Ζ' => 'Z',
            c => c,
        })
        .collect()
}

/// A word mixing Latin letters with Cyrillic or Greek ones ("Pеnding" with a Cyrillic `е`):
/// how lures dodge word filters. Words wholly in one script (Russian, Greek) are fine.
fn mixed_script_word(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|w| {
            let latin = w.chars().any(|c| c.is_ascii_alphabetic());
            let other = w.chars().any(|c| matches!(c as u32, 0x0370..=0x052F));
            latin && other
        })
        .map(str::to_string)
}

fn desk_words() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(DESK_WORDS)
            .expect("the static word list compiles")
    })
}

fn brand_words() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(BRAND_WORDS.iter().map(|(w, _)| w))
            .expect("the static word list compiles")
    })
}

/// A whole-word match of `ac` in `text`: `(start, end, pattern index)`.
fn word_match(ac: &AhoCorasick, text: &str) -> Option<(usize, usize, usize)> {
    let bytes = text.as_bytes();
    ac.find_iter(text).find_map(|m| {
        let before = m.start().checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(m.end()).copied();
        let boundary = |b: Option<u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
        (boundary(before) && boundary(after)).then(|| (m.start(), m.end(), m.pattern().as_usize()))
    })
}

/// What the display name or subject claims the sender is, when the From domain does not back
/// the claim: `(field, words, brand or None for an IT-desk claim)`.
fn unbacked_claim(view: &MessageView<'_>) -> Option<(&'static str, String, Option<&'static str>)> {
    let from_reg = registrable(&domain_of(view.from_address));
    // A brand's own domain may call itself anything ("Microsoft account team").
    if BRANDS
        .iter()
        .chain(MORE_BRANDS)
        .any(|(_, domains)| domains.contains(&from_reg.as_str()))
    {
        return None;
    }
    for (field, text) in [("from", view.from_name), ("subject", view.subject)] {
        let text = &fold_confusables(text);
        if let Some((start, end, i)) = word_match(brand_words(), text)
            && !from_reg.is_empty()
        {
            return Some((field, text[start..end].to_string(), Some(BRAND_WORDS[i].1)));
        }
        if let Some((start, end, _)) = word_match(desk_words(), text) {
            return Some((field, text[start..end].to_string(), None));
        }
    }
    None
}

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

/// An email address in a URL's fragment (`…#bob@acme.example`, or base64 of one): how
/// credential pages pre-fill the victim's address without it reaching any server log.
fn address_in_fragment(href: &str) -> Option<String> {
    let (_, fragment) = href.split_once('#')?;
    let looks_like_address = |s: &str| {
        let s = s.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let (local, domain) = s.rsplit_once('@')?;
        (!local.is_empty()
            && domain.contains('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .then(|| s.to_string())
    };
    let candidates = fragment.split(['&', '=', '/', '?']);
    for c in candidates {
        if let Some(a) = looks_like_address(c) {
            return Some(a);
        }
        use base64::Engine;
        if c.len() >= 8
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(
                c.trim_end_matches('=').to_string()
                    + &"=".repeat((4 - c.trim_end_matches('=').len() % 4) % 4),
            )
            && let Ok(text) = String::from_utf8(bytes)
            && let Some(a) = looks_like_address(&text)
        {
            return Some(a);
        }
    }
    None
}

fn link_finding(rule: &str, severity: Severity, l: &Link, matched: String) -> Finding {
    let field = match l.origin {
        LinkOrigin::Body => "body",
        LinkOrigin::HtmlAttachment | LinkOrigin::Pdf | LinkOrigin::QrCode => "attachment",
        LinkOrigin::Nested => "forwarded_message",
    };
    finding(rule, severity, field, Some(l.part), Some(l.range), matched)
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
    let claim = unbacked_claim(view);
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
        if let Some(h) = hosted(&l.host, &l.href) {
            let severity = if credential.is_some()
                || claim.as_ref().is_some_and(|(field, _, _)| *field == "from")
            {
                Severity::High
            } else {
                Severity::Medium
            };
            let where_ = if l.origin == LinkOrigin::Body {
                String::new()
            } else {
                format!(" (in a {})", l.origin.as_str())
            };
            out.push(link_finding(
                "phishing.link_free_hosting",
                severity,
                l,
                format!("{} is {} anyone can publish on{where_}", l.host, h.category),
            ));
        }
        if l.origin == LinkOrigin::QrCode && !out.iter().any(|f| f.rule == "phishing.qr_code_link")
        {
            out.push(link_finding(
                "phishing.qr_code_link",
                Severity::Medium,
                l,
                format!("a QR code in an image leads to {}", l.host),
            ));
        }
        if let Some(address) = address_in_fragment(&l.href) {
            out.push(link_finding(
                "phishing.recipient_in_link",
                Severity::Medium,
                l,
                format!("the link carries {address} after '#' (a pre-filled sign-in page)"),
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
    if !from_domain.is_empty()
        && let Some((brand, how)) = imitated_brand(&from_domain)
    {
        out.push(finding(
            "phishing.lookalike_sender",
            Severity::High,
            "from",
            None,
            None,
            format!("{from_domain} imitates {brand} ({})", how.as_str()),
        ));
    }
    for (field, text) in [("from", view.from_name), ("subject", view.subject)] {
        if let Some(word) = mixed_script_word(text) {
            out.push(finding(
                "phishing.mixed_script",
                Severity::Medium,
                field,
                None,
                None,
                format!("\"{word}\" mixes Latin with Cyrillic or Greek letters"),
            ));
            break;
        }
    }
    for t in &rendered.traits {
        // An attachment opens in a browser, with its forms and scripts; a body is shown by a
        // mail client that runs no script, and newsletters carry search forms.
        let severity = match (t.kind, t.attachment) {
            (TraitKind::PasswordInput, _) => Severity::High,
            (TraitKind::FormElsewhere | TraitKind::ObfuscatedScript, true) => Severity::Medium,
            (_, true) => Severity::High,
            (TraitKind::DataDocument | TraitKind::JavascriptLink, false) => Severity::Medium,
            (_, false) => Severity::Low,
        };
        let rule = match t.kind {
            TraitKind::PasswordInput => "phishing.credential_form",
            TraitKind::FormElsewhere => "phishing.form_posts_elsewhere",
            _ => "phishing.page_redirect",
        };
        let place = if t.attachment {
            "an HTML attachment"
        } else {
            "the message"
        };
        let detail = if t.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", t.detail)
        };
        out.push(finding(
            rule,
            severity,
            if t.attachment { "attachment" } else { "body" },
            Some(t.part),
            Some(t.range),
            format!("{} in {place}{detail}", t.kind.as_str()),
        ));
    }
    if let Some((field, words, brand)) = &claim {
        let suspicious = out.iter().any(|f| {
            f.severity >= Severity::Medium
                && (f.rule.starts_with("phishing.link_")
                    || f.rule == "phishing.lookalike_link"
                    || f.rule == "phishing.credential_form"
                    || f.rule == "phishing.page_redirect")
        });
        // Headlines name brands all the time: a subject's claim needs a credential request.
        let severity = if credential.is_some() || (suspicious && *field == "from") {
            Severity::High
        } else if has_links && *field == "from" {
            Severity::Medium
        } else {
            Severity::Low
        };
        let from_domain = domain_of(view.from_address);
        out.push(finding(
            "phishing.brand_impersonation",
            severity,
            field,
            None,
            None,
            match brand {
                Some(b) => format!("{field} says \"{words}\" ({b}), sender is {from_domain}"),
                None => format!("{field} says \"{words}\", sender is {from_domain}"),
            },
        ));
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
    if many_sites(rendered) {
        // A newsletter or digest links to many sites; a lure leads to one place. Its weak
        // link signals stay on record without adding up.
        for f in &mut out {
            if f.severity == Severity::Medium
                && matches!(
                    f.rule.as_str(),
                    "phishing.link_free_hosting"
                        | "phishing.link_to_ip"
                        | "phishing.link_text_mismatch"
                        | "phishing.punycode_link"
                )
            {
                f.severity = Severity::Low;
            }
        }
    }
    agree(&mut out);
    out
}

/// Distinct sites (registrable domains) a message's links lead to, from which it reads as a
/// newsletter or digest rather than a lure.
const MANY_SITES: usize = 8;

fn many_sites(rendered: &Rendered) -> bool {
    let mut sites: Vec<String> = rendered
        .links
        .iter()
        .filter(|l| !l.host.is_empty())
        .map(|l| registrable(&l.host))
        .collect();
    sites.sort_unstable();
    sites.dedup();
    sites.len() > MANY_SITES
}

/// Severity rises with agreement: two independent signals of at least medium severity make
/// each medium one high, three make the strongest critical.
fn agree(out: &mut [Finding]) {
    let mut kinds: Vec<&str> = out
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .map(|f| f.rule.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let n = kinds.len();
    if n >= 2 {
        for f in out.iter_mut() {
            if f.severity == Severity::Medium {
                f.severity = Severity::High;
            }
        }
    }
    if n >= 3
        && let Some(top) = out.iter_mut().max_by_key(|f| f.severity)
    {
        top.severity = Severity::Critical;
    }
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
    fn brand_in_display_name_acts_only_with_other_signals() {
        // A partner's webinar invitation naming Microsoft Teams: recorded, never acted on.
        let f = findings(
            &html(
                "Microsoft Teams <news@events.example>",
                "Webinar",
                "Join us <a href=\"https://events.example/\">here</a>",
            ),
            "acme.example",
        );
        assert_eq!(
            rules(&f),
            [("phishing.brand_impersonation", Severity::Medium)],
            "{f:?}"
        );
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
            r.contains(&("phishing.brand_impersonation", Severity::High)),
            "{r:?}"
        );
    }

    fn multipart(from: &str, subject: &str, text: &str, attachment: &str) -> String {
        format!(
            "From: {from}\r\nTo: u@acme.example\r\nSubject: {subject}\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n\
--b\r\n{attachment}\r\n--b--\r\n"
        )
    }

    #[test]
    fn free_hosting_alone_is_noted_and_with_a_brand_claim_acts() {
        let alone = findings(
            &html(
                "Tom <tom@partner.example>",
                "slides",
                "<a href=\"https://tom-slides.web.app/deck\">the deck</a>",
            ),
            "acme.example",
        );
        assert_eq!(
            rules(&alone),
            [("phishing.link_free_hosting", Severity::Medium)]
        );
        let claimed = findings(
            &html(
                "SharePoint Online <noreply@files.example>",
                "Payroll shared with you",
                "<a href=\"https://payroll-q4.web.app/view\">Open</a>",
            ),
            "acme.example",
        );
        let r = rules(&claimed);
        assert!(
            r.contains(&("phishing.link_free_hosting", Severity::High)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.brand_impersonation", Severity::High)),
            "{r:?}"
        );
        assert!(claimed[0].matched.contains("hosting anyone can publish on"));
    }

    #[test]
    fn a_genuine_sender_may_name_its_brand() {
        let f = findings(
            &html(
                "Microsoft account team <security@accountprotection.microsoft.com>",
                "Microsoft account security info was added",
                "<a href=\"https://account.live.com/acsr\">review</a>",
            ),
            "acme.example",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn html_attachments_are_opened_and_their_forms_and_scripts_judged() {
        let page = "<form action=\"https://collect.example/p.php\"><input type=password></form>";
        let raw = multipart(
            "AP <ap@vendor.example>",
            "Remittance",
            "see attached",
            &format!("Content-Type: application/octet-stream; name=\"r.html\"\r\n\r\n{page}"),
        );
        let f = findings(&raw, "acme.example");
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.credential_form", Severity::High)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.form_posts_elsewhere", Severity::High)),
            "{r:?}"
        );
        assert!(
            f.iter()
                .all(|f| f.field == "attachment" && f.part.is_some())
        );
        let redirect = multipart(
            "eFax <fax@fax.example>",
            "New fax",
            "open the attachment",
            "Content-Type: text/html; name=\"fax.htm\"\r\n\r\n<script>window.location.href='https://x.example/'</script>",
        );
        // (The display name's "eFax" is an unbacked claim too, raised by the redirect.)
        assert_eq!(
            rules(&findings(&redirect, "acme.example")),
            [
                ("phishing.page_redirect", Severity::High),
                ("phishing.brand_impersonation", Severity::High)
            ]
        );
    }

    #[test]
    fn links_in_forwarded_messages_and_pdfs_are_seen() {
        let inner = "From: PayPal <service@paypal.com>\r\nSubject: limited\r\nContent-Type: text/html\r\n\r\n\
<p>Your account has been limited. <a href=\"https://www.paypa1-help.com/x\">Log in</a></p>";
        let raw = multipart(
            "Friend <f@freemail.example>",
            "Fwd: limited",
            "see below",
            &format!("Content-Type: message/rfc822\r\n\r\n{inner}"),
        );
        let f = findings(&raw, "acme.example");
        assert!(
            f.iter().any(|f| f.rule == "phishing.lookalike_link"
                && f.field == "forwarded_message"
                && f.severity == Severity::Critical),
            "{f:?}"
        );
        let pdf = "%PDF-1.4\n1 0 obj << /A << /S /URI /URI (https://ipfs.io/ipfs/bafy/x.html#dTFAYWNtZS5leGFtcGxl) >> >> endobj\n%%EOF";
        let raw = multipart(
            "Billing <b@invoices.example>",
            "Invoice",
            "attached",
            &format!("Content-Type: application/pdf; name=\"i.pdf\"\r\n\r\n{pdf}"),
        );
        let f = findings(&raw, "acme.example");
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.link_free_hosting", Severity::High)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.recipient_in_link", Severity::High)),
            "{r:?}"
        );
        assert!(f[0].matched.contains("pdf attachment"), "{f:?}");
    }

    #[test]
    fn three_kinds_of_evidence_make_one_critical() {
        let f = findings(
            &html(
                "Mail Admin <admin@notify.example>",
                "Mailbox quota",
                "Your mailbox is full. <a href=\"http://198.51.100.9/q#u@acme.example\">increase</a>",
            ),
            "acme.example",
        );
        assert_eq!(
            f.iter()
                .filter(|f| f.severity == Severity::Critical)
                .count(),
            1,
            "{f:?}"
        );
        assert!(f.iter().all(|f| f.severity >= Severity::High), "{f:?}");
    }

    #[test]
    fn lookalike_letters_in_names_are_seen_through() {
        // "Lоwеs" and "Pеnding" with Cyrillic о and е.
        let f = findings(
            &html(
                "L\u{43e}w\u{435}s <promo@eagle-offers.example>",
                "P\u{435}nding order",
                "<a href=\"https://survey-reward.example/x\">claim</a>",
            ),
            "acme.example",
        );
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.mixed_script", Severity::High)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.brand_impersonation", Severity::High)),
            "{r:?}"
        );
        assert!(f.iter().any(|f| f.matched.contains("(lowes)")), "{f:?}");
        // A name wholly in Cyrillic is just Russian.
        let f = findings(
            &html(
                "\u{418}\u{432}\u{430}\u{43d} <ivan@example.ru>",
                "\u{41f}\u{440}\u{438}\u{432}\u{435}\u{442}",
                "<a href=\"https://example.ru/\">x</a>",
            ),
            "acme.example",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn a_headline_naming_a_brand_is_not_a_claim_to_be_it() {
        let f = findings(
            &html(
                "Media Digest <news@digest.example>",
                "AOL Keyword: Fraud Probe",
                "<a href=\"https://tinyurl.com/abc\">story</a>",
            ),
            "acme.example",
        );
        assert!(f.iter().all(|f| f.severity < Severity::High), "{f:?}");
    }

    #[test]
    fn a_qr_code_in_an_image_is_followed() {
        use base64::Engine;
        let code =
            qrcode::QrCode::new(b"https://mailbox-renew.web.app/#u@acme.example").expect("encodes");
        let img = code
            .render::<image::Luma<u8>>()
            .min_dimensions(240, 240)
            .build();
        let mut png = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut png, image::ImageFormat::Png)
            .expect("png");
        let b64 = base64::engine::general_purpose::STANDARD.encode(png.into_inner());
        let raw = multipart(
            "IT Support <it@helpdesk-notify.example>",
            "Scan to keep your mailbox",
            "Your mailbox will be closed. Scan the code with your phone.",
            &format!(
                "Content-Type: image/png; name=\"code.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}"
            ),
        );
        let f = findings(&raw, "acme.example");
        let r = rules(&f);
        assert!(
            r.contains(&("phishing.qr_code_link", Severity::High)),
            "{r:?}"
        );
        assert!(
            r.contains(&("phishing.link_free_hosting", Severity::High)),
            "{r:?}"
        );
        assert!(
            f.iter().any(|f| f.matched.contains("(in a QR code)")),
            "{f:?}"
        );
    }
}
