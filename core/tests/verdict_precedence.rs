//! The verdict library's precedence rules from a table of fixture files, without SMTP, in the
//! style of a spam filter's test suite: each `tests/fixtures/precedence/*.eml` carries its set-up
//! and its expected outcome in `X-Moat-Test-*` header fields, and is scanned and judged for
//! `acme.example` exactly as the scanner would (`verdict::Scan::of` then `verdict::judge`).
//!
//! - `X-Moat-Test-Policy: <deliver|quarantine|reject> <subject_contains|from_contains|body_contains> <word> [shadow]`
//! - `X-Moat-Test-Sender-Rule: <allow|block> <sender> [require_auth]`
//! - `X-Moat-Test-Auth: dmarc=<pass|fail> [quarantine|reject]` (the DMARC result and the
//!   disposition authentication asks for)
//! - `X-Moat-Test-Expect: <deliver|quarantine|reject> <threat type|->`
//!
//! Malware is the EICAR string, spam is GTUBE (Moat's own spam rules know both).

use std::{path::PathBuf, sync::Arc};

use moat_core::{
    auth::{AuthDisposition, AuthOutcome, identity},
    detect::bec,
    message::{MessageView, parse},
    model::{
        Action, AuthResult, AuthSummary, DeliveryMode, DmarcCheck, Domain, DomainDetection,
        DomainStatus, Finding, Policy, PolicyAction, RelayTls, SenderRule, SenderRuleKind,
        Severity, ThreatType,
    },
    policy::PolicySet,
    verdict::{DomainContext, Scan, Sender, judge, scan::Detectors},
};

fn acme() -> Domain {
    Domain {
        id: "d1".into(),
        customer_id: "c1".into(),
        name: "acme.example".into(),
        real_mx_host: "mx.acme.example:25".into(),
        delivery_mode: DeliveryMode::Spool,
        status: DomainStatus::Active,
        created_at: 0,
        detection: DomainDetection::default(),
        verified_at: Some(0),
        tls: RelayTls::default(),
        allow_internal_target: false,
        verification_token: String::new(),
    }
}

/// The values of the `X-Moat-Test-<name>` fields of `raw`.
fn test_fields(raw: &str, name: &str) -> Vec<String> {
    let prefix = format!("x-moat-test-{}:", name.to_ascii_lowercase());
    raw.split("\r\n")
        .take_while(|l| !l.is_empty())
        .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
        .collect()
}

fn policy(spec: &str, n: usize) -> Policy {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let [action, field, word, rest @ ..] = words.as_slice() else {
        panic!("policy spec {spec:?}");
    };
    let condition = serde_json::from_value(serde_json::json!({ *field: [word] }))
        .unwrap_or_else(|e| panic!("condition {field}: {e}"));
    Policy {
        id: format!("p{n}"),
        customer_id: "c1".into(),
        name: format!("{action}-{word}"),
        condition,
        action: match *action {
            "deliver" => PolicyAction::Deliver,
            "quarantine" => PolicyAction::Quarantine,
            "reject" => PolicyAction::Reject,
            other => panic!("policy action {other}"),
        },
        notify_admin: false,
        enabled: true,
        created_at: 0,
        shadow: rest.contains(&"shadow"),
    }
}

fn sender_rule(spec: &str, n: usize) -> SenderRule {
    let words: Vec<&str> = spec.split_whitespace().collect();
    SenderRule {
        id: format!("r{n}"),
        customer_id: "c1".into(),
        domain_id: "d1".into(),
        kind: match words[0] {
            "allow" => SenderRuleKind::Allow,
            "block" => SenderRuleKind::Block,
            other => panic!("sender rule kind {other}"),
        },
        sender: words[1].to_string(),
        require_auth: words.contains(&"require_auth"),
        expires_at: None,
        hits: 0,
        created_at: 0,
    }
}

/// An authentication outcome as the auth thread would hand it over.
fn auth(spec: &str, raw: &[u8]) -> AuthOutcome {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let dmarc = match words.first().copied() {
        Some("dmarc=pass") => AuthResult::Pass,
        Some("dmarc=fail") => AuthResult::Fail,
        other => panic!("auth spec {other:?}"),
    };
    let disposition = words.get(1).map(|d| {
        let action = match *d {
            "quarantine" => Action::Quarantine,
            "reject" => Action::Reject,
            other => panic!("disposition {other}"),
        };
        AuthDisposition {
            action,
            reply: "550 5.7.1 DMARC policy of the author domain says reject".into(),
            finding: Finding {
                rule: format!("auth.dmarc_{d}"),
                threat_type: ThreatType::Phishing,
                field: "from".into(),
                part: None,
                range: None,
                matched: "sender.example".into(),
                severity: Severity::High,
                score: None,
            },
        }
    });
    AuthOutcome {
        summary: AuthSummary {
            dmarc: DmarcCheck {
                result: dmarc,
                domain: "sender.example".into(),
                policy: words.get(1).copied().unwrap_or("none").into(),
                reason: None,
            },
            ..AuthSummary::default()
        },
        author: identity::author(raw),
        header: String::new(),
        disposition,
        dmarc_report: None,
    }
}

#[test]
fn precedence_follows_the_table() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/precedence");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{} fixtures", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let raw = std::fs::read(file).expect("fixture");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let expect = test_fields(&text, "expect");
        let [expect] = expect.as_slice() else {
            panic!("{name}: one X-Moat-Test-Expect field");
        };
        let (want_action, want_threat) = expect.split_once(' ').expect("action threat");
        let policies: Vec<Policy> = test_fields(&text, "policy")
            .iter()
            .enumerate()
            .map(|(n, s)| policy(s, n))
            .collect();
        let rules: Vec<SenderRule> = test_fields(&text, "sender-rule")
            .iter()
            .enumerate()
            .map(|(n, s)| sender_rule(s, n))
            .collect();
        let auth = test_fields(&text, "auth").first().map(|s| auth(s, &raw));
        let policies = PolicySet::compile(&policies).expect("policies compile");

        let msg = parse(&raw).expect("fixture parses");
        let view = MessageView::new(&msg, "sam@sender.example");
        let mut scan = Scan::of(&view, &raw, Some(&msg), &Detectors::default());
        scan.inspect_archives(Default::default());
        let v = judge(
            &view,
            &scan,
            &Sender {
                envelope_from: "sam@sender.example",
                auth: auth.as_ref(),
            },
            DomainContext {
                domain: Arc::new(acme()),
                rcpts: vec!["bob@acme.example".into()],
                policies: &policies,
                gateway_model: None,
                customer_model: None,
                sender_rules: &rules,
                correspondence: bec::Correspondence::Unknown,
                default_threshold: 5.0,
            },
        );
        let got_action = v.action.as_str();
        let got_threat = v.threat_type().map_or("-", |t| t.as_str());
        if got_action != want_action || got_threat != want_threat {
            let rules: Vec<String> = v.findings().iter().map(|f| f.rule.clone()).collect();
            wrong.push(format!(
                "{name}: expected {want_action} {want_threat}, got {got_action} {got_threat} ({rules:?})"
            ));
        }
    }
    println!(
        "verdict precedence: {} of {} fixtures as expected",
        files.len() - wrong.len(),
        files.len()
    );
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
