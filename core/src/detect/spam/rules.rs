//! The hand-written half of spam scoring: rules over headers, body phrasing, links and markup,
//! each adding a fixed score (SpamAssassin's model). They judge mail no model has been trained
//! for and explain a verdict in words a customer can read; each hit is a finding with its score.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::{
    detect::links::Rendered,
    message::{MessageView, domain_of},
    model::{Finding, Severity, ThreatType},
};

/// Phrases spammers use, with their scores (matched case-insensitively on word boundaries).
const PHRASES: &[(&str, f64)] = &[
    ("click here", 0.6),
    ("click below", 0.6),
    ("act now", 1.0),
    ("limited time offer", 1.0),
    ("limited time only", 1.0),
    ("100% free", 1.2),
    ("100% guaranteed", 1.0),
    ("100% satisfied", 1.0),
    ("risk free", 0.8),
    ("risk-free", 0.8),
    ("no obligation", 0.8),
    ("no cost", 0.4),
    ("free gift", 0.8),
    ("free trial", 0.4),
    ("special promotion", 0.7),
    ("once in a lifetime", 0.8),
    ("while supplies last", 0.7),
    ("order now", 0.8),
    ("call now", 0.8),
    ("call toll free", 0.8),
    ("toll free", 0.4),
    ("dear friend", 1.0),
    ("dear sir/madam", 0.6),
    ("this is not spam", 2.0),
    ("this is not a spam", 2.0),
    ("not junk mail", 1.5),
    ("you are receiving this", 0.6),
    ("to be removed", 1.0),
    ("to be taken off", 1.0),
    ("remove you from", 0.6),
    ("removed from our list", 1.0),
    ("removal instructions", 1.0),
    ("opt-out", 0.3),
    ("opt out", 0.3),
    ("mailing list", -0.2),
    ("bulk email", 1.2),
    ("mass email", 1.0),
    ("email marketing", 0.8),
    ("million email addresses", 2.0),
    ("make money", 1.0),
    ("earn money", 1.0),
    ("extra income", 1.0),
    ("work from home", 1.0),
    ("home based business", 1.0),
    ("be your own boss", 1.2),
    ("financial freedom", 1.0),
    ("cash bonus", 1.0),
    ("double your", 1.0),
    ("million dollars", 0.8),
    ("lowest price", 0.6),
    ("best price", 0.4),
    ("save up to", 0.6),
    ("credit card offers", 1.0),
    ("consolidate your debt", 1.2),
    ("eliminate debt", 1.2),
    ("debt free", 0.8),
    ("mortgage rates", 1.0),
    ("refinance", 0.6),
    ("lower your mortgage", 1.2),
    ("no credit check", 1.2),
    ("bad credit", 0.8),
    ("investment opportunity", 1.0),
    ("guaranteed income", 1.2),
    ("pre-approved", 0.8),
    ("you have been selected", 1.0),
    ("you are a winner", 1.5),
    ("congratulations you", 1.0),
    ("claim your prize", 1.5),
    ("lose weight", 1.0),
    ("weight loss", 0.8),
    ("viagra", 1.5),
    ("cialis", 1.5),
    ("herbal", 0.4),
    ("enlarge", 0.8),
    ("online pharmacy", 1.2),
    ("prescription", 0.3),
    ("casino", 0.8),
    ("adult", 0.3),
    ("xxx", 0.8),
    ("hot singles", 1.5),
    ("nigeria", 0.8),
    ("next of kin", 1.0),
    ("urgent business", 1.0),
    ("business proposal", 0.8),
    ("strictly confidential", 0.6),
    ("bank account", 0.3),
    ("wire transfer", 0.3),
    ("satisfaction guaranteed", 1.0),
    ("money back", 0.8),
    ("no hidden", 0.6),
    ("amazing", 0.3),
    ("incredible", 0.3),
    ("apply now", 0.8),
    ("buy now", 0.8),
    ("subscribe", 0.1),
    ("unsubscribe", 0.2),
    ("multi-level marketing", 1.2),
    ("mlm", 0.8),
    ("stock pick", 1.0),
    ("increase sales", 0.8),
    ("increase your sales", 1.0),
    ("web traffic", 0.6),
    ("search engine", 0.3),
    ("cable converter", 1.2),
    ("ink cartridges", 1.0),
    ("get paid", 0.8),
    ("all natural", 0.6),
];

/// Most a body's phrases may add together, so one wordy newsletter cannot carry a verdict alone.
const PHRASE_CAP: f64 = 4.0;

fn phrases() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(PHRASES.iter().map(|(p, _)| p))
            .expect("the static phrase list compiles")
    })
}

/// Character sets mail in the corpus era used almost only for bulk mail to Western readers.
const FAR_CHARSETS: &[&str] = &[
    "ks_c_5601",
    "euc-kr",
    "gb2312",
    "big5",
    "gbk",
    "iso-2022-kr",
];

/// A rule hit, before it becomes a finding.
struct Hit {
    rule: &'static str,
    score: f64,
    field: String,
    part: Option<u32>,
    range: Option<(u32, u32)>,
    matched: String,
}

fn header<'a>(view: &'a MessageView<'_>, name: &str) -> Option<&'a [u8]> {
    view.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
}

fn letters_upper_ratio(text: &str) -> (usize, f64) {
    let (mut letters, mut upper) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if c.is_uppercase() {
            upper += 1;
        }
    }
    let ratio = if letters == 0 {
        0.0
    } else {
        upper as f64 / letters as f64
    };
    (letters, ratio)
}

fn is_ip_literal(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || (host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u32>().is_ok()))
}

const SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
];

fn header_rules(view: &MessageView<'_>, now_secs: i64, out: &mut Vec<Hit>) {
    let mut hit = |rule, score, field: &str, matched: String| {
        out.push(Hit {
            rule,
            score,
            field: field.to_string(),
            part: None,
            range: None,
            matched,
        })
    };
    if header(view, "date").is_none() {
        hit(
            "spam.missing_date",
            1.0,
            "header:date",
            "no Date field".into(),
        );
    } else if let Some(t) = view.date
        && t > now_secs + 2 * 86_400
    {
        hit("spam.date_in_future", 1.5, "header:date", format!("{t}"));
    }
    if header(view, "message-id").is_none() {
        hit(
            "spam.missing_message_id",
            0.8,
            "header:message-id",
            "no Message-ID field".into(),
        );
    }
    if header(view, "to").is_none() && header(view, "cc").is_none() {
        hit(
            "spam.no_visible_recipient",
            0.2,
            "header:to",
            "no To or Cc field".into(),
        );
    }
    let (letters, upper) = letters_upper_ratio(view.subject);
    if letters >= 10 && upper > 0.9 {
        hit(
            "spam.subject_all_caps",
            1.5,
            "subject",
            view.subject.to_string(),
        );
    }
    if view.subject.contains("!!") || view.subject.contains("$$") {
        hit(
            "spam.subject_shouting",
            1.0,
            "subject",
            view.subject.to_string(),
        );
    }
    if view.subject.contains('$') && view.subject.chars().any(|c| c.is_ascii_digit()) {
        hit(
            "spam.subject_money",
            1.0,
            "subject",
            view.subject.to_string(),
        );
    }
    let trimmed = view.subject.trim_end();
    if trimmed.len() > 8 && trimmed.ends_with(|c: char| c.is_ascii_digit()) {
        // "Offer for you 28731": a per-recipient counter appended to dodge duplicate filters.
        let tail = trimmed.rsplit(' ').next().unwrap_or("");
        if tail.len() >= 4 && tail.chars().all(|c| c.is_ascii_digit()) && trimmed.contains(' ') {
            hit(
                "spam.subject_tracking_number",
                1.2,
                "subject",
                tail.to_string(),
            );
        }
    }
    let from_domain = domain_of(view.from_address);
    if let Some((_, addr_domain)) = view.from_name.rsplit_once('@') {
        let addr_domain = addr_domain
            .trim_end_matches(['>', '"', ' '])
            .to_ascii_lowercase();
        if !from_domain.is_empty() && addr_domain != from_domain {
            hit(
                "spam.from_name_other_address",
                1.5,
                "from",
                view.from_name.to_string(),
            );
        }
    }
    let local = view.from_address.split('@').next().unwrap_or("");
    if local.chars().filter(|c| c.is_ascii_digit()).count() >= 5 {
        hit(
            "spam.from_numeric_local",
            0.4,
            "from",
            view.from_address.to_string(),
        );
    }
    if view.from_address.is_empty() {
        hit("spam.from_missing", 1.0, "from", String::new());
    }
    if let Some(ct) = header(view, "content-type") {
        let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
        if let Some(cs) = FAR_CHARSETS.iter().find(|cs| ct.contains(*cs)) {
            hit(
                "spam.charset_far",
                0.6,
                "header:content-type",
                cs.to_string(),
            );
        }
    }
    forged_received(view, out);
}

/// A `Received:` chain that cannot be true: a hop older than the one below it by more than a
/// day, or a hop with no date at all.
fn forged_received(view: &MessageView<'_>, out: &mut Vec<Hit>) {
    let dates: Vec<Option<i64>> = view
        .headers
        .iter()
        .filter(|(n, _)| n == "received")
        .map(|(_, v)| {
            let v = String::from_utf8_lossy(v);
            v.rsplit_once(';').and_then(|(_, d)| {
                mail_parser::DateTime::parse_rfc822(d.trim()).map(|d| d.to_timestamp())
            })
        })
        .collect();
    if dates.len() >= 2 && dates.iter().skip(1).any(Option::is_none) {
        out.push(Hit {
            rule: "spam.received_undated",
            score: 0.5,
            field: "header:received".into(),
            part: None,
            range: None,
            matched: "a Received hop without a date".into(),
        });
    }
    // Headers run newest first: each hop's date should not be far after the one above it.
    for pair in dates.windows(2) {
        if let [Some(newer), Some(older)] = pair
            && *older > *newer + 86_400
        {
            out.push(Hit {
                rule: "spam.received_forged_order",
                score: 1.5,
                field: "header:received".into(),
                part: None,
                range: None,
                matched: format!("a hop dated {}s after the next one", older - newer),
            });
            break;
        }
    }
}

fn body_rules(view: &MessageView<'_>, rendered: &Rendered, out: &mut Vec<Hit>) {
    // Phrases in the subject and every visible text, each phrase counted once.
    let mut seen: Vec<usize> = Vec::new();
    let mut phrase_total = 0.0;
    let subject = (None, view.subject);
    let texts = rendered
        .texts
        .iter()
        .map(|(p, t, _)| (Some(*p), t.as_str()));
    for (part, text) in std::iter::once(subject).chain(texts) {
        let bytes = text.as_bytes();
        for m in phrases().find_iter(text) {
            let boundary_before = m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric();
            let boundary_after = bytes
                .get(m.end())
                .is_none_or(|b| !b.is_ascii_alphanumeric());
            let id = m.pattern().as_usize();
            if !boundary_before || !boundary_after || seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let (phrase, score) = PHRASES[id];
            // Negative (ham) phrases always count; spam phrases until the cap is reached.
            let score = if score > 0.0 {
                score.min(PHRASE_CAP - phrase_total)
            } else {
                score
            };
            if score.abs() < 1e-9 {
                continue;
            }
            phrase_total += score.max(0.0);
            out.push(Hit {
                rule: "spam.phrase",
                score,
                field: if part.is_some() { "body" } else { "subject" }.into(),
                part,
                range: Some((m.start() as u32, m.end() as u32)),
                matched: phrase.to_string(),
            });
        }
    }
    let visible: usize = rendered.texts.iter().map(|(_, t, _)| t.trim().len()).sum();
    let html_parts = rendered.texts.iter().filter(|(_, _, h)| *h).count();
    if html_parts > 0 && !rendered.has_plain_text() {
        out.push(hit_part(
            "spam.html_only",
            1.0,
            None,
            "no text/plain alternative".into(),
        ));
    }
    for b in view.bodies.iter().filter(|b| b.html) {
        let lower = b.text.to_ascii_lowercase();
        let images = memchr::memmem::find_iter(lower.as_bytes(), b"<img").count();
        if images > 0 && visible < 400 {
            out.push(hit_part(
                "spam.html_image_little_text",
                1.5,
                Some(b.part),
                format!("{images} images, {visible} characters of text"),
            ));
        }
        for (needle, rule) in [
            ("font-size:0", "spam.html_hidden_text"),
            ("font-size: 0", "spam.html_hidden_text"),
            ("display:none", "spam.html_hidden_text"),
            ("color=\"#ffffff\"", "spam.html_white_text"),
            ("color=#ffffff", "spam.html_white_text"),
        ] {
            if let Some(at) = lower.find(needle) {
                out.push(Hit {
                    rule,
                    score: if rule == "spam.html_white_text" {
                        0.5
                    } else {
                        1.0
                    },
                    field: "body".into(),
                    part: Some(b.part),
                    range: Some((at as u32, (at + needle.len()) as u32)),
                    matched: needle.to_string(),
                });
                break;
            }
        }
        if lower.contains("<form") {
            out.push(hit_part(
                "spam.html_form",
                0.6,
                Some(b.part),
                "a form in the mail".into(),
            ));
        }
    }
    // Shouting bodies.
    let all_text: String = rendered.texts.iter().map(|(_, t, _)| t.as_str()).collect();
    let (letters, upper) = letters_upper_ratio(&all_text);
    if letters >= 200 && upper > 0.5 {
        out.push(hit_part(
            "spam.body_mostly_caps",
            1.0,
            None,
            format!("{:.0}% capitals", upper * 100.0),
        ));
    }
    let exclaims = all_text.matches("!!").count();
    if exclaims >= 3 {
        out.push(hit_part(
            "spam.body_exclamations",
            1.0,
            None,
            format!("{exclaims} runs of '!!'"),
        ));
    }
    // Links.
    let hosts: std::collections::HashSet<&str> =
        rendered.links.iter().map(|l| l.host.as_str()).collect();
    if rendered.links.len() >= 10 {
        out.push(hit_part(
            "spam.many_links",
            0.1,
            None,
            format!("{} links", rendered.links.len()),
        ));
    }
    if let Some(l) = rendered.links.iter().find(|l| is_ip_literal(&l.host)) {
        out.push(Hit {
            rule: "spam.link_to_ip",
            score: 2.0,
            field: "body".into(),
            part: Some(l.part),
            range: Some(l.range),
            matched: l.href.clone(),
        });
    }
    if let Some(h) = hosts.iter().find(|h| SHORTENERS.contains(h)) {
        out.push(hit_part("spam.link_shortener", 0.3, None, h.to_string()));
    }
}

fn hit_part(rule: &'static str, score: f64, part: Option<u32>, matched: String) -> Hit {
    Hit {
        rule,
        score,
        field: "body".into(),
        part,
        range: None,
        matched,
    }
}

/// Every rule that fires on a message, as findings with their score.
pub fn evaluate(view: &MessageView<'_>, rendered: &Rendered, now_secs: i64) -> Vec<Finding> {
    let mut hits = Vec::new();
    header_rules(view, now_secs, &mut hits);
    body_rules(view, rendered, &mut hits);
    hits.into_iter()
        .map(|h| Finding {
            rule: h.rule.to_string(),
            threat_type: ThreatType::Spam,
            field: h.field,
            part: h.part,
            range: h.range,
            matched: h.matched,
            severity: Severity::Low,
            score: Some(h.score),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn rules_of(raw: &str) -> Vec<Finding> {
        let msg = parse(raw.as_bytes()).expect("parses");
        let view = MessageView::new(&msg, "");
        evaluate(&view, &Rendered::of(&view), 1_700_000_000)
    }

    fn names(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn a_plain_business_message_scores_nothing() {
        let f = rules_of(
            "From: Alice <alice@corp.example>\r\nTo: bob@corp.example\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\n\
Message-ID: <1@corp.example>\r\nSubject: Minutes of Tuesday\r\n\r\nHi Bob,\r\nthe minutes are below.\r\n",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn classic_spam_traits_each_fire() {
        let f = rules_of(
            "From: \"winner@prize.example\" <a12345678@bulk.example>\r\nSubject: YOU ARE A WINNER!! $1000000\r\n\
Content-Type: text/html; charset=gb2312\r\n\r\n<html><p>Dear friend, ACT NOW! click here <a href=\"http://192.0.2.9/x\">claim</a>\
 <img src=x> this is not spam</p><form action=x></form></html>\r\n",
        );
        let n = names(&f);
        for rule in [
            "spam.missing_date",
            "spam.missing_message_id",
            "spam.no_visible_recipient",
            "spam.subject_shouting",
            "spam.subject_money",
            "spam.from_name_other_address",
            "spam.from_numeric_local",
            "spam.charset_far",
            "spam.html_only",
            "spam.html_image_little_text",
            "spam.html_form",
            "spam.link_to_ip",
            "spam.phrase",
        ] {
            assert!(n.contains(&rule), "{rule} missing from {n:?}");
        }
        let phrases: Vec<&str> = f
            .iter()
            .filter(|f| f.rule == "spam.phrase")
            .map(|f| f.matched.as_str())
            .collect();
        for p in ["you are a winner", "dear friend", "act now", "click here"] {
            assert!(phrases.contains(&p), "{p} not in {phrases:?}");
        }
        let total: f64 = f.iter().filter_map(|f| f.score).sum();
        assert!(total > 10.0, "{total}");
    }

    #[test]
    fn phrases_need_word_boundaries_and_are_capped() {
        let f =
            rules_of("From: a@b.example\r\nSubject: x\r\n\r\nthe casinos and the mlmx fund\r\n");
        assert!(!names(&f).contains(&"spam.phrase"), "{f:?}");
        let many: String = PHRASES.iter().map(|(p, _)| format!("{p}. ")).collect();
        let f = rules_of(&format!(
            "From: a@b.example\r\nSubject: x\r\n\r\n{many}\r\n"
        ));
        let total: f64 = f
            .iter()
            .filter(|f| f.rule == "spam.phrase")
            .filter_map(|f| f.score)
            .filter(|s| *s > 0.0)
            .sum();
        assert!(total <= PHRASE_CAP + 1e-9, "{total}");
    }

    #[test]
    fn received_chain_running_backwards_is_forged() {
        let f = rules_of(
            "Received: from a by b; Tue, 14 Nov 2023 10:00:00 +0000\r\n\
Received: from c by a; Fri, 17 Nov 2023 10:00:00 +0000\r\nFrom: a@b.example\r\nSubject: x\r\n\r\nbody\r\n",
        );
        assert!(names(&f).contains(&"spam.received_forged_order"), "{f:?}");
    }
}
