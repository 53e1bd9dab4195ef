//! Reading SpamAssassin rule files (`*.cf`) the way SpamAssassin 4.0 does: comments, the
//! `ifplugin`/`if`/`else`/`endif` stack evaluated against the plugins and features Moat
//! declares, rule definitions (`header`, `mimeheader`, `body`, `rawbody`, `uri`, `full`,
//! `meta`), their `score`, `describe`, `tflags` and `priority`, ReplaceTags
//! (`replace_tag`/`_pre`/`_inter`/`_post`, `replace_rules`) and the lists some eval tests read
//! (`freemail_domains`, `util_rb_*tld`, `url_shortener`, welcome/block lists). Directives Moat
//! has no use for (network tests' settings, report templates, Bayes options) are counted and
//! skipped.
//!
//! Files are read as bytes: rules spell non-ASCII text as raw Latin-1 or UTF-8 octets.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
};

/// The SpamAssassin version Moat answers `if version >= N` with.
pub const SA_VERSION: f64 = 4.000001;

/// Where a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Header,
    MimeHeader,
    Body,
    Rawbody,
    Uri,
    Full,
    Meta,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::MimeHeader => "mimeheader",
            Kind::Body => "body",
            Kind::Rawbody => "rawbody",
            Kind::Uri => "uri",
            Kind::Full => "full",
            Kind::Meta => "meta",
        }
    }
}

/// A `/re/flags` as written (bytes) and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerlRegex {
    pub pattern: Vec<u8>,
    pub flags: String,
}

/// What a rule tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `Header[:mods] =~ /re/` (or `!~`), with `[if-unset: STR]`.
    Header {
        spec: String,
        negate: bool,
        regex: PerlRegex,
        if_unset: Option<Vec<u8>>,
    },
    /// `exists:Header` (negated by `!exists:`, which SpamAssassin does not have; kept false).
    Exists(String),
    /// A regex over the kind's text (body lines, rawbody chunks, URIs, the full message).
    Regex(PerlRegex),
    /// `eval:function(args)`.
    Eval { function: String, args: Vec<String> },
    /// A meta expression (raw text).
    Meta(String),
}

/// tflags of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tflags {
    pub multiple: bool,
    pub maxhits: Option<u32>,
    pub nice: bool,
    pub net: bool,
    pub learn: bool,
    pub nosubject: bool,
    pub userconf: bool,
}

impl Tflags {
    fn parse(text: &str) -> Tflags {
        let mut t = Tflags::default();
        for word in text.split_whitespace() {
            match word {
                "multiple" => t.multiple = true,
                "nice" => t.nice = true,
                "net" => t.net = true,
                "learn" => t.learn = true,
                "nosubject" => t.nosubject = true,
                "userconf" => t.userconf = true,
                w => {
                    if let Some(n) = w.strip_prefix("maxhits=") {
                        t.maxhits = n.parse().ok();
                    }
                }
            }
        }
        t
    }
}

/// One rule as the files define it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    pub name: String,
    pub kind: Kind,
    pub test: Test,
    pub describe: Option<String>,
    pub tflags: Tflags,
    pub priority: i32,
    /// Definition order (file order), for stable output.
    pub order: usize,
}

/// Everything read from the rule files.
#[derive(Debug, Default)]
pub struct Conf {
    pub rules: BTreeMap<String, RuleDef>,
    /// `score NAME a [b c d]`: the four score sets.
    pub scores: HashMap<String, [f64; 4]>,
    pub required_score: f64,
    pub freemail_domains: Vec<String>,
    /// `freemail_domains` split by [`Conf::finish`]: exact names, and glob patterns.
    pub freemail_exact: HashSet<String>,
    pub freemail_globs: Vec<String>,
    pub freemail_whitelist: Vec<String>,
    pub url_shorteners: HashSet<String>,
    pub util_rb_tld: HashSet<String>,
    pub util_rb_2tld: HashSet<String>,
    pub util_rb_3tld: HashSet<String>,
    /// `welcomelist_from` and friends: list name → address globs.
    pub lists: HashMap<String, Vec<String>>,
    /// Directives seen and not acted on, with counts (for the load report).
    pub ignored: BTreeMap<String, usize>,
    /// Lines that did not parse, with file and line.
    pub errors: Vec<String>,
    /// Plugins loaded (`loadplugin` in `.pre` files, or the defaults).
    pub plugins: HashSet<String>,
    replace_tags: HashMap<String, String>,
    replace_pre: HashMap<String, String>,
    replace_inter: HashMap<String, String>,
    replace_post: HashMap<String, String>,
    replace_rules: Vec<String>,
    pending: HashMap<String, Pending>,
    order: usize,
}

/// Debian's `.pre` files for SpamAssassin 4.0.1 load these plugins; used when no `.pre`
/// directory is configured (names without the `Mail::SpamAssassin::Plugin::` prefix).
pub const DEFAULT_PLUGINS: &[&str] = &[
    "Check",
    "URIDNSBL",
    "Hashcash",
    "SPF",
    "Pyzor",
    "Razor2",
    "SpamCop",
    "AutoLearnThreshold",
    "WelcomeListSubject",
    "MIMEHeader",
    "ReplaceTags",
    "DKIM",
    "HTTPSMismatch",
    "URIDetail",
    "Bayes",
    "BodyEval",
    "DNSEval",
    "HTMLEval",
    "HeaderEval",
    "MIMEEval",
    "RelayEval",
    "URIEval",
    "WLBLEval",
    "VBounce",
    "ImageInfo",
    "FreeMail",
    "AskDNS",
    "HashBL",
    "DMARC",
];

/// `can(...)` features that SpamAssassin 4.0.1 answers true (`Conf.pm` `feature_*`, and the
/// `has_*` functions of the plugins it ships).
const FEATURES: &[&str] = &[
    "Mail::SpamAssassin::Conf::feature_originating_ip_headers",
    "Mail::SpamAssassin::Conf::feature_dns_local_ports_permit_avoid",
    "Mail::SpamAssassin::Conf::feature_bayes_auto_learn_on_error",
    "Mail::SpamAssassin::Conf::feature_uri_host_listed",
    "Mail::SpamAssassin::Conf::feature_yesno_takes_args",
    "Mail::SpamAssassin::Conf::feature_bug6558_free",
    "Mail::SpamAssassin::Conf::feature_edns",
    "Mail::SpamAssassin::Conf::feature_dns_query_restriction",
    "Mail::SpamAssassin::Conf::feature_registryboundaries",
    "Mail::SpamAssassin::Conf::feature_geodb",
    "Mail::SpamAssassin::Conf::feature_dns_block_rule",
    "Mail::SpamAssassin::Conf::feature_compile_regexp",
    "Mail::SpamAssassin::Conf::feature_meta_rules_matching",
    "Mail::SpamAssassin::Conf::feature_subjprefix",
    "Mail::SpamAssassin::Conf::feature_bayes_stopwords",
    "Mail::SpamAssassin::Conf::feature_get_host",
    "Mail::SpamAssassin::Conf::feature_blocklist_welcomelist",
    "Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
    "Mail::SpamAssassin::Conf::feature_header_address_parser",
    "Mail::SpamAssassin::Conf::feature_local_tests_only",
    "Mail::SpamAssassin::Conf::feature_header_first_last",
    "Mail::SpamAssassin::Conf::feature_header_match_many",
    "Mail::SpamAssassin::Conf::feature_capture_rules",
    "Mail::SpamAssassin::Conf::compat_welcomelist_blocklist",
    "Mail::SpamAssassin::Conf::perl_min_version_5010000",
    "Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length",
    "Mail::SpamAssassin::Plugin::MIMEEval::has_check_abundant_unicode_ratio",
    "Mail::SpamAssassin::Plugin::MIMEEval::has_check_for_ascii_text_illegal",
    "Mail::SpamAssassin::Plugin::DKIM::has_arc",
    "Mail::SpamAssassin::Plugin::URIDNSBL::has_uridnsbl_for_a",
    "Mail::SpamAssassin::Plugin::URIDNSBL::has_tflags_domains_only",
    "Mail::SpamAssassin::Plugin::SPF::has_check_for_spf_errors",
];

fn plugin_name(full: &str) -> String {
    full.trim()
        .trim_start_matches("Mail::SpamAssassin::Plugin::")
        .to_string()
}

/// Splits `NAME rest` at the first white space.
fn name_rest(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    let end = text.find(char::is_whitespace)?;
    Some((&text[..end], text[end..].trim()))
}

/// A Perl regex literal at the start of `text`: `/…/flags`, `m{…}flags`, `m(…)`, `m<…>`,
/// `m[…]` or `m` + a delimiter; returns it and the rest of the text.
pub fn parse_regex(text: &[u8]) -> Option<(PerlRegex, &[u8])> {
    let mut i = 0;
    while i < text.len() && text[i].is_ascii_whitespace() {
        i += 1;
    }
    let (open, close, start) = match text.get(i)? {
        b'/' => (b'/', b'/', i + 1),
        b'm' => {
            let d = *text.get(i + 1)?;
            let close = match d {
                b'{' => b'}',
                b'(' => b')',
                b'<' => b'>',
                b'[' => b']',
                d if !d.is_ascii_alphanumeric()
                    && d != b'_'
                    && d != b'\\'
                    && !d.is_ascii_whitespace() =>
                {
                    d
                }
                _ => return None,
            };
            (d, close, i + 2)
        }
        _ => return None,
    };
    let mut depth = 0usize;
    let mut j = start;
    while j < text.len() {
        let b = text[j];
        if b == b'\\' {
            j += 2;
            continue;
        }
        if open != close && b == open {
            depth += 1;
        } else if b == close {
            if depth == 0 {
                break;
            }
            depth -= 1;
        }
        j += 1;
    }
    if j >= text.len() {
        return None;
    }
    let mut pattern = text[start..j].to_vec();
    if open == b'/' {
        // `\/` inside slashes is just a slash.
        pattern = unescape_delimiter(&pattern, b'/');
    }
    let mut k = j + 1;
    let mut flags = String::new();
    while k < text.len() && text[k].is_ascii_alphabetic() {
        flags.push(char::from(text[k]));
        k += 1;
    }
    Some((PerlRegex { pattern, flags }, &text[k..]))
}

fn unescape_delimiter(p: &[u8], d: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'\\' && p.get(i + 1) == Some(&d) {
            out.push(d);
            i += 2;
        } else if p[i] == b'\\' && i + 1 < p.len() {
            out.push(p[i]);
            out.push(p[i + 1]);
            i += 2;
        } else {
            out.push(p[i]);
            i += 1;
        }
    }
    out
}

/// Removes a comment (`#` not preceded by a backslash) and surrounding white space; `\#`
/// becomes `#`.
fn strip_comment(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if b == b'#' && (i == 0 || line[i - 1] != b'\\') {
            break;
        }
        out.push(b);
        i += 1;
    }
    let s = out.trim_ascii().to_vec();
    // `\#` stands for `#` in the value.
    let mut r = Vec::with_capacity(s.len());
    let mut j = 0;
    while j < s.len() {
        if s[j] == b'\\' && s.get(j + 1) == Some(&b'#') {
            r.push(b'#');
            j += 2;
        } else {
            r.push(s[j]);
            j += 1;
        }
    }
    r
}

/// One level of the `if` stack: whether lines inside are parsed.
#[derive(Debug, Clone, Copy)]
struct Frame {
    active: bool,
    parent_active: bool,
}

impl Conf {
    /// Empty configuration with the given plugins loaded.
    pub fn with_plugins<'a>(plugins: impl IntoIterator<Item = &'a str>) -> Conf {
        Conf {
            required_score: 5.0,
            plugins: plugins.into_iter().map(plugin_name).collect(),
            ..Conf::default()
        }
    }

    /// Reads `loadplugin` lines of every `*.pre` file in `dir`.
    pub fn load_pre_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pre"))
            .collect();
        files.sort();
        self.plugins.clear();
        for f in files {
            let text = std::fs::read(&f)?;
            for line in text.split(|b| *b == b'\n') {
                let line = strip_comment(line);
                let line = String::from_utf8_lossy(&line);
                if let Some(rest) = line.strip_prefix("loadplugin")
                    && let Some(name) = rest.split_whitespace().next()
                {
                    self.plugins.insert(plugin_name(name));
                }
            }
        }
        Ok(())
    }

    /// Reads every `*.cf` file of `dir` in name order (as SpamAssassin does).
    pub fn load_dir(&mut self, dir: &Path) -> std::io::Result<usize> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "cf"))
            .collect();
        files.sort();
        for f in &files {
            let text = std::fs::read(f)?;
            self.parse(&text, &f.display().to_string());
        }
        Ok(files.len())
    }

    /// Parses one file's text.
    pub fn parse(&mut self, text: &[u8], file: &str) {
        let mut stack: Vec<Frame> = Vec::new();
        let active = |stack: &[Frame]| stack.last().is_none_or(|f| f.active);
        for (n, raw) in text.split(|b| *b == b'\n').enumerate() {
            let line = strip_comment(raw);
            if line.is_empty() {
                continue;
            }
            let (key, value) = match line.iter().position(|b| b.is_ascii_whitespace()) {
                Some(i) => (&line[..i], line[i..].trim_ascii()),
                None => (&line[..], &b""[..]),
            };
            let key = String::from_utf8_lossy(key).to_ascii_lowercase();
            match key.as_str() {
                "ifplugin" => {
                    let on = self
                        .plugins
                        .contains(&plugin_name(&String::from_utf8_lossy(value)));
                    let parent = active(&stack);
                    stack.push(Frame {
                        active: parent && on,
                        parent_active: parent,
                    });
                    continue;
                }
                "if" => {
                    let on = self.condition(&String::from_utf8_lossy(value));
                    let parent = active(&stack);
                    stack.push(Frame {
                        active: parent && on,
                        parent_active: parent,
                    });
                    continue;
                }
                "else" => {
                    if let Some(f) = stack.last_mut() {
                        f.active = f.parent_active && !f.active;
                    }
                    continue;
                }
                "endif" => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            if !active(&stack) {
                continue;
            }
            if let Err(why) = self.directive(&key, value) {
                self.errors.push(format!("{file}:{}: {why}", n + 1));
            }
        }
    }

    /// Evaluates an `if` condition (SpamAssassin evaluates it as Perl; the rule files use
    /// `plugin()`, `can()`, `has()`, `version`, `perl_version`, `local_tests_only`, `!`,
    /// `&&`, `||`, comparisons and parentheses).
    fn condition(&self, text: &str) -> bool {
        let mut p = CondParser {
            s: text.as_bytes(),
            i: 0,
            conf: self,
        };
        let v = p.or();
        v != 0.0
    }

    fn directive(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(value).into_owned();
        match key {
            "header" | "mimeheader" | "body" | "rawbody" | "uri" | "full" | "meta" => {
                let kind = match key {
                    "header" => Kind::Header,
                    "mimeheader" => Kind::MimeHeader,
                    "body" => Kind::Body,
                    "rawbody" => Kind::Rawbody,
                    "uri" => Kind::Uri,
                    "full" => Kind::Full,
                    _ => Kind::Meta,
                };
                self.define(kind, value)
            }
            "score" => {
                let (name, rest) = name_rest(&text).ok_or("score without a value")?;
                let nums: Vec<f64> = rest
                    .split_whitespace()
                    .filter_map(|w| w.trim_start_matches('(').trim_end_matches(')').parse().ok())
                    .collect();
                let s = match nums.as_slice() {
                    [a] => [*a; 4],
                    [a, b, c, d, ..] => [*a, *b, *c, *d],
                    _ => return Err(format!("score {name}: {rest}")),
                };
                self.scores.insert(name.to_string(), s);
                Ok(())
            }
            "describe" => {
                if let Some((name, rest)) = name_rest(&text) {
                    self.with_rule_meta(name, |r| r.describe = Some(rest.to_string()));
                    self.pending_describe(name, rest);
                }
                Ok(())
            }
            "tflags" => {
                if let Some((name, rest)) = name_rest(&text) {
                    let t = Tflags::parse(rest);
                    self.pending_tflags(name, t);
                }
                Ok(())
            }
            "priority" => {
                if let Some((name, rest)) = name_rest(&text) {
                    let p = rest.trim().parse().unwrap_or(0);
                    self.pending_priority(name, p);
                }
                Ok(())
            }
            "required_score" | "required_hits" => {
                self.required_score = text.trim().parse().unwrap_or(5.0);
                Ok(())
            }
            "replace_tag" | "replace_pre" | "replace_inter" | "replace_post" => {
                let (name, rest) = name_rest(&text).ok_or("tag without a value")?;
                let map = match key {
                    "replace_tag" => &mut self.replace_tags,
                    "replace_pre" => &mut self.replace_pre,
                    "replace_inter" => &mut self.replace_inter,
                    _ => &mut self.replace_post,
                };
                map.insert(name.to_string(), rest.to_string());
                Ok(())
            }
            "replace_rules" => {
                self.replace_rules
                    .extend(text.split_whitespace().map(String::from));
                Ok(())
            }
            "freemail_domains" => {
                self.freemail_domains
                    .extend(text.split_whitespace().map(|d| d.to_ascii_lowercase()));
                Ok(())
            }
            "freemail_whitelist" | "freemail_welcomelist" => {
                self.freemail_whitelist
                    .extend(text.split_whitespace().map(|d| d.to_ascii_lowercase()));
                Ok(())
            }
            "url_shortener" => {
                self.url_shorteners
                    .extend(text.split_whitespace().map(|d| d.to_ascii_lowercase()));
                Ok(())
            }
            "util_rb_tld" => {
                self.util_rb_tld
                    .extend(text.split_whitespace().map(|d| d.to_ascii_lowercase()));
                Ok(())
            }
            "util_rb_2tld" => {
                self.util_rb_2tld
                    .extend(text.split_whitespace().map(|d| d.to_ascii_lowercase()));
                Ok(())
            }
            "util_rb_3tld" => {
                self.util_rb_3tld
                    .extend(text.split_whitespace().map(|d| d.to_ascii_lowercase()));
                Ok(())
            }
            "welcomelist_from"
            | "whitelist_from"
            | "blocklist_from"
            | "blacklist_from"
            | "welcomelist_to"
            | "whitelist_to"
            | "blocklist_to"
            | "blacklist_to"
            | "more_spam_to"
            | "all_spam_to"
            | "welcomelist_subject"
            | "blocklist_subject"
            | "blocklist_uri_host"
            | "welcomelist_uri_host" => {
                let canonical = key
                    .replace("whitelist", "welcomelist")
                    .replace("blacklist", "blocklist");
                self.lists
                    .entry(canonical)
                    .or_default()
                    .extend(text.split_whitespace().map(|a| a.to_ascii_lowercase()));
                Ok(())
            }
            "enlist_addrlist" => {
                // enlist_addrlist (NAME) addr…
                let t = text.trim();
                if let Some(rest) = t.strip_prefix('(')
                    && let Some((name, addrs)) = rest.split_once(')')
                {
                    self.lists
                        .entry(format!("addrlist:{}", name.trim()))
                        .or_default()
                        .extend(addrs.split_whitespace().map(|a| a.to_ascii_lowercase()));
                }
                Ok(())
            }
            _ => {
                *self.ignored.entry(key.to_string()).or_default() += 1;
                Ok(())
            }
        }
    }

    /// tflags/describe/priority lines can come before or after the rule they name.
    fn with_rule_meta(&mut self, name: &str, f: impl FnOnce(&mut RuleDef)) {
        if let Some(r) = self.rules.get_mut(name) {
            f(r);
        }
    }

    fn pending_describe(&mut self, name: &str, text: &str) {
        self.pending.entry(name.to_string()).or_default().describe = Some(text.to_string());
    }

    fn pending_tflags(&mut self, name: &str, t: Tflags) {
        if let Some(r) = self.rules.get_mut(name) {
            r.tflags = t.clone();
        }
        self.pending.entry(name.to_string()).or_default().tflags = Some(t);
    }

    fn pending_priority(&mut self, name: &str, p: i32) {
        if let Some(r) = self.rules.get_mut(name) {
            r.priority = p;
        }
        self.pending.entry(name.to_string()).or_default().priority = Some(p);
    }

    fn define(&mut self, kind: Kind, value: &[u8]) -> Result<(), String> {
        let split = value.iter().position(|b| b.is_ascii_whitespace());
        let (name, rest) = match split {
            Some(i) => (&value[..i], value[i..].trim_ascii()),
            None => return Err("rule without a test".into()),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let test = parse_test(kind, rest).map_err(|e| format!("{name}: {e}"))?;
        self.order += 1;
        let pending = self.pending.get(&name).cloned().unwrap_or_default();
        let rule = RuleDef {
            name: name.clone(),
            kind,
            test,
            describe: pending.describe,
            tflags: pending.tflags.unwrap_or_default(),
            priority: pending.priority.unwrap_or(0),
            order: self.order,
        };
        self.rules.insert(name, rule);
        Ok(())
    }

    /// Applies ReplaceTags to the rules `replace_rules` names (after every file is read).
    pub fn finish(&mut self) {
        // Freemail look-ups run several times per message: exact names in a set.
        let (globs, exact): (Vec<String>, Vec<String>) = self
            .freemail_domains
            .iter()
            .cloned()
            .partition(|d| d.contains(['*', '?']));
        self.freemail_exact = exact.into_iter().collect();
        self.freemail_globs = globs;
        let names = std::mem::take(&mut self.replace_rules);
        for name in names {
            let tags = &self.replace_tags;
            let (pre, inter, post) = (&self.replace_pre, &self.replace_inter, &self.replace_post);
            if let Some(rule) = self.rules.get_mut(&name) {
                let re = match &mut rule.test {
                    Test::Regex(re) => re,
                    Test::Header { regex, .. } => regex,
                    _ => continue,
                };
                re.pattern = replace_tags(&re.pattern, tags, pre, inter, post);
            }
        }
    }

    /// A rule's score in `set` (0: no Bayes, no network): its `score` line, or SpamAssassin's
    /// defaults: 1.0 (−1.0 with `nice`), 0.01 for `T_` rules.
    pub fn score(&self, name: &str, set: usize) -> f64 {
        if let Some(s) = self.scores.get(name) {
            return s[set.min(3)];
        }
        if name.starts_with("T_") {
            return 0.01;
        }
        let nice = self.rules.get(name).is_some_and(|r| r.tflags.nice);
        if nice { -1.0 } else { 1.0 }
    }
}

/// Per-name settings seen before (or after) the rule's definition.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    describe: Option<String>,
    tflags: Option<Tflags>,
    priority: Option<i32>,
}

fn parse_test(kind: Kind, rest: &[u8]) -> Result<Test, String> {
    let text = String::from_utf8_lossy(rest);
    if kind == Kind::Meta {
        return Ok(Test::Meta(text.into_owned()));
    }
    if let Some(call) = text.strip_prefix("eval:") {
        let (function, args) = parse_call(call)?;
        return Ok(Test::Eval { function, args });
    }
    match kind {
        Kind::Header | Kind::MimeHeader => {
            if let Some(h) = text.strip_prefix("exists:") {
                return Ok(Test::Exists(h.trim().to_string()));
            }
            let op = rest
                .windows(2)
                .position(|w| w == b"=~" || w == b"!~")
                .ok_or("no =~ or !~")?;
            let spec = String::from_utf8_lossy(rest[..op].trim_ascii()).into_owned();
            let negate = rest[op] == b'!';
            let (regex, tail) = parse_regex(&rest[op + 2..]).ok_or("bad regex")?;
            let tail = String::from_utf8_lossy(tail);
            let if_unset = tail
                .trim()
                .strip_prefix("[if-unset:")
                .and_then(|t| t.strip_suffix(']'))
                .map(|t| t.trim().as_bytes().to_vec());
            Ok(Test::Header {
                spec,
                negate,
                regex,
                if_unset,
            })
        }
        _ => {
            let (regex, _) = parse_regex(rest).ok_or("bad regex")?;
            Ok(Test::Regex(regex))
        }
    }
}

/// `name(arg, 'arg', "arg")` → the name and the unquoted arguments.
pub fn parse_call(call: &str) -> Result<(String, Vec<String>), String> {
    let call = call.trim();
    let (name, args) = match call.find('(') {
        Some(i) => (&call[..i], call[i + 1..].trim_end().trim_end_matches(')')),
        None => (call, ""),
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    if n != '\'' && n != '"' && n != '\\' {
                        cur.push('\\');
                    }
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, ',') => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                any = false;
            }
            (None, c) => {
                if !c.is_whitespace() {
                    any = true;
                }
                cur.push(c)
            }
        }
    }
    if any || !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    Ok((name.trim().to_string(), out))
}

/// ReplaceTags as `Plugin/ReplaceTags.pm` does it: `<pre X>`, `<post X>` and `<inter X>` name
/// what goes before each `<…>`, after each, and into each empty gap between two of them
/// (including the one before a leading tag); then each `<TAG>` becomes its value. Repeated
/// while a value holds another tag (at most 6 passes).
fn replace_tags(
    pattern: &[u8],
    tags: &HashMap<String, String>,
    pre: &HashMap<String, String>,
    inter: &HashMap<String, String>,
    post: &HashMap<String, String>,
) -> Vec<u8> {
    // Latin-1 round trip keeps every byte.
    let mut re: String = pattern.iter().map(|&b| char::from(b)).collect();
    let take = |re: &mut String, kind: &str| -> Option<String> {
        let open = format!("<{kind} ");
        let at = re.find(&open)?;
        let close = re[at..].find('>')? + at;
        let name = re[at + open.len()..close].to_string();
        re.replace_range(at..=close, "");
        Some(name)
    };
    for _pass in 0..6 {
        let pre_name = take(&mut re, "pre");
        let post_name = take(&mut re, "post");
        let inter_name = take(&mut re, "inter");
        // split(/(<[^<>]+>)/): text, tag, text, tag… (trailing empty texts dropped).
        let mut parts: Vec<String> = Vec::new();
        let mut rest = re.as_str();
        loop {
            let tag = rest.find('<').and_then(|o| {
                let c = rest[o + 1..].find(['<', '>'])? + o + 1;
                (rest.as_bytes()[c] == b'>' && c > o + 1).then_some((o, c))
            });
            match tag {
                Some((o, c)) => {
                    parts.push(rest[..o].to_string());
                    parts.push(rest[o..=c].to_string());
                    rest = &rest[c + 1..];
                }
                None => {
                    parts.push(rest.to_string());
                    break;
                }
            }
        }
        while parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
        let is_tag = |p: &str| p.starts_with('<') && p.ends_with('>') && p.len() > 2;
        if let Some(v) = pre_name.and_then(|n| pre.get(&n)).filter(|v| !v.is_empty()) {
            for p in parts.iter_mut().filter(|p| is_tag(p)) {
                *p = format!("{v}{p}");
            }
        }
        if let Some(v) = post_name
            .and_then(|n| post.get(&n))
            .filter(|v| !v.is_empty())
        {
            for p in parts.iter_mut().filter(|p| is_tag(p)) {
                *p = format!("{p}{v}");
            }
        }
        if let Some(v) = inter_name
            .and_then(|n| inter.get(&n))
            .filter(|v| !v.is_empty())
        {
            for p in parts.iter_mut().filter(|p| p.is_empty()) {
                *p = v.clone();
            }
        }
        let mut again = false;
        for p in parts.iter_mut() {
            let Some(o) = p.find('<') else { continue };
            let Some(c) = p[o..].find('>').map(|c| c + o) else {
                continue;
            };
            let name = p[o + 1..c].to_string();
            if let Some(v) = tags.get(&name).filter(|v| !v.is_empty()) {
                *p = p.replace(&format!("<{name}>"), v);
                again |= v.contains('<') && v.contains('>');
            }
        }
        re = parts.concat();
        if !again {
            break;
        }
    }
    re.chars().map(|c| c as u32 as u8).collect()
}

/// A tiny evaluator for `if` conditions.
struct CondParser<'a> {
    s: &'a [u8],
    i: usize,
    conf: &'a Conf,
}

impl CondParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> f64 {
        let mut v = self.and();
        while self.eat("||") {
            let r = self.and();
            v = if v != 0.0 { v } else { r };
        }
        v
    }

    fn and(&mut self) -> f64 {
        let mut v = self.cmp();
        while self.eat("&&") {
            let r = self.cmp();
            v = if v != 0.0 { r } else { v };
        }
        v
    }

    fn cmp(&mut self) -> f64 {
        let l = self.unary();
        for (op, f) in [
            (">=", (|a: f64, b: f64| a >= b) as fn(f64, f64) -> bool),
            ("<=", |a, b| a <= b),
            ("==", |a, b| a == b),
            ("!=", |a, b| a != b),
            (">", |a, b| a > b),
            ("<", |a, b| a < b),
        ] {
            if self.eat(op) {
                let r = self.unary();
                return if f(l, r) { 1.0 } else { 0.0 };
            }
        }
        l
    }

    fn unary(&mut self) -> f64 {
        if self.eat("!") {
            return if self.unary() == 0.0 { 1.0 } else { 0.0 };
        }
        self.atom()
    }

    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"_:.".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn arg(&mut self) -> String {
        self.eat("(");
        let start = self.i;
        let mut depth = 0;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                _ => {}
            }
            self.i += 1;
        }
        let a = String::from_utf8_lossy(&self.s[start..self.i])
            .trim()
            .to_string();
        self.eat(")");
        a
    }

    fn atom(&mut self) -> f64 {
        self.ws();
        if self.eat("(") {
            let v = self.or();
            self.eat(")");
            return v;
        }
        let w = self.word();
        match w.as_str() {
            "plugin" => {
                let a = self.arg();
                f64::from(u8::from(self.conf.plugins.contains(&plugin_name(&a))))
            }
            "can" => {
                let a = self.arg();
                f64::from(u8::from(FEATURES.contains(&a.as_str())))
            }
            "has" => {
                // has(Plugin::function): a plugin method exists; true for loaded plugins'
                // functions Moat lists as features.
                let a = self.arg();
                let full = format!("Mail::SpamAssassin::Plugin::{a}");
                f64::from(u8::from(
                    FEATURES.contains(&a.as_str()) || FEATURES.contains(&full.as_str()),
                ))
            }
            "version" => SA_VERSION,
            "perl_version" => 5.036,
            "local_tests_only" => 1.0,
            "" => 0.0,
            w => w.parse().unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_conditionals_and_scores_parse() {
        let mut c = Conf::with_plugins(["Mail::SpamAssassin::Plugin::HeaderEval"]);
        c.parse(
            br#"
# comment
header  TEST_A   Subject =~ /free\/money/i   # trailing comment
describe TEST_A  Subject talks of free money
score TEST_A 2.5
tflags TEST_B multiple maxhits=3
body TEST_B  m{click\s+here}i
ifplugin Mail::SpamAssassin::Plugin::HeaderEval
header TEST_C eval:check_for_shifted_date('-6', '-3')
endif
ifplugin Mail::SpamAssassin::Plugin::Missing
header TEST_D Subject =~ /never/
endif
if (version >= 3.004000) && can(Mail::SpamAssassin::Conf::feature_bug6558_free)
meta TEST_E TEST_A && !TEST_B
else
meta TEST_F TEST_A
endif
if !plugin(Mail::SpamAssassin::Plugin::Missing)
header TEST_G From:addr =~ /\@example\.com$/i [if-unset: x@y]
endif
score TEST_E 1.0 2.0 3.0 4.0
"#,
            "test.cf",
        );
        c.finish();
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let names: Vec<&str> = c.rules.keys().map(String::as_str).collect();
        assert_eq!(names, ["TEST_A", "TEST_B", "TEST_C", "TEST_E", "TEST_G"]);
        assert_eq!(c.score("TEST_A", 0), 2.5);
        assert_eq!(c.score("TEST_E", 1), 2.0);
        assert_eq!(c.score("TEST_B", 0), 1.0);
        assert_eq!(
            c.rules["TEST_A"].describe.as_deref(),
            Some("Subject talks of free money")
        );
        assert!(c.rules["TEST_B"].tflags.multiple);
        assert_eq!(c.rules["TEST_B"].tflags.maxhits, Some(3));
        match &c.rules["TEST_A"].test {
            Test::Header { spec, regex, .. } => {
                assert_eq!(spec, "Subject");
                assert_eq!(regex.pattern, b"free/money");
                assert_eq!(regex.flags, "i");
            }
            other => panic!("{other:?}"),
        }
        match &c.rules["TEST_C"].test {
            Test::Eval { function, args } => {
                assert_eq!(function, "check_for_shifted_date");
                assert_eq!(args, &["-6", "-3"]);
            }
            other => panic!("{other:?}"),
        }
        match &c.rules["TEST_G"].test {
            Test::Header { if_unset, .. } => assert_eq!(if_unset.as_deref(), Some(&b"x@y"[..])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn regex_literals_in_every_delimiter() {
        for (src, pat, flags) in [
            (&b"/a\\/b/i"[..], &b"a/b"[..], "i"),
            (b"m{a{1,2}}s", b"a{1,2}", "s"),
            (b"m!x!", b"x", ""),
            (b"m[a\\]b]", b"a\\]b", ""),
        ] {
            let (re, _) = parse_regex(src).expect("parses");
            assert_eq!(re.pattern, pat);
            assert_eq!(re.flags, flags);
        }
    }

    #[test]
    fn replace_tags_expand() {
        let mut tags = HashMap::new();
        tags.insert("A".to_string(), "[a@]".to_string());
        tags.insert("B".to_string(), "[b8]".to_string());
        let mut inter = HashMap::new();
        inter.insert("W1".to_string(), "\\W?".to_string());
        let out = replace_tags(
            b"<inter W1>y<A><B>x",
            &tags,
            &HashMap::new(),
            &inter,
            &HashMap::new(),
        );
        assert_eq!(String::from_utf8_lossy(&out), "y[a@]\\W?[b8]x");
    }
}
