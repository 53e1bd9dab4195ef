//! The spam class: a score per message from hand-written rules (`rules`), SpamAssassin's rule
//! set when it is loaded (combined by Moat's score set, `weights`) and, when an operator has
//! trained one, a statistical model (`bayes`), compared with each recipient domain's
//! threshold. SpamAssassin's GTUBE test string is always spam, so operators can test the spam
//! path end to end the way EICAR tests the malware path.

pub mod bayes;
pub mod corpus;
pub mod rules;
pub mod weights;

use crate::{
    detect::{links::Rendered, sa::SaResult},
    message::MessageView,
    model::{Finding, Severity, ThreatType},
};

pub use bayes::{BayesModel, Trainer};

pub const GTUBE: &[u8] = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// The threshold a domain gets unless it sets its own (SpamAssassin's default, too).
pub const DEFAULT_THRESHOLD: f64 = 5.0;

/// What the spam checks found in one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpamReport {
    /// Sum of every rule's score and the model's contribution.
    pub score: f64,
    /// The model's spam probability, when a usable model was asked.
    pub probability: Option<f64>,
    /// Each rule that fired (and the model's opinion), with its score.
    pub hits: Vec<Finding>,
    /// The GTUBE test string was found: spam whatever the threshold.
    pub gtube: bool,
    /// The message's model tokens, kept when a customer's own model may be asked too.
    pub tokens: Vec<u64>,
}

impl SpamReport {
    /// The same message judged with a customer's own model (learnt from its reports) added
    /// to the gateway's: only the model's part of the score changes. Needs the tokens
    /// ([`SpamInputs::keep_tokens`]).
    pub fn with_customer_model(&self, base: Option<&BayesModel>, own: &BayesModel) -> SpamReport {
        let models: Vec<&BayesModel> = base.into_iter().chain(std::iter::once(own)).collect();
        let hits: Vec<Finding> = self
            .hits
            .iter()
            .filter(|f| f.rule != "spam.bayes")
            .cloned()
            .collect();
        finish(hits, self.gtube, &models, self.tokens.clone())
    }

    /// Adds findings scored elsewhere (reputation lists, answered after the scan) to the total.
    pub fn add_hits(&mut self, hits: Vec<Finding>) {
        self.score += hits.iter().filter_map(|f| f.score).sum::<f64>();
        self.hits.extend(hits);
        self.hits
            .sort_by(|a, b| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)));
    }

    /// Whether the message is spam for a domain with this threshold.
    pub fn is_spam(&self, threshold: f64) -> bool {
        self.gtube || self.score >= threshold
    }

    /// The findings a spam verdict records: a summary with the total, then every hit.
    pub fn findings(&self, threshold: f64) -> Vec<Finding> {
        if !self.is_spam(threshold) {
            return Vec::new();
        }
        let severity = if self.gtube || self.score >= 2.0 * threshold {
            Severity::High
        } else {
            Severity::Medium
        };
        let summary = Finding {
            rule: "spam.score".into(),
            threat_type: ThreatType::Spam,
            field: "message".into(),
            part: None,
            range: None,
            matched: format!("score {:.1} >= threshold {threshold:.1}", self.score),
            severity,
            score: Some(self.score),
        };
        std::iter::once(summary)
            .chain(self.hits.iter().cloned())
            .collect()
    }
}

/// What the model's probability adds to the score: strong opinions weigh like a strong rule,
/// confident ham opinions take points away (SpamAssassin's BAYES_* bands, re-weighted).
pub fn bayes_score(p: f64) -> f64 {
    match p {
        p if p >= 0.999 => 6.0,
        p if p >= 0.99 => 5.5,
        p if p >= 0.90 => 5.0,
        p if p >= 0.80 => 4.5,
        p if p >= 0.60 => 3.0,
        p if p <= 0.001 => -5.0,
        p if p <= 0.01 => -3.0,
        p if p <= 0.05 => -2.0,
        p if p <= 0.20 => -1.0,
        _ => 0.0,
    }
}

fn gtube(view: &MessageView<'_>) -> Option<Finding> {
    view.bodies.iter().find_map(|b| {
        memchr::memmem::find(b.text.as_bytes(), GTUBE).map(|i| Finding {
            rule: "spam.gtube".into(),
            threat_type: ThreatType::Spam,
            field: "body".into(),
            part: Some(b.part),
            range: Some((i as u32, (i + GTUBE.len()) as u32)),
            matched: "GTUBE test string".into(),
            severity: Severity::High,
            score: Some(1000.0),
        })
    })
}

/// What the spam class is given besides the message.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpamInputs<'a> {
    /// The gateway's model; asked only when trained on enough of both classes.
    pub model: Option<&'a BayesModel>,
    /// Keep the message's tokens so customers' own models can be asked afterwards
    /// ([`SpamReport::with_customer_model`]).
    pub keep_tokens: bool,
    /// Seconds since the epoch ("now" for date checks).
    pub now_secs: i64,
    /// SpamAssassin's rules' result, when they are loaded: Moat's score set then combines it
    /// with Moat's own rules ([`weights`]).
    pub spamassassin: Option<&'a SaResult>,
}

/// Scores a message with Moat's rules alone (no SpamAssassin rules, tokens not kept).
pub fn scan(
    view: &MessageView<'_>,
    rendered: &Rendered,
    model: Option<&BayesModel>,
    now_secs: i64,
) -> SpamReport {
    scan_with(
        view,
        rendered,
        &SpamInputs {
            model,
            now_secs,
            ..SpamInputs::default()
        },
    )
}

/// Scores a message.
pub fn scan_with(
    view: &MessageView<'_>,
    rendered: &Rendered,
    inputs: &SpamInputs<'_>,
) -> SpamReport {
    let mut hits = rules::evaluate(view, rendered, inputs.now_secs);
    let gtube = gtube(view);
    let is_gtube = gtube.is_some();
    hits.extend(gtube);
    if let Some(sa) = inputs.spamassassin {
        hits = weights::shipped().apply(hits, sa);
    }
    let model = inputs.model;
    let usable = model.is_some_and(BayesModel::is_usable);
    let tokens = if usable || inputs.keep_tokens {
        bayes::tokens(view, rendered)
    } else {
        Vec::new()
    };
    let models: Vec<&BayesModel> = model.into_iter().collect();
    let mut report = finish(hits, is_gtube, &models, tokens);
    if !inputs.keep_tokens {
        report.tokens = Vec::new();
    }
    report
}

/// Adds the models' opinion (when together they are usable) to the rule hits and totals.
fn finish(
    mut hits: Vec<Finding>,
    is_gtube: bool,
    models: &[&BayesModel],
    tokens: Vec<u64>,
) -> SpamReport {
    let probability = (!models.is_empty() && bayes::usable_together(models))
        .then(|| bayes::classify_with(models, &tokens));
    if let Some(p) = probability {
        // The score set's baseline places the rules-only decision; with a model, the model's
        // bands take its place (docs/DETECTION.md).
        hits.retain(|f| f.rule != "spam.baseline");
        let score = bayes_score(p);
        if score != 0.0 {
            hits.push(Finding {
                rule: "spam.bayes".into(),
                threat_type: ThreatType::Spam,
                field: "message".into(),
                part: None,
                range: None,
                matched: format!("spam probability {p:.4}"),
                severity: Severity::Low,
                score: Some(score),
            });
        }
    }
    let score = hits
        .iter()
        .filter(|f| f.rule != "spam.gtube")
        .filter_map(|f| f.score)
        .sum();
    hits.sort_by(|a, b| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)));
    SpamReport {
        score,
        probability,
        hits,
        gtube: is_gtube,
        tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn sample(name: &str) -> Vec<u8> {
        // SpamAssassin's own samples, from Debian's package (the set-up installs it).
        std::fs::read(format!("/usr/share/doc/spamassassin/examples/{name}"))
            .expect("SpamAssassin's samples (apt-get install spamassassin)")
    }

    #[test]
    fn spamassassins_samples_are_told_apart() {
        for (name, spam) in [("sample-spam.txt", true), ("sample-nonspam.txt", false)] {
            let raw = sample(name);
            let msg = parse(&raw).expect("parses");
            let view = MessageView::new(&msg, "");
            let report = scan(&view, &Rendered::of(&view), None, 1_700_000_000);
            assert_eq!(
                report.is_spam(DEFAULT_THRESHOLD),
                spam,
                "{name}: {report:?}"
            );
            assert_eq!(report.gtube, spam);
        }
    }

    #[test]
    fn the_threshold_is_the_domains() {
        let raw = b"From: a@b.example\r\nSubject: ACT NOW FOR THE BEST PRICE\r\n\r\nDear friend, click here.\r\n";
        let msg = parse(raw).expect("parses");
        let view = MessageView::new(&msg, "");
        let report = scan(&view, &Rendered::of(&view), None, 1_700_000_000);
        assert!(report.score > 3.0 && report.score < 10.0, "{report:?}");
        assert!(report.is_spam(3.0));
        assert!(!report.is_spam(report.score + 0.1));
        let f = report.findings(3.0);
        assert_eq!(f[0].rule, "spam.score");
        assert!(f.len() > 3);
        assert!(report.findings(100.0).is_empty());
    }
}
