//! A customer's policies compiled for matching: literal automata per field plus condition trees
//! whose leaves are indexes into a hit table. Evaluation scans each field once, then walks the
//! trees; no allocation grows with the number of policies except the hit table itself.

use std::{collections::HashSet, sync::Arc};

use super::Condition;
use super::literals::{Hits, LiteralSet, LiteralSetBuilder};
use super::regexes::{RegexSet, RegexSetBuilder};
use crate::detect::filetype::{FileKind, sniff};
use crate::error::PolicyError;
use crate::message::{Attachment, MessageView, domain_of};
use crate::model::{
    Action, AuthResult, AuthSummary, Finding, Policy, PolicyAction, Severity, ThreatType,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Subject,
    Body,
    From,
    /// Index into `PolicySet::headers`.
    Header(usize),
    SubjectRegex,
    BodyRegex,
    /// Index into `PolicySet::header_regexes`.
    HeaderRegex(usize),
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(u32),
    DomainIn(usize),
    /// Index into `PolicySet::domain_sets`: the Reply-To domain.
    ReplyToDomainIn(usize),
    Auth(String, AuthResult),
    /// Lower-case extensions without dots.
    AttachmentExt(Vec<String>),
    AttachmentType(Vec<FileKind>),
    /// Index into `PolicySet::domain_sets`: a link's host or one of its parent domains.
    UrlDomainIn(usize),
    ScoreOver(f64),
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
}

#[derive(Debug, Clone)]
struct CompiledPolicy {
    id: String,
    name: String,
    action: PolicyAction,
    notify_admin: bool,
    shadow: bool,
    root: Node,
}

/// Whether `node` might hold although none of its leaves was hit (conservatively: sender
/// domain and auth conditions and `not` might). Policies that cannot are only evaluated when
/// one of their leaves was hit, so a message costs what it hits, not what the customer has.
fn may_hold_without_hits(node: &Node) -> bool {
    match node {
        Node::Leaf(_) => false,
        Node::DomainIn(_)
        | Node::ReplyToDomainIn(_)
        | Node::Auth(..)
        | Node::AttachmentExt(_)
        | Node::AttachmentType(_)
        | Node::UrlDomainIn(_)
        | Node::ScoreOver(_)
        | Node::Not(_) => true,
        Node::All(ns) => ns.iter().all(may_hold_without_hits),
        Node::Any(ns) => ns.iter().any(may_hold_without_hits),
    }
}

/// The compiled, immutable policies of one customer.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    /// Policies evaluated on every message (see [`may_hold_without_hits`]).
    always: Vec<u32>,
    /// The policy each leaf belongs to.
    leaf_owner: Vec<u32>,
    leaf_fields: Vec<Field>,
    subject: Option<LiteralSet>,
    body: Option<LiteralSet>,
    from: Option<LiteralSet>,
    headers: Vec<(String, LiteralSet)>,
    subject_re: Option<Arc<RegexSet>>,
    body_re: Option<Arc<RegexSet>>,
    header_regexes: Vec<(String, Arc<RegexSet>)>,
    domain_sets: Vec<HashSet<String>>,
    /// Some condition reads the message's links.
    needs_links: bool,
}

/// What the scanner knows of a message besides its parsed view: the hosts its links point
/// to and its threat score. [`PolicySet::evaluate`] works them out itself (score 0).
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Lower-cased link hosts.
    pub link_hosts: Vec<String>,
    /// The spam class's total score.
    pub threat_score: f64,
}

impl Signals {
    /// The signals of a rendered message with this threat score.
    pub fn of(rendered: &crate::detect::links::Rendered, threat_score: f64) -> Signals {
        Signals {
            link_hosts: rendered
                .links
                .iter()
                .filter(|l| !l.host.is_empty())
                .map(|l| l.host.clone())
                .collect(),
            threat_score,
        }
    }
}

/// A policy whose condition held.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedPolicy {
    pub policy_id: String,
    pub name: String,
    pub action: PolicyAction,
    pub notify_admin: bool,
    pub findings: Vec<Finding>,
}

/// The result of evaluating a customer's policies on one message.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyOutcome {
    /// The most severe action of the matched policies (reject > quarantine > deliver);
    /// `deliver` when none matched.
    pub action: Action,
    pub matched: Vec<MatchedPolicy>,
    /// Shadow-mode policies whose condition held: recorded, never acted on.
    pub shadow: Vec<MatchedPolicy>,
}

impl PolicyOutcome {
    /// What the shadow policies would have done, as low-severity findings named
    /// `shadow:<policy>`: one `would_have` finding with the action, then why it matched.
    pub fn shadow_findings(&self) -> Vec<Finding> {
        self.shadow
            .iter()
            .flat_map(|m| {
                let rule = format!("shadow:{}", m.name);
                std::iter::once(Finding {
                    rule: rule.clone(),
                    threat_type: ThreatType::Policy,
                    field: "would_have".into(),
                    part: None,
                    range: None,
                    matched: m.action.as_str().into(),
                    severity: Severity::Low,
                    score: None,
                })
                .chain(m.findings.iter().cloned().map(move |f| Finding {
                    rule: rule.clone(),
                    severity: Severity::Low,
                    ..f
                }))
            })
            .collect()
    }

    /// Findings of every matched policy, in policy order; their severity follows the policy's
    /// action (reject: high, quarantine: medium, deliver: low).
    pub fn findings(&self) -> Vec<Finding> {
        self.matched
            .iter()
            .flat_map(|m| {
                let severity = match m.action {
                    PolicyAction::Reject => Severity::High,
                    PolicyAction::Quarantine => Severity::Medium,
                    PolicyAction::Deliver | PolicyAction::Tag => Severity::Low,
                };
                m.findings
                    .iter()
                    .cloned()
                    .map(move |f| Finding { severity, ..f })
            })
            .collect()
    }

    pub fn notify_admin(&self) -> bool {
        self.matched.iter().any(|m| m.notify_admin)
    }

    /// The names of matched `tag` policies (the `X-Moat-Tag` header of delivered mail).
    pub fn tags(&self) -> Vec<&str> {
        self.matched
            .iter()
            .filter(|m| m.action == PolicyAction::Tag)
            .map(|m| m.name.as_str())
            .collect()
    }

    /// The threat class of the outcome: customer policies are `policy` threats.
    pub fn threat_type(&self) -> Option<ThreatType> {
        (self.action != Action::Deliver).then_some(ThreatType::Policy)
    }
}

struct Compiler {
    leaf_fields: Vec<Field>,
    subject: LiteralSetBuilder,
    body: LiteralSetBuilder,
    from: LiteralSetBuilder,
    headers: Vec<(String, LiteralSetBuilder)>,
    subject_re: RegexSetBuilder,
    body_re: RegexSetBuilder,
    header_regexes: Vec<(String, RegexSetBuilder)>,
    domain_sets: Vec<HashSet<String>>,
    needs_links: bool,
}

/// The index of `name` (lower-cased) in a per-header list, added when missing.
fn header_slot<B: Default>(list: &mut Vec<(String, B)>, name: &str) -> usize {
    let name = name.to_ascii_lowercase();
    match list.iter().position(|(n, _)| *n == name) {
        Some(i) => i,
        None => {
            list.push((name, B::default()));
            list.len() - 1
        }
    }
}

impl Compiler {
    fn regex_leaf(&mut self, field: Field, patterns: &[String]) -> Node {
        let id = self.leaf_fields.len() as u32;
        let builder = match &field {
            Field::SubjectRegex => &mut self.subject_re,
            Field::BodyRegex => &mut self.body_re,
            Field::HeaderRegex(i) => &mut self.header_regexes[*i].1,
            _ => unreachable!("regex leaves are only built for regex fields"),
        };
        for p in patterns {
            builder.add(p, id);
        }
        self.leaf_fields.push(field);
        Node::Leaf(id)
    }

    fn leaf(&mut self, field: Field, literals: &[String]) -> Node {
        let id = self.leaf_fields.len() as u32;
        let builder = match &field {
            Field::Subject => &mut self.subject,
            Field::Body => &mut self.body,
            Field::From => &mut self.from,
            Field::Header(i) => &mut self.headers[*i].1,
            _ => unreachable!("literal leaves are only built for literal fields"),
        };
        for l in literals {
            builder.add(l, id);
        }
        self.leaf_fields.push(field);
        Node::Leaf(id)
    }

    fn compile(&mut self, c: &Condition) -> Node {
        match c {
            Condition::SubjectContains(l) => self.leaf(Field::Subject, l),
            Condition::BodyContains(l) => self.leaf(Field::Body, l),
            Condition::FromContains(l) => self.leaf(Field::From, l),
            Condition::HeaderContains { name, values } => {
                let i = header_slot(&mut self.headers, name);
                self.leaf(Field::Header(i), values)
            }
            Condition::SubjectMatches(p) => self.regex_leaf(Field::SubjectRegex, p),
            Condition::BodyMatches(p) => self.regex_leaf(Field::BodyRegex, p),
            Condition::HeaderMatches { name, patterns } => {
                let i = header_slot(&mut self.header_regexes, name);
                self.regex_leaf(Field::HeaderRegex(i), patterns)
            }
            Condition::Auth { check, result } => Node::Auth(check.clone(), *result),
            Condition::AttachmentExtIn(exts) => Node::AttachmentExt(
                exts.iter()
                    .map(|e| e.trim().trim_start_matches('.').to_lowercase())
                    .collect(),
            ),
            Condition::AttachmentTypeIn(kinds) => Node::AttachmentType(
                FileKind::ALL
                    .iter()
                    .copied()
                    .filter(|k| kinds.iter().any(|n| n == k.as_str()))
                    .collect(),
            ),
            Condition::SenderDomainIn(domains) => {
                self.domain_sets.push(
                    domains
                        .iter()
                        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                        .collect(),
                );
                Node::DomainIn(self.domain_sets.len() - 1)
            }
            Condition::ReplyToDomainIn(domains) => {
                self.domain_sets.push(
                    domains
                        .iter()
                        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                        .collect(),
                );
                Node::ReplyToDomainIn(self.domain_sets.len() - 1)
            }
            Condition::UrlDomainIn(domains) => {
                self.needs_links = true;
                self.domain_sets.push(
                    domains
                        .iter()
                        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                        .collect(),
                );
                Node::UrlDomainIn(self.domain_sets.len() - 1)
            }
            Condition::ThreatScoreOver(t) => Node::ScoreOver(*t),
            Condition::All(cs) => Node::All(cs.iter().map(|c| self.compile(c)).collect()),
            Condition::Any(cs) => Node::Any(cs.iter().map(|c| self.compile(c)).collect()),
            Condition::Not(c) => Node::Not(Box::new(self.compile(c))),
        }
    }
}

struct Eval<'s> {
    set: &'s PolicySet,
    hits: Hits,
    sender_domains: [String; 2],
    reply_to_domain: String,
    auth: Option<&'s AuthSummary>,
    attachments: &'s [Attachment<'s>],
    /// The sniffed kind of each attachment, in the same order.
    kinds: Vec<FileKind>,
    signals: &'s Signals,
}

/// The result of one check: DKIM passes when any signature passes, else it is the first
/// signature's result; no results at all is `none`.
fn auth_result(auth: Option<&AuthSummary>, check: &str) -> AuthResult {
    let Some(a) = auth else {
        return AuthResult::None;
    };
    match check {
        "spf" => a.spf.result,
        "arc" => a.arc.result,
        "dmarc" => a.dmarc.result,
        "dkim" => {
            if a.dkim.iter().any(|d| d.result == AuthResult::Pass) {
                AuthResult::Pass
            } else {
                a.dkim.first().map_or(AuthResult::None, |d| d.result)
            }
        }
        _ => AuthResult::None,
    }
}

impl<'s> Eval<'s> {
    fn ext_hit(&self, exts: &[String]) -> Option<(&'s Attachment<'s>, String)> {
        self.attachments.iter().find_map(|a| {
            a.extensions()
                .find(|e| exts.iter().any(|x| x == e))
                .map(|e| (a, e.to_string()))
        })
    }

    fn kind_hit(&self, kinds: &[FileKind]) -> Option<(&'s Attachment<'s>, FileKind)> {
        self.attachments
            .iter()
            .zip(&self.kinds)
            .find(|(_, k)| kinds.contains(k))
            .map(|(a, k)| (a, *k))
    }

    /// The first link host in domain set `i` (the host itself or one of its parent domains).
    fn url_hit(&self, i: usize) -> Option<&str> {
        let set = &self.set.domain_sets[i];
        self.signals
            .link_hosts
            .iter()
            .find(|h| {
                set.contains(h.as_str())
                    || h.match_indices('.')
                        .any(|(at, _)| set.contains(&h[at + 1..]))
            })
            .map(String::as_str)
    }

    fn holds(&self, node: &Node) -> bool {
        match node {
            Node::Leaf(l) => self.hits.get(*l).is_some(),
            Node::DomainIn(i) => self
                .sender_domains
                .iter()
                .any(|d| !d.is_empty() && self.set.domain_sets[*i].contains(d)),
            Node::Auth(check, result) => auth_result(self.auth, check) == *result,
            Node::AttachmentExt(exts) => self.ext_hit(exts).is_some(),
            Node::AttachmentType(kinds) => self.kind_hit(kinds).is_some(),
            Node::UrlDomainIn(i) => self.url_hit(*i).is_some(),
            Node::ReplyToDomainIn(i) => {
                !self.reply_to_domain.is_empty()
                    && self.set.domain_sets[*i].contains(&self.reply_to_domain)
            }
            Node::ScoreOver(t) => self.signals.threat_score >= *t,
            Node::All(ns) => ns.iter().all(|n| self.holds(n)),
            Node::Any(ns) => ns.iter().any(|n| self.holds(n)),
            Node::Not(n) => !self.holds(n),
        }
    }

    /// Findings explaining why `node` holds (leaves under `not` explain nothing).
    fn explain(&self, node: &Node, rule: &str, out: &mut Vec<Finding>) {
        match node {
            Node::Leaf(l) => {
                if let Some(hit) = self.hits.get(*l) {
                    let field = &self.set.leaf_fields[*l as usize];
                    let literal = |set: Option<&LiteralSet>| {
                        set.map_or("", |s| s.pattern(hit.pattern)).to_string()
                    };
                    let regex = |set: Option<&RegexSet>| {
                        set.map_or("", |s| s.pattern(hit.pattern)).to_string()
                    };
                    let (label, matched) = match field {
                        Field::Subject => {
                            ("subject".to_string(), literal(self.set.subject.as_ref()))
                        }
                        Field::Body => ("body".to_string(), literal(self.set.body.as_ref())),
                        Field::From => ("from".to_string(), literal(self.set.from.as_ref())),
                        Field::Header(i) => (
                            format!("header:{}", self.set.headers[*i].0),
                            literal(Some(&self.set.headers[*i].1)),
                        ),
                        Field::SubjectRegex => {
                            ("subject".to_string(), regex(self.set.subject_re.as_deref()))
                        }
                        Field::BodyRegex => {
                            ("body".to_string(), regex(self.set.body_re.as_deref()))
                        }
                        Field::HeaderRegex(i) => (
                            format!("header:{}", self.set.header_regexes[*i].0),
                            regex(Some(&self.set.header_regexes[*i].1)),
                        ),
                    };
                    out.push(Finding {
                        rule: rule.to_string(),
                        threat_type: ThreatType::Policy,
                        field: label,
                        part: hit.part,
                        range: Some((hit.start, hit.end)),
                        matched,
                        severity: Severity::Medium,
                        score: None,
                    });
                }
            }
            Node::DomainIn(i) => {
                for (label, d) in ["envelope_from", "from"].iter().zip(&self.sender_domains) {
                    if !d.is_empty() && self.set.domain_sets[*i].contains(d) {
                        out.push(Finding {
                            rule: rule.to_string(),
                            threat_type: ThreatType::Policy,
                            field: format!("{label}_domain"),
                            part: None,
                            range: None,
                            matched: d.clone(),
                            severity: Severity::Medium,
                            score: None,
                        });
                    }
                }
            }
            Node::ReplyToDomainIn(i) => {
                if self.set.domain_sets[*i].contains(&self.reply_to_domain) {
                    out.push(Finding {
                        rule: rule.to_string(),
                        threat_type: ThreatType::Policy,
                        field: "reply_to_domain".into(),
                        part: None,
                        range: None,
                        matched: self.reply_to_domain.clone(),
                        severity: Severity::Medium,
                        score: None,
                    });
                }
            }
            Node::AttachmentExt(exts) => {
                if let Some((a, ext)) = self.ext_hit(exts) {
                    out.push(Finding {
                        rule: rule.to_string(),
                        threat_type: ThreatType::Policy,
                        field: format!("attachment:{}", a.names.first().map_or("", |n| n)),
                        part: Some(a.part),
                        range: None,
                        matched: format!(".{ext}"),
                        severity: Severity::Medium,
                        score: None,
                    });
                }
            }
            Node::AttachmentType(kinds) => {
                if let Some((a, kind)) = self.kind_hit(kinds) {
                    out.push(Finding {
                        rule: rule.to_string(),
                        threat_type: ThreatType::Policy,
                        field: format!("attachment:{}", a.names.first().map_or("(unnamed)", |n| n)),
                        part: Some(a.part),
                        range: None,
                        matched: kind.as_str().to_string(),
                        severity: Severity::Medium,
                        score: None,
                    });
                }
            }
            Node::UrlDomainIn(i) => {
                if let Some(host) = self.url_hit(*i) {
                    out.push(Finding {
                        rule: rule.to_string(),
                        threat_type: ThreatType::Policy,
                        field: "url".into(),
                        part: None,
                        range: None,
                        matched: host.to_string(),
                        severity: Severity::Medium,
                        score: None,
                    });
                }
            }
            Node::ScoreOver(t) => out.push(Finding {
                rule: rule.to_string(),
                threat_type: ThreatType::Policy,
                field: "threat_score".into(),
                part: None,
                range: None,
                matched: format!("{:.1} >= {t}", self.signals.threat_score),
                severity: Severity::Medium,
                score: Some(self.signals.threat_score),
            }),
            Node::Auth(check, result) => out.push(Finding {
                rule: rule.to_string(),
                threat_type: ThreatType::Policy,
                field: format!("auth:{check}"),
                part: None,
                range: None,
                matched: result.as_str().to_string(),
                severity: Severity::Medium,
                score: None,
            }),
            Node::All(ns) | Node::Any(ns) => {
                for n in ns.iter().filter(|n| self.holds(n)) {
                    self.explain(n, rule, out);
                }
            }
            Node::Not(_) => {}
        }
    }
}

impl PolicySet {
    /// Compiles the enabled policies of one customer. Fails as a whole if any condition is
    /// invalid, so a set is never half-applied.
    pub fn compile(policies: &[Policy]) -> Result<PolicySet, PolicyError> {
        Self::compile_cached(policies, &super::PolicyCache::default())
    }

    /// [`PolicySet::compile`], taking Hyperscan databases from `cache` where it has them.
    pub fn compile_cached(
        policies: &[Policy],
        cache: &super::PolicyCache,
    ) -> Result<PolicySet, PolicyError> {
        let mut c = Compiler {
            leaf_fields: Vec::new(),
            subject: LiteralSetBuilder::default(),
            body: LiteralSetBuilder::default(),
            from: LiteralSetBuilder::default(),
            headers: Vec::new(),
            subject_re: RegexSetBuilder::default(),
            body_re: RegexSetBuilder::default(),
            header_regexes: Vec::new(),
            domain_sets: Vec::new(),
            needs_links: false,
        };
        let mut compiled = Vec::new();
        let mut always = Vec::new();
        let mut leaf_owner = Vec::new();
        for p in policies.iter().filter(|p| p.enabled) {
            p.condition.validate_structure()?;
            let root = c.compile(&p.condition);
            let index = compiled.len() as u32;
            leaf_owner.resize(c.leaf_fields.len(), index);
            if may_hold_without_hits(&root) {
                always.push(index);
            }
            compiled.push(CompiledPolicy {
                id: p.id.clone(),
                name: p.name.clone(),
                action: p.action,
                notify_admin: p.notify_admin,
                shadow: p.shadow,
                root,
            });
        }
        let mut headers = Vec::new();
        for (name, b) in c.headers {
            if let Some(set) = b.build_cached(cache)? {
                headers.push((name, set));
            }
        }
        let mut header_regexes = Vec::new();
        for (name, b) in c.header_regexes {
            if let Some(set) = b.build_cached(cache)? {
                header_regexes.push((name, set));
            }
        }
        Ok(PolicySet {
            policies: compiled,
            always,
            leaf_owner,
            leaf_fields: c.leaf_fields,
            subject: c.subject.build_cached(cache)?,
            body: c.body.build_cached(cache)?,
            from: c.from.build_cached(cache)?,
            headers,
            subject_re: c.subject_re.build_cached(cache)?,
            body_re: c.body_re.build_cached(cache)?,
            header_regexes,
            domain_sets: c.domain_sets,
            needs_links: c.needs_links,
        })
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Evaluates every policy against the message, working out its links itself (threat
    /// score 0: `threat_score_over` needs [`PolicySet::evaluate_with`]).
    pub fn evaluate(&self, view: &MessageView<'_>) -> PolicyOutcome {
        let signals = if self.needs_links {
            Signals::of(&crate::detect::links::Rendered::of(view), 0.0)
        } else {
            Signals::default()
        };
        self.evaluate_with(view, &signals)
    }

    /// Evaluates every policy against the message and what the scanner knows of it.
    pub fn evaluate_with(&self, view: &MessageView<'_>, signals: &Signals) -> PolicyOutcome {
        if self.policies.is_empty() {
            return PolicyOutcome {
                action: Action::Deliver,
                matched: Vec::new(),
                shadow: Vec::new(),
            };
        }
        let mut hits = Hits::default();
        if let Some(set) = &self.subject {
            set.scan(view.subject.as_bytes(), None, &mut hits);
        }
        if let Some(set) = &self.from {
            let from = format!("{} <{}>", view.from_name, view.from_address);
            set.scan(from.as_bytes(), None, &mut hits);
        }
        if let Some(set) = &self.body {
            for b in &view.bodies {
                set.scan(b.text.as_bytes(), Some(b.part), &mut hits);
            }
        }
        for (name, set) in &self.headers {
            for (_, value) in view.headers.iter().filter(|(n, _)| n == name) {
                set.scan(value, None, &mut hits);
            }
        }
        if let Some(set) = &self.subject_re {
            set.scan(view.subject.as_bytes(), None, &mut hits);
        }
        if let Some(set) = &self.body_re {
            for b in &view.bodies {
                set.scan(b.text.as_bytes(), Some(b.part), &mut hits);
            }
        }
        for (name, set) in &self.header_regexes {
            for (_, value) in view.headers.iter().filter(|(n, _)| n == name) {
                set.scan(value, None, &mut hits);
            }
        }
        let eval = Eval {
            set: self,
            hits,
            sender_domains: [domain_of(view.envelope_from), domain_of(view.from_address)],
            reply_to_domain: domain_of(view.reply_to),
            auth: view.auth,
            attachments: &view.attachments,
            kinds: view.attachments.iter().map(|a| sniff(a.content)).collect(),
            signals,
        };
        // Candidates: policies that may hold without hits, and the owners of hit leaves; in
        // policy order, so findings and precedence do not depend on hash order.
        let mut candidates: Vec<u32> = eval
            .hits
            .leaves()
            .filter_map(|l| self.leaf_owner.get(l as usize).copied())
            .chain(self.always.iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut matched = Vec::new();
        let mut shadow = Vec::new();
        let mut action = Action::Deliver;
        for p in candidates
            .iter()
            .filter_map(|&i| self.policies.get(i as usize))
        {
            if eval.holds(&p.root) {
                let mut findings = Vec::new();
                eval.explain(&p.root, &p.name, &mut findings);
                let hit = MatchedPolicy {
                    policy_id: p.id.clone(),
                    name: p.name.clone(),
                    action: p.action,
                    notify_admin: p.notify_admin,
                    findings,
                };
                if p.shadow {
                    shadow.push(hit);
                    continue;
                }
                if let Some(a) = p.action.verdict() {
                    action = action.max(a);
                }
                matched.push(hit);
            }
        }
        PolicyOutcome {
            action,
            matched,
            shadow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageView, parse};

    fn policy(name: &str, json: &str, action: Action) -> Policy {
        Policy {
            id: format!("id-{name}"),
            customer_id: "c".into(),
            name: name.into(),
            condition: serde_json::from_str(json).expect("condition parses"),
            action: action.into(),
            notify_admin: true,
            enabled: true,
            created_at: 0,
            shadow: false,
        }
    }

    fn eval(set: &PolicySet, raw: &[u8], envelope_from: &str) -> PolicyOutcome {
        let msg = parse(raw).expect("parses");
        set.evaluate(&MessageView::new(&msg, envelope_from))
    }

    #[test]
    fn subject_literals_quarantine_and_explain() {
        let set = PolicySet::compile(&[policy(
            "crypto",
            r#"{"subject_contains": ["bitcoin", "crypto wallet"]}"#,
            Action::Quarantine,
        )])
        .expect("compiles");
        let out = eval(
            &set,
            b"Subject: Your Crypto Wallet is ready\r\n\r\nhi\r\n",
            "",
        );
        assert_eq!(out.action, Action::Quarantine);
        let f = &out.matched[0].findings[0];
        assert_eq!(
            (f.field.as_str(), f.range, f.matched.as_str()),
            ("subject", Some((5, 18)), "crypto wallet")
        );
        let clean = eval(&set, b"Subject: Lunch\r\n\r\nbitcoin in body only\r\n", "");
        assert_eq!(clean.action, Action::Deliver);
        assert!(clean.matched.is_empty());
    }

    #[test]
    fn combinators_domains_headers_and_precedence() {
        let set = PolicySet::compile(&[
            policy(
                "invoice-not-from-partner",
                r#"{"all": [{"body_contains": ["invoice"]}, {"not": {"sender_domain_in": ["partner.example"]}}]}"#,
                Action::Quarantine,
            ),
            policy(
                "bad-mailer",
                r#"{"header_contains": {"name": "X-Mailer", "values": ["spamtool"]}}"#,
                Action::Reject,
            ),
        ])
        .expect("compiles");
        let raw =
            b"From: a@evil.example\r\nX-Mailer: SpamTool 2\r\nSubject: x\r\n\r\nyour invoice\r\n";
        let out = eval(&set, raw, "a@evil.example");
        assert_eq!(out.action, Action::Reject);
        assert_eq!(out.matched.len(), 2);
        let partner = b"From: a@partner.example\r\nSubject: x\r\n\r\nyour invoice\r\n";
        assert_eq!(
            eval(&set, partner, "a@partner.example").action,
            Action::Deliver
        );
    }

    #[test]
    fn disabled_policies_do_not_fire() {
        let mut p = policy("x", r#"{"subject_contains": ["x"]}"#, Action::Reject);
        p.enabled = false;
        let set = PolicySet::compile(&[p]).expect("compiles");
        assert!(set.is_empty());
        assert_eq!(
            eval(&set, b"Subject: x\r\n\r\n.\r\n", "").action,
            Action::Deliver
        );
    }

    #[test]
    fn regex_conditions_scan_with_hyperscan_and_explain_the_range() {
        let set = PolicySet::compile(&[
            policy(
                "obfuscated-crypto",
                r#"{"subject_matches": ["b[i1!]tc[o0]in", "crypt[o0]\\s*wallet"]}"#,
                Action::Quarantine,
            ),
            policy(
                "iban-request",
                r#"{"body_matches": ["\\bIBAN\\s*:?\\s*[A-Z]{2}[0-9]{2}"]}"#,
                Action::Reject,
            ),
            policy(
                "mass-mailer",
                r#"{"header_matches": {"name": "X-Mailer", "patterns": ["^\\s*bulk(mail|sender)"]}}"#,
                Action::Quarantine,
            ),
        ])
        .expect("compiles");
        let out = eval(&set, b"Subject: Free B1TC0IN today\r\n\r\nhello\r\n", "");
        assert_eq!(out.action, Action::Quarantine);
        let f = &out.matched[0].findings[0];
        assert_eq!(
            (f.field.as_str(), f.range, f.matched.as_str()),
            ("subject", Some((5, 12)), "b[i1!]tc[o0]in")
        );
        let out = eval(
            &set,
            b"Subject: payment\r\nX-Mailer: BulkSender 2\r\n\r\nPlease pay to iban: DE89 3704\r\n",
            "",
        );
        assert_eq!(out.action, Action::Reject);
        let names: Vec<&str> = out.matched.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["iban-request", "mass-mailer"]);
        assert_eq!(out.matched[0].findings[0].field, "body");
        assert_eq!(out.matched[1].findings[0].field, "header:x-mailer");
        assert_eq!(
            eval(
                &set,
                b"Subject: bitcoins are coins\r\n\r\nno iban here\r\n",
                ""
            )
            .matched
            .len(),
            1
        );
    }

    #[test]
    fn a_bad_regex_refuses_the_whole_set() {
        let good = policy("ok", r#"{"subject_contains": ["x"]}"#, Action::Quarantine);
        let bad = policy("bad", r#"{"body_matches": ["(a|b)\\1"]}"#, Action::Reject);
        let err = PolicySet::compile(&[good, bad]).expect_err("back-reference");
        assert!(matches!(err, PolicyError::BadRegex { .. }), "{err}");
        assert!(err.to_string().contains("Back-references"), "{err}");
    }

    #[test]
    fn auth_conditions_read_the_authentication_results() {
        use crate::model::{AuthCheck, DmarcCheck};
        let set = PolicySet::compile(&[policy(
            "dmarc-fail-invoice",
            r#"{"all": [{"auth": {"check": "dmarc", "result": "fail"}}, {"subject_contains": ["invoice"]}]}"#,
            Action::Quarantine,
        )])
        .expect("compiles");
        let raw = b"Subject: Invoice 42\r\n\r\npay\r\n";
        let msg = parse(raw).expect("parses");
        let mut view = MessageView::new(&msg, "");
        assert_eq!(set.evaluate(&view).action, Action::Deliver, "no results");
        let failing = AuthSummary {
            dmarc: DmarcCheck {
                result: AuthResult::Fail,
                ..DmarcCheck::default()
            },
            dkim: vec![AuthCheck {
                result: AuthResult::Fail,
                ..AuthCheck::default()
            }],
            ..AuthSummary::default()
        };
        view.auth = Some(&failing);
        let out = set.evaluate(&view);
        assert_eq!(out.action, Action::Quarantine);
        assert!(
            out.matched[0]
                .findings
                .iter()
                .any(|f| f.field == "auth:dmarc")
        );
        assert!(
            PolicySet::compile(&[policy(
                "x",
                r#"{"auth": {"check": "dkmi", "result": "pass"}}"#,
                Action::Reject
            )])
            .is_err()
        );
    }

    #[test]
    fn attachment_conditions_use_every_name_and_the_bytes() {
        let set = PolicySet::compile(&[
            policy(
                "no-archives",
                r#"{"attachment_type_in": ["archive"]}"#,
                Action::Quarantine,
            ),
            policy(
                "no-docm",
                r#"{"attachment_ext_in": [".DOCM", "xlsm"]}"#,
                Action::Reject,
            ),
        ])
        .expect("compiles");
        let mail = |ctype: &str, b64: &str| {
            format!(
                "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: {ctype}\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
            )
        };
        // A zip declared as a PDF.
        let zip = mail("application/pdf; name=\"scan.pdf\"", "UEsDBAoAAAAAAA==");
        let out = eval(&set, zip.as_bytes(), "");
        assert_eq!(out.action, Action::Quarantine);
        assert_eq!(out.matched[0].findings[0].matched, "archive");
        assert_eq!(out.matched[0].findings[0].field, "attachment:scan.pdf");
        let docm = mail("application/octet-stream; name=\"Q3.DocM\"", "aGVsbG8=");
        let out = eval(&set, docm.as_bytes(), "");
        assert_eq!(out.action, Action::Reject);
        assert_eq!(out.matched[0].findings[0].matched, ".docm");
        let clean = mail("text/csv; name=\"data.csv\"", "YSxiCg==");
        assert_eq!(eval(&set, clean.as_bytes(), "").action, Action::Deliver);
        assert!(
            PolicySet::compile(&[policy(
                "x",
                r#"{"attachment_type_in": ["exe"]}"#,
                Action::Reject
            )])
            .is_err()
        );
    }

    #[test]
    fn url_domains_match_link_hosts_and_their_subdomains() {
        let set = PolicySet::compile(&[policy(
            "bad-links",
            r#"{"url_domain_in": ["Evil.example", "tracker.test"]}"#,
            Action::Quarantine,
        )])
        .expect("compiles");
        let html = b"From: a@b.example\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n\
<p>See <a href=\"https://login.evil.example/x\">your account</a></p>\r\n";
        let out = eval(&set, html, "a@b.example");
        assert_eq!(out.action, Action::Quarantine);
        let f = &out.matched[0].findings[0];
        assert_eq!(
            (f.field.as_str(), f.matched.as_str()),
            ("url", "login.evil.example")
        );
        let text = b"From: a@b.example\r\nSubject: hi\r\n\r\nGo to http://notevil.example/ or https://tracker.test.\r\n";
        let out = eval(&set, text, "a@b.example");
        assert_eq!(out.matched[0].findings[0].matched, "tracker.test");
        // A lookalike suffix is not a subdomain.
        let near = b"From: a@b.example\r\nSubject: hi\r\n\r\nhttp://notevil.example/ http://evil.example.com/\r\n";
        assert_eq!(eval(&set, near, "a@b.example").action, Action::Deliver);
        assert!(
            PolicySet::compile(&[policy("empty", r#"{"url_domain_in": []}"#, Action::Reject)])
                .is_err()
        );
    }

    #[test]
    fn threat_score_conditions_read_the_scanner_signals() {
        let set = PolicySet::compile(&[policy(
            "spammy-and-external",
            r#"{"all": [{"threat_score_over": 3.5}, {"not": {"sender_domain_in": ["partner.example"]}}]}"#,
            Action::Reject,
        )])
        .expect("compiles");
        let raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n";
        let msg = parse(raw).expect("parses");
        let view = MessageView::new(&msg, "a@b.example");
        let low = Signals {
            threat_score: 3.4,
            ..Default::default()
        };
        assert_eq!(set.evaluate_with(&view, &low).action, Action::Deliver);
        let high = Signals {
            threat_score: 3.5,
            ..Default::default()
        };
        let out = set.evaluate_with(&view, &high);
        assert_eq!(out.action, Action::Reject);
        assert_eq!(out.matched[0].findings[0].field, "threat_score");
        assert_eq!(out.matched[0].findings[0].score, Some(3.5));
        for bad in ["NaN", "1e9", "\"5\""] {
            let json = format!(r#"{{"threat_score_over": {bad}}}"#);
            let parsed: Result<Condition, _> = serde_json::from_str(&json);
            assert!(parsed.map_or(true, |c| c.validate().is_err()), "{bad}");
        }
    }

    #[test]
    fn shadow_policies_record_what_they_would_do_and_change_nothing() {
        let mut trial = policy(
            "trial",
            r#"{"subject_contains": ["invoice"]}"#,
            Action::Reject,
        );
        trial.shadow = true;
        let live = policy(
            "live",
            r#"{"subject_contains": ["bitcoin"]}"#,
            Action::Quarantine,
        );
        let set = PolicySet::compile(&[trial, live]).expect("compiles");
        let raw = b"From: a@b.example\r\nSubject: your invoice\r\n\r\nhi\r\n";
        let out = eval(&set, raw, "a@b.example");
        assert_eq!(out.action, Action::Deliver);
        assert!(out.matched.is_empty());
        let f = out.shadow_findings();
        assert_eq!(f[0].rule, "shadow:trial");
        assert_eq!(
            (f[0].field.as_str(), f[0].matched.as_str()),
            ("would_have", "reject")
        );
        assert_eq!(f[1].matched, "invoice");
        assert!(f.iter().all(|f| f.severity == Severity::Low));
        let both = b"From: a@b.example\r\nSubject: bitcoin invoice\r\n\r\nhi\r\n";
        let out = eval(&set, both, "a@b.example");
        assert_eq!(
            out.action,
            Action::Quarantine,
            "the live policy acts, the shadow one not"
        );
        assert_eq!(out.shadow.len(), 1);
    }

    #[test]
    fn reply_to_domains_are_their_own_condition() {
        let set = PolicySet::compile(&[policy(
            "diverted-replies",
            r#"{"all": [{"reply_to_domain_in": ["Gmail.com"]}, {"sender_domain_in": ["acme.example"]}]}"#,
            Action::Quarantine,
        )])
        .expect("compiles");
        let raw = b"From: Mark <mark@acme.example>\r\nReply-To: mark.finance@gmail.com\r\nSubject: pay\r\n\r\nx\r\n";
        let out = eval(&set, raw, "mark@acme.example");
        assert_eq!(out.action, Action::Quarantine);
        assert!(
            out.matched[0]
                .findings
                .iter()
                .any(|f| f.field == "reply_to_domain" && f.matched == "gmail.com")
        );
        let plain = b"From: Mark <mark@acme.example>\r\nSubject: pay\r\n\r\nx\r\n";
        assert_eq!(
            eval(&set, plain, "mark@acme.example").action,
            Action::Deliver
        );
    }
}
