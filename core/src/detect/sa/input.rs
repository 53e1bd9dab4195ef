//! A message as SpamAssassin's rules see it: header values with SpamAssassin's decoding and
//! modifiers (`:raw`, `:addr`, `:name`, `:first`, `:last`) and pseudo-headers (`ALL`,
//! `ToCc`, `MESSAGEID`, `EnvelopeFrom`, `X-Spam-Relays-*`), the rendered body as lines (the
//! Subject first, paragraphs joined, lines cut at 2 KB), the raw body in 2–4 KB chunks, the
//! URIs of the text and the HTML, and the pristine message. Built once per message from
//! mail-parser's parse and the raw bytes.

use std::collections::HashMap;

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::html::{HtmlFacts, render};

/// The longest body line SpamAssassin keeps whole (`MAX_BODY_LINE_LENGTH`).
pub const MAX_LINE: usize = 2048;
/// `body_part_scan_size`
const BODY_SCAN: usize = 50_000;
/// `rawbody_part_scan_size`
const RAWBODY_SCAN: usize = 500_000;

/// One header field as received.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    /// Everything after the colon, line endings as `\n`, ending in `\n`.
    pub raw: String,
}

/// A leaf MIME part, as the MIME eval tests see it.
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// `type/subtype`, lower case (`text/plain` when absent).
    pub ctype: String,
    pub charset: String,
    pub encoding: String,
    /// The part's raw header block (for `mimeheader` rules).
    pub fields: Vec<Field>,
    /// Transfer-decoded text of text parts (charset-decoded by mail-parser).
    pub text: Option<String>,
    /// The raw (still encoded) body bytes.
    pub raw_body: Vec<u8>,
    /// Decoded size.
    pub decoded_len: usize,
    pub filename: Option<String>,
}

/// A relay parsed from a `Received` header (SpamAssassin's `X-Spam-Relays-*` entries).
#[derive(Debug, Clone, Default)]
pub struct Relay {
    pub ip: String,
    pub rdns: String,
    pub helo: String,
    pub by: String,
    pub id: String,
    pub envfrom: String,
    pub auth: String,
    /// Trusted (and internal): SpamAssassin's inference without configured networks trusts
    /// relays from private addresses or with authentication, down the chain until the first
    /// other one.
    pub trusted: bool,
}

impl Relay {
    /// SpamAssassin's one-relay serialisation.
    pub fn entry(&self) -> String {
        format!(
            "[ ip={} rdns={} helo={} by={} ident= envfrom={} intl={} id={} auth={} msa=0 ]",
            self.ip,
            self.rdns,
            self.helo,
            self.by,
            self.envfrom,
            u8::from(self.trusted),
            self.id,
            self.auth
        )
    }
}

/// Everything the rules read, computed once.
pub struct SaMessage<'a> {
    pub raw: &'a [u8],
    pub fields: Vec<Field>,
    pub parts: Vec<Part>,
    pub body_lines: Vec<Vec<u8>>,
    pub rawbody: Vec<Vec<u8>>,
    pub uris: Vec<String>,
    pub html: Vec<HtmlFacts>,
    pub relays: Vec<Relay>,
    /// How many `Received` headers from the top are trusted (internal).
    pub trusted_received: usize,
    /// Bytes of the body as received (SpamAssassin's `pristine_body_length`).
    pub body_len: usize,
    /// MAIL FROM when known (Moat's SMTP envelope), else derived as SpamAssassin does.
    pub envelope_from: Option<String>,
    /// The body text (rendered) without the Subject line, for BodyEval tests.
    pub rendered: String,
    cache: std::cell::RefCell<HashMap<String, Option<Vec<Vec<u8>>>>>,
}

/// `raw` with every CRLF turned into LF (lone CRs are kept, as SpamAssassin keeps them).
pub fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = memchr::memmem::find(rest, b"\r\n") {
        out.extend_from_slice(&rest[..at]);
        out.push(b'\n');
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    out
}

fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Top-level header fields of `raw`, in order.
pub fn header_fields(raw: &[u8]) -> Vec<Field> {
    let text = String::from_utf8_lossy(raw);
    let mut out: Vec<Field> = Vec::new();
    for line in text.split_inclusive('\n') {
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(f) = out.last_mut() {
                f.raw.push_str(&lf(line));
                if !f.raw.ends_with('\n') {
                    f.raw.push('\n');
                }
            }
            continue;
        }
        // SpamAssassin: `^([^\x00-\x1f\x7f-\xff :]+)\s*:`
        let Some(colon) = l.find(':') else { continue };
        let name = l[..colon].trim_end_matches([' ', '\t']);
        let valid =
            !name.is_empty() && name.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b':');
        if !valid {
            continue;
        }
        let mut raw_value = lf(&line[colon + 1..]);
        if !raw_value.ends_with('\n') {
            raw_value.push('\n');
        }
        out.push(Field {
            name: name.to_string(),
            raw: raw_value,
        });
    }
    out
}

/// Where the body starts: after the first empty line.
fn header_end(raw: &[u8]) -> usize {
    let mut i = 0;
    while i < raw.len() {
        let end = raw[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |e| i + e + 1);
        let line = &raw[i..end];
        if line == b"\n" || line == b"\r\n" {
            return end;
        }
        i = end;
    }
    raw.len()
}

/// Header names whose value SpamAssassin never MIME-decodes.
fn undecoded(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "received"
            | "message-id"
            | "resent-message-id"
            | "date"
            | "resent-date"
            | "mime-version"
            | "references"
            | "in-reply-to"
    ) || n.starts_with("list-")
}

/// RFC 2047 decoding of an unstructured value (through mail-parser).
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let fake = format!("Subject: {value}\r\n\r\n");
    MessageParser::new()
        .parse_headers(fake.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

/// The decoded value SpamAssassin keeps for a field (unfolded, trimmed, MIME-decoded).
fn decoded(field: &Field) -> String {
    let mut v = String::with_capacity(field.raw.len());
    let mut chars = field.raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' && chars.peek().is_some_and(|n| *n == ' ' || *n == '\t') {
            while chars.peek().is_some_and(|n| *n == ' ' || *n == '\t') {
                chars.next();
            }
            v.push(' ');
        } else {
            v.push(c);
        }
    }
    let v = v.trim();
    if undecoded(&field.name) {
        v.to_string()
    } else {
        decode_words(v)
    }
}

/// Addresses and display names in a header value (`:addr`, `:name`).
fn addresses(value: &str) -> Vec<(Option<String>, Option<String>)> {
    let fake = format!("To: {}\r\n\r\n", value.trim_end());
    let Some(m) = MessageParser::new().parse_headers(fake.as_bytes()) else {
        return Vec::new();
    };
    let Some(list) = m.to() else {
        return Vec::new();
    };
    list.iter()
        .map(|a| {
            (
                a.address().map(str::to_string),
                a.name().map(str::to_string),
            )
        })
        .collect()
}

/// SpamAssassin's `split_into_array_of_short_lines`.
fn short_lines(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in text.split_inclusive(|b| *b == b'\n') {
        let mut line = line;
        while line.len() > MAX_LINE {
            let cut = line[..MAX_LINE]
                .iter()
                .rposition(|b| *b == b' ')
                .map_or(MAX_LINE, |i| i + 1);
            out.push(line[..cut].to_vec());
            line = &line[cut..];
        }
        out.push(line.to_vec());
    }
    out
}

/// SpamAssassin's `split_into_array_of_short_paragraphs` (raw body chunks).
fn short_paragraphs(text: &[u8]) -> Vec<Vec<u8>> {
    let len = text.len();
    if len <= MAX_LINE {
        return vec![text.to_vec()];
    }
    let find = |b: u8, from: usize| {
        text[from.min(len)..]
            .iter()
            .position(|x| *x == b)
            .map(|i| i + from)
    };
    let mut out = Vec::new();
    let mut ofs = 0;
    while len - ofs > 2 * MAX_LINE {
        let fits = |j: Option<usize>| j.filter(|j| j - ofs < 2 * MAX_LINE);
        let j = fits(find(b'\n', ofs + MAX_LINE))
            .or_else(|| fits(find(b'>', ofs + MAX_LINE)))
            .or_else(|| fits(find(b' ', ofs + MAX_LINE)))
            .unwrap_or(ofs + MAX_LINE);
        out.push(text[ofs..=j].to_vec());
        ofs = j + 1;
    }
    if ofs < len {
        out.push(text[ofs..].to_vec());
    }
    out
}

/// Cuts `text` at `scan` bytes, at a line end, `>` (rawbody) or space within 1 KB after.
fn truncate(text: &str, scan: usize, gt: bool) -> &str {
    if text.len() <= scan {
        return text;
    }
    let after = |c: char| {
        text[..]
            .char_indices()
            .find(|(i, ch)| *i >= scan && *ch == c)
            .map(|(i, _)| i)
    };
    for c in ["\n", if gt { ">" } else { " " }, " "] {
        if let Some(i) = after(c.chars().next().unwrap_or(' '))
            && i - scan <= 1024
        {
            return &text[..=i];
        }
    }
    let mut cut = scan;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Leaf parts of `msg` (descending into attached messages), each with the raw bytes its
/// offsets refer to.
fn leaves<'x>(msg: &'x Message<'x>, raw: &'x [u8], out: &mut Vec<(&'x MessagePart<'x>, &'x [u8])>) {
    for part in &msg.parts {
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Message(inner) => leaves(inner, inner.raw_message.as_ref(), out),
            _ => out.push((part, raw)),
        }
    }
}

/// The text a linkifier finds in rendered text: URLs with a scheme, `www.`/`ftp.` hosts and
/// e-mail addresses (as `mailto:`).
fn text_uris(text: &str, out: &mut Vec<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let stop = |c: u8| c.is_ascii_whitespace() || b"<>\"'`{}|\\^[]".contains(&c) || c >= 0x80;
    while i < bytes.len() {
        let rest = &text[i..];
        let lower_start = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        let scheme = ["http://", "https://", "ftp://", "www.", "ftp."]
            .iter()
            .find(|s| lower_start.starts_with(**s))
            .copied();
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if let (Some(s), true) = (scheme, boundary) {
            let end = bytes[i..]
                .iter()
                .position(|b| stop(*b))
                .map_or(bytes.len(), |e| i + e);
            let mut url = text[i..end]
                .trim_end_matches(['.', ',', ')', ';', '!', '?', ':'])
                .to_string();
            if s == "www." {
                url = format!("http://{url}");
            } else if s == "ftp." {
                url = format!("ftp://{url}");
            }
            if url.len() > s.len() {
                out.push(url);
            }
            i = end.max(i + 1);
            continue;
        }
        if bytes[i] == b'@' && i > 0 {
            let start = bytes[..i]
                .iter()
                .rposition(|b| !(b.is_ascii_alphanumeric() || b"._+-".contains(b)))
                .map_or(0, |p| p + 1);
            let end = bytes[i + 1..]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || b".-".contains(b)))
                .map_or(bytes.len(), |e| i + 1 + e);
            let domain = text[i + 1..end].trim_end_matches('.');
            if start < i && domain.contains('.') {
                out.push(format!("mailto:{}@{domain}", &text[start..i]));
            }
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
}

/// SpamAssassin's URI variants (`uri_list_canonicalize`, the common cases): the URI as
/// given, `%`-decoded, with `\` as `/`, `http:host` given its slashes, user info and default
/// ports removed.
fn canonical_variants(uri: &str, out: &mut Vec<String>) {
    let mut push = |u: String| {
        if !u.is_empty() && !out.contains(&u) {
            out.push(u);
        }
    };
    let u = uri.trim();
    push(u.to_string());
    let mut c = u.replace('\\', "/");
    if let Some(pos) = c.find(':')
        && c[..pos].eq_ignore_ascii_case("http") | c[..pos].eq_ignore_ascii_case("https")
        && !c[pos + 1..].starts_with("//")
    {
        c = format!("{}://{}", &c[..pos], &c[pos + 1..]);
    }
    if c.contains('%') {
        let bytes = c.as_bytes();
        let mut d = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && c.is_char_boundary(i + 3)
                && let Ok(v) = u8::from_str_radix(&c[i + 1..i + 3], 16)
            {
                d.push(v);
                i += 3;
                continue;
            }
            d.push(bytes[i]);
            i += 1;
        }
        c = String::from_utf8_lossy(&d).into_owned();
    }
    // scheme://user:pass@host:port/ → scheme://host/
    if let Some(s) = c.find("://") {
        let rest = &c[s + 3..];
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let mut host = &rest[..host_end];
        if let Some(at) = host.rfind('@') {
            host = &host[at + 1..];
        }
        let host = host
            .strip_suffix(":80")
            .or_else(|| host.strip_suffix(":443"))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let mut path = rest[host_end..].to_string();
        if path.starts_with(['?', '#']) {
            path.insert(0, '/');
        }
        c = format!("{}://{host}{path}", &c[..s].to_ascii_lowercase());
    }
    push(c);
}

/// Parses the common `Received` forms into relays (newest first, as the header order).
fn parse_relays(fields: &[Field]) -> (Vec<Relay>, usize) {
    let mut entries: Vec<Option<Relay>> = Vec::new();
    for f in fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("received"))
    {
        let v = decoded(f);
        let lower = v.to_ascii_lowercase();
        let word_after = |key: &str| -> String {
            lower.find(key).map_or(String::new(), |i| {
                v[i + key.len()..]
                    .trim_start()
                    .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
        };
        if !lower.starts_with("from") {
            entries.push(None);
            continue;
        }
        let mut r = Relay {
            helo: word_after("from "),
            by: word_after(" by "),
            id: word_after(" id "),
            ..Relay::default()
        };
        // The first parenthesised comment after `from HELO`: (rdns [ip]) or ([ip]) or (helo=…)
        if let Some(open) = v.find('(') {
            let close = v[open..].find(')').map_or(v.len(), |c| open + c);
            let inner = &v[open + 1..close];
            if let Some(b) = inner.find('[') {
                let e = inner[b..].find(']').map_or(inner.len(), |e| b + e);
                r.ip = inner[b + 1..e].trim_start_matches("IPv6:").to_string();
                let before = inner[..b].trim();
                if !before.is_empty() && !before.contains('=') {
                    let rdns = before.split_whitespace().next().unwrap_or("");
                    if !rdns.eq_ignore_ascii_case("unknown") {
                        r.rdns = rdns.to_string();
                    }
                }
            } else if let Some(h) = inner.strip_prefix("helo=") {
                r.rdns = r.helo.trim_matches(['[', ']']).to_string();
                r.helo = h.trim().to_string();
            } else if inner.parse::<std::net::IpAddr>().is_ok() {
                r.ip = inner.to_string();
            }
        }
        if r.ip.is_empty() {
            let h = r.helo.trim_matches(['[', ']']);
            if h.parse::<std::net::IpAddr>().is_ok() {
                r.ip = h.to_string();
            }
        }
        if r.ip.is_empty() {
            // No IP: SpamAssassin skips relays it cannot place.
            entries.push(None);
            continue;
        }
        if lower.contains("authenticated") || lower.contains("esmtpa") || lower.contains("esmtpsa")
        {
            r.auth = "ESMTPA".into();
        }
        r.envfrom = word_after("envelope-from ")
            .trim_matches(['<', '>'])
            .to_string();
        entries.push(Some(r));
    }
    let mut in_trusted = true;
    // Received headers from the top that are trusted (unparseable ones inherit the trust).
    let mut trusted_received = 0;
    let mut out = Vec::new();
    for r in entries {
        let Some(mut r) = r else {
            if in_trusted {
                trusted_received += 1;
            }
            continue;
        };
        if in_trusted {
            let private = r.ip.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
                std::net::IpAddr::V4(v4) => {
                    v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.octets()[0] == 0
                }
                std::net::IpAddr::V6(v6) => {
                    v6.is_loopback()
                        || (v6.segments()[0] & 0xfe00) == 0xfc00
                        || (v6.segments()[0] & 0xffc0) == 0xfe80
                }
            });
            in_trusted = private || !r.auth.is_empty();
        }
        r.trusted = in_trusted;
        if in_trusted {
            trusted_received += 1;
        }
        out.push(r);
    }
    (out, trusted_received)
}

impl<'a> SaMessage<'a> {
    /// Builds the views of `raw` (parsed as `msg`).
    pub fn new(raw: &'a [u8], msg: Option<&'a Message<'a>>, envelope_from: Option<&str>) -> Self {
        let fields = header_fields(raw);
        let mut parts = Vec::new();
        let mut html = Vec::new();
        let mut text = String::new();
        let mut rawbody = Vec::new();
        let mut uris: Vec<String> = Vec::new();
        if let Some(msg) = msg {
            let mut list = Vec::new();
            leaves(msg, raw, &mut list);
            for (p, praw) in list {
                let ctype = p
                    .content_type()
                    .map(|c| {
                        format!(
                            "{}/{}",
                            c.ctype().to_ascii_lowercase(),
                            c.subtype().unwrap_or("").to_ascii_lowercase()
                        )
                    })
                    .unwrap_or_else(|| "text/plain".into());
                let charset = p
                    .content_type()
                    .and_then(|c| c.attribute("charset"))
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let hs = (p.offset_header as usize).min(praw.len());
                let he = (p.offset_body as usize).min(praw.len()).max(hs);
                let be = (p.offset_end as usize).min(praw.len()).max(he);
                let body_text = match &p.body {
                    PartType::Text(t) | PartType::Html(t) => Some(t.to_string()),
                    _ => None,
                };
                let decoded_len = match &p.body {
                    PartType::Text(t) | PartType::Html(t) => t.len(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => b.len(),
                    _ => 0,
                };
                let is_html = ctype == "text/html" || matches!(p.body, PartType::Html(_));
                if let Some(t) = &body_text {
                    let t = lf(t);
                    if (ctype.starts_with("text/") || ctype.starts_with("message/"))
                        && ctype != "text/calendar"
                    {
                        rawbody.extend(short_paragraphs(
                            truncate(&t, RAWBODY_SCAN, true).as_bytes(),
                        ));
                    }
                    if ctype == "text/plain" || ctype == "text/html" {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        let rendered = if is_html {
                            let (r, facts) = render(&t);
                            uris.extend(facts.uris.iter().cloned());
                            html.push(facts);
                            r
                        } else {
                            t.clone()
                        };
                        text.push_str(truncate(&rendered, BODY_SCAN, false));
                    }
                }
                parts.push(Part {
                    ctype,
                    charset,
                    encoding: p
                        .content_transfer_encoding()
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    fields: header_fields(&praw[hs..he]),
                    text: body_text,
                    raw_body: praw[he..be].to_vec(),
                    decoded_len,
                    filename: p.attachment_name().map(str::to_string),
                });
            }
        }
        // Paragraphs: blank-line runs become one break, other white space one space.
        let mut norm = String::with_capacity(text.len());
        let mut pending_ws = false;
        let mut newlines = 0;
        for c in text.chars() {
            if c.is_whitespace() {
                pending_ws = true;
                if c == '\n' {
                    newlines += 1;
                }
                continue;
            }
            if pending_ws {
                norm.push(if newlines >= 2 { '\n' } else { ' ' });
                pending_ws = false;
                newlines = 0;
            }
            norm.push(c);
        }
        if pending_ws {
            norm.push(if newlines >= 2 { '\n' } else { ' ' });
        }
        let subject = fields
            .iter()
            .rev()
            .find(|f| f.name.eq_ignore_ascii_case("subject"))
            .map(|f| format!("{}\n", decoded(f)))
            .unwrap_or_else(|| "\n".into());
        let mut all = subject.into_bytes();
        all.extend_from_slice(norm.as_bytes());
        let body_lines = short_lines(&all);
        text_uris(&norm, &mut uris);
        let mut variants = Vec::new();
        for u in &uris {
            canonical_variants(u, &mut variants);
        }
        let (relays, trusted_received) = parse_relays(&fields);
        let body_len = raw.len() - header_end(raw);
        SaMessage {
            raw,
            fields,
            parts,
            body_lines,
            rawbody,
            uris: variants,
            html,
            relays,
            trusted_received,
            body_len,
            envelope_from: envelope_from.map(str::to_string),
            rendered: norm,
            cache: Default::default(),
        }
    }

    /// Values of a header by name (decoded, each ending in `\n`; raw with folds unfolded).
    pub fn header(&self, name: &str, raw: bool) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| {
                if raw {
                    let mut v = String::with_capacity(f.raw.len());
                    let mut chars = f.raw.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c == '\n' && chars.peek().is_some_and(|n| n.is_whitespace()) {
                            while chars.peek().is_some_and(|n| n.is_whitespace()) {
                                chars.next();
                            }
                            v.push(' ');
                        } else {
                            v.push(c);
                        }
                    }
                    v
                } else {
                    format!("{}\n", decoded(f))
                }
            })
            .collect()
    }

    /// The first decoded value of a header without its newline, or "".
    pub fn get1(&self, name: &str) -> String {
        self.header(name, false)
            .into_iter()
            .last()
            .map(|v| v.trim_end_matches('\n').to_string())
            .unwrap_or_default()
    }

    /// SpamAssassin's `get()` as header rules use it: the values of `spec` (a header name or
    /// pseudo-header with modifiers), or `None` when nothing is found.
    pub fn get(&self, spec: &str) -> Option<Vec<Vec<u8>>> {
        if let Some(v) = self.cache.borrow().get(spec) {
            return v.clone();
        }
        let v = self.compute(spec);
        self.cache.borrow_mut().insert(spec.to_string(), v.clone());
        v
    }

    fn compute(&self, spec: &str) -> Option<Vec<Vec<u8>>> {
        let mut parts = spec.split(':');
        let name = parts.next().unwrap_or("").trim();
        let mods: Vec<&str> = parts.map(str::trim).collect();
        let has = |m: &str| mods.contains(&m);
        let (raw, addr, nm) = (has("raw"), has("addr"), has("name"));
        let lower = name.to_ascii_lowercase();
        let mut results: Vec<String> = match name {
            "ALL" => self.all_headers(raw, None, None),
            // Below the last trusted relay: from the first untrusted `Received` on.
            "ALL-UNTRUSTED" | "ALL-EXTERNAL" => {
                self.all_headers(raw, Some(self.trusted_received), None)
            }
            // Above it: down to and including the first untrusted `Received`.
            "ALL-TRUSTED" | "ALL-INTERNAL" => {
                self.all_headers(raw, None, Some(self.trusted_received))
            }
            "MESSAGEID" => [
                "X-Message-Id",
                "Resent-Message-Id",
                "X-Original-Message-ID",
                "Message-Id",
            ]
            .iter()
            .flat_map(|h| self.header(h, raw))
            .filter(|v| !v.trim().is_empty())
            .collect(),
            _ if lower == "tocc" => {
                let mut v = self.header("To", raw || addr || nm);
                v.extend(self.header("Cc", raw || addr || nm));
                v
            }
            _ if lower == "envelopefrom" => self.envelope().into_iter().collect(),
            _ if lower == "x-spam-relays-untrusted" || lower == "x-spam-relays-external" => {
                vec![
                    self.relays
                        .iter()
                        .filter(|r| !r.trusted)
                        .map(Relay::entry)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            }
            _ if lower == "x-spam-relays-trusted" || lower == "x-spam-relays-internal" => {
                vec![
                    self.relays
                        .iter()
                        .filter(|r| r.trusted)
                        .map(Relay::entry)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            }
            _ => self.header(name, raw || addr || nm),
        };
        if results.is_empty() {
            return None;
        }
        if has("first") {
            results.truncate(1);
        } else if has("last") {
            results = results.split_off(results.len() - 1);
        }
        if addr || nm {
            let mut out = Vec::new();
            for line in &results {
                for (a, n) in addresses(line) {
                    if addr {
                        if let Some(a) = a {
                            out.push(a);
                        }
                    } else if let Some(n) = n {
                        let n = if raw { n } else { decode_words(&n) };
                        let n = n.split_whitespace().collect::<Vec<_>>().join(" ");
                        let n = n
                            .strip_prefix('\'')
                            .and_then(|x| x.strip_suffix('\''))
                            .map(str::to_string)
                            .unwrap_or(n);
                        out.push(n);
                    }
                }
            }
            results = out;
        }
        if has("ip") || has("revip") {
            results = results
                .iter()
                .filter_map(|l| {
                    l.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .find(|w| w.parse::<std::net::Ipv4Addr>().is_ok())
                        .map(|ip| {
                            if has("revip") {
                                ip.split('.').rev().collect::<Vec<_>>().join(".")
                            } else {
                                ip.to_string()
                            }
                        })
                })
                .collect();
        }
        if results.is_empty() {
            return None;
        }
        Some(results.into_iter().map(String::into_bytes).collect())
    }

    /// Header lines (`Name: value\n`, decoded or raw) whose `Received` index lies in
    /// [`start`, `end`] (SpamAssassin's `get_all_hdrs_in_rcvd_index_range`).
    fn all_headers(&self, raw: bool, start: Option<usize>, end: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        let mut index: i64 = -1;
        for f in &self.fields {
            if f.name.eq_ignore_ascii_case("received") {
                index += 1;
            }
            let after_start = start.is_none_or(|s| index >= s as i64);
            let before_end = end.is_none_or(|e| index <= e as i64);
            if after_start && before_end {
                out.push(if raw {
                    format!("{}:{}", f.name, f.raw)
                } else {
                    format!("{}: {}\n", f.name, decoded(f))
                });
            }
            if end.is_some_and(|e| index == e as i64) && f.name.eq_ignore_ascii_case("received") {
                break;
            }
        }
        out
    }

    /// The value header rules match: the values joined (with `\n` unless they end in one).
    pub fn header_value(&self, spec: &str) -> Option<Vec<u8>> {
        let vals = self.get(spec)?;
        let sep: &[u8] = if vals[0].ends_with(b"\n") { b"" } else { b"\n" };
        Some(vals.join(sep))
    }

    /// SpamAssassin's envelope sender guess: Moat's MAIL FROM when known, else
    /// X-Envelope-From / Envelope-Sender / Return-Path.
    pub fn envelope(&self) -> Option<String> {
        if let Some(e) = &self.envelope_from {
            return Some(e.clone());
        }
        for h in ["X-Envelope-From", "Envelope-Sender", "Return-Path"] {
            let v = self.get1(h);
            if !v.is_empty() {
                let a = addresses(&v).into_iter().find_map(|(a, _)| a).unwrap_or(v);
                return Some(a.trim_matches(['<', '>']).to_string());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    #[test]
    fn headers_body_lines_and_uris_as_spamassassin_builds_them() {
        let raw = b"Received: from mx.sender.example (mx.sender.example [192.0.2.9])\r\n\tby mail.example with ESMTP id 123\r\n\
From: =?utf-8?q?J=C3=B6rg?= <jorg@sender.example>, \"B\" <b@x.example>\r\n\
To: a@example.com\r\nSubject: Hello\r\n  world\r\nContent-Type: text/plain\r\n\r\n\
First para line one\r\nline two.\r\n\r\n\r\nSecond www.example.com/x para\r\nmail bob@host.example now\r\n";
        let msg = parse(raw).expect("parses");
        let m = SaMessage::new(raw, Some(&msg), None);
        assert_eq!(
            m.header_value("Subject").as_deref(),
            Some(&b"Hello world\n"[..])
        );
        assert_eq!(
            m.header_value("From:addr").as_deref(),
            Some(&b"jorg@sender.example\nb@x.example"[..])
        );
        assert_eq!(
            m.header_value("From:name").as_deref(),
            Some("Jörg\nB".as_bytes())
        );
        assert!(m.header_value("Cc").is_none());
        assert_eq!(m.body_lines[0], b"Hello world\n");
        assert_eq!(m.body_lines[1], b"First para line one line two.\n");
        assert!(String::from_utf8_lossy(&m.body_lines[2]).starts_with("Second www"));
        assert!(
            m.uris.iter().any(|u| u == "http://www.example.com/x"),
            "{:?}",
            m.uris
        );
        assert!(
            m.uris.iter().any(|u| u == "mailto:bob@host.example"),
            "{:?}",
            m.uris
        );
        assert_eq!(m.relays.len(), 1);
        assert_eq!(m.relays[0].ip, "192.0.2.9");
        assert_eq!(m.relays[0].rdns, "mx.sender.example");
        let ext =
            String::from_utf8_lossy(&m.header_value("X-Spam-Relays-External").unwrap_or_default())
                .into_owned();
        assert!(
            ext.starts_with(
                "[ ip=192.0.2.9 rdns=mx.sender.example helo=mx.sender.example by=mail.example"
            ),
            "{ext}"
        );
    }

    #[test]
    fn long_lines_split_at_a_space() {
        let mut line = "word ".repeat(600).into_bytes();
        line.push(b'\n');
        let lines = short_lines(&line);
        assert!(lines.len() == 2 && lines[0].len() <= MAX_LINE && lines[0].ends_with(b" "));
        let chunks = short_paragraphs(&vec![b'x'; 10_000]);
        assert!(chunks.iter().all(|c| c.len() <= 2 * MAX_LINE));
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 10_000);
    }
}
