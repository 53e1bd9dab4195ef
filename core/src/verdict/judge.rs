//! A recipient domain's verdict on a scanned message: the customer's policies, sender
//! authentication, Moat's content classes, sender rules and malware combined in the order the
//! module above documents. Nothing here waits on I/O: what needs the store (the sender's
//! history, the customer's own spam model) is asked by the caller and passed in.

use std::sync::Arc;

use crate::{
    auth::AuthOutcome,
    detect::{bec, phishing, spam::BayesModel},
    message::MessageView,
    model::{
        Action, AuthResult, Domain, Finding, PolicyAction, SenderRule, SenderRuleKind, Severity,
        ThreatType,
    },
    policy::{PolicyOutcome, PolicySet, Signals},
    time::now_ms,
};

use super::{ACTING_SEVERITY, Scan};

/// Who sent the message, as the SMTP session and sender authentication know it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sender<'a> {
    /// The envelope sender (`MAIL FROM`), empty for bounces or offline checks.
    pub envelope_from: &'a str,
    /// SPF/DKIM/DMARC/ARC results, when they were checked.
    pub auth: Option<&'a AuthOutcome>,
}

/// What is known of one recipient domain when its verdict is reached.
pub struct DomainContext<'a> {
    pub domain: Arc<Domain>,
    /// The domain's recipients of this message.
    pub rcpts: Vec<String>,
    /// The domain's customer's compiled policies.
    pub policies: &'a PolicySet,
    /// The gateway's spam model and the customer's own (learnt from its reports).
    pub gateway_model: Option<&'a BayesModel>,
    pub customer_model: Option<&'a BayesModel>,
    pub sender_rules: &'a [SenderRule],
    /// Whether the author is a first contact of the domain (asked only for payment talk).
    pub correspondence: bec::Correspondence,
    /// The gateway's spam threshold, used when the domain sets none.
    pub default_threshold: f64,
}

/// One recipient domain's share of a message and what happens to it.
#[derive(Debug, Clone)]
pub struct DomainVerdict {
    pub domain: Arc<Domain>,
    pub rcpts: Vec<String>,
    pub outcome: PolicyOutcome,
    /// The action taken: the policies' unless Moat's own checks demand more.
    pub action: Action,
    /// Findings of Moat's own checks that raised the action; they lead the findings list and
    /// decide the threat type.
    forced: Vec<Finding>,
    /// The reply for a rejection Moat's own checks decided (authentication, a block rule).
    pub reject_reply: Option<String>,
    /// The allow rule that let the message through, if one did.
    allowed_by: Option<Finding>,
    /// The sender rule that applied (its hit is counted).
    pub sender_rule: Option<String>,
    /// Findings too weak to act on alone, or waived (recorded with the verdict).
    noted: Vec<Finding>,
    /// The spam class's total for this domain (its customer's model included).
    pub spam_score: f64,
}

/// The domain's verdict on a scanned message.
pub fn judge(
    view: &MessageView<'_>,
    scan: &Scan,
    sender: &Sender<'_>,
    ctx: DomainContext<'_>,
) -> DomainVerdict {
    // A customer's own model (its reports) counts for its mail only.
    let own_spam = ctx
        .customer_model
        .map(|own| scan.spam.with_customer_model(ctx.gateway_model, own));
    let spam = own_spam.as_ref().unwrap_or(&scan.spam);
    let signals = Signals::of(&scan.rendered, spam.score);
    let outcome = ctx.policies.evaluate_with(view, &signals);
    let mut v = DomainVerdict::new(ctx.domain, ctx.rcpts, outcome);
    v.spam_score = spam.score;
    if let Some(a) = sender.auth {
        v.apply_auth(a);
    }
    let threshold = v
        .domain
        .detection
        .spam_threshold
        .unwrap_or(ctx.default_threshold);
    let spam_findings = spam.findings(threshold);
    let is_spam = !spam_findings.is_empty();
    v.apply_content(spam_findings, is_spam);
    let mut phish = scan.phishing.clone();
    if !v.domain.name.is_empty() {
        phish.extend(phishing::scan_for_domain(&scan.rendered, &v.domain.name));
    }
    v.apply_graded(phish);
    if !v.domain.name.is_empty() {
        let bec = bec::scan(
            view,
            &scan.rendered,
            &v.domain.name,
            &v.domain.detection.executives,
            ctx.correspondence,
        );
        v.apply_graded(bec);
    }
    let author = view.from_address;
    v.sender_rule = v
        .apply_sender_rules(ctx.sender_rules, sender.envelope_from, author, sender.auth)
        .map(|r| r.id.clone());
    v.apply_malware(&scan.malware);
    v.noted.extend(scan.noted.iter().cloned());
    v
}

impl DomainVerdict {
    fn new(domain: Arc<Domain>, rcpts: Vec<String>, outcome: PolicyOutcome) -> DomainVerdict {
        DomainVerdict {
            action: outcome.action,
            domain,
            rcpts,
            outcome,
            forced: Vec::new(),
            reject_reply: None,
            allowed_by: None,
            sender_rule: None,
            noted: Vec::new(),
            spam_score: 0.0,
        }
    }

    /// A customer policy with action `deliver` matched: the customer says "let this through".
    pub fn allowed_by_policy(&self) -> bool {
        self.outcome
            .matched
            .iter()
            .any(|m| m.action == PolicyAction::Deliver)
    }

    /// Applies what authentication requires (a DMARC policy, an unusable From), unless a
    /// `deliver` policy matched.
    fn apply_auth(&mut self, auth: &AuthOutcome) {
        let Some(d) = &auth.disposition else {
            return;
        };
        if self.allowed_by_policy() {
            tracing::info!(rule = %d.finding.rule, domain = %self.domain.name, "authentication disposition waived by a deliver policy");
            return;
        }
        if d.action > self.action {
            self.action = d.action;
            if d.action == Action::Reject {
                self.reject_reply = Some(d.reply.clone());
            }
            self.forced.insert(0, d.finding.clone());
        }
    }

    /// A content class's findings (spam, phishing, BEC): when `act` they quarantine the
    /// message unless a `deliver` policy matched; otherwise, or when waived, they are noted.
    fn apply_content(&mut self, findings: Vec<Finding>, act: bool) {
        if findings.is_empty() {
            return;
        }
        if !act || self.allowed_by_policy() {
            self.noted.extend(findings);
            return;
        }
        if self.action < Action::Quarantine {
            self.action = Action::Quarantine;
        }
        self.forced.extend(findings);
    }

    /// Phishing and BEC act on their own from [`ACTING_SEVERITY`].
    fn apply_graded(&mut self, findings: Vec<Finding>) {
        let act = findings.iter().any(|f| f.severity >= ACTING_SEVERITY);
        self.apply_content(findings, act);
    }

    /// Malware quarantines the message whatever the customer's policies say (an allowing
    /// policy or sender rule does not let malware through); a reject still rejects.
    fn apply_malware(&mut self, findings: &[Finding]) {
        if findings.is_empty() {
            return;
        }
        if self.action < Action::Quarantine {
            self.action = Action::Quarantine;
        }
        self.forced.splice(0..0, findings.iter().cloned());
    }

    /// Applies the domain's sender rules (block before allow); returns the rule that applied.
    /// An allow rule skips content verdicts (policies, spam, DMARC dispositions) but not
    /// malware, which is applied after it; with `require_auth` it applies only when the sender
    /// authenticates: DMARC pass for a From match, SPF pass for an envelope match.
    fn apply_sender_rules<'r>(
        &mut self,
        rules: &'r [SenderRule],
        envelope_from: &str,
        author: &str,
        auth: Option<&AuthOutcome>,
    ) -> Option<&'r SenderRule> {
        let now = now_ms();
        let passed = |r: AuthResult| r == AuthResult::Pass;
        let dmarc_pass = auth.is_some_and(|a| passed(a.summary.dmarc.result));
        let spf_pass = auth.is_some_and(|a| passed(a.summary.spf.result));
        for rule in rules.iter().filter(|r| r.is_live(now)) {
            let env_match = !envelope_from.is_empty() && rule.covers(envelope_from);
            let from_match = !author.is_empty() && rule.covers(author);
            let finding = |what: &str| Finding {
                rule: format!("sender_rule.{}", rule.kind.as_str()),
                threat_type: ThreatType::Policy,
                field: what.to_string(),
                part: None,
                range: None,
                matched: rule.sender.clone(),
                severity: match rule.kind {
                    SenderRuleKind::Block => Severity::High,
                    SenderRuleKind::Allow => Severity::Low,
                },
                score: None,
            };
            let field = if from_match { "from" } else { "envelope_from" };
            match rule.kind {
                SenderRuleKind::Block if env_match || from_match => {
                    self.action = Action::Reject;
                    self.forced.insert(0, finding(field));
                    self.reject_reply =
                        Some("550 5.7.1 Sender is blocked by the recipient domain's rules".into());
                    return Some(rule);
                }
                SenderRuleKind::Allow => {
                    let authenticated =
                        !rule.require_auth || (from_match && dmarc_pass) || (env_match && spf_pass);
                    if (env_match || from_match) && authenticated {
                        self.action = Action::Deliver;
                        self.noted.append(&mut self.forced);
                        self.reject_reply = None;
                        self.allowed_by = Some(finding(field));
                        return Some(rule);
                    }
                }
                SenderRuleKind::Block => {}
            }
        }
        None
    }

    /// The threat the verdict acted on: among the findings that raised the action, malware
    /// before phishing before BEC before the rest (spam, authentication, a block rule) in the
    /// order they were applied; when none did, the policies'.
    pub fn threat_type(&self) -> Option<ThreatType> {
        if self.action == Action::Deliver {
            return None;
        }
        let rank = |t: ThreatType| match t {
            ThreatType::Malware => 0,
            ThreatType::Phishing => 1,
            ThreatType::Bec => 2,
            _ => 3,
        };
        match self.forced.iter().min_by_key(|f| rank(f.threat_type)) {
            Some(f) => Some(f.threat_type),
            None => self.outcome.threat_type(),
        }
    }

    /// Every finding, in the order a reader wants them: what let it through, what acted, the
    /// policies, what was noted, shadow policies.
    pub fn findings(&self) -> Vec<Finding> {
        self.allowed_by
            .iter()
            .chain(self.forced.iter())
            .cloned()
            .chain(self.outcome.findings())
            .chain(self.noted.iter().cloned())
            .chain(self.outcome.shadow_findings())
            .collect()
    }
}
