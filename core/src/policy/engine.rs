//! A customer's policies compiled for matching: literal automata per field plus condition trees
//! whose leaves are indexes into a hit table. Evaluation scans each field once, then walks the
//! trees; no allocation grows with the number of policies except the hit table itself.

use std::collections::HashSet;

use super::Condition;
use super::literals::{Hit, LiteralSet, LiteralSetBuilder};
use crate::error::PolicyError;
use crate::message::{MessageView, domain_of};
use crate::model::{Action, Finding, Policy, ThreatType};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Subject,
    Body,
    From,
    /// Index into `PolicySet::headers`.
    Header(usize),
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(u32),
    DomainIn(usize),
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
}

#[derive(Debug, Clone)]
struct CompiledPolicy {
    id: String,
    name: String,
    action: Action,
    notify_admin: bool,
    root: Node,
}

/// The compiled, immutable policies of one customer.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    leaf_fields: Vec<Field>,
    subject: Option<LiteralSet>,
    body: Option<LiteralSet>,
    from: Option<LiteralSet>,
    headers: Vec<(String, LiteralSet)>,
    domain_sets: Vec<HashSet<String>>,
}

/// A policy whose condition held.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedPolicy {
    pub policy_id: String,
    pub name: String,
    pub action: Action,
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
}

impl PolicyOutcome {
    /// Findings of every matched policy, in policy order.
    pub fn findings(&self) -> Vec<Finding> {
        self.matched
            .iter()
            .flat_map(|m| m.findings.iter().cloned())
            .collect()
    }

    pub fn notify_admin(&self) -> bool {
        self.matched.iter().any(|m| m.notify_admin)
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
    domain_sets: Vec<HashSet<String>>,
}

impl Compiler {
    fn leaf(&mut self, field: Field, literals: &[String]) -> Node {
        let id = self.leaf_fields.len() as u32;
        let builder = match &field {
            Field::Subject => &mut self.subject,
            Field::Body => &mut self.body,
            Field::From => &mut self.from,
            Field::Header(i) => &mut self.headers[*i].1,
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
                let name = name.to_ascii_lowercase();
                let i = match self.headers.iter().position(|(n, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        self.headers.push((name, LiteralSetBuilder::default()));
                        self.headers.len() - 1
                    }
                };
                self.leaf(Field::Header(i), values)
            }
            Condition::SenderDomainIn(domains) => {
                self.domain_sets.push(
                    domains
                        .iter()
                        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                        .collect(),
                );
                Node::DomainIn(self.domain_sets.len() - 1)
            }
            Condition::All(cs) => Node::All(cs.iter().map(|c| self.compile(c)).collect()),
            Condition::Any(cs) => Node::Any(cs.iter().map(|c| self.compile(c)).collect()),
            Condition::Not(c) => Node::Not(Box::new(self.compile(c))),
        }
    }
}

struct Eval<'s> {
    set: &'s PolicySet,
    hits: Vec<Option<Hit>>,
    sender_domains: [String; 2],
}

impl Eval<'_> {
    fn holds(&self, node: &Node) -> bool {
        match node {
            Node::Leaf(l) => self.hits[*l as usize].is_some(),
            Node::DomainIn(i) => self
                .sender_domains
                .iter()
                .any(|d| !d.is_empty() && self.set.domain_sets[*i].contains(d)),
            Node::All(ns) => ns.iter().all(|n| self.holds(n)),
            Node::Any(ns) => ns.iter().any(|n| self.holds(n)),
            Node::Not(n) => !self.holds(n),
        }
    }

    /// Findings explaining why `node` holds (leaves under `not` explain nothing).
    fn explain(&self, node: &Node, rule: &str, out: &mut Vec<Finding>) {
        match node {
            Node::Leaf(l) => {
                if let Some(hit) = &self.hits[*l as usize] {
                    let field = &self.set.leaf_fields[*l as usize];
                    let (label, set) = match field {
                        Field::Subject => ("subject".to_string(), self.set.subject.as_ref()),
                        Field::Body => ("body".to_string(), self.set.body.as_ref()),
                        Field::From => ("from".to_string(), self.set.from.as_ref()),
                        Field::Header(i) => (
                            format!("header:{}", self.set.headers[*i].0),
                            Some(&self.set.headers[*i].1),
                        ),
                    };
                    out.push(Finding {
                        rule: rule.to_string(),
                        threat_type: ThreatType::Policy,
                        field: label,
                        part: hit.part,
                        range: Some((hit.start, hit.end)),
                        matched: set.map_or("", |s| s.pattern(hit.pattern)).to_string(),
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
                        });
                    }
                }
            }
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
        let mut c = Compiler {
            leaf_fields: Vec::new(),
            subject: LiteralSetBuilder::default(),
            body: LiteralSetBuilder::default(),
            from: LiteralSetBuilder::default(),
            headers: Vec::new(),
            domain_sets: Vec::new(),
        };
        let mut compiled = Vec::new();
        for p in policies.iter().filter(|p| p.enabled) {
            p.condition.validate()?;
            let root = c.compile(&p.condition);
            compiled.push(CompiledPolicy {
                id: p.id.clone(),
                name: p.name.clone(),
                action: p.action,
                notify_admin: p.notify_admin,
                root,
            });
        }
        let mut headers = Vec::new();
        for (name, b) in c.headers {
            if let Some(set) = b.build()? {
                headers.push((name, set));
            }
        }
        Ok(PolicySet {
            policies: compiled,
            leaf_fields: c.leaf_fields,
            subject: c.subject.build()?,
            body: c.body.build()?,
            from: c.from.build()?,
            headers,
            domain_sets: c.domain_sets,
        })
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Evaluates every policy against the message.
    pub fn evaluate(&self, view: &MessageView<'_>) -> PolicyOutcome {
        if self.policies.is_empty() {
            return PolicyOutcome {
                action: Action::Deliver,
                matched: Vec::new(),
            };
        }
        let mut hits = vec![None; self.leaf_fields.len()];
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
        let eval = Eval {
            set: self,
            hits,
            sender_domains: [domain_of(view.envelope_from), domain_of(view.from_address)],
        };
        let mut matched = Vec::new();
        let mut action = Action::Deliver;
        for p in &self.policies {
            if eval.holds(&p.root) {
                let mut findings = Vec::new();
                eval.explain(&p.root, &p.name, &mut findings);
                action = action.max(p.action);
                matched.push(MatchedPolicy {
                    policy_id: p.id.clone(),
                    name: p.name.clone(),
                    action: p.action,
                    notify_admin: p.notify_admin,
                    findings,
                });
            }
        }
        PolicyOutcome { action, matched }
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
            action,
            notify_admin: true,
            enabled: true,
            created_at: 0,
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
}
