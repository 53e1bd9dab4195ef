//! Moat's spam score set: how SpamAssassin's rule scores and Moat's own rules' scores are
//! combined at a gateway. SpamAssassin's published scores were fitted to its own users' mail
//! (recipients' MTAs, with network tests and Bayes); on a gateway without them its threshold
//! of 5 flags too much commercial ham, so a few rules are re-weighted. The numbers live in
//! `weights.tsv` beside this file, written by `tests/scripts/fit_spam_weights.py` from one half
//! of the SpamAssassin public corpus (the other half measures it; the script says how). Each
//! rule keeps its sign: no rule a sender can trigger at will becomes a ham rule.
//!
//! The set applies only when SpamAssassin's rules are loaded: it was fitted with them, and
//! without them Moat's own rules keep their plain scores.

use std::{collections::HashMap, sync::OnceLock};

use crate::{
    detect::sa::SaResult,
    model::{Finding, Severity, ThreatType},
};

/// The rules (SpamAssassin's, as `sa.NAME`, and Moat's) re-weighted and the combination.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSet {
    /// Moat's rules' scores count this much each.
    pub moat_factor: f64,
    /// Points every message starts with (the fitted threshold mapped to 5).
    pub offset: f64,
    /// `sa.NAME` → the rule's score at a gateway; `spam.x` → points added per hit (first 3).
    overrides: HashMap<String, f64>,
}

/// Why a score set does not read.
#[derive(Debug, thiserror::Error)]
#[error("spam score set line {line}: {why}")]
pub struct ScoreSetError {
    pub line: usize,
    pub why: String,
}

const SHIPPED: &str = include_str!("weights.tsv");

/// The score set Moat ships.
pub fn shipped() -> &'static ScoreSet {
    static SET: OnceLock<ScoreSet> = OnceLock::new();
    SET.get_or_init(|| {
        // The file is part of the build; a broken one fails the unit test below.
        ScoreSet::parse(SHIPPED).unwrap_or(ScoreSet {
            moat_factor: 1.0,
            offset: 0.0,
            overrides: HashMap::new(),
        })
    })
}

impl ScoreSet {
    /// Reads `name<TAB>value` lines (`#` comments): `moat_factor`, `offset`, then rules.
    pub fn parse(text: &str) -> Result<ScoreSet, ScoreSetError> {
        let mut set = ScoreSet {
            moat_factor: 1.0,
            offset: 0.0,
            overrides: HashMap::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: &str| ScoreSetError {
                line: i + 1,
                why: why.to_string(),
            };
            let (name, value) = line
                .split_once('\t')
                .ok_or_else(|| err("expected NAME<TAB>VALUE"))?;
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| err("the value is not a number"))?;
            if !value.is_finite() {
                return Err(err("the value is not finite"));
            }
            match name.trim() {
                "moat_factor" => set.moat_factor = value,
                "offset" => set.offset = value,
                rule => {
                    set.overrides.insert(rule.to_string(), value);
                }
            }
        }
        Ok(set)
    }

    /// The score a SpamAssassin rule has at a gateway (`base`: its published score).
    pub fn sa_score(&self, name: &str, base: f64) -> f64 {
        self.overrides
            .get(&format!("sa.{name}"))
            .copied()
            .unwrap_or(base)
    }

    /// Moat's rule findings and SpamAssassin's hits as findings scored by this set, and the
    /// baseline finding that carries [`ScoreSet::offset`].
    pub fn apply(&self, moat: Vec<Finding>, sa: &SaResult) -> Vec<Finding> {
        let mut out = Vec::with_capacity(moat.len() + sa.hits.len() + 1);
        let mut seen: HashMap<String, u32> = HashMap::new();
        for mut f in moat {
            if f.rule == "spam.gtube" {
                out.push(f);
                continue;
            }
            let n = seen.entry(f.rule.clone()).or_default();
            *n += 1;
            let extra = if *n <= 3 {
                self.overrides.get(&f.rule).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            f.score = Some(f.score.unwrap_or(0.0) * self.moat_factor + extra);
            out.push(f);
        }
        for h in &sa.hits {
            let times = if h.value > 1.0 { h.value } else { 1.0 };
            let score = h.score * times + (self.sa_score(&h.name, h.score) - h.score);
            out.push(Finding {
                rule: format!("sa.{}", h.name),
                threat_type: ThreatType::Spam,
                field: "message".into(),
                part: None,
                range: None,
                matched: h.describe.clone().unwrap_or_else(|| h.name.clone()),
                severity: Severity::Low,
                score: Some((score * 1000.0).round() / 1000.0),
            });
        }
        if self.offset != 0.0 {
            out.push(Finding {
                rule: "spam.baseline".into(),
                threat_type: ThreatType::Spam,
                field: "message".into(),
                part: None,
                range: None,
                matched: "Moat's score set starts every message here (docs/DETECTION.md)".into(),
                severity: Severity::Low,
                score: Some(self.offset),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::sa::SaHit;

    #[test]
    fn the_shipped_set_reads_and_keeps_every_rules_sign() {
        let set = ScoreSet::parse(SHIPPED).expect("weights.tsv reads");
        assert!(set.moat_factor >= 0.0);
        for (name, v) in &set.overrides {
            if !name.starts_with("sa.") {
                assert!(*v >= 0.0, "{name} {v}");
            }
        }
        assert_eq!(shipped(), &set);
    }

    #[test]
    fn broken_lines_are_named() {
        let e = ScoreSet::parse("offset\t1\nsa.X 2\n").expect_err("line 2 has no tab");
        assert_eq!(e.line, 2);
        assert!(ScoreSet::parse("offset\tNaN\n").is_err());
    }

    #[test]
    fn rules_are_rescored_and_the_baseline_is_a_finding() {
        let set = ScoreSet::parse("moat_factor\t0.5\noffset\t1.5\nsa.A\t0.4\nspam.x\t0.25\n")
            .expect("reads");
        let moat = vec![
            Finding {
                rule: "spam.x".into(),
                threat_type: ThreatType::Spam,
                field: "subject".into(),
                part: None,
                range: None,
                matched: String::new(),
                severity: Severity::Low,
                score: Some(2.0),
            };
            4
        ];
        let sa = SaResult {
            score: 3.0,
            hits: vec![
                SaHit {
                    name: "A".into(),
                    score: 2.0,
                    describe: Some("a rule".into()),
                    value: 1.0,
                },
                SaHit {
                    name: "B".into(),
                    score: 1.0,
                    describe: None,
                    value: 1.0,
                },
            ],
            values: Default::default(),
        };
        let out = set.apply(moat, &sa);
        let scores: Vec<(String, f64)> = out
            .iter()
            .map(|f| (f.rule.clone(), f.score.unwrap_or(0.0)))
            .collect();
        assert_eq!(
            scores,
            vec![
                ("spam.x".into(), 1.25),
                ("spam.x".into(), 1.25),
                ("spam.x".into(), 1.25),
                ("spam.x".into(), 1.0),
                ("sa.A".into(), 0.4),
                ("sa.B".into(), 1.0),
                ("spam.baseline".into(), 1.5),
            ]
        );
        assert_eq!(out[4].matched, "a rule");
    }
}
