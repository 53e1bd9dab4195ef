//! Every detector over one parsed message, once: malware (archives deferred so a shard can hand
//! them to a worker thread), the spam class (Moat's rules, SpamAssassin's rule set when loaded,
//! the gateway's model), phishing, and whether the message talks about payment (the one case
//! in which the caller asks the store about the sender's history). Per-domain work (policies,
//! lookalikes of the protected domain, BEC, the customer's own model) is [`super::judge()`]'s.

use mail_parser::Message;

use crate::{
    detect::{
        ambiguity,
        archive::Limits,
        bec,
        links::Rendered,
        malware::{self, ArchiveJob},
        phishing,
        sa::{SaEngine, SaResult},
        spam::{self, BayesModel, SpamInputs, SpamReport},
    },
    message::MessageView,
    model::Finding,
};

/// The gateway-wide detectors and their settings for one scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detectors<'a> {
    /// The gateway's trained spam model, if any.
    pub spam_model: Option<&'a BayesModel>,
    /// SpamAssassin's rule set, when loaded.
    pub spamassassin: Option<&'a SaEngine>,
    /// Keep the message's model tokens (customers' own models will be asked).
    pub keep_tokens: bool,
    /// Seconds since the epoch ("now" for date checks).
    pub now_secs: i64,
}

/// What the detectors found in one message, before any recipient domain is considered.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Visible text and links, shared by the classes and by policies.
    pub rendered: Rendered,
    pub spam: SpamReport,
    /// SpamAssassin's own view (every rule's value), when its rules are loaded.
    pub spamassassin: Option<SaResult>,
    pub phishing: Vec<Finding>,
    /// Malware findings so far; archive and ClamAV findings are added by the caller.
    pub malware: Vec<Finding>,
    /// Findings recorded with every verdict, never acted on (a scanner that was unavailable).
    pub noted: Vec<Finding>,
    /// Archive attachments still to inspect ([`Scan::inspect_archives`] or a worker thread).
    pub archives: Vec<ArchiveJob>,
    /// The message uses payment or urgent-transfer language.
    pub asks_for_payment: bool,
}

impl Scan {
    /// Scans a message. `raw` is the whole message as received (Moat's trace header
    /// included), `parsed` its parse (`None`: it did not parse), `view` the view over it.
    pub fn of(
        view: &MessageView<'_>,
        raw: &[u8],
        parsed: Option<&Message<'_>>,
        d: &Detectors<'_>,
    ) -> Scan {
        let (mut malware, archives) = malware::scan_deferred(view);
        // A structure two parsers read two ways is unscannable, like an encrypted archive.
        malware.extend(ambiguity::scan(raw));
        let rendered = Rendered::of(view);
        let spamassassin = d.spamassassin.map(|engine| {
            let envelope = (!view.envelope_from.is_empty()).then_some(view.envelope_from);
            engine.check_received(raw, parsed, envelope, d.now_secs)
        });
        let spam = spam::scan_with(
            view,
            &rendered,
            &SpamInputs {
                model: d.spam_model,
                keep_tokens: d.keep_tokens,
                now_secs: d.now_secs,
                spamassassin: spamassassin.as_ref(),
            },
        );
        let phishing = phishing::scan(view, &rendered);
        let asks_for_payment = bec::asks_for_payment(view, &rendered);
        Scan {
            rendered,
            spam,
            spamassassin,
            phishing,
            malware,
            noted: Vec::new(),
            archives,
            asks_for_payment,
        }
    }

    /// Inspects the pending archives on this thread (offline checks and tests; the scanner
    /// hands them to its inspection threads instead).
    pub fn inspect_archives(&mut self, limits: Limits) {
        let jobs = std::mem::take(&mut self.archives);
        self.malware
            .extend(malware::inspect_archives(&jobs, limits));
    }

    /// Adds malware findings from elsewhere (archive inspection, ClamAV).
    pub fn add_malware(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.malware.extend(findings);
    }
}
