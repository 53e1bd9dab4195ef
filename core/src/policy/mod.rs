//! Customer policies: a condition tree over message fields and an action. Conditions are JSON
//! (`{"subject_contains": ["bitcoin", "crypto wallet"]}`), compiled per customer into one
//! literal matcher per inspected field (see [`literals`]) and evaluated in one pass
//! over each field (see [`engine`]).

pub mod cache;
pub mod engine;
pub mod literals;
pub mod regexes;
mod scratch;

use serde::{Deserialize, Serialize};

use crate::{error::PolicyError, model::AuthResult};

pub use cache::PolicyCache;
pub use engine::{MatchedPolicy, PolicyOutcome, PolicySet, Signals};

/// Deepest nesting of `all`/`any`/`not` accepted, so hostile JSON cannot blow the stack.
pub const MAX_DEPTH: usize = 32;

/// A condition on a message. Literal matches are ASCII case-insensitive substring matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub enum Condition {
    /// The Subject header contains any of the literals.
    SubjectContains(Vec<String>),
    /// Any text or HTML body part contains any of the literals.
    BodyContains(Vec<String>),
    /// The From header (display name or address) contains any of the literals.
    FromContains(Vec<String>),
    /// A header of the given name contains any of the literals.
    HeaderContains { name: String, values: Vec<String> },
    /// Any of the regular expressions (Hyperscan syntax, case-insensitive) matches the subject.
    SubjectMatches(Vec<String>),
    /// Any of the regular expressions matches a text or HTML body part (decoded).
    BodyMatches(Vec<String>),
    /// Any of the regular expressions matches a value of the named header.
    HeaderMatches { name: String, patterns: Vec<String> },
    /// The envelope sender's or From address's domain is one of these (exact, case-insensitive).
    SenderDomainIn(Vec<String>),
    /// An attachment has one of these extensions (without the dot) in any name a mail client
    /// might show for it.
    AttachmentExtIn(Vec<String>),
    /// An attachment's content is one of these kinds, told by its bytes: `executable`,
    /// `script`, `office_macro`, `office_legacy`, `archive`, `html`, `pdf`, `other`.
    AttachmentTypeIn(Vec<String>),
    /// A link in the message (HTML anchors and bare URLs) points to one of these domains or a
    /// subdomain of one (`example.com` covers `login.example.com`).
    UrlDomainIn(Vec<String>),
    /// The `Reply-To` address's domain is one of these (exact, case-insensitive).
    ReplyToDomainIn(Vec<String>),
    /// The message's threat score (the spam class's total: rules plus the trained model) is at
    /// least this.
    ThreatScoreOver(f64),
    /// A sender authentication result: `{"auth": {"check": "dmarc", "result": "fail"}}`;
    /// checks `spf`, `dkim` (pass when any signature passes), `arc`, `dmarc`.
    Auth { check: String, result: AuthResult },
    /// Every sub-condition holds.
    #[schema(no_recursion)]
    All(Vec<Condition>),
    /// At least one sub-condition holds.
    #[schema(no_recursion)]
    Any(Vec<Condition>),
    /// The sub-condition does not hold.
    #[schema(no_recursion)]
    Not(Box<Condition>),
}

impl Condition {
    /// Bytes of regular expressions in the condition (the cost driver of compiling it).
    pub fn regex_bytes(&self) -> usize {
        match self {
            Condition::SubjectMatches(l) | Condition::BodyMatches(l) => {
                l.iter().map(String::len).sum()
            }
            Condition::HeaderMatches { patterns, .. } => patterns.iter().map(String::len).sum(),
            Condition::All(c) | Condition::Any(c) => c.iter().map(Condition::regex_bytes).sum(),
            Condition::Not(c) => c.regex_bytes(),
            _ => 0,
        }
    }

    /// Checks that the condition can be compiled; the API calls this before storing a policy.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.validate_at(0, true)
    }

    /// [`Condition::validate`] without compiling each regular expression on its own: for
    /// building a whole set, whose one Hyperscan compilation refuses a bad pattern anyway (and
    /// names it), and whose database may come from the cache without compiling at all.
    pub fn validate_structure(&self) -> Result<(), PolicyError> {
        self.validate_at(0, false)
    }

    fn validate_at(&self, depth: usize, compile_regexes: bool) -> Result<(), PolicyError> {
        if depth > MAX_DEPTH {
            return Err(PolicyError::TooDeep(MAX_DEPTH));
        }
        let literals = |what: &'static str, list: &[String]| {
            if list.is_empty() {
                return Err(PolicyError::EmptyList(what));
            }
            if list.iter().any(|s| s.is_empty()) {
                return Err(PolicyError::EmptyLiteral(what));
            }
            Ok(())
        };
        match self {
            Condition::SubjectContains(l) => literals("subject_contains", l),
            Condition::BodyContains(l) => literals("body_contains", l),
            Condition::FromContains(l) => literals("from_contains", l),
            Condition::SenderDomainIn(l) => literals("sender_domain_in", l),
            Condition::UrlDomainIn(l) => literals("url_domain_in", l),
            Condition::ReplyToDomainIn(l) => literals("reply_to_domain_in", l),
            Condition::ThreatScoreOver(t) => {
                if t.is_finite() && (-1000.0..=1000.0).contains(t) {
                    Ok(())
                } else {
                    Err(PolicyError::BadScore(t.to_string()))
                }
            }
            Condition::SubjectMatches(l) | Condition::BodyMatches(l) => {
                literals("*_matches", l)?;
                l.iter()
                    .try_for_each(|p| regexes::check_pattern(p, compile_regexes))
            }
            Condition::HeaderMatches { name, patterns } => {
                if name.is_empty() {
                    return Err(PolicyError::EmptyLiteral("header_matches.name"));
                }
                literals("header_matches.patterns", patterns)?;
                patterns
                    .iter()
                    .try_for_each(|p| regexes::check_pattern(p, compile_regexes))
            }
            Condition::AttachmentExtIn(l) => literals("attachment_ext_in", l),
            Condition::AttachmentTypeIn(l) => {
                literals("attachment_type_in", l)?;
                match l
                    .iter()
                    .find(|t| !crate::detect::filetype::FileKind::NAMES.contains(&t.as_str()))
                {
                    Some(t) => Err(PolicyError::BadAttachmentType(format!(
                        "unknown type {t:?}; use one of {}",
                        crate::detect::filetype::FileKind::NAMES.join(", ")
                    ))),
                    None => Ok(()),
                }
            }
            Condition::Auth { check, .. } => match check.as_str() {
                "spf" | "dkim" | "arc" | "dmarc" => Ok(()),
                other => Err(PolicyError::BadAuthCheck(format!(
                    "unknown check {other:?}; use spf, dkim, arc or dmarc"
                ))),
            },
            Condition::HeaderContains { name, values } => {
                if name.is_empty() {
                    return Err(PolicyError::EmptyLiteral("header_contains.name"));
                }
                literals("header_contains.values", values)
            }
            Condition::All(c) | Condition::Any(c) => {
                if c.is_empty() {
                    return Err(PolicyError::EmptyList("all/any"));
                }
                c.iter()
                    .try_for_each(|c| c.validate_at(depth + 1, compile_regexes))
            }
            Condition::Not(c) => c.validate_at(depth + 1, compile_regexes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixacolour_example_round_trips() {
        let json = r#"{"subject_contains": ["bitcoin", "crypto wallet"]}"#;
        let c: Condition = serde_json::from_str(json).expect("parses");
        assert_eq!(
            c,
            Condition::SubjectContains(vec!["bitcoin".into(), "crypto wallet".into()])
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_conditions_are_refused() {
        assert!(serde_json::from_str::<Condition>(r#"{"subject_has": ["x"]}"#).is_err());
        let empty: Condition = serde_json::from_str(r#"{"any": []}"#).expect("parses");
        assert_eq!(empty.validate(), Err(PolicyError::EmptyList("all/any")));
        let mut deep = Condition::SubjectContains(vec!["x".into()]);
        for _ in 0..40 {
            deep = Condition::Not(Box::new(deep));
        }
        assert_eq!(deep.validate(), Err(PolicyError::TooDeep(MAX_DEPTH)));
    }
}
