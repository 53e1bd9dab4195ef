//! SpamAssassin rule compatibility: Moat loads SpamAssassin's rule files at run time (Debian's
//! `spamassassin` package and, when present, the `sa-update` directory) and applies them to
//! every message, compiled to Hyperscan.
//!
//! - [`conf`] reads the `.cf` files (conditionals, rules, scores, ReplaceTags, lists).
//! - [`regex`] translates each rule's Perl regex for Hyperscan and PCRE2.
//! - [`input`] builds the texts SpamAssassin's rules look at (headers with modifiers and
//!   pseudo-headers, rendered body lines, raw body chunks, URIs, the full message), with
//!   [`html`] rendering HTML as SpamAssassin does.
//! - [`evals`] implements the `eval:` tests that carry score; [`meta`] evaluates metas with
//!   Perl's value semantics.
//!
//! Each subject (a header spec, the body, the raw body, the URIs, the full message) gets one
//! Hyperscan database of the rules that look at it. A rule Hyperscan cannot run exactly
//! (look-around, back-references) runs as a Hyperscan prefilter confirmed by PCRE2, or on
//! PCRE2 alone; `multiple` rules are counted with PCRE2 (Perl's non-overlapping `//g`). The
//! databases are cached on disk by the SHA-256 of their patterns, so only the first start
//! after a rule update compiles.
//!
//! Scores come from score set 0 (no Bayes, no network tests), as `spamassassin -L` with an
//! untrained Bayes database uses; Moat's own Bayes, DNS and authentication results are its
//! own findings beside these.

pub mod conf;
pub mod evals;
pub mod html;
pub mod input;
pub mod meta;
pub mod regex;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Mutex,
};

use hyperscan::prelude::{
    BlockDatabase, Builder, CompileFlags, Matching, Pattern, Patterns, Scratch,
};
use sha2::{Digest, Sha256};

use self::{
    conf::{Conf, Kind, PerlRegex, RuleDef, Test},
    input::SaMessage,
    meta::Expr,
};

/// Why the rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SaError {
    #[error("cannot read SpamAssassin rules from {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("no SpamAssassin rule directory found (looked in {0})")]
    NoRules(String),
    #[error("Hyperscan: {0}")]
    Hyperscan(String),
}

/// Where the rules come from and how they are scored.
#[derive(Debug, Clone)]
pub struct SaSettings {
    /// Rule directories, read in order (later definitions win): Debian's package rules,
    /// then the `sa-update` directory when it exists, then local additions.
    pub rule_dirs: Vec<PathBuf>,
    /// Where `*.pre` files name the plugins to load (`/etc/spamassassin`); `None`: Debian's
    /// default plugin set.
    pub pre_dir: Option<PathBuf>,
    /// 0: no Bayes, no network (the default); 1: network tests on.
    pub score_set: usize,
    /// Compiled databases are kept here.
    pub cache_dir: Option<PathBuf>,
}

impl SaSettings {
    /// Debian's locations: `/usr/share/spamassassin`, the newest
    /// `/var/lib/spamassassin/<version>/updates_spamassassin_org`, and `/etc/spamassassin`
    /// (whose `local.cf` and `*.pre` a site edits).
    pub fn debian_default(cache_dir: Option<PathBuf>) -> SaSettings {
        let mut dirs = vec![PathBuf::from("/usr/share/spamassassin")];
        if let Ok(entries) = std::fs::read_dir("/var/lib/spamassassin") {
            let mut updates: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path().join("updates_spamassassin_org"))
                .filter(|p| p.is_dir())
                .collect();
            updates.sort();
            if let Some(newest) = updates.pop() {
                // sa-update's channel replaces the package's rules.
                dirs = vec![newest];
            }
        }
        dirs.push(PathBuf::from("/etc/spamassassin"));
        SaSettings {
            rule_dirs: dirs,
            pre_dir: Some(PathBuf::from("/etc/spamassassin")),
            score_set: 0,
            cache_dir,
        }
    }
}

/// Loads the rule set a configuration asks for: `Ok(None)` when it is disabled, or when no
/// rule files are found and they are not required (logged either way, with the load report).
pub fn load_configured(config: &crate::config::Config) -> Result<Option<SaEngine>, SaError> {
    let sa = &config.spamassassin;
    if !sa.enabled {
        tracing::info!("SpamAssassin rules disabled ([spamassassin] enabled = false)");
        return Ok(None);
    }
    let settings = config.spamassassin_settings();
    if let Some(dir) = &settings.cache_dir {
        // A cache that cannot be made only costs a compilation at every start.
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot create the SpamAssassin cache directory");
        }
    }
    let started = std::time::Instant::now();
    match SaEngine::load(&settings) {
        Ok(engine) => {
            tracing::info!(
                report = %engine.report,
                files = engine.report.files,
                from_cache = engine.report.from_cache,
                ms = started.elapsed().as_millis() as u64,
                "SpamAssassin rules loaded"
            );
            for e in engine.report.errors.iter().take(20) {
                tracing::debug!(error = %e, "SpamAssassin rule not loaded");
            }
            Ok(Some(engine))
        }
        Err(SaError::NoRules(dirs)) if !sa.required => {
            tracing::warn!(looked_in = %dirs, "no SpamAssassin rules found (apt-get install spamassassin); spam is scored by Moat's own rules");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// How a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Hyperscan decides alone.
    Exact,
    /// Hyperscan prefilter, confirmed by PCRE2.
    Prefilter,
    /// PCRE2 alone.
    Fallback,
    /// Native eval function.
    Eval,
    /// Meta expression.
    Meta,
    /// `exists:` test.
    Exists,
}

/// What loading found: the numbers the scanner logs at start.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub files: usize,
    pub rules: usize,
    pub hyperscan: usize,
    pub prefilter: usize,
    pub fallback: usize,
    pub evals: usize,
    pub metas: usize,
    /// Reason → rule count (score 0, network, Bayes, unimplemented eval, broken regex…).
    pub skipped: BTreeMap<String, usize>,
    pub errors: Vec<String>,
    pub from_cache: bool,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skipped: usize = self.skipped.values().sum();
        write!(
            f,
            "{} rules: {} Hyperscan ({} as prefilter), {} fallback, {} eval implemented, {} meta, {} skipped (",
            self.rules,
            self.hyperscan + self.prefilter,
            self.prefilter,
            self.fallback,
            self.evals,
            self.metas,
            skipped
        )?;
        let mut first = true;
        for (why, n) in &self.skipped {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{n} {why}")?;
        }
        f.write_str(")")
    }
}

/// One active rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub kind: Kind,
    pub score: f64,
    pub describe: Option<String>,
    pub tier: Tier,
    multiple: bool,
    maxhits: u32,
    nosubject: bool,
}

/// One subject's compiled rules.
#[derive(Default)]
struct Matcher {
    db: Option<BlockDatabase>,
    /// Hyperscan id → rule.
    hs_rules: Vec<usize>,
    /// Hyperscan id → confirm with PCRE2.
    hs_prefilter: Vec<bool>,
    /// PCRE2-only rules.
    fallback: Vec<usize>,
    /// Every regex rule's PCRE2 form (confirmations, counts, fallbacks).
    pcre: HashMap<usize, pcre2::bytes::Regex>,
    /// The database came from the disk cache (or there was nothing to compile).
    from_cache: bool,
    /// Built to scan many lines joined by `\n` at once ([`Matcher::scan_lines`]): per
    /// Hyperscan id, whether a report is a hit as it stands (the pattern cannot reach across a
    /// line, has no anchor, is exact and counted once); the others are confirmed line by line.
    direct: Vec<bool>,
}

/// Header rules that share a subject.
struct HeaderGroup {
    spec: String,
    if_unset: Option<Vec<u8>>,
    matcher: Matcher,
    /// Rules matching with `!~`.
    negated: HashSet<usize>,
    /// Per rule: does it match the empty string (a missing header)?
    empty_match: HashMap<usize, bool>,
}

/// The loaded, compiled rule set.
pub struct SaEngine {
    rules: Vec<Rule>,
    header_groups: Vec<HeaderGroup>,
    mimeheader_groups: Vec<HeaderGroup>,
    body: Matcher,
    rawbody: Matcher,
    uri: Matcher,
    full: Matcher,
    exists: Vec<(usize, String)>,
    evals: Vec<(usize, String, Vec<String>)>,
    /// In dependency order.
    metas: Vec<(usize, Expr)>,
    regexes: HashMap<String, pcre2::bytes::Regex>,
    conf: Conf,
    scratch: Mutex<Vec<Scratch>>,
    /// Cloned when the pool is empty (behind a lock: a scratch space is not `Sync`).
    prototype: Mutex<Option<Scratch>>,
    pub report: LoadReport,
}

impl std::fmt::Debug for SaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SaEngine({})", self.report)
    }
}

/// One rule that hit.
#[derive(Debug, Clone, PartialEq)]
pub struct SaHit {
    pub name: String,
    pub score: f64,
    pub describe: Option<String>,
    /// Hit count or value.
    pub value: f64,
}

/// What the rules made of one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SaResult {
    /// The sum of the scores of the hit rules (not `__` sub-rules), rounded to 0.001.
    pub score: f64,
    /// Scored rules that hit.
    pub hits: Vec<SaHit>,
    /// Every rule's value (0: not hit), `__` sub-rules included, indexed like
    /// [`SaEngine::rules`] (for conformance tests; see [`SaEngine::value`]).
    pub values: Vec<f64>,
}

/// Part of every rule cache key: what the compiled databases are (2: every pattern reports
/// once, [`regex::hs_flags`]).
const DB_FORMAT: &[u8] = b"moat-sa-db 2";

fn sha(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    h.update(hyperscan::version_str().to_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// A pattern of one matcher before compilation.
struct Candidate {
    rule: usize,
    regex: PerlRegex,
    multiple: bool,
}

/// Header rules by (spec, `[if-unset:]` value), each with whether it matches with `!~`.
type HeaderCandidates = BTreeMap<(String, Option<Vec<u8>>), Vec<(Candidate, bool)>>;

/// The build plan of a matcher, as cached: which candidates are exact, prefiltered or
/// PCRE-only.
#[derive(serde::Serialize, serde::Deserialize)]
struct Plan {
    tiers: Vec<u8>,
    db_sha256: String,
}

impl Matcher {
    fn build(
        cands: Vec<Candidate>,
        cache: Option<&Path>,
        rules: &mut [Rule],
        joined: bool,
    ) -> Result<Matcher, SaError> {
        let mut m = Matcher::default();
        for c in &cands {
            match regex::pcre(&c.regex, true) {
                Ok(r) => {
                    m.pcre.insert(c.rule, r);
                }
                Err(e) => {
                    tracing::debug!(rule = %rules[c.rule].name, error = %e, "rule regex does not compile");
                }
            }
        }
        // The cache key: how databases are compiled (bumped when that changes), then every
        // candidate's pattern, flags and multiplicity.
        let mut key_parts: Vec<Vec<u8>> = vec![DB_FORMAT.to_vec()];
        key_parts.extend(cands.iter().map(|c| {
            let mut v = regex::hs_expression(&c.regex).into_bytes();
            v.push(0);
            v.extend_from_slice(c.regex.flags.as_bytes());
            v.push(u8::from(c.multiple));
            v
        }));
        let mut refs: Vec<&[u8]> = key_parts.iter().map(Vec::as_slice).collect();
        if joined {
            refs.push(b"joined-lines");
        }
        let key = sha(&refs);
        let cached = cache.and_then(|dir| {
            let plan: Plan =
                serde_json::from_slice(&std::fs::read(dir.join(format!("sa-{key}.json"))).ok()?)
                    .ok()?;
            let bytes = std::fs::read(dir.join(format!("sa-{key}.hsdb"))).ok()?;
            if hex::encode(Sha256::digest(&bytes)) != plan.db_sha256
                || plan.tiers.len() != cands.len()
            {
                return None;
            }
            let db: BlockDatabase = hyperscan::Serialized::deserialize(&bytes).ok()?;
            Some((plan.tiers, Some(db)))
        });
        m.from_cache = cached.is_some() || cands.is_empty();
        let (tiers, db) = match cached {
            Some(c) => c,
            None => {
                // 0 exact, 1 prefilter, 2 fallback
                let mut tiers: Vec<u8> = cands
                    .iter()
                    .map(|c| {
                        if c.regex.pattern.len() > 16_000 {
                            2
                        } else if regex::hs_pattern(&c.regex, false).is_ok() {
                            0
                        } else if regex::hs_pattern(&c.regex, true).is_ok() {
                            1
                        } else {
                            2
                        }
                    })
                    .collect();
                let db = loop {
                    let mut pats = Patterns(Vec::new());
                    let mut ids = Vec::new();
                    for (i, c) in cands.iter().enumerate() {
                        if tiers[i] < 2 {
                            let mut flags = regex::hs_flags(&c.regex.flags);
                            if joined {
                                // `^` and `$` at every joined line (confirmed per line).
                                flags |= CompileFlags::MULTILINE;
                            }
                            if tiers[i] == 1 {
                                flags |= CompileFlags::PREFILTER;
                            }
                            let mut p = Pattern::with_flags(regex::hs_expression(&c.regex), flags)
                                .map_err(|e| SaError::Hyperscan(e.to_string()))?;
                            p.id = Some(ids.len());
                            pats.0.push(p);
                            ids.push(i);
                        }
                    }
                    if pats.0.is_empty() {
                        break None;
                    }
                    match pats.build::<hyperscan::Block>() {
                        Ok(db) => break Some(db),
                        Err(hyperscan::Error::Hyperscan(hyperscan::HsError::CompileError(e))) => {
                            match e.expression() {
                                Some(bad) if bad < ids.len() => {
                                    let i = ids[bad];
                                    // An exact pattern Hyperscan cannot build may still build
                                    // as a prefilter; otherwise PCRE2 alone.
                                    tiers[i] = if tiers[i] == 0
                                        && regex::hs_pattern(&cands[i].regex, true).is_ok()
                                    {
                                        1
                                    } else {
                                        2
                                    };
                                }
                                _ => return Err(SaError::Hyperscan(e.to_string())),
                            }
                        }
                        Err(e) => return Err(SaError::Hyperscan(e.to_string())),
                    }
                };
                if let (Some(dir), Some(db)) = (cache, &db)
                    && let Ok(bytes) = db.serialize()
                {
                    let bytes = bytes.to_vec();
                    let plan = Plan {
                        tiers: tiers.clone(),
                        db_sha256: hex::encode(Sha256::digest(&bytes)),
                    };
                    let _ = std::fs::create_dir_all(dir);
                    // Written aside and renamed, so a process starting meanwhile never reads
                    // half a file (it would only recompile: the plan names the bytes' hash).
                    let put = |name: String, bytes: &[u8]| {
                        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
                        std::fs::write(&tmp, bytes)
                            .and_then(|()| std::fs::rename(&tmp, dir.join(&name)))
                    };
                    let written = put(format!("sa-{key}.hsdb"), &bytes).and_then(|()| {
                        put(
                            format!("sa-{key}.json"),
                            &serde_json::to_vec(&plan).unwrap_or_default(),
                        )
                    });
                    if let Err(e) = written {
                        tracing::warn!(error = %e, "SpamAssassin rule cache not written");
                    }
                }
                (tiers, db)
            }
        };
        // Nothing for Hyperscan to compile costs nothing either.
        m.from_cache |= db.is_none();
        // Database ids follow the order of the candidates Hyperscan took.
        for (i, c) in cands.iter().enumerate() {
            match tiers[i] {
                0 | 1 => {
                    m.hs_rules.push(c.rule);
                    m.hs_prefilter.push(tiers[i] == 1);
                    m.direct.push(
                        tiers[i] == 0
                            && !c.multiple
                            && !rules[c.rule].nosubject
                            && regex::stays_on_its_line(&c.regex),
                    );
                    rules[c.rule].tier = if tiers[i] == 0 {
                        Tier::Exact
                    } else {
                        Tier::Prefilter
                    };
                }
                _ => {
                    m.fallback.push(c.rule);
                    rules[c.rule].tier = Tier::Fallback;
                }
            }
        }
        // Ids in the database follow the order of the non-fallback candidates.
        m.db = db;
        Ok(m)
    }

    /// Counts of the rules that match `text` (1 for plain rules, hits for `multiple` ones).
    /// Every rule's value over `lines` as if each line were scanned alone (SpamAssassin's
    /// body semantics: a rule hits a line; `multiple` rules add their per-line counts up to
    /// `maxhits`; `nosubject` rules skip line 0), with one Hyperscan pass over the lines
    /// joined by `\n`. A report of a [`Matcher::direct`] rule is a hit; any other reported
    /// rule is run by PCRE2 on each line, as is every fallback rule.
    fn scan_lines(
        &self,
        lines: &[&[u8]],
        rules: &[Rule],
        scratch: &Scratch,
        out: &mut Vec<(usize, u32)>,
    ) {
        let mut joined = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                joined.push(b'\n');
            }
            joined.extend_from_slice(l);
        }
        let mut seen: Vec<bool> = vec![false; self.hs_rules.len()];
        if let Some(db) = &self.db {
            let _ = db.scan(&joined, scratch, |id, _, _, _| {
                if let Some(s) = seen.get_mut(id as usize) {
                    *s = true;
                }
                Matching::Continue
            });
        }
        let per_line = |rule: usize, out: &mut Vec<(usize, u32)>| {
            let r = &rules[rule];
            let Some(re) = self.pcre.get(&rule) else {
                return;
            };
            let mut total = 0u32;
            for (i, line) in lines.iter().enumerate() {
                if i == 0 && r.nosubject {
                    continue;
                }
                if r.multiple {
                    total = (total + regex::count(re, line, r.maxhits)).min(r.maxhits);
                    if total >= r.maxhits {
                        break;
                    }
                } else if re.is_match(line).unwrap_or(false) {
                    total = 1;
                    break;
                }
            }
            if total > 0 {
                out.push((rule, total));
            }
        };
        for (id, hit) in seen.iter().enumerate() {
            if !hit {
                continue;
            }
            let rule = self.hs_rules[id];
            if self.direct.get(id).copied().unwrap_or(false) {
                out.push((rule, 1));
            } else {
                per_line(rule, out);
            }
        }
        for &rule in &self.fallback {
            per_line(rule, out);
        }
    }

    fn scan(&self, text: &[u8], rules: &[Rule], scratch: &Scratch, out: &mut Vec<(usize, u32)>) {
        let mut seen: Vec<usize> = Vec::new();
        if let Some(db) = &self.db {
            let _ = db.scan(text, scratch, |id, _, _, _| {
                let id = id as usize;
                if !seen.contains(&id) {
                    seen.push(id);
                }
                Matching::Continue
            });
        }
        for id in seen {
            let Some(&rule) = self.hs_rules.get(id) else {
                continue;
            };
            let r = &rules[rule];
            let needs_pcre = self.hs_prefilter[id] || r.multiple;
            if !needs_pcre {
                out.push((rule, 1));
                continue;
            }
            if let Some(re) = self.pcre.get(&rule) {
                let n = if r.multiple {
                    regex::count(re, text, r.maxhits)
                } else {
                    u32::from(re.is_match(text).unwrap_or(false))
                };
                if n > 0 {
                    out.push((rule, n));
                }
            }
        }
        for &rule in &self.fallback {
            if let Some(re) = self.pcre.get(&rule) {
                let r = &rules[rule];
                let n = if r.multiple {
                    regex::count(re, text, r.maxhits)
                } else {
                    u32::from(re.is_match(text).unwrap_or(false))
                };
                if n > 0 {
                    out.push((rule, n));
                }
            }
        }
    }
}

impl SaEngine {
    /// Loads and compiles the rules `settings` names.
    pub fn load(settings: &SaSettings) -> Result<SaEngine, SaError> {
        let mut conf = Conf::with_plugins(conf::DEFAULT_PLUGINS.iter().copied());
        if let Some(pre) = &settings.pre_dir
            && pre.is_dir()
        {
            conf.load_pre_dir(pre).map_err(|source| SaError::Read {
                path: pre.display().to_string(),
                source,
            })?;
            if conf.plugins.is_empty() {
                conf.plugins = conf::DEFAULT_PLUGINS
                    .iter()
                    .map(|p| p.to_string())
                    .collect();
            }
        }
        let mut files = 0;
        for dir in settings.rule_dirs.iter().filter(|d| d.is_dir()) {
            files += conf.load_dir(dir).map_err(|source| SaError::Read {
                path: dir.display().to_string(),
                source,
            })?;
        }
        if files == 0 {
            let shown: Vec<String> = settings
                .rule_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            return Err(SaError::NoRules(shown.join(", ")));
        }
        conf.finish();
        let mut engine =
            SaEngine::compile(conf, settings.score_set, settings.cache_dir.as_deref())?;
        engine.report.files = files;
        Ok(engine)
    }

    /// Compiles a parsed configuration.
    pub fn compile(conf: Conf, set: usize, cache: Option<&Path>) -> Result<SaEngine, SaError> {
        let mut report = LoadReport {
            errors: conf.errors.clone(),
            ..LoadReport::default()
        };
        let mut skip = |why: &str| *report.skipped.entry(why.to_string()).or_default() += 1;
        // Which rules run: score set `set`, score not 0, no network tests in sets 0 and 2,
        // no Bayes in sets 0 and 1.
        let mut defs: Vec<&RuleDef> = conf.rules.values().collect();
        defs.sort_by_key(|d| d.order);
        let mut runnable: Vec<(&RuleDef, f64)> = Vec::new();
        for d in defs {
            let score = conf.score(&d.name, set);
            if score == 0.0 {
                skip("with score 0");
                continue;
            }
            let is_eval = matches!(d.test, Test::Eval { .. });
            if is_eval && d.tflags.net && (set == 0 || set == 2) {
                skip("network tests");
                continue;
            }
            if is_eval && d.tflags.learn && set < 2 {
                skip("Bayes tests");
                continue;
            }
            if let Test::Eval { function, .. } = &d.test
                && !evals::implemented(function)
            {
                let net = function.starts_with("check_rbl")
                    || function.starts_with("check_dns")
                    || function.contains("uridnsbl")
                    || function.contains("razor")
                    || function.contains("pyzor")
                    || function.contains("dcc")
                    || function.contains("spf")
                    || function.contains("dkim")
                    || function.contains("dmarc")
                    || function.contains("hashbl")
                    || function == "check_bayes";
                skip(if net {
                    "network, Bayes or authentication evals (Moat has its own)"
                } else {
                    "evals not implemented"
                });
                continue;
            }
            runnable.push((d, score));
        }
        // A `__` sub-rule counts only through the metas that use it: one that no scored rule
        // reaches (through any chain of metas) cannot change a score, so it is not run.
        // SpamAssassin runs them; the conformance figures compare the rules Moat runs.
        let by_name: HashMap<&str, &RuleDef> = runnable
            .iter()
            .map(|(d, _)| (d.name.as_str(), *d))
            .collect();
        let mut needed: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = runnable
            .iter()
            .map(|(d, _)| d.name.as_str())
            .filter(|n| !n.starts_with("__"))
            .collect();
        while let Some(n) = stack.pop() {
            if !needed.insert(n) {
                continue;
            }
            if let Some(RuleDef {
                test: Test::Meta(expr),
                ..
            }) = by_name.get(n)
            {
                for r in meta::names(expr) {
                    if let Some((k, _)) = by_name.get_key_value(r.as_str()) {
                        stack.push(k);
                    }
                }
            }
        }
        let mut rules: Vec<Rule> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut active: Vec<&RuleDef> = Vec::new();
        for (d, score) in runnable {
            if !needed.contains(d.name.as_str()) {
                skip("sub-rules no scored rule uses");
                continue;
            }
            index.insert(d.name.clone(), rules.len());
            rules.push(Rule {
                name: d.name.clone(),
                kind: d.kind,
                score,
                describe: d.describe.clone(),
                tier: Tier::Eval,
                multiple: d.tflags.multiple,
                maxhits: d
                    .tflags
                    .maxhits
                    .unwrap_or(if d.tflags.multiple { 1000 } else { 1 }),
                nosubject: d.tflags.nosubject,
            });
            active.push(d);
        }
        let mut header_cands: HeaderCandidates = BTreeMap::new();
        let mut mime_cands: HeaderCandidates = BTreeMap::new();
        let mut kind_cands: HashMap<Kind, Vec<Candidate>> = HashMap::new();
        let mut exists = Vec::new();
        let mut eval_list = Vec::new();
        let mut meta_src = Vec::new();
        let mut arg_regexes: HashMap<String, pcre2::bytes::Regex> = HashMap::new();
        for d in &active {
            let i = index[&d.name];
            let multiple = d.tflags.multiple;
            match &d.test {
                Test::Header {
                    spec,
                    negate,
                    regex,
                    if_unset,
                } => {
                    let c = Candidate {
                        rule: i,
                        regex: regex.clone(),
                        multiple,
                    };
                    let map = if d.kind == Kind::MimeHeader {
                        &mut mime_cands
                    } else {
                        &mut header_cands
                    };
                    map.entry((spec.clone(), if_unset.clone()))
                        .or_default()
                        .push((c, *negate));
                }
                Test::Exists(h) => {
                    exists.push((i, h.clone()));
                    rules[i].tier = Tier::Exists;
                }
                Test::Regex(re) => kind_cands.entry(d.kind).or_default().push(Candidate {
                    rule: i,
                    regex: re.clone(),
                    multiple,
                }),
                Test::Eval { function, args } => {
                    for a in args {
                        // Arguments that look like regexes (html_text_match, FreeMail).
                        if matches!(
                            function.as_str(),
                            "html_text_match" | "check_freemail_from" | "check_freemail_header"
                        ) {
                            let re = conf::parse_regex(a.as_bytes()).map(|(r, _)| r).unwrap_or(
                                PerlRegex {
                                    pattern: a.as_bytes().to_vec(),
                                    flags: String::new(),
                                },
                            );
                            if let Ok(r) = regex::pcre(&re, false) {
                                arg_regexes.insert(a.clone(), r);
                            }
                        }
                    }
                    eval_list.push((i, function.clone(), args.clone()));
                }
                Test::Meta(expr) => meta_src.push((i, expr.clone())),
            }
        }
        let build_groups =
            |cands: HeaderCandidates, rules: &mut Vec<Rule>| -> Result<Vec<HeaderGroup>, SaError> {
                let mut out = Vec::new();
                for ((spec, if_unset), list) in cands {
                    let negated: HashSet<usize> = list
                        .iter()
                        .filter(|(_, n)| *n)
                        .map(|(c, _)| c.rule)
                        .collect();
                    let cands: Vec<Candidate> = list.into_iter().map(|(c, _)| c).collect();
                    let matcher = Matcher::build(cands, cache, rules, false)?;
                    let empty_match = matcher
                        .pcre
                        .iter()
                        .map(|(r, re)| (*r, re.is_match(b"").unwrap_or(false)))
                        .collect();
                    out.push(HeaderGroup {
                        spec,
                        if_unset,
                        matcher,
                        negated,
                        empty_match,
                    });
                }
                Ok(out)
            };
        let header_groups = build_groups(header_cands, &mut rules)?;
        let mimeheader_groups = build_groups(mime_cands, &mut rules)?;
        let mut take = |k: Kind, rules: &mut Vec<Rule>| -> Result<Matcher, SaError> {
            // Body lines are scanned joined, in one pass.
            let joined = k == Kind::Body;
            Matcher::build(
                kind_cands.remove(&k).unwrap_or_default(),
                cache,
                rules,
                joined,
            )
        };
        let body = take(Kind::Body, &mut rules)?;
        let rawbody = take(Kind::Rawbody, &mut rules)?;
        let uri = take(Kind::Uri, &mut rules)?;
        let full = take(Kind::Full, &mut rules)?;
        // Metas, in dependency order (a meta whose expression does not parse never hits).
        let resolve = |n: &str| index.get(n).copied();
        let mut parsed: HashMap<usize, Expr> = HashMap::new();
        for (i, src) in &meta_src {
            match meta::parse(src, &resolve) {
                Ok(e) => {
                    parsed.insert(*i, e);
                }
                Err(e) => report.errors.push(format!("meta {}: {e}", rules[*i].name)),
            }
            rules[*i].tier = Tier::Meta;
        }
        let mut ordered: Vec<(usize, Expr)> = Vec::new();
        let mut done: HashSet<usize> = HashSet::new();
        let mut visiting: HashSet<usize> = HashSet::new();
        fn visit(
            i: usize,
            parsed: &HashMap<usize, Expr>,
            done: &mut HashSet<usize>,
            visiting: &mut HashSet<usize>,
            out: &mut Vec<(usize, Expr)>,
        ) {
            if done.contains(&i) || !visiting.insert(i) {
                return;
            }
            if let Some(e) = parsed.get(&i) {
                let mut deps = Vec::new();
                e.rules(&mut deps);
                for d in deps {
                    if parsed.contains_key(&d) {
                        visit(d, parsed, done, visiting, out);
                    }
                }
                out.push((i, e.clone()));
            }
            visiting.remove(&i);
            done.insert(i);
        }
        let mut keys: Vec<usize> = parsed.keys().copied().collect();
        keys.sort_unstable();
        for i in keys {
            visit(i, &parsed, &mut done, &mut visiting, &mut ordered);
        }
        for r in &rules {
            match r.tier {
                Tier::Exact => report.hyperscan += 1,
                Tier::Prefilter => report.prefilter += 1,
                Tier::Fallback => report.fallback += 1,
                Tier::Eval => report.evals += 1,
                Tier::Meta => report.metas += 1,
                Tier::Exists => report.hyperscan += 0,
            }
        }
        report.rules = rules.len();
        report.from_cache = header_groups
            .iter()
            .chain(mimeheader_groups.iter())
            .map(|g| &g.matcher)
            .chain([&body, &rawbody, &uri, &full])
            .all(|m| m.from_cache);
        // One scratch space that fits every database; cloned per scan.
        let mut prototype: Option<Scratch> = None;
        let dbs = header_groups
            .iter()
            .chain(mimeheader_groups.iter())
            .map(|g| &g.matcher)
            .chain([&body, &rawbody, &uri, &full])
            .filter_map(|m| m.db.as_ref());
        for db in dbs {
            prototype = match prototype {
                None => db.alloc_scratch().ok(),
                Some(mut s) => {
                    let _ = db.realloc_scratch(&mut s);
                    Some(s)
                }
            };
        }
        Ok(SaEngine {
            rules,
            header_groups,
            mimeheader_groups,
            body,
            rawbody,
            uri,
            full,
            exists,
            evals: eval_list,
            metas: ordered,
            regexes: arg_regexes,
            conf,
            scratch: Mutex::new(Vec::new()),
            prototype: Mutex::new(prototype),
            report,
        })
    }

    /// The configuration read (lists the detectors share: URL shorteners, freemail domains).
    pub fn conf(&self) -> &Conf {
        &self.conf
    }

    /// The value `result` gives the rule called `name` (0 when it did not hit or is not run).
    pub fn value(&self, result: &SaResult, name: &str) -> f64 {
        self.rules
            .iter()
            .position(|r| r.name == name)
            .and_then(|i| result.values.get(i).copied())
            .unwrap_or(0.0)
    }

    /// The active rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn take_scratch(&self) -> Option<Scratch> {
        let pooled = self.scratch.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.or_else(|| {
            self.prototype
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }

    /// Applies every rule to a message as received: `raw` (parsed as `parsed`) with SMTP's
    /// CRLF line ends. SpamAssassin reads a message with LF line ends (its rules, raw-body and
    /// MIME checks and the Perl oracle all see `\n`), so a CRLF message is judged on an LF
    /// copy, parsed again: the same message scores the same however it arrived.
    pub fn check_received(
        &self,
        raw: &[u8],
        parsed: Option<&mail_parser::Message<'_>>,
        envelope_from: Option<&str>,
        now: i64,
    ) -> SaResult {
        if memchr::memchr(b'\r', raw).is_none() {
            return self.check(&SaMessage::new(raw, parsed, envelope_from), now);
        }
        let lf = input::crlf_to_lf(raw);
        let reparsed = crate::message::parse(&lf);
        self.check(&SaMessage::new(&lf, reparsed.as_ref(), envelope_from), now)
    }

    /// Applies every rule to a message with LF line ends (see [`SaEngine::check_received`]).
    pub fn check(&self, m: &SaMessage<'_>, now: i64) -> SaResult {
        let mut values = vec![0.0f64; self.rules.len()];
        let scratch = self.take_scratch();
        if let Some(scratch) = &scratch {
            let mut hits = Vec::new();
            for g in &self.header_groups {
                self.header_group(g, m.header_value(&g.spec), scratch, &mut values, &mut hits);
            }
            for g in &self.mimeheader_groups {
                // Every part's headers; a rule hits if any part's value matches.
                let mut any = false;
                for p in &m.parts {
                    let vals: Vec<String> = p
                        .fields
                        .iter()
                        .filter(|f| {
                            f.name
                                .eq_ignore_ascii_case(g.spec.split(':').next().unwrap_or(""))
                        })
                        .map(|f| {
                            if g.spec.ends_with(":raw") {
                                f.raw.clone()
                            } else {
                                format!("{}\n", input::decode_words(f.raw.trim()))
                            }
                        })
                        .collect();
                    if !vals.is_empty() {
                        any = true;
                        self.header_group(
                            g,
                            Some(vals.concat().into_bytes()),
                            scratch,
                            &mut values,
                            &mut hits,
                        );
                    }
                }
                if !any {
                    self.header_group(g, None, scratch, &mut values, &mut hits);
                }
            }
            let add = |values: &mut Vec<f64>, hits: &mut Vec<(usize, u32)>| {
                for (r, n) in hits.drain(..) {
                    let rule = &self.rules[r];
                    let cap = f64::from(rule.maxhits);
                    values[r] = if rule.multiple {
                        (values[r] + f64::from(n)).min(cap)
                    } else {
                        1.0
                    };
                }
            };
            let lines: Vec<&[u8]> = m.body_lines.iter().map(|l| l.as_ref()).collect();
            self.body
                .scan_lines(&lines, &self.rules, scratch, &mut hits);
            add(&mut values, &mut hits);
            for chunk in &m.rawbody {
                self.rawbody.scan(chunk, &self.rules, scratch, &mut hits);
                add(&mut values, &mut hits);
            }
            for u in &m.uris {
                self.uri.scan(u.as_bytes(), &self.rules, scratch, &mut hits);
                // A URI rule hits once however many URIs match (unless `multiple`).
                add(&mut values, &mut hits);
            }
            self.full.scan(m.raw, &self.rules, scratch, &mut hits);
            add(&mut values, &mut hits);
        }
        if let Some(s) = scratch {
            self.scratch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(s);
        }
        for (r, h) in &self.exists {
            if m.get(h).is_some() {
                values[*r] = 1.0;
            }
        }
        let ctx = evals::Ctx::new(&self.conf, &self.regexes, now);
        for (r, f, args) in &self.evals {
            if let Some(v) = evals::run(f, args, m, &ctx) {
                values[*r] = v;
            }
        }
        for (r, e) in &self.metas {
            let v = e.eval(&|i| values[i]);
            values[*r] = v;
        }
        let mut result = SaResult::default();
        let mut total = 0.0;
        for (i, v) in values.iter().enumerate() {
            if *v == 0.0 {
                continue;
            }
            let rule = &self.rules[i];
            if rule.name.starts_with("__") {
                continue;
            }
            // A `multiple` rule scores once per hit.
            let times = if rule.multiple { v.max(1.0) } else { 1.0 };
            total += rule.score * times;
            result.hits.push(SaHit {
                name: rule.name.clone(),
                score: rule.score,
                describe: rule.describe.clone(),
                value: *v,
            });
        }
        result.values = values;
        result
            .hits
            .sort_by(|a, b| b.score.total_cmp(&a.score).then(a.name.cmp(&b.name)));
        result.score = (total * 1000.0).round() / 1000.0;
        result
    }

    fn header_group(
        &self,
        g: &HeaderGroup,
        value: Option<Vec<u8>>,
        scratch: &Scratch,
        values: &mut [f64],
        hits: &mut Vec<(usize, u32)>,
    ) {
        let value = value.or_else(|| g.if_unset.clone());
        let rules = g.matcher.hs_rules.iter().chain(g.matcher.fallback.iter());
        match value {
            Some(v) => {
                hits.clear();
                g.matcher.scan(&v, &self.rules, scratch, hits);
                for r in rules {
                    let matched = hits.iter().find(|(x, _)| x == r).map(|(_, n)| *n);
                    let hit = if g.negated.contains(r) {
                        matched.is_none().then_some(1)
                    } else {
                        matched
                    };
                    if let Some(n) = hit {
                        let rule = &self.rules[*r];
                        values[*r] = if rule.multiple {
                            (values[*r] + f64::from(n)).min(f64::from(rule.maxhits))
                        } else {
                            1.0
                        };
                    }
                }
                hits.clear();
            }
            None => {
                // A missing header matches as the empty string.
                for r in rules {
                    let empty = g.empty_match.get(r).copied().unwrap_or(false);
                    let hit = if g.negated.contains(r) { !empty } else { empty };
                    if hit {
                        values[*r] = 1.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_rules_no_scored_rule_reaches_are_not_run() {
        let mut conf = Conf::with_plugins([]);
        conf.parse(
            b"body __USED /cheap pills/i\n\
              body __DEEP /act now/i\n\
              meta __MID __DEEP\n\
              body __ORPHAN /lottery/i\n\
              meta __ORPHAN_META __ORPHAN\n\
              meta PILLS __USED && __MID\n\
              score PILLS 2.5\n",
            "test.cf",
        );
        conf.finish();
        let engine = SaEngine::compile(conf, 0, None).expect("compiles");
        let mut names: Vec<&str> = engine.rules().iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["PILLS", "__DEEP", "__MID", "__USED"]);
        assert_eq!(
            engine.report.skipped.get("sub-rules no scored rule uses"),
            Some(&2)
        );
        let raw = b"Subject: hi\n\nCheap pills, act now! Lottery.\n";
        let parsed = crate::message::parse(raw);
        let r = engine.check(&input::SaMessage::new(raw, parsed.as_ref(), None), 0);
        assert_eq!(r.score, 2.5, "{:?}", r.values);
        assert_eq!(engine.value(&r, "__DEEP"), 1.0);
        assert_eq!(engine.value(&r, "__ORPHAN"), 0.0, "not run");
    }
}
