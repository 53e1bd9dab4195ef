//! SpamAssassin's `eval:` tests that Moat implements natively: the header tests that carry
//! score (shifted dates, Outlook message ids, illegal characters, To in Subject, all-caps
//! subjects, forged webmail Received chains, ratware envelopes, unresolved templates), the
//! MIME tests (base64/QP statistics, HTML-only, multipart ratios, ASCII text with 8-bit
//! bytes), the HTML tests over [`super::html::HtmlFacts`], FreeMail, the welcome/block lists,
//! body length, and the relay facts Moat can tell without trusted-network inference.
//!
//! [`implemented`] names them; a rule whose function is not here never hits, and the load
//! report counts it as skipped (network and Bayes tests are among those).

use std::collections::HashMap;

use super::{conf::Conf, input::SaMessage};

/// Every eval function this module answers.
pub const IMPLEMENTED: &[&str] = &[
    "check_for_shifted_date",
    "check_outlook_message_id",
    "check_illegal_chars",
    "check_for_missing_to_header",
    "check_for_to_in_subject",
    "subject_is_all_caps",
    "check_equal_from_domains",
    "check_for_matching_env_and_hdr_from",
    "gated_through_received_hdr_remover",
    "check_ratware_name_id",
    "check_ratware_envelope_from",
    "check_unresolved_template",
    "check_header_count_range",
    "check_for_forged_gmail_received_headers",
    "check_for_forged_yahoo_received_headers",
    "check_for_faraway_charset_in_headers",
    "check_for_faraway_charset",
    "check_for_mime",
    "check_for_mime_html",
    "check_for_mime_html_only",
    "check_mime_multipart_ratio",
    "check_msg_parse_flags",
    "check_for_ascii_text_illegal",
    "check_abundant_unicode_ratio",
    "check_base64_length",
    "check_for_uppercase",
    "check_ma_non_text",
    "check_body_length",
    "multipart_alternative_difference",
    "multipart_alternative_difference_count",
    "check_blank_line_ratio",
    "html_test",
    "html_tag_exists",
    "html_tag_balance",
    "html_range",
    "html_eval",
    "html_text_match",
    "html_image_only",
    "html_image_ratio",
    "html_title_subject_ratio",
    "html_charset_faraway",
    "check_freemail_from",
    "check_freemail_replyto",
    "check_freemail_header",
    "check_from_in_list",
    "check_replyto_in_list",
    "check_from_in_blocklist",
    "check_from_in_blacklist",
    "check_from_in_welcomelist",
    "check_from_in_whitelist",
    "check_from_in_default_welcomelist",
    "check_from_in_default_whitelist",
    "check_to_in_blocklist",
    "check_to_in_blacklist",
    "check_to_in_welcomelist",
    "check_to_in_whitelist",
    "check_to_in_more_spam",
    "check_to_in_all_spam",
    "check_subject_in_blocklist",
    "check_subject_in_blacklist",
    "check_subject_in_welcomelist",
    "check_subject_in_whitelist",
    "check_uri_host_in_blocklist",
    "check_uri_host_in_blacklist",
    "check_uri_host_in_welcomelist",
    "check_uri_host_in_whitelist",
    "check_uri_host_listed",
    "check_mailfrom_matches_rcvd",
    "check_no_relays",
    "check_relays_unparseable",
    "check_all_trusted",
    "check_for_no_rdns_dotcom_helo",
    "helo_ip_mismatch",
    "check_https_http_mismatch",
    "check_uri_truncated",
];

/// Whether `function` is answered here.
pub fn implemented(function: &str) -> bool {
    IMPLEMENTED.contains(&function)
}

/// What the eval tests share per message.
pub struct Ctx<'a> {
    pub conf: &'a Conf,
    /// Compiled argument regexes (`html_text_match`, FreeMail), by source text.
    pub regexes: &'a HashMap<String, pcre2::bytes::Regex>,
    pub now: i64,
    /// The MIME statistics, worked out once per message (several evals read them).
    mime: std::cell::OnceCell<MimeStats>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        conf: &'a Conf,
        regexes: &'a HashMap<String, pcre2::bytes::Regex>,
        now: i64,
    ) -> Ctx<'a> {
        Ctx {
            conf,
            regexes,
            now,
            mime: std::cell::OnceCell::new(),
        }
    }

    fn mime(&self, m: &SaMessage<'_>) -> &MimeStats {
        self.mime.get_or_init(|| mime_stats(m))
    }
}

/// Parses an RFC 5322 date (as SpamAssassin's `parse_rfc822_date`, through mail-parser).
pub fn parse_date(s: &str) -> Option<i64> {
    let fake = format!("Date: {}\r\n\r\n", s.trim());
    let m = mail_parser::MessageParser::new().parse_headers(fake.as_bytes())?;
    let d = m.date()?;
    d.is_valid().then(|| d.to_timestamp())
}

fn b(x: bool) -> f64 {
    f64::from(u8::from(x))
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map_or("", String::as_str)
}

fn num(args: &[String], i: usize) -> Option<f64> {
    let a = arg(args, i);
    if a == "undef" || a == "inf" {
        return None;
    }
    a.parse().ok()
}

/// A glob (`*`, `?`) match, as list entries are written.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(c)) if a.eq_ignore_ascii_case(c) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

fn in_list(conf: &Conf, list: &str, addr: &str) -> bool {
    let addr = addr.to_ascii_lowercase();
    conf.lists
        .get(list)
        .is_some_and(|l| l.iter().any(|p| glob(p, &addr)))
}

fn is_freemail(conf: &Conf, email: &str) -> bool {
    let email = email.to_ascii_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    if conf
        .freemail_whitelist
        .iter()
        .any(|w| *w == email || *w == domain)
    {
        return false;
    }
    let welcome = [
        "abuse",
        "support",
        "sales",
        "info",
        "helpdesk",
        "contact",
        "kontakt",
        "postmaster",
        "hostmaster",
        "domainmaster",
    ];
    if welcome.contains(&local) || local.starts_with("undisclosed") {
        return false;
    }
    conf.freemail_exact.contains(domain) || conf.freemail_globs.iter().any(|d| glob(d, domain))
}

fn lower_addrs(m: &SaMessage<'_>, spec: &str) -> Vec<String> {
    m.get(spec)
        .unwrap_or_default()
        .into_iter()
        .map(|v| String::from_utf8_lossy(&v).to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

fn all_from_addrs(m: &SaMessage<'_>) -> Vec<String> {
    let resent = lower_addrs(m, "Resent-From:first:addr");
    let mut addrs = if !resent.is_empty() {
        resent
    } else {
        let mut v = Vec::new();
        for spec in [
            "From:addr",
            "Envelope-Sender:addr",
            "Resent-Sender:addr",
            "X-Envelope-From:addr",
        ] {
            v.extend(lower_addrs(m, spec));
        }
        if let Some(e) = m.envelope() {
            v.push(e.to_ascii_lowercase());
        }
        v
    };
    addrs.sort();
    addrs.dedup();
    addrs.retain(|a| !a.is_empty());
    addrs
}

/// Times of the `Received` headers (SpamAssassin's `_get_received_header_times`).
fn received_times(m: &SaMessage<'_>) -> Vec<i64> {
    let mut out = Vec::new();
    for v in m.header("Received", false) {
        // `\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+`
        if let Some(t) = received_date(&v).and_then(|d| parse_date(&d)) {
            out.push(t);
        }
    }
    out
}

fn received_date(v: &str) -> Option<String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    for w in 0..words.len().saturating_sub(4) {
        let day = words[w].trim_start_matches(|c: char| !c.is_ascii_digit());
        let ok = !day.is_empty()
            && day.len() <= 3
            && day.chars().all(|c| c.is_ascii_digit())
            && words[w + 1].len() == 3
            && words[w + 2].chars().all(|c| c.is_ascii_digit())
            && words[w + 3].matches(':').count() == 2;
        if ok {
            return Some(format!(
                "{} {} {} {} {}",
                day,
                words[w + 1],
                words[w + 2],
                words[w + 3],
                words[w + 4].trim_end_matches(';')
            ));
        }
    }
    None
}

fn date_diff(m: &SaMessage<'_>) -> i64 {
    let date = ["Resent-Date", "Date"]
        .iter()
        .flat_map(|h| m.header(h, false))
        .find_map(|d| parse_date(d.trim()));
    let Some(date) = date else {
        return 0;
    };
    let times = received_times(m);
    if times.is_empty() {
        return 0;
    }
    let mut diffs: Vec<i64> = times.iter().map(|t| date - t).collect();
    if diffs.len() > 1 && diffs.last() == Some(&0) {
        diffs.pop();
    }
    diffs.sort_by_key(|d| d.abs());
    diffs[0]
}

/// Statistics of `_check_attachments` (MIMEEval).
#[derive(Default)]
struct MimeStats {
    base64_count: u32,
    base64_encoded_text: bool,
    base64_blanks: bool,
    qp_count: f64,
    qp_bytes: f64,
    qp_long_line: bool,
    attachment: bool,
    bad_iso_charset: bool,
    ascii_text_illegal: u32,
    text_unicode_ratio: f64,
    multipart_alternative: bool,
    multipart_ratio: f64,
    body_html_count: u32,
    body_text_count: u32,
}

fn mime_stats(m: &SaMessage<'_>) -> MimeStats {
    let mut s = MimeStats {
        multipart_ratio: 1.0,
        ..MimeStats::default()
    };
    let top_ct = m.get1("Content-Type").to_ascii_lowercase();
    static ALTERNATIVE: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    let alternative = ALTERNATIVE.get_or_init(|| {
        // A DFA without a prefilter: the prefilter's rare bytes are common in base64, so on
        // a message with an attachment it stopped at almost every byte and cost more than
        // the whole walk.
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .prefilter(false)
            .build(["multipart/alternative"])
            .ok()
    });
    s.multipart_alternative = top_ct.starts_with("multipart/alternative")
        || alternative.as_ref().is_some_and(|a| a.is_match(m.raw));
    let (mut normal, mut unicode) = (0usize, 0usize);
    let mut text_bytes: Option<usize> = None;
    let mut html_bytes: Option<usize> = None;
    for p in &m.parts {
        let cte = p.encoding.as_str();
        let cd = p
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("content-disposition"))
            .map(|f| f.raw.to_ascii_lowercase())
            .unwrap_or_default();
        if cte.contains("base64") {
            s.base64_count += 1;
            if p.ctype.starts_with("text/") {
                s.base64_encoded_text = true;
            }
            // A blank line with text after it, in one pass (a part of blank lines must not
            // cost a scan of the rest of the part per line).
            let mut blank = false;
            for l in p.raw_body.split(|b| *b == b'\n') {
                if l.trim_ascii().is_empty() {
                    blank = true;
                } else if blank {
                    s.base64_blanks = true;
                    break;
                }
            }
        }
        if cd.contains("attachment") || p.filename.is_some() {
            s.attachment = true;
        }
        if p.charset.starts_with("iso-")
            && !p.charset.starts_with("iso-8859")
            && !p.charset.starts_with("iso-2022")
        {
            s.bad_iso_charset = true;
        }
        if p.ctype == "text/html" {
            s.body_html_count += 1;
        } else if p.ctype == "text/plain" {
            s.body_text_count += 1;
        }
        let raw = String::from_utf8_lossy(&p.raw_body);
        let is_attachment = cd.contains("attachment");
        for line in raw.split_inclusive('\n') {
            if s.multipart_alternative && !is_attachment {
                if p.ctype == "text/plain" {
                    *text_bytes.get_or_insert(0) += line.len();
                } else if p.ctype == "text/html" {
                    *html_bytes.get_or_insert(0) += line.len();
                }
            }
            if cte == "quoted-printable" {
                if line.len() > 79 {
                    s.qp_long_line = true;
                }
                s.qp_bytes += line.len() as f64;
                // `=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])`: encoded printable bytes.
                let b = line.as_bytes();
                let mut n = 0.0;
                let mut i = 0;
                while i + 2 < b.len() {
                    if b[i] == b'=' {
                        let (h, l) = (b[i + 1], b[i + 2]);
                        let hex = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
                        let plain = (h == b'0' && l == b'9')
                            || (h == b'3' && (l.is_ascii_digit() || b"ABCEF".contains(&l)))
                            || (matches!(h, b'2' | b'4' | b'5' | b'6') && hex(l))
                            || (h == b'7' && (l.is_ascii_digit() || b"ABCDE".contains(&l)));
                        if plain {
                            n += 1.0;
                            i += 3;
                            continue;
                        }
                    }
                    i += 1;
                }
                // Trailing encoded blanks (=09, =20) are not counted.
                let mut t = line.trim_end();
                while let Some(rest) = t.strip_suffix("=20").or_else(|| t.strip_suffix("=09")) {
                    n -= 1.0;
                    t = rest;
                }
                s.qp_count += n;
            }
            if p.ctype == "text/plain"
                && (p.charset.is_empty() || p.charset == "us-ascii")
                && line.bytes().any(|c| c == 0 || c == b'\r' || c >= 0x80)
            {
                s.ascii_text_illegal += 1;
            }
            if p.ctype == "text/plain" && (cte.is_empty() || cte == "7bit" || cte == "8bit") {
                let subs = line.matches("&#x").count();
                normal += line.len();
                unicode += subs;
            }
        }
    }
    if normal > 0 {
        s.text_unicode_ratio = unicode as f64 / normal as f64;
    }
    if let (Some(t), Some(h)) = (text_bytes, html_bytes)
        && h > 0
    {
        s.multipart_ratio = t as f64 / h as f64;
    }
    s
}

/// Runs `function(args)`; `None` when Moat does not implement it.
pub fn run(function: &str, args: &[String], m: &SaMessage<'_>, ctx: &Ctx<'_>) -> Option<f64> {
    let html = &m.html;
    let html_any = |f: &dyn Fn(&super::html::HtmlFacts) -> bool| b(html.iter().any(f));
    let re = |s: &str| ctx.regexes.get(s);
    Some(match function {
        "check_for_shifted_date" => {
            let d = date_diff(m) as f64;
            let (min, max) = (num(args, 0), num(args, 1));
            b(min.is_none_or(|x| d >= 3600.0 * x) && max.is_none_or(|x| d < 3600.0 * x))
        }
        "check_outlook_message_id" => {
            let id = m
                .header_value("MESSAGEID")
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default();
            let id = id.trim();
            let Some(rest) = id.strip_prefix('<') else {
                return Some(0.0);
            };
            let ok = rest.len() > 30
                && rest.as_bytes()[..12]
                    .iter()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                && rest.as_bytes()[12] == b'$';
            if !ok {
                return Some(0.0);
            }
            let token = i64::from_str_radix(&rest[4..12], 16).unwrap_or(0);
            let (x, y, fudge) = (0.0023283064365387, 27111902.8329849, 250i64);
            let date = parse_date(&m.get1("Date")).unwrap_or(0);
            let expected = ((date as f64) * x + y) as i64;
            if (token - expected).abs() < fudge {
                return Some(0.0);
            }
            let rcvd = m.header("Received", false).join("");
            let t = received_date(&rcvd)
                .and_then(|d| parse_date(&d))
                .unwrap_or(0);
            let expected = ((t as f64) * x + y) as i64;
            b((token - expected).abs() >= fudge)
        }
        "check_illegal_chars" => {
            let mut h = arg(args, 0).to_string();
            if !h.ends_with(":raw") {
                h.push_str(":raw");
            }
            let ratio: f64 = arg(args, 1).parse().unwrap_or(0.0);
            let count: f64 = arg(args, 2).parse().unwrap_or(0.0);
            let s = m.header_value(&h).unwrap_or_default();
            if !s.iter().any(|c| !c.is_ascii_whitespace()) {
                return Some(0.0);
            }
            let non_ascii = s.iter().any(|c| *c >= 0x80);
            let controls = s
                .iter()
                .any(|c| matches!(c, 0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f));
            if non_ascii && std::str::from_utf8(&s).is_ok() && !controls {
                return Some(0.0);
            }
            let mut illegal = s
                .iter()
                .filter(|c| matches!(c, 0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f..=0xff))
                .count() as f64;
            if illegal > 0.0 && h.eq_ignore_ascii_case("subject:raw") {
                let exempt = s.iter().filter(|c| matches!(c, 0xa2 | 0xa3 | 0xae)).count();
                if exempt == 1 {
                    illegal -= 1.0;
                }
            }
            b(illegal / s.len() as f64 >= ratio && illegal >= count)
        }
        "check_for_missing_to_header" => {
            b(m.get1("To").is_empty() && m.get1("Apparently-To").is_empty())
        }
        "check_for_to_in_subject" => {
            let to = lower_addrs(m, "To:addr")
                .into_iter()
                .next()
                .unwrap_or_default();
            if to.is_empty() {
                return Some(0.0);
            }
            let subject = m.get1("Subject").to_ascii_lowercase();
            match arg(args, 0) {
                "address" => b(word_contains(&subject, &to)),
                "user" => {
                    let user = to.split('@').next().unwrap_or("");
                    if user.is_empty() {
                        return Some(0.0);
                    }
                    let s = subject.trim();
                    let fw = s
                        .strip_prefix("re:")
                        .or_else(|| s.strip_prefix("fw:"))
                        .map(|r| {
                            let r = r.trim_start();
                            let r = r
                                .split_once(char::is_whitespace)
                                .filter(|(w, _)| w.chars().all(|c| c.is_alphanumeric() || c == '_'))
                                .map_or(r, |(_, rest)| rest.trim_start());
                            r == user
                        })
                        .unwrap_or(false);
                    let punct = s.strip_prefix(user).is_some_and(|rest| {
                        let rest = rest.trim_start();
                        rest.starts_with([',', ':', ';', '!', '?', '-'])
                            && rest[1..].chars().next().is_none_or(char::is_whitespace)
                    });
                    b(fw || punct || s == user || s.ends_with(&format!(", {user}")))
                }
                _ => 0.0,
            }
        }
        "subject_is_all_caps" => {
            let mut s = m.get1("Subject").trim().to_string();
            loop {
                let lower = s.to_ascii_lowercase();
                let Some(p) = [
                    "re:", "fwd:", "fw:", "aw:", "antwort:", "wg:", "sv:", "vb:", "vs:", "vl:",
                ]
                .iter()
                .find(|p| lower.starts_with(**p)) else {
                    break;
                };
                s = s[p.len()..].trim_start().to_string();
            }
            if !s.contains(char::is_whitespace) || s.len() < 10 {
                return Some(0.0);
            }
            let letters: String = s.chars().filter(char::is_ascii_alphabetic).collect();
            let raw = m
                .header_value("Subject:raw")
                .map(|v| String::from_utf8_lossy(&v).to_ascii_lowercase())
                .unwrap_or_default();
            let fp_charsets = [
                "=?big5?",
                "=?euc-",
                "=?gb2312?",
                "=?gbk?",
                "=?iso-2022-",
                "=?koi8-",
                "=?ks_c_5601",
                "=?windows-1251?",
                "=?utf-8?",
            ];
            if fp_charsets.iter().any(|c| raw.contains(c)) {
                return Some(0.0);
            }
            b(!letters.is_empty() && letters == letters.to_ascii_uppercase())
        }
        "check_equal_from_domains" => {
            let second = |a: &str| {
                let d = a
                    .rsplit_once('@')
                    .map_or("", |(_, d)| d)
                    .to_ascii_lowercase();
                let parts: Vec<&str> = d.split('.').collect();
                if parts.len() > 2 {
                    parts[parts.len() - 2..].join(".")
                } else {
                    d
                }
            };
            let from = lower_addrs(m, "From:addr")
                .into_iter()
                .next()
                .unwrap_or_default();
            let env = m.envelope().unwrap_or_default();
            let (f, e) = (second(&from), second(&env));
            b(!f.is_empty() && !e.is_empty() && f != e)
        }
        "check_for_matching_env_and_hdr_from" => {
            let from = lower_addrs(m, "From:addr")
                .into_iter()
                .next()
                .unwrap_or_default();
            b(m.envelope().unwrap_or_default().to_ascii_lowercase() == from)
        }
        "gated_through_received_hdr_remover" => {
            let rcvd = m.header("Received", false);
            if rcvd.is_empty() {
                return Some(1.0);
            }
            b(rcvd
                .iter()
                .any(|r| r.contains("from groups.msn.com (") && r.contains(".msn.com ")))
        }
        "check_ratware_name_id" => {
            let mid = m
                .header_value("MESSAGEID")
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default();
            let from = m.get1("From");
            let hit = mid.find('<').and_then(|i| {
                let rest = &mid[i + 1..];
                let caps = rest.chars().take_while(char::is_ascii_uppercase).count();
                (caps == 28 && rest[28..].starts_with('.')).then(|| {
                    let tail = rest[29..].split('>').next().unwrap_or("");
                    from.contains(&format!("<{tail}>")) && from.contains('"')
                })
            });
            b(hit == Some(true))
        }
        "check_ratware_envelope_from" => {
            let to = lower_addrs(m, "To:addr")
                .into_iter()
                .next()
                .unwrap_or_default();
            let from = m.envelope().unwrap_or_default().to_ascii_lowercase();
            if from.is_empty() || to.is_empty() || from.starts_with("srs") {
                return Some(0.0);
            }
            let Some((user, dom)) = to.split_once('@') else {
                return Some(0.0);
            };
            b(
                from.contains(&format!("{dom}.{user}@"))
                    || from.contains(&format!("{dom}-{user}@")),
            )
        }
        "check_unresolved_template" => {
            let allowed = [
                "x-vms-to",
                "x-uidl",
                "x-face",
                "to",
                "cc",
                "from",
                "subject",
                "references",
                "in-reply-to",
                "message-id",
                "x-message-id",
                "resent-message-id",
                "x-original-message-id",
            ];
            b(m.fields.iter().any(|f| {
                let v = f.raw.as_bytes();
                let templ = v.windows(3).any(|w| {
                    w[0] == b'%'
                        && w[1].is_ascii_uppercase()
                        && (w[2].is_ascii_uppercase() || w[2] == b'_' || w[2] == b'-')
                });
                templ && !allowed.contains(&f.name.to_ascii_lowercase().as_str())
            }))
        }
        "check_header_count_range" => {
            let mut vals = m.header(arg(args, 0), false);
            vals.sort();
            vals.dedup();
            let n = vals.len() as f64;
            b(n >= num(args, 1).unwrap_or(0.0) && n <= num(args, 2).unwrap_or(f64::MAX))
        }
        "check_for_forged_gmail_received_headers" => {
            let from = lower_addrs(m, "From:addr")
                .into_iter()
                .next()
                .unwrap_or_default();
            if !from.ends_with("gmail.com") {
                return Some(0.0);
            }
            let xr = m.header("X-Received", false).join("");
            let rcvd = m.header("Received", false).join("");
            if (xr.contains("by 10.") || xr.contains("by 2002:")) && xr.contains("with SMTP id") {
                return Some(0.0);
            }
            if rcvd.contains("by smtp.googlemail.com with ESMTPSA id") {
                return Some(0.0);
            }
            b(!(m.get1("X-Gm-Message-State").len() >= 60
                && m.get1("X-Google-Smtp-Source").len() >= 60))
        }
        "check_for_forged_yahoo_received_headers" => {
            let from = lower_addrs(m, "From:addr")
                .into_iter()
                .next()
                .unwrap_or_default();
            if !from.ends_with("yahoo.com") {
                return Some(0.0);
            }
            let rcvd = m
                .header("Received", false)
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if m.header("Received", false).is_empty() {
                return Some(0.0);
            }
            let ok = rcvd.contains(".yahoo.com via HTTP")
                || rcvd.contains(".yahoo.com with HTTP")
                || (rcvd.contains("by smtp") && rcvd.contains(".yahoo.com with SMTP"))
                || m.relays
                    .first()
                    .is_some_and(|r| r.rdns.ends_with(".yahoo.com"));
            b(!ok)
        }
        // ok_locales is `all` by default: nothing is far away.
        "check_for_faraway_charset_in_headers"
        | "check_for_faraway_charset"
        | "html_charset_faraway" => 0.0,
        "check_for_mime" => {
            let s = ctx.mime(m);
            match arg(args, 0) {
                "mime_attachment" => b(s.attachment),
                "mime_bad_iso_charset" => b(s.bad_iso_charset),
                "mime_base64_blanks" => b(s.base64_blanks),
                "mime_base64_count" => f64::from(s.base64_count),
                "mime_base64_encoded_text" => b(s.base64_encoded_text),
                "mime_qp_count" => s.qp_count,
                "mime_qp_long_line" => b(s.qp_long_line),
                _ => 0.0,
            }
        }
        "check_for_mime_html" => {
            let s = ctx.mime(m);
            b(s.body_html_count > 0)
        }
        "check_for_mime_html_only" => {
            let s = ctx.mime(m);
            b(s.body_html_count > 0 && s.body_text_count == 0)
        }
        "check_mime_multipart_ratio" => {
            let s = ctx.mime(m);
            let r = s.multipart_ratio;
            b(s.multipart_alternative
                && r >= num(args, 0).unwrap_or(0.0)
                && r < num(args, 1).unwrap_or(f64::MAX))
        }
        "check_msg_parse_flags" => 0.0,
        "check_for_ascii_text_illegal" => b(ctx.mime(m).ascii_text_illegal > 0),
        "check_abundant_unicode_ratio" => {
            let s = ctx.mime(m);
            b(s.text_unicode_ratio >= num(args, 0).unwrap_or(f64::MAX))
        }
        "check_base64_length" => {
            let (min, max) = (
                num(args, 0).unwrap_or(0.0),
                num(args, 1).unwrap_or(f64::MAX),
            );
            b(m.parts.iter().any(|p| {
                p.encoding.contains("base64")
                    && String::from_utf8_lossy(&p.raw_body).lines().any(|l| {
                        (l.len() as f64) >= min && (l.len() as f64) <= max && !l.trim().is_empty()
                    })
            }))
        }
        "check_for_uppercase" => {
            let text: String = m.rendered.chars().collect();
            let letters = text.chars().filter(|c| c.is_alphabetic()).count();
            let upper = text.chars().filter(|c| c.is_uppercase()).count();
            if text.len() < 200 || letters == 0 {
                return Some(0.0);
            }
            let pct = 100.0 * upper as f64 / letters as f64;
            b(pct >= num(args, 0).unwrap_or(0.0) && pct <= num(args, 1).unwrap_or(100.0))
        }
        "check_ma_non_text" => {
            let s = ctx.mime(m);
            b(s.multipart_alternative
                && m.parts
                    .iter()
                    .any(|p| !p.ctype.starts_with("text/") && !p.ctype.starts_with("multipart/")))
        }
        "check_body_length" => b((m.body_len as f64) <= num(args, 0).unwrap_or(0.0)),
        "multipart_alternative_difference" | "multipart_alternative_difference_count" => 0.0,
        "check_blank_line_ratio" => 0.0,
        "html_test" => html_any(&|h| h.flags.get(arg(args, 0)).copied().unwrap_or(false)),
        "html_tag_exists" => html_any(&|h| h.inside.contains_key(arg(args, 0))),
        "html_tag_balance" => {
            let tag = arg(args, 0);
            let expr = arg(args, 1).trim().to_string();
            html_any(&|h| h.inside.get(tag).is_some_and(|v| compare(*v as f64, &expr)))
        }
        "html_range" => {
            let name = arg(args, 0);
            let min: f64 = arg(args, 1).parse().unwrap_or(f64::MIN);
            let max: f64 = if arg(args, 2) == "inf" {
                f64::INFINITY
            } else {
                arg(args, 2).parse().unwrap_or(f64::INFINITY)
            };
            html_any(&|h| h.number(name).is_some_and(|v| v > min && v <= max))
        }
        "html_eval" => {
            let name = arg(args, 0);
            let expr = arg(args, 1).trim().to_string();
            html_any(&|h| h.number(name).is_some_and(|v| compare(v, &expr)))
        }
        "html_text_match" => {
            let Some(r) = re(arg(args, 1)) else {
                return Some(0.0);
            };
            html_any(&|h| {
                h.texts(arg(args, 0))
                    .iter()
                    .any(|t| r.is_match(t.as_bytes()).unwrap_or(false))
            })
        }
        "html_image_only" => {
            let (min, max): (f64, f64) = (
                arg(args, 0).parse().unwrap_or(0.0),
                arg(args, 1).parse().unwrap_or(0.0),
            );
            html_any(&|h| {
                h.inside.contains_key("img") && (h.length as f64) > min && (h.length as f64) <= max
            })
        }
        "html_image_ratio" => {
            let (min, max): (f64, f64) = (
                arg(args, 0).parse().unwrap_or(0.0),
                arg(args, 1).parse().unwrap_or(0.0),
            );
            html_any(&|h| {
                h.image_area > 0 && {
                    let r = h.non_space_len as f64 / h.image_area as f64;
                    r > min && r <= max
                }
            })
        }
        "html_title_subject_ratio" => {
            let subject = m.get1("Subject");
            if subject.is_empty() {
                return Some(0.0);
            }
            let ratio: f64 = arg(args, 0).parse().unwrap_or(f64::MAX);
            html_any(&|h| {
                h.title
                    .iter()
                    .map(|t| t.len() as f64 / subject.len() as f64)
                    .fold(0.0, f64::max)
                    > ratio
            })
        }
        "check_freemail_from" => {
            let r = args.first().and_then(|a| re(a));
            b(all_from_addrs(m).iter().any(|e| {
                is_freemail(ctx.conf, e)
                    && r.is_none_or(|r| r.is_match(e.as_bytes()).unwrap_or(false))
            }))
        }
        "check_freemail_header" => {
            let r = args.get(1).and_then(|a| re(a));
            b(lower_addrs(m, &format!("{}:addr", arg(args, 0)))
                .iter()
                .any(|e| {
                    is_freemail(ctx.conf, e)
                        && r.is_none_or(|r| r.is_match(e.as_bytes()).unwrap_or(false))
                }))
        }
        "check_freemail_replyto" => {
            let what = if args.is_empty() {
                "replyto"
            } else {
                arg(args, 0)
            };
            let from = lower_addrs(m, "From:addr");
            let reply = lower_addrs(m, "Reply-To:addr");
            let from_fm = from.iter().any(|e| is_freemail(ctx.conf, e));
            let reply_fm = reply.iter().any(|e| is_freemail(ctx.conf, e));
            let from_not_in_reply = !from.iter().any(|f| reply.contains(f));
            if from_fm && reply_fm && from_not_in_reply {
                return Some(1.0);
            }
            if what == "replyto" && !reply_fm {
                return Some(0.0);
            }
            if what == "reply"
                && ((!reply.is_empty() && !reply_fm) || (reply.is_empty() && !from_fm))
            {
                return Some(0.0);
            }
            // Freemail addresses in the body that differ from where replies go.
            let mut body_emails: Vec<String> = Vec::new();
            for u in &m.uris {
                if let Some(a) = u.strip_prefix("mailto:") {
                    let a = a.split('?').next().unwrap_or(a).to_ascii_lowercase();
                    if is_freemail(ctx.conf, &a) && !body_emails.contains(&a) {
                        body_emails.push(a);
                    }
                }
            }
            let targets = if what == "replyto" || reply_fm {
                &reply
            } else {
                &from
            };
            b(body_emails.iter().any(|be| targets.iter().any(|t| t != be)))
        }
        "check_from_in_list" | "check_replyto_in_list" => {
            let list = format!("addrlist:{}", arg(args, 0));
            let spec = if function == "check_from_in_list" {
                None
            } else {
                Some("Reply-To:addr")
            };
            let addrs = match spec {
                None => all_from_addrs(m),
                Some(s) => lower_addrs(m, s),
            };
            b(addrs.iter().any(|a| in_list(ctx.conf, &list, a)))
        }
        "check_from_in_blocklist" | "check_from_in_blacklist" => b(all_from_addrs(m)
            .iter()
            .any(|a| in_list(ctx.conf, "blocklist_from", a))),
        "check_from_in_welcomelist" | "check_from_in_whitelist" => b(all_from_addrs(m)
            .iter()
            .any(|a| in_list(ctx.conf, "welcomelist_from", a))),
        // def_welcomelist_from_* need DKIM/SPF from the network in SpamAssassin.
        "check_from_in_default_welcomelist" | "check_from_in_default_whitelist" => 0.0,
        "check_to_in_blocklist"
        | "check_to_in_blacklist"
        | "check_to_in_welcomelist"
        | "check_to_in_whitelist"
        | "check_to_in_more_spam"
        | "check_to_in_all_spam" => {
            let list = match function {
                "check_to_in_blocklist" | "check_to_in_blacklist" => "blocklist_to",
                "check_to_in_welcomelist" | "check_to_in_whitelist" => "welcomelist_to",
                "check_to_in_more_spam" => "more_spam_to",
                _ => "all_spam_to",
            };
            b(lower_addrs(m, "ToCc:addr")
                .iter()
                .any(|a| in_list(ctx.conf, list, a)))
        }
        "check_subject_in_blocklist"
        | "check_subject_in_blacklist"
        | "check_subject_in_welcomelist"
        | "check_subject_in_whitelist" => {
            let list = if function.contains("block") || function.contains("black") {
                "blocklist_subject"
            } else {
                "welcomelist_subject"
            };
            let s = m.get1("Subject").to_ascii_lowercase();
            b(ctx
                .conf
                .lists
                .get(list)
                .is_some_and(|l| l.iter().any(|p| glob(p, &s))))
        }
        "check_uri_host_in_blocklist"
        | "check_uri_host_in_blacklist"
        | "check_uri_host_in_welcomelist"
        | "check_uri_host_in_whitelist"
        | "check_uri_host_listed" => {
            let list = if function.contains("welcome") || function.contains("white") {
                "welcomelist_uri_host"
            } else {
                "blocklist_uri_host"
            };
            let hosts: Vec<String> = m.uris.iter().filter_map(|u| host_of(u)).collect();
            b(ctx.conf.lists.get(list).is_some_and(|l| {
                hosts
                    .iter()
                    .any(|h| l.iter().any(|d| h == d || h.ends_with(&format!(".{d}"))))
            }))
        }
        "check_mailfrom_matches_rcvd" => {
            let env = m.envelope().unwrap_or_default().to_ascii_lowercase();
            let Some((_, dom)) = env.rsplit_once('@') else {
                return Some(0.0);
            };
            b(m.relays.iter().find(|r| !r.trusted).is_some_and(|r| {
                let rdns = r.rdns.to_ascii_lowercase();
                !rdns.is_empty() && (rdns == dom || rdns.ends_with(&format!(".{dom}")))
            }))
        }
        "check_no_relays" => b(m.relays.is_empty()),
        "check_relays_unparseable" => 0.0,
        "check_all_trusted" => b(!m.relays.is_empty() && m.relays.iter().all(|r| r.trusted)),
        "check_for_no_rdns_dotcom_helo" => {
            b(m.relays.iter().find(|r| !r.trusted).is_some_and(|r| {
                r.rdns.is_empty() && {
                    let h = r.helo.to_ascii_lowercase();
                    [
                        "aol.com",
                        "yahoo.com",
                        "hotmail.com",
                        "msn.com",
                        "excite.com",
                        "lycos.com",
                        "outlook.com",
                    ]
                    .iter()
                    .any(|d| h.ends_with(d))
                }
            }))
        }
        "helo_ip_mismatch" => b(m.relays.iter().find(|r| !r.trusted).is_some_and(|r| {
            r.helo.parse::<std::net::Ipv4Addr>().is_ok_and(|h| {
                r.ip.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| {
                    !h.is_private() && !ip.is_private() && h.octets()[..2] != ip.octets()[..2]
                })
            })
        })),
        "check_https_http_mismatch" => html_any(&|h| {
            h.anchor
                .iter()
                .any(|a| a.trim().to_ascii_lowercase().starts_with("https://"))
                && h.uris
                    .iter()
                    .any(|u| u.to_ascii_lowercase().starts_with("http://"))
        }),
        "check_uri_truncated" => 0.0,
        _ => return None,
    })
}

/// `"!= 0"`, `"< 512"`, `">= 3"` applied to `v` (the HTMLEval expressions).
fn compare(v: f64, expr: &str) -> bool {
    let expr = expr.trim();
    for (op, f) in [
        (">=", (|a: f64, b: f64| a >= b) as fn(f64, f64) -> bool),
        ("<=", |a, b| a <= b),
        ("==", |a, b| a == b),
        ("!=", |a, b| a != b),
        (">", |a, b| a > b),
        ("<", |a, b| a < b),
    ] {
        if let Some(rest) = expr.strip_prefix(op) {
            return rest.trim().parse().is_ok_and(|n| f(v, n));
        }
    }
    false
}

fn word_contains(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().last();
        let after = hay[i + needle.len()..].chars().next();
        let w = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !w(before) && !w(after)
    })
}

/// The host of a URI, lower case.
pub fn host_of(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?;
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(glob("*.yahoo.*", "mail.yahoo.co.uk"));
        assert!(!glob("yahoo.com", "notyahoo.com"));
        assert!(!compare(0.0, "!= 0") && compare(2.0, "!= 0"));
        assert!(compare(100.0, "< 512"));
        assert_eq!(
            host_of("http://User@Example.COM:80/x").as_deref(),
            Some("example.com")
        );
        assert!(parse_date("Tue, 14 Nov 2023 10:00:00 +0000").is_some());
        assert_eq!(
            received_date("from x by y; Tue, 14 Nov 2023 10:00:00 +0000").as_deref(),
            Some("14 Nov 2023 10:00:00 +0000")
        );
        assert!(word_contains("hi bob@x.example!", "bob@x.example"));
    }

    #[test]
    fn base64_blank_lines_count_only_with_text_after_them() {
        let stats = |body: &str| {
            let raw = format!(
                "From: a@b.example\nSubject: x\nMIME-Version: 1.0\n\
                 Content-Type: multipart/mixed; boundary=\"m\"\n\n--m\n\
                 Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n\
                 {body}--m--\n"
            );
            let parsed = crate::message::parse(raw.as_bytes());
            let m = SaMessage::new(raw.as_bytes(), parsed.as_ref(), None);
            mime_stats(&m).base64_blanks
        };
        assert!(stats("QUJD\n\nREVG\n"));
        assert!(!stats("QUJD\nREVG\n\n"));
        // Many blank lines: one pass, whatever their number.
        assert!(!stats(&format!("QUJD\n{}", "\n".repeat(200_000))));
        assert!(stats(&format!("QUJD\n{}REVG\n", " \r\n".repeat(200_000))));
    }
}
