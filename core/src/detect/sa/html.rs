//! Rendering HTML the way SpamAssassin's `HTML.pm` does, and the facts about it that the
//! `html_*` eval tests read: which tags appeared and their open/close balance, the source
//! length, image area, anchors' text, titles, comments, font sizes, the ratios of unknown
//! and extra closing tags, and the links each element carries (for `uri` rules).
//!
//! Rendering: text of `<script>`/`<style>` dropped, entities decoded, `<br>`/`<div>` a line
//! break, `<p>`, `<hr>`, `<blockquote>`, `<pre>`, `<title>`… a paragraph break, `<li>`,
//! `<td>`, `<th>`, `<dd>`, `<dt>`, `<h1>`–`<h6>` a space (on opening and closing tags alike).

use std::collections::HashMap;

/// Elements SpamAssassin counts as valid HTML.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "b",
    "base",
    "bdo",
    "big",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "fieldset",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "html",
    "i",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "link",
    "map",
    "meta",
    "noscript",
    "object",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "pre",
    "q",
    "samp",
    "script",
    "select",
    "small",
    "span",
    "strong",
    "style",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "tt",
    "ul",
    "var",
    "applet",
    "basefont",
    "center",
    "dir",
    "font",
    "frame",
    "frameset",
    "iframe",
    "isindex",
    "menu",
    "noframes",
    "s",
    "strike",
    "u",
    "nobr",
    "x-sigsep",
    "x-tab",
];

/// Rendered but not counted valid.
const TRICKS: &[&str] = &["bgsound", "embed", "listing", "plaintext", "xmp"];

/// Elements whose attributes carry links.
const URI_ELEMENTS: &[(&str, &[&str])] = &[
    ("a", &["href"]),
    ("area", &["href"]),
    ("link", &["href"]),
    ("img", &["src", "lowsrc"]),
    ("frame", &["src"]),
    ("iframe", &["src"]),
    ("embed", &["src", "code"]),
    ("script", &["src"]),
    ("form", &["action"]),
    ("base", &["href"]),
    ("bgsound", &["src"]),
    ("body", &["background"]),
    ("table", &["background"]),
    ("tr", &["background"]),
    ("td", &["background"]),
];

/// What SpamAssassin's HTML parser reports about one HTML part.
#[derive(Debug, Clone, Default)]
pub struct HtmlFacts {
    /// Tag → opens minus closes, floored at 0 (present once the tag appeared at all).
    pub inside: HashMap<String, i64>,
    /// Length of the HTML source.
    pub length: usize,
    pub image_area: u64,
    pub max_size: f64,
    pub min_size: f64,
    pub anchor: Vec<String>,
    pub title: Vec<String>,
    pub comment: Vec<String>,
    pub script: Vec<String>,
    pub uris: Vec<String>,
    pub charsets: Vec<String>,
    pub tags: u64,
    pub elements: u64,
    pub tags_seen: u64,
    pub elements_seen: u64,
    pub closed_extra: u64,
    pub obfuscation: u64,
    pub non_space_len: usize,
    /// Named booleans `html_test` reads.
    pub flags: HashMap<&'static str, bool>,
}

impl HtmlFacts {
    /// A numeric fact `html_range`/`html_eval` read, when defined.
    pub fn number(&self, name: &str) -> Option<f64> {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        match name {
            "length" => Some(self.length as f64),
            "image_area" => Some(self.image_area as f64),
            "max_size" => Some(self.max_size),
            "min_size" => Some(self.min_size),
            "closed_extra_ratio" => ratio(self.closed_extra, self.tags),
            "bad_tag_ratio" => ratio(self.tags - self.elements.min(self.tags), self.tags),
            "non_element_ratio" => ratio(
                self.tags_seen - self.elements_seen.min(self.tags_seen),
                self.tags_seen,
            ),
            "obfuscation_ratio" => ratio(self.obfuscation, self.tags),
            "non_space_len" => Some(self.non_space_len as f64),
            _ => None,
        }
    }

    /// The lists `html_text_match` reads.
    pub fn texts(&self, name: &str) -> &[String] {
        match name {
            "anchor" => &self.anchor,
            "title" => &self.title,
            "comment" => &self.comment,
            "script" => &self.script,
            _ => &[],
        }
    }
}

/// Decodes the HTML entities SpamAssassin's parser decodes (named, decimal and hex).
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(rest.len(), |e| e + 1);
        let name = &rest[1..end];
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let n = if let Some(hex) = num.strip_prefix(['x', 'X']) {
                u32::from_str_radix(hex, 16).ok()
            } else {
                num.parse().ok()
            };
            n.and_then(char::from_u32)
        } else {
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "copy" => Some('©'),
                "reg" => Some('®'),
                "trade" => Some('™'),
                "euro" => Some('€'),
                "pound" => Some('£'),
                "laquo" => Some('«'),
                "raquo" => Some('»'),
                "ndash" => Some('–'),
                "mdash" => Some('—'),
                "hellip" => Some('…'),
                "rsquo" => Some('\''),
                "lsquo" => Some('\''),
                "rdquo" | "ldquo" => Some('"'),
                "bull" => Some('•'),
                "middot" => Some('·'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                let skip = if rest[end..].starts_with(';') {
                    end + 1
                } else {
                    end
                };
                rest = &rest[skip..];
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

fn attrs(raw: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'>' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name = raw[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                i = vs;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = raw[vs..i.min(b.len())].to_string();
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = raw[vs..i].to_string();
            }
        }
        out.entry(name).or_insert_with(|| decode_entities(&value));
    }
    out
}

struct Renderer {
    facts: HtmlFacts,
    text: String,
    last_text: String,
    anchor_open: bool,
}

impl Renderer {
    fn inside(&self, tag: &str) -> bool {
        self.facts.inside.get(tag).is_some_and(|n| *n > 0)
    }

    fn display(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn tag(&mut self, name: &str, attr: &HashMap<String, String>, num: i64) {
        let known = ELEMENTS.contains(&name);
        let namespace = {
            let n = name.trim_end_matches('/');
            (n.starts_with("o:") || n.starts_with("st")) && n.contains(':')
        };
        let seen = self.facts.inside.contains_key(name);
        if known || namespace {
            self.facts.elements += 1;
            if !seen {
                self.facts.elements_seen += 1;
            }
        }
        self.facts.tags += 1;
        if !seen {
            self.facts.tags_seen += 1;
        }
        let entry = self.facts.inside.entry(name.to_string()).or_insert(0);
        *entry += num;
        if *entry < 0 {
            *entry = 0;
            self.facts.closed_extra += 1;
        }
        if namespace || !(known || TRICKS.contains(&name)) {
            return;
        }
        match name {
            "br" | "div" => self.display("\n"),
            "li" | "th" | "td" | "dd" | "dt" | "embed" | "h1" | "h2" | "h3" | "h4" | "h5"
            | "h6" => self.display(" "),
            "p" | "hr" | "blockquote" | "pre" | "listing" | "plaintext" | "xmp" | "title" => {
                self.display("\n\n")
            }
            _ => {}
        }
        if num != 1 {
            if name == "a" {
                self.anchor_open = false;
            }
            return;
        }
        if let Some((_, names)) = URI_ELEMENTS.iter().find(|(t, _)| *t == name) {
            for a in *names {
                if let Some(v) = attr.get(*a) {
                    let v = v.trim();
                    if !v.is_empty() {
                        self.facts.uris.push(v.to_string());
                    }
                }
            }
        }
        if name == "meta"
            && attr
                .get("http-equiv")
                .is_some_and(|h| h.eq_ignore_ascii_case("refresh"))
            && let Some(content) = attr.get("content")
            && let Some(i) = content.to_ascii_lowercase().find("url=")
        {
            self.facts.uris.push(content[i + 4..].trim().to_string());
        }
        if name == "font" {
            if let Some(face) = attr.get("face") {
                let ok = face.split(',').all(|f| {
                    let f = f.trim().trim_matches(['"', '\'', ';', '.']);
                    !f.is_empty()
                        && f.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
                });
                if !ok {
                    self.facts.flags.insert("font_face_bad", true);
                }
            }
            if let Some(size) = attr.get("size") {
                let s = size.trim();
                let v = if let Some(rel) = s.strip_prefix('+') {
                    rel.parse::<f64>().ok().map(|r| 3.0 + r)
                } else if let Some(rel) = s.strip_prefix('-') {
                    rel.parse::<f64>().ok().map(|r| 3.0 - r)
                } else {
                    s.parse().ok()
                };
                if let Some(v) = v {
                    self.facts.max_size = self.facts.max_size.max(v);
                    self.facts.min_size = self.facts.min_size.min(v);
                }
            }
        }
        if name == "img"
            && self.inside("a")
            && let Some(a) = self.facts.anchor.last_mut()
        {
            a.push_str("<img>\n");
        }
        if name == "img" && attr.contains_key("width") && attr.contains_key("height") {
            let dim = |v: &str, pct: u64| {
                let v = v.trim();
                let (num, is_pct) = match v.strip_suffix('%') {
                    Some(n) => (n, true),
                    None => (v, false),
                };
                let n: u64 = if num.bytes().all(|b| b.is_ascii_digit()) && !num.is_empty() {
                    num.parse().unwrap_or(0)
                } else {
                    0
                };
                let n = if is_pct { n * pct } else { n };
                if n == 0 { 200 } else { n }
            };
            let w = dim(&attr["width"], 8);
            let h = dim(&attr["height"], 6);
            self.facts.image_area += w * h;
        }
        if name == "form"
            && attr
                .get("action")
                .is_some_and(|a| a.to_ascii_lowercase().contains("mailto:"))
        {
            self.facts.flags.insert("form_action_mailto", true);
        }
        if name == "object" || name == "embed" {
            self.facts.flags.insert("embeds", true);
        }
        if name == "a" {
            self.facts.anchor.push(String::new());
            self.anchor_open = true;
        }
        if name == "title" {
            self.facts.title.push(String::new());
        }
        if name == "meta"
            && attr
                .get("http-equiv")
                .is_some_and(|h| h.to_ascii_lowercase().contains("content-type"))
            && let Some(c) = attr.get("content")
            && let Some(i) = c.to_ascii_lowercase().find("charset")
        {
            let rest = c[i + 7..].trim_start().trim_start_matches('=').trim_start();
            let cs: String = rest
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| *c != '"' && *c != '\'' && *c != ';' && !c.is_whitespace())
                .collect();
            if !cs.is_empty() {
                self.facts.charsets.push(cs);
            }
        }
    }

    fn text_node(&mut self, raw: &str) {
        let text = decode_entities(raw);
        if self.inside("script") {
            self.facts.script.push(text);
            return;
        }
        if self.inside("style") {
            return;
        }
        if self.inside("a")
            && let Some(a) = self.facts.anchor.last_mut()
        {
            a.push_str(&text);
        }
        if self.inside("title")
            && let Some(t) = self.facts.title.last_mut()
        {
            t.push_str(&text);
        }
        let word = |c: char| !(c.is_whitespace() || c.is_ascii_punctuation());
        if !self.last_text.is_empty()
            && text.chars().next().is_some_and(word)
            && self.last_text.chars().last().is_some_and(word)
        {
            self.facts.obfuscation += 1;
        }
        self.facts.non_space_len += text.chars().filter(|c| !c.is_whitespace()).count();
        self.last_text = text.clone();
        self.display(&text);
    }
}

/// Renders an HTML part: its text as SpamAssassin's body rules see it, and its facts.
pub fn render(html: &str) -> (String, HtmlFacts) {
    let mut r = Renderer {
        facts: HtmlFacts {
            length: html.len(),
            max_size: 3.0,
            min_size: 3.0,
            ..HtmlFacts::default()
        },
        text: String::with_capacity(html.len() / 2),
        last_text: String::new(),
        anchor_open: false,
    };
    r.facts.flags.insert("html", true);
    let src = html.replace("&nbsp;", " ");
    let b = src.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        // Inside script or style, only the closing tag ends the raw text.
        let raw_mode = if r.inside("script") {
            Some("</script")
        } else if r.inside("style") {
            Some("</style")
        } else {
            None
        };
        if let Some(close) = raw_mode
            && !src[i..].to_ascii_lowercase().starts_with(close)
        {
            i += 1;
            continue;
        }
        if text_start < i {
            r.text_node(&src[text_start..i]);
        }
        if src[i..].starts_with("<!--") {
            let end = src[i + 4..].find("-->").map_or(b.len(), |e| i + 4 + e + 3);
            r.facts.comment.push(src[i..end].to_string());
            i = end;
            text_start = i;
            continue;
        }
        if src[i..].starts_with("<!") || src[i..].starts_with("<?") {
            let end = src[i..].find('>').map_or(b.len(), |e| i + e + 1);
            let decl = &src[i..end];
            if decl.to_ascii_lowercase().starts_with("<!doctype") {
                r.facts.elements += 1;
                r.facts.tags += 1;
                r.facts.inside.insert("!doctype".into(), 0);
            } else if decl.starts_with("<!") {
                r.facts.comment.push(decl.to_string());
            }
            i = end;
            text_start = i;
            continue;
        }
        let close = b.get(i + 1) == Some(&b'/');
        let name_start = if close { i + 2 } else { i + 1 };
        let name_end = src[name_start..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .map_or(b.len(), |e| name_start + e);
        let name = src[name_start..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.as_bytes()[0].is_ascii_alphabetic() {
            // Not a tag: the `<` is text.
            i += 1;
            continue;
        }
        let end = src[name_end..].find('>').map_or(b.len(), |e| name_end + e);
        let attr_text = &src[name_end..end];
        let self_closing = attr_text.trim_end().ends_with('/');
        let attributes = if close {
            HashMap::new()
        } else {
            attrs(attr_text)
        };
        r.tag(&name, &attributes, if close { -1 } else { 1 });
        if self_closing && !close && name != "br" {
            // `<x/>` is `<x>` to SpamAssassin (it rewrites `<x />` to `<x>`).
        }
        i = (end + 1).min(b.len());
        text_start = i;
    }
    if text_start < b.len() && !r.inside("script") && !r.inside("style") {
        r.text_node(&src[text_start..]);
    }
    (r.text, r.facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_spamassassin_and_collects_facts() {
        let (text, f) = render(
            "<html><head><title>Win</title><style>p{}</style></head><body>Hello&nbsp;<b>you</b><br>\
             <a href=\"http://x.example/a\"><img src=\"i.png\" width=10 height=20></a>\
             <p>Click &amp; go</p><!-- note --><script>var a=1;</script>\
             <bogus>x</bogus></body></html>",
        );
        assert!(text.contains("Hello you\n"), "{text:?}");
        assert!(text.contains("\n\nClick & go\n\n"), "{text:?}");
        assert!(!text.contains("var a"));
        assert_eq!(f.title, ["Win"]);
        assert_eq!(f.anchor, ["<img>\n"]);
        assert_eq!(f.image_area, 200);
        assert!(f.uris.contains(&"http://x.example/a".to_string()));
        assert_eq!(f.comment, ["<!-- note -->"]);
        assert_eq!(f.inside.get("body"), Some(&0));
        assert!(f.inside.contains_key("bogus"));
        assert!(f.number("bad_tag_ratio").is_some_and(|r| r > 0.0));
    }
}
