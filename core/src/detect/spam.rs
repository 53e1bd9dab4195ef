//! The spam class, as far as it goes today: the GTUBE test string (SpamAssassin's "Generic
//! Test for Unsolicited Bulk Email"), which every spam filter must flag, so operators can test
//! the spam path end to end the way EICAR tests the malware path. The scored rule set is still
//! to come.

use crate::{
    message::MessageView,
    model::{Finding, ThreatType},
};

pub const GTUBE: &[u8] = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Spam findings of a message (empty when clean).
pub fn scan(view: &MessageView<'_>) -> Vec<Finding> {
    view.bodies
        .iter()
        .filter_map(|b| {
            memchr::memmem::find(b.text.as_bytes(), GTUBE).map(|i| Finding {
                rule: "spam.gtube".into(),
                threat_type: ThreatType::Spam,
                field: "body".into(),
                part: Some(b.part),
                range: Some((i as u32, (i + GTUBE.len()) as u32)),
                matched: "GTUBE test string".into(),
            })
        })
        .take(1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../shared/corpora/spamassassin/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("SpamAssassin samples in ../shared/corpora")
    }

    #[test]
    fn spamassassins_samples_are_told_apart() {
        for (name, spam) in [("sample-spam.txt", true), ("sample-nonspam.txt", false)] {
            let raw = sample(name);
            let msg = parse(&raw).expect("parses");
            let found = scan(&MessageView::new(&msg, ""));
            assert_eq!(!found.is_empty(), spam, "{name}: {found:?}");
        }
    }
}
