//! Business email compromise: mail that borrows an executive's name from an outside address, a
//! sender domain one letter away from the protected domain, a Reply-To that sends the answer
//! somewhere else than the From, a sender the domain has never had mail from (first contact),
//! and payment or urgent-transfer language. Each alone is weak
//! (lists set Reply-To; finance mail talks about invoices); together they are the pattern, so
//! severities rise with the combination.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::{
    detect::{
        links::Rendered,
        lookalike::{BRANDS, imitates, name_label, registrable},
    },
    message::{MessageView, domain_of},
    model::{Executive, Finding, Severity, ThreatType},
};

const PAYMENT_PHRASES: &[&str] = &[
    "wire transfer",
    "bank transfer",
    "bank details",
    "banking details",
    "bank account details",
    "change of bank",
    "new bank account",
    "updated bank",
    "account details have changed",
    "urgent payment",
    "process a payment",
    "process the payment",
    "make a payment",
    "outstanding invoice",
    "overdue invoice",
    "remittance",
    "gift card",
    "gift cards",
    "itunes cards",
    "are you available",
    "are you at your desk",
    "i need a favor",
    "i need a favour",
    "keep this confidential",
    "strictly confidential",
    "swift code",
    "iban",
];

fn payment_phrases() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(PAYMENT_PHRASES)
            .expect("the static phrase list compiles")
    })
}

/// Mailbox providers anyone can sign up at: an "executive" writing from one is suspect.
const FREEMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "gmx.com",
    "gmx.de",
    "mail.com",
    "proton.me",
    "protonmail.com",
    "yandex.com",
    "zoho.com",
];

fn finding(rule: &str, severity: Severity, field: &str, matched: String) -> Finding {
    Finding {
        rule: rule.into(),
        threat_type: ThreatType::Bec,
        field: field.into(),
        part: None,
        range: None,
        matched,
        severity,
        score: None,
    }
}

/// What the protected domain's mail history says about the sender (see
/// [`crate::model::SenderHistory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correspondence {
    /// Clean mail from this sender was delivered to the domain before.
    Known,
    /// Never before, and the domain's history is old enough to say so.
    FirstContact,
    /// The history is too young (or unavailable) to tell.
    Unknown,
}

impl Correspondence {
    /// Judges a history: first contact only when the domain has known senders since at least
    /// `learning_ms` before `now_ms`.
    pub fn of(history: crate::model::SenderHistory, now_ms: i64, learning_ms: i64) -> Self {
        match history {
            crate::model::SenderHistory { known: true, .. } => Correspondence::Known,
            crate::model::SenderHistory {
                history_since: Some(since),
                ..
            } if since <= now_ms.saturating_sub(learning_ms) => Correspondence::FirstContact,
            _ => Correspondence::Unknown,
        }
    }
}

/// Where the first payment or urgent-transfer phrase is: the part (`None` for the subject),
/// the byte range and the phrase.
type PaymentHit = (Option<u32>, (u32, u32), &'static str);

fn payment_request(view: &MessageView<'_>, rendered: &Rendered) -> Option<PaymentHit> {
    std::iter::once((None, view.subject))
        .chain(
            rendered
                .texts
                .iter()
                .map(|(p, t, _)| (Some(*p), t.as_str())),
        )
        .find_map(|(part, text)| {
            payment_phrases().find(text).map(|m| {
                (
                    part,
                    (m.start() as u32, m.end() as u32),
                    PAYMENT_PHRASES[m.pattern().as_usize()],
                )
            })
        })
}

/// Whether the message uses payment or urgent-transfer language: only then does the scanner
/// ask the store whether the sender is a first contact.
pub fn asks_for_payment(view: &MessageView<'_>, rendered: &Rendered) -> bool {
    payment_request(view, rendered).is_some()
}

/// Letters only, lower case, single spaces: how names are compared.
fn normalise(name: &str) -> String {
    name.to_lowercase()
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// BEC findings of a message for one protected domain and its executives.
pub fn scan(
    view: &MessageView<'_>,
    rendered: &Rendered,
    protected: &str,
    executives: &[Executive],
    sender: Correspondence,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let payment = payment_request(view, rendered);
    let from = view.from_address.to_ascii_lowercase();
    let from_domain = domain_of(&from);
    let from_reg = registrable(&from_domain);
    let reply_domain = domain_of(view.reply_to);
    let reply_elsewhere = !reply_domain.is_empty() && registrable(&reply_domain) != from_reg;

    // Display-name impersonation of an executive.
    let shown = normalise(view.from_name);
    if !shown.is_empty()
        && let Some(exec) = executives.iter().find(|e| {
            let name = normalise(&e.name);
            !name.is_empty() && (shown == name || shown.contains(&name))
        })
        && !exec.addresses.iter().any(|a| a.eq_ignore_ascii_case(&from))
    {
        // "Jane Doe (via Google Docs)" from google.com: a service telling of something Jane
        // did (a share, a signature request), not Jane herself.
        // (The parenthesised part is an RFC 5322 comment: only the raw field keeps it.)
        let raw_from = view
            .headers
            .iter()
            .find(|(n, _)| n == "from")
            .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
            .unwrap_or_default();
        let via_service = (view.from_name.to_ascii_lowercase().contains(" via ")
            || raw_from.contains("(via ")
            || raw_from.contains(" via "))
            && BRANDS
                .iter()
                .any(|(_, genuine)| genuine.contains(&from_reg.as_str()));
        let severity = if via_service && !reply_elsewhere {
            Severity::Low
        } else if payment.is_some() || reply_elsewhere {
            Severity::Critical
        } else {
            Severity::High
        };
        out.push(finding(
            "bec.executive_impersonation",
            severity,
            "from",
            format!("display name {:?} from {from}", view.from_name),
        ));
    }

    // A cousin of the protected domain as the sender or the reply address.
    let label = name_label(protected);
    let genuine = registrable(protected);
    for (field, domain) in [("from", &from_domain), ("reply_to", &reply_domain)] {
        if domain.is_empty() {
            continue;
        }
        if let Some(how) = imitates(domain, &label, &[genuine.as_str()]) {
            out.push(finding(
                "bec.cousin_domain",
                Severity::High,
                field,
                format!("{domain} imitates {protected} ({})", how.as_str()),
            ));
            break;
        }
    }

    if reply_elsewhere {
        let freemail = FREEMAIL.contains(&registrable(&reply_domain).as_str());
        let severity = match (payment.is_some(), freemail) {
            (true, true) => Severity::High,
            (true, false) | (false, true) => Severity::Medium,
            (false, false) => Severity::Low,
        };
        out.push(finding(
            "bec.reply_to_mismatch",
            severity,
            "reply_to",
            format!("replies go to {reply_domain}, mail is from {from_domain}"),
        ));
    }

    // Judged before the first-contact finding joins: a new sender's invoice alone is common.
    let other_signs = out.iter().any(|f| f.severity >= Severity::Medium);
    if payment.is_some() && sender == Correspondence::FirstContact {
        // A sender the domain never heard from, asking for money: high when the answer goes
        // elsewhere or the sender writes from a free mailbox.
        let freemail = FREEMAIL.contains(&from_reg.as_str());
        out.push(finding(
            "bec.first_contact",
            if reply_elsewhere || freemail {
                Severity::High
            } else {
                Severity::Medium
            },
            "from",
            format!("first mail from {from} to {protected}, asking for a payment"),
        ));
    }

    if let Some((part, range, phrase)) = payment {
        let severity = if other_signs {
            Severity::High
        } else {
            Severity::Low
        };
        out.push(Finding {
            part,
            range: Some(range),
            ..finding(
                "bec.payment_request",
                severity,
                if part.is_some() { "body" } else { "subject" },
                phrase.to_string(),
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn execs() -> Vec<Executive> {
        vec![Executive {
            name: "Jane Doe".into(),
            addresses: vec!["jane.doe@acme.com".into()],
        }]
    }

    fn bec(raw: &str) -> Vec<(String, Severity)> {
        bec_from(raw, Correspondence::Unknown)
    }

    fn bec_from(raw: &str, sender: Correspondence) -> Vec<(String, Severity)> {
        let msg = parse(raw.as_bytes()).expect("parses");
        let view = MessageView::new(&msg, "");
        scan(&view, &Rendered::of(&view), "acme.com", &execs(), sender)
            .into_iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    }

    #[test]
    fn a_first_contact_asking_for_money_is_flagged_a_known_sender_is_not() {
        let new_supplier = "From: Sales <sales@new-supplier.example>\r\nSubject: Invoice 4471\r\n\r\nPlease settle the outstanding invoice by bank transfer.\r\n";
        assert_eq!(
            bec_from(new_supplier, Correspondence::FirstContact),
            [
                ("bec.first_contact".to_string(), Severity::Medium),
                ("bec.payment_request".to_string(), Severity::Low)
            ]
        );
        assert_eq!(
            bec_from(new_supplier, Correspondence::Known),
            [("bec.payment_request".to_string(), Severity::Low)]
        );
        assert_eq!(
            bec_from(new_supplier, Correspondence::Unknown),
            [("bec.payment_request".to_string(), Severity::Low)]
        );
        // From a free mailbox it is high; without money talk a first contact is nothing.
        let freemail =
            new_supplier.replace("sales@new-supplier.example", "acme.payables@gmail.com");
        assert!(
            bec_from(&freemail, Correspondence::FirstContact)
                .contains(&("bec.first_contact".to_string(), Severity::High))
        );
        let hello = "From: Ann <ann@new.example>\r\nSubject: Hello\r\n\r\nNice to meet you.\r\n";
        assert!(bec_from(hello, Correspondence::FirstContact).is_empty());
    }

    #[test]
    fn correspondence_needs_an_old_enough_history() {
        use crate::model::SenderHistory;
        let day = 86_400_000;
        let now = 100 * day;
        let judge = |known, since| {
            Correspondence::of(
                SenderHistory {
                    known,
                    history_since: since,
                },
                now,
                7 * day,
            )
        };
        assert_eq!(judge(true, Some(now)), Correspondence::Known);
        assert_eq!(
            judge(false, Some(now - 8 * day)),
            Correspondence::FirstContact
        );
        assert_eq!(judge(false, Some(now - day)), Correspondence::Unknown);
        assert_eq!(judge(false, None), Correspondence::Unknown);
    }

    #[test]
    fn the_ceo_from_gmail_asking_for_a_wire_is_critical() {
        let f = bec(
            "From: \"Jane Doe\" <jane.doe.ceo@gmail.com>\r\nTo: ap@acme.com\r\nSubject: Urgent\r\n\r\nAre you available? I need you to process a wire transfer today.\r\n",
        );
        assert!(
            f.contains(&("bec.executive_impersonation".into(), Severity::Critical)),
            "{f:?}"
        );
        assert!(
            f.contains(&("bec.payment_request".into(), Severity::High)),
            "{f:?}"
        );
    }

    #[test]
    fn the_real_ceo_is_not_impersonating_herself() {
        let f = bec(
            "From: \"Jane Doe\" <jane.doe@acme.com>\r\nTo: ap@acme.com\r\nSubject: Budget\r\n\r\nPlease process the payment for the offsite.\r\n",
        );
        assert_eq!(f, [("bec.payment_request".to_string(), Severity::Low)]);
    }

    #[test]
    fn reply_to_elsewhere_and_cousin_domains() {
        let f = bec(
            "From: Bob <bob@supplier.example>\r\nReply-To: bob.accounts@gmail.com\r\nSubject: Invoice\r\n\r\nOur bank details have changed, see the new bank account below.\r\n",
        );
        assert!(
            f.contains(&("bec.reply_to_mismatch".into(), Severity::High)),
            "{f:?}"
        );
        let f = bec("From: Controller <controller@acrne.com>\r\nSubject: Invoice\r\n\r\nHello\r\n");
        assert_eq!(f, [("bec.cousin_domain".to_string(), Severity::High)]);
        // A mailing list's Reply-To with no payment language is only noted.
        let f = bec(
            "From: Ann <ann@member.example>\r\nReply-To: list@lists.example\r\nSubject: Meetup\r\n\r\nSee you there\r\n",
        );
        assert_eq!(f, [("bec.reply_to_mismatch".to_string(), Severity::Low)]);
    }
}
