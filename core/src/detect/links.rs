//! What a reader sees and where it leads: the visible text of HTML parts and every link of a
//! message (HTML anchors with their visible text, bare URLs in text), including the links of
//! HTML attachments, of forwarded (nested) messages and of PDF attachments' URI actions, and
//! what HTML documents would do if opened (`pages`). Spam scoring counts links,
//! phishing compares a link's text with its target, and the statistical filter learns their
//! hosts, so they are extracted once per message.

use crate::message::MessageView;

/// One link in a body part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub part: u32,
    /// The target as written (`href` or the bare URL).
    pub href: String,
    /// Lower-cased host of the target, without port or trailing dot; empty when it has none.
    pub host: String,
    /// The visible text of an HTML anchor (empty for bare URLs).
    pub text: String,
    /// Where the link was found.
    pub origin: LinkOrigin,
    /// Byte range of the link within its part's text.
    pub range: (u32, u32),
}

/// Where a link was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkOrigin {
    /// A body part of the message.
    #[default]
    Body,
    /// An HTML attachment.
    HtmlAttachment,
    /// A body of a forwarded message (a `message/rfc822` part); `part` is that part.
    Nested,
    /// A URI action of a PDF attachment; the range is the action's offset in the file.
    Pdf,
    /// A QR code in an image attachment or in a PDF's image.
    QrCode,
}

impl LinkOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkOrigin::Body => "body",
            LinkOrigin::HtmlAttachment => "html attachment",
            LinkOrigin::Nested => "forwarded message",
            LinkOrigin::Pdf => "pdf attachment",
            LinkOrigin::QrCode => "QR code",
        }
    }
}

/// The visible text of every body part (HTML converted) and every link.
#[derive(Debug, Default, Clone)]
pub struct Rendered {
    /// `(part, visible text, part is HTML)`.
    pub texts: Vec<(u32, String, bool)>,
    pub links: Vec<Link>,
    /// What the HTML bodies and HTML attachments would do if opened.
    pub traits: Vec<super::pages::PageTrait>,
}

/// How deep forwarded messages are opened.
const MAX_NESTING: usize = 3;

impl Rendered {
    pub fn of(view: &MessageView<'_>) -> Rendered {
        let mut out = Rendered::default();
        for b in &view.bodies {
            if b.html {
                let (text, links) = render_html(b.part, &b.text);
                out.texts.push((b.part, text, true));
                out.links.extend(links);
                out.traits
                    .extend(super::pages::scan(b.part, &b.text, false));
            } else {
                out.links.extend(bare_urls(b.part, &b.text));
                out.texts.push((b.part, b.text.to_string(), false));
            }
        }
        out.attachments(view, 0);
        out
    }

    /// Links and page traits of attachments: HTML documents, PDFs and forwarded messages
    /// (their bodies and, down to [`MAX_NESTING`], their own attachments).
    fn attachments(&mut self, view: &MessageView<'_>, depth: usize) {
        let mut images = 0usize;
        for a in &view.attachments {
            let part = a.part;
            // QR codes: in images, and in a PDF's JPEG images (a bounded number per message).
            let pictures: Vec<&[u8]> = if super::qr::is_image(a.content) {
                vec![a.content]
            } else if super::pdf::is_pdf(a.content) {
                super::qr::pdf_jpegs(a.content)
            } else {
                Vec::new()
            };
            for picture in pictures {
                if images >= super::qr::MAX_IMAGES {
                    break;
                }
                images += 1;
                for text in super::qr::decode(picture) {
                    let host = host_of(&text);
                    self.links.push(Link {
                        part,
                        host,
                        href: text,
                        text: String::new(),
                        origin: LinkOrigin::QrCode,
                        range: (0, 0),
                    });
                }
            }
            if let Some(inner) = a.nested {
                if depth >= MAX_NESTING {
                    continue;
                }
                let inner_view = MessageView::new(inner, "");
                for b in &inner_view.bodies {
                    // The forwarded text is read like the message's own (under the part that
                    // carries it).
                    let mut links = if b.html {
                        self.traits.extend(super::pages::scan(part, &b.text, false));
                        let (text, links) = render_html(part, &b.text);
                        self.texts.push((part, text, true));
                        links
                    } else {
                        self.texts.push((part, b.text.to_string(), false));
                        bare_urls(part, &b.text)
                    };
                    for l in &mut links {
                        l.origin = LinkOrigin::Nested;
                    }
                    self.links.extend(links);
                }
                let mut nested = Rendered::default();
                nested.attachments(&inner_view, depth + 1);
                for mut l in nested.links {
                    l.part = part;
                    l.origin = LinkOrigin::Nested;
                    self.links.push(l);
                }
                self.traits.extend(nested.traits.into_iter().map(|mut t| {
                    t.part = part;
                    t
                }));
            } else if super::pdf::is_pdf(a.content) {
                for (at, uri) in super::pdf::uris(a.content) {
                    self.links.push(Link {
                        part,
                        host: host_of(&uri),
                        href: uri,
                        text: String::new(),
                        origin: LinkOrigin::Pdf,
                        range: (at as u32, at as u32 + 4),
                    });
                }
            } else if super::pages::is_html_attachment(&a.declared_type, &a.names, a.content) {
                let html = String::from_utf8_lossy(a.content);
                let (_, mut links) = render_html(part, &html);
                for l in &mut links {
                    l.origin = LinkOrigin::HtmlAttachment;
                }
                self.links.extend(links);
                self.traits.extend(super::pages::scan(part, &html, true));
            }
        }
    }

    /// Whether the message has a text part that is not HTML.
    pub fn has_plain_text(&self) -> bool {
        self.texts.iter().any(|(_, _, html)| !html)
    }
}

/// The host of a URL (`scheme://[userinfo@]host[:port]/…` or `www.…`), lower-cased.
pub fn host_of(url: &str) -> String {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None if url.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")) => url,
        None => return String::new(),
    };
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.').to_lowercase()
}

fn bare_urls(part: u32, text: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let lower = text.to_ascii_lowercase();
    // Where a link may start: one pass over the text finds the next of the three, however
    // many links there are (three `find`s from each link would rescan the rest each time).
    static STARTS: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(["http://", "https://", "www."])
                .ok()
        });
    let Some(starts) = STARTS.as_ref() else {
        return links;
    };
    let mut i = 0;
    while i < lower.len() {
        let next = starts
            .find(aho_corasick::Input::new(&lower).span(i..lower.len()))
            .map(|m| m.start());
        let Some(start) = next else { break };
        // `www.` inside a longer word (or inside an http URL already taken) is not a new link.
        if lower[..start].ends_with(|c: char| c.is_alphanumeric() || c == '/' || c == '.') {
            i = start + 4;
            continue;
        }
        let end = lower[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']'))
            .map_or(lower.len(), |e| start + e);
        let href = text[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let host = host_of(href);
        if !host.is_empty() {
            links.push(Link {
                part,
                href: href.to_string(),
                host,
                text: String::new(),
                origin: LinkOrigin::Body,
                range: (start as u32, (start + href.len()) as u32),
            });
        }
        i = end.max(start + 1);
    }
    links
}

/// Decodes the character references readers see most; others are kept as written.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a tag's inside (`a href="…" class=x`).
pub(crate) fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name).map(|i| from + i) {
        from = at + name.len();
        let before_ok = lower[..at].ends_with(|c: char| c.is_whitespace());
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            _ => value
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or(""),
        });
    }
    None
}

/// The visible text of an HTML document (tags dropped, script/style/comments skipped,
/// block elements as line breaks, entities decoded) and its anchors.
fn render_html(part: u32, html: &str) -> (String, Vec<Link>) {
    let mut text = String::with_capacity(html.len() / 2);
    let mut links = Vec::new();
    // The anchor being read: href, where its text starts in `text`, where it is in `html`.
    let mut open: Option<(String, usize, usize)> = None;
    let mut rest = html;
    let mut pos = 0usize;
    while let Some(lt) = rest.find('<') {
        text.push_str(&decode_entities(&rest[..lt]));
        let tag_start = pos + lt;
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let skip = after.find("-->").map_or(rest.len(), |e| 4 + e + 3);
            pos += lt + skip;
            rest = &rest[skip..];
            continue;
        }
        let Some(gt) = rest.find('>') else {
            rest = "";
            break;
        };
        let inside = &rest[1..gt];
        let name: String = inside
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = inside.starts_with('/');
        let mut consumed = gt + 1;
        match name.as_str() {
            "script" | "style" if !closing => {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                consumed = lower[gt..]
                    .find(&close)
                    .map_or(rest.len(), |c| gt + c + close.len());
                consumed = rest[consumed..]
                    .find('>')
                    .map_or(rest.len(), |g| consumed + g + 1);
            }
            "a" if !closing => {
                open = attribute(inside, "href")
                    .map(|h| (decode_entities(h.trim()), text.len(), tag_start));
            }
            "a" => {
                if let Some((href, from, at)) = open.take() {
                    links.push(anchor(part, href, &text[from..], at, pos + lt + gt + 1));
                }
            }
            "br" | "p" | "div" | "tr" | "li" | "table" | "h1" | "h2" | "h3" | "title" => {
                text.push('\n')
            }
            "td" => text.push(' '),
            _ => {}
        }
        pos += lt + consumed;
        rest = &rest[consumed.min(rest.len())..];
    }
    text.push_str(&decode_entities(rest));
    if let Some((href, from, at)) = open {
        links.push(anchor(part, href, &text[from..], at, html.len()));
    }
    (text, links)
}

/// An anchor's link: its target, its visible text and where it stands in the markup.
fn anchor(part: u32, href: String, text: &str, start: usize, end: usize) -> Link {
    Link {
        part,
        host: host_of(&href),
        text: text.trim().to_string(),
        href,
        origin: LinkOrigin::Body,
        range: (start as u32, end as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host_of("https://User@Example.COM:8443/x?y"), "example.com");
        assert_eq!(host_of("http://192.0.2.7/login"), "192.0.2.7");
        assert_eq!(host_of("http://[2001:db8::1]:80/"), "2001:db8::1");
        assert_eq!(host_of("www.example.org/path"), "www.example.org");
        assert_eq!(host_of("mailto:a@example.com"), "");
        assert_eq!(
            host_of("http://paypal.com.evil.example./"),
            "paypal.com.evil.example"
        );
    }

    #[test]
    fn html_anchors_keep_their_visible_text() {
        let html = "<html><style>a{color:red}</style><p>Hello &amp; welcome</p>\
<a class=x href=\"http://evil.example/login\">https://www.paypal.com/</a>\
<!-- <a href=\"http://hidden.example\">x</a> --><script>var a='<a href=z>';</script>\
<A HREF='https://ok.example/'>ok</A>";
        let (text, links) = render_html(3, html);
        assert!(text.contains("Hello & welcome"), "{text}");
        assert!(!text.contains("color"), "{text}");
        assert_eq!(links.len(), 2, "{links:?}");
        assert_eq!(links[0].host, "evil.example");
        assert_eq!(links[0].text, "https://www.paypal.com/");
        assert_eq!(
            &html[links[0].range.0 as usize..links[0].range.1 as usize],
            "<a class=x href=\"http://evil.example/login\">https://www.paypal.com/</a>"
        );
        assert_eq!(links[1].host, "ok.example");
    }

    #[test]
    fn bare_urls_in_text() {
        let text =
            "See http://a.example/x. Or www.b.example, or swww.c.example and (https://d.example)";
        let links = bare_urls(1, text);
        let hosts: Vec<&str> = links.iter().map(|l| l.host.as_str()).collect();
        assert_eq!(hosts, ["a.example", "www.b.example", "d.example"]);
        assert_eq!(
            &text[links[0].range.0 as usize..links[0].range.1 as usize],
            "http://a.example/x"
        );
    }

    #[test]
    fn hostile_markup_does_not_panic() {
        for html in [
            "<",
            "<a href=",
            "<a href='x",
            "&#xffffffff;",
            "<script>",
            "<!--",
            "é<a href=http://é.example>é",
            "&#0;&amp",
        ] {
            let _ = render_html(0, html);
            let _ = bare_urls(0, html);
        }
    }
}
