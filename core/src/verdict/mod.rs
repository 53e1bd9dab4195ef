//! One home for what happens to a message. [`scan`] runs every detector over a parsed message
//! once; [`judge()`] turns that scan, one recipient domain's policies and settings, sender
//! authentication and sender rules into the domain's verdict, with every precedence rule in
//! one place; [`record`] turns a verdict into the record the store keeps. The SMTP
//! transaction, `moat check` and the evaluation tests all call these, so they cannot disagree.
//!
//! Precedence, in the order [`judge::judge`] applies it:
//! 1. the customer's policies give the starting action;
//! 2. a DMARC disposition (or an unusable From) raises it, unless a `deliver` policy matched;
//! 3. spam at or above the domain's threshold, and phishing or BEC at severity
//!    [`ACTING_SEVERITY`], quarantine, unless a `deliver` policy matched (then they are noted);
//! 4. a block sender rule rejects; an allow sender rule delivers and demotes what 2–3 forced
//!    to notes;
//! 5. malware quarantines whatever came before (a policy's reject still rejects).
//!
//! The verdict's threat type is the gravest class that raised the action: malware, then
//! phishing, then BEC, then the first of the rest (spam, authentication, a block rule); a
//! customer policy's only when none of Moat's own checks raised it.

pub mod judge;
pub mod record;
pub mod scan;

pub use judge::{DomainContext, DomainVerdict, Sender, judge};
pub use record::{Delivery, verdict_record};
pub use scan::{Detectors, Scan};

use crate::model::Severity;

/// Phishing and BEC findings act on their own from this severity up; below it they are noted.
pub const ACTING_SEVERITY: Severity = Severity::High;
