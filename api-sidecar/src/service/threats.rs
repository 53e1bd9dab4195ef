//! The threat a verdict represents, in the feed's shape: the feed, the `threat.*` webhook
//! events and anything else that speaks of threats read it from here.

use moat_core::model::VerdictRecord;

use crate::schema::Threat;

/// The feed entry of a verdict, if it found a threat.
pub fn threat_of(v: &VerdictRecord) -> Option<Threat> {
    let kind = v.threat_type?;
    let of_kind = v.findings.iter().filter(|f| f.threat_type == kind);
    let severity = of_kind
        .clone()
        .map(|f| f.severity)
        .max()
        .unwrap_or_default();
    let mut rules: Vec<String> = of_kind.map(|f| f.rule.clone()).collect();
    rules.dedup();
    let from = header_address(&v.from_header).unwrap_or_else(|| v.mail_from.clone());
    Some(Threat {
        id: v.id.clone(),
        kind,
        severity,
        from,
        target: v.rcpt_to.first().cloned().unwrap_or_default(),
        recipients: v.rcpt_to.clone(),
        domain_id: v.domain_id.clone(),
        subject: v.subject.clone(),
        detected_at: moat_core::time::rfc3339(v.received_at),
        action: v.action.into(),
        rules,
    })
}

/// The address in a From header value (`Name <a@b>` or `a@b`), when there is one.
fn header_address(from: &str) -> Option<String> {
    let inner = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    };
    let inner = inner.trim();
    (inner.contains('@') && !inner.contains(char::is_whitespace)).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::header_address;

    #[test]
    fn from_header_addresses() {
        assert_eq!(
            header_address("\"Bank\" <alerts@bank.example>").as_deref(),
            Some("alerts@bank.example")
        );
        assert_eq!(
            header_address(" a@b.example ").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(header_address("Undisclosed"), None);
        assert_eq!(header_address("> broken <"), None);
    }
}
