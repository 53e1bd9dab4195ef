//! The fields of a message that policies inspect, borrowed from mail-parser's parse of the bytes
//! the SMTP session received: nothing here copies a body unless a transfer encoding (base64,
//! quoted-printable, a charset) forces mail-parser to decode it.

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, MimeHeaders};

/// One text the policy engine can scan, with where it came from.
#[derive(Debug, Clone)]
pub struct BodyText<'a> {
    /// MIME part index in mail-parser's numbering.
    pub part: u32,
    pub text: Cow<'a, str>,
    /// The part is `text/html` (`text` is then markup, not what a reader sees).
    pub html: bool,
}

/// An attachment: every name a mail client might show for it, and its decoded bytes.
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    /// MIME part index in mail-parser's numbering.
    pub part: u32,
    /// Candidate file names, lower-cased: `filename=` and `name=` as decoded, and each with
    /// control characters and line breaks removed and trailing dots and spaces trimmed
    /// (checklist MIME-4). Empty when the part has no name.
    pub names: Vec<String>,
    /// The declared `type/subtype`, lower-cased.
    pub declared_type: String,
    /// The decoded content.
    pub content: &'a [u8],
    /// The message inside, when the part is a forwarded message (`message/rfc822`, or the
    /// default part type of a `multipart/digest`).
    pub nested: Option<&'a Message<'a>>,
}

impl Attachment<'_> {
    /// The extensions of every candidate name (without the dot, lower-cased).
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .filter_map(|n| n.rsplit_once('.').map(|(_, ext)| ext))
            .filter(|e| !e.is_empty())
    }
}

fn name_candidates(raw: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in raw {
        let lower = name.to_lowercase();
        let cleaned: String = lower
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim_end_matches(['.', ' '])
            .trim()
            .to_string();
        // The part after the last path separator is what a client saves.
        let base = cleaned
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&cleaned)
            .to_string();
        for n in [lower, cleaned, base] {
            if !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// What a policy can look at.
#[derive(Debug, Default)]
pub struct MessageView<'a> {
    pub subject: &'a str,
    /// Address of the first `From:` mailbox, if any.
    pub from_address: &'a str,
    /// Display name of the first `From:` mailbox, if any.
    pub from_name: &'a str,
    /// Address of the first `Reply-To:` mailbox, if any.
    pub reply_to: &'a str,
    /// The `Date:` field as Unix seconds, when it parses.
    pub date: Option<i64>,
    /// The SMTP envelope sender (`MAIL FROM`), empty for bounces.
    pub envelope_from: &'a str,
    pub bodies: Vec<BodyText<'a>>,
    /// Top-level headers: lower-cased name and raw value bytes.
    pub headers: Vec<(String, &'a [u8])>,
    /// Sender authentication results, when they were checked.
    pub auth: Option<&'a crate::model::AuthSummary>,
    /// Attachments (parts with a name or a non-text type), decoded.
    pub attachments: Vec<Attachment<'a>>,
}

/// Parses raw message bytes. Returns `None` only when mail-parser finds no message at all; the
/// caller then scans an empty view (envelope conditions still apply).
pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

impl<'a> MessageView<'a> {
    /// Builds the view of a parsed message.
    pub fn new(msg: &'a Message<'a>, envelope_from: &'a str) -> Self {
        let (from_address, from_name) = msg
            .from()
            .and_then(|a| a.first())
            .map(|a| (a.address().unwrap_or(""), a.name().unwrap_or("")))
            .unwrap_or(("", ""));
        let raw = msg.raw_message();
        let headers = msg
            .headers()
            .iter()
            .map(|h| {
                let value = raw
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .unwrap_or(&[]);
                (h.name().to_ascii_lowercase(), value)
            })
            .collect();
        let mut bodies = Vec::new();
        for &part in msg.text_body.iter().chain(msg.html_body.iter()) {
            if bodies.iter().any(|b: &BodyText<'_>| b.part == part) {
                continue;
            }
            let Some(p) = msg.part(part) else {
                continue;
            };
            if let Some(text) = p.text_contents() {
                bodies.push(BodyText {
                    part,
                    text: Cow::Borrowed(text),
                    html: p.is_text_html(),
                });
            }
        }
        let mut attachments = Vec::new();
        for &part in &msg.attachments {
            let Some(p) = msg.part(part) else {
                continue;
            };
            let mut raw_names = Vec::new();
            if let Some(n) = p
                .content_disposition()
                .and_then(|d| d.attribute("filename"))
            {
                raw_names.push(n);
            }
            if let Some(n) = p.content_type().and_then(|c| c.attribute("name")) {
                raw_names.push(n);
            }
            let declared_type = p
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{}", c.ctype(), sub),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_default()
                .to_ascii_lowercase();
            attachments.push(Attachment {
                part,
                names: name_candidates(&raw_names),
                declared_type,
                content: p.contents(),
                nested: match &p.body {
                    mail_parser::PartType::Message(m) => Some(m),
                    _ => None,
                },
            });
        }
        MessageView {
            subject: msg.subject().unwrap_or(""),
            from_address,
            from_name,
            reply_to: msg
                .reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or(""),
            date: msg.date().map(|d| d.to_timestamp()),
            envelope_from,
            bodies,
            headers,
            auth: None,
            attachments,
        }
    }

    /// A view with only the envelope, for bytes mail-parser could not read as a message.
    pub fn envelope_only(envelope_from: &'a str) -> Self {
        MessageView {
            envelope_from,
            ..Default::default()
        }
    }
}

/// The domain part of an address, lower-cased; empty when there is none.
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_borrows_fields_of_a_multipart_message() {
        let raw = b"From: \"Boss\" <ceo@example.com>\r\nSubject: Hello\r\nX-Tag: one\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
plain text\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html text</p>\r\n--b--\r\n";
        let msg = parse(raw).expect("parses");
        let view = MessageView::new(&msg, "bounce@example.net");
        assert_eq!(view.subject, "Hello");
        assert_eq!(view.from_address, "ceo@example.com");
        assert_eq!(view.from_name, "Boss");
        assert_eq!(view.bodies.len(), 2);
        assert!(view.bodies[0].text.contains("plain text"));
        assert!(matches!(view.bodies[0].text, Cow::Borrowed(_)));
        assert!(
            view.headers
                .iter()
                .any(|(n, v)| n == "x-tag" && v.starts_with(b" one"))
        );
        assert_eq!(domain_of("A@Example.COM"), "example.com");
        assert!(view.attachments.is_empty());
    }

    #[test]
    fn attachments_carry_every_candidate_name_and_decoded_bytes() {
        let raw = b"From: a@example.com\r\nSubject: x\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
see attached\r\n--b\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename*=utf-8''invoice.pdf%0A.exe\r\n\
Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAA=\r\n--b--\r\n";
        let msg = parse(raw).expect("parses");
        let view = MessageView::new(&msg, "");
        assert_eq!(view.attachments.len(), 1);
        let a = &view.attachments[0];
        assert!(
            a.names.contains(&"invoice.pdf.exe".to_string()),
            "{:?}",
            a.names
        );
        assert!(a.names.contains(&"report.pdf".to_string()));
        assert!(a.extensions().any(|e| e == "exe"));
        assert_eq!(a.declared_type, "application/pdf");
        assert!(a.content.starts_with(b"MZ"));
        assert_eq!(domain_of("nobody"), "");
    }
}
