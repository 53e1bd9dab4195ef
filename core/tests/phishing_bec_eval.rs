//! Phishing and BEC on hand-labelled mail: `tests/fixtures/phishing-bec/{phishing,bec,ham}/`
//! holds messages written for this evaluation (credential lures with lookalike, punycode and
//! raw-IP links, text/target mismatches; executive impersonation from freemail and cousin
//! domains, Reply-To diversions, bank-detail changes; and ham that resembles them: the real
//! executives, real brand mail with tracking links, invoices, password resets).
//!
//! The protected domain is `acme.example` with executives Jane Doe and Mark Lee. A class
//! "catches" a message when it raises a finding of severity high or critical (what quarantines
//! on its own). Per class: recall over its own samples, and precision counting ham it flags as
//! false positives (a BEC message also flagged as phishing is not a false alarm). The table is
//! printed and written to `target/conformance/phishing-bec.txt`.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use moat_core::{
    detect::bec,
    message::{MessageView, parse},
    model::{
        DeliveryMode, Domain, DomainDetection, DomainStatus, Executive, Finding, RelayTls,
        ThreatType,
    },
    policy::PolicySet,
    verdict::{ACTING_SEVERITY, DomainContext, Scan, Sender, judge as verdict, scan::Detectors},
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/phishing-bec")
}

fn acme() -> Domain {
    Domain {
        id: "d1".into(),
        customer_id: "c1".into(),
        name: "acme.example".into(),
        real_mx_host: "127.0.0.1:25".into(),
        delivery_mode: DeliveryMode::Proxy,
        status: DomainStatus::Active,
        created_at: 0,
        detection: DomainDetection {
            executives: vec![
                Executive {
                    name: "Jane Doe".into(),
                    addresses: vec!["jane.doe@acme.example".into()],
                },
                Executive {
                    name: "Mark Lee".into(),
                    addresses: vec!["mark.lee@acme.example".into()],
                },
            ],
            ..DomainDetection::default()
        },
        verified_at: Some(0),
        tls: RelayTls::default(),
        allow_internal_target: false,
        verification_token: String::new(),
    }
}

/// (phishing acts, BEC acts, the acting rules) for one message, judged as the scanner judges
/// it for acme.example (the verdict library; spam is left out: these are the other classes).
fn judge(path: &Path) -> (bool, bool, Vec<String>) {
    let raw = std::fs::read(path).expect("sample");
    let msg = parse(&raw).expect("sample parses");
    let view = MessageView::new(&msg, "");
    let scan = Scan::of(&view, &raw, Some(&msg), &Detectors::default());
    let policies = PolicySet::compile(&[]).expect("no policies");
    let v = verdict(
        &view,
        &scan,
        &Sender::default(),
        DomainContext {
            domain: Arc::new(acme()),
            rcpts: vec!["bob@acme.example".into()],
            policies: &policies,
            gateway_model: None,
            customer_model: None,
            sender_rules: &[],
            correspondence: bec::Correspondence::Unknown,
            default_threshold: f64::INFINITY,
        },
    );
    let acting: Vec<Finding> = v
        .findings()
        .into_iter()
        .filter(|f| f.severity >= ACTING_SEVERITY)
        .collect();
    let acts = |t: ThreatType| acting.iter().any(|f| f.threat_type == t);
    let rules = acting.iter().map(|f| f.rule.clone()).collect();
    (acts(ThreatType::Phishing), acts(ThreatType::Bec), rules)
}

fn files(class: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir().join(class))
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    out.sort();
    out
}

#[test]
fn phishing_and_bec_precision_and_recall_on_labelled_samples() {
    let verbose = std::env::var_os("MOAT_EVAL_DUMP").is_some();
    let mut caught = [0usize; 2];
    let mut totals = [0usize; 2];
    let mut ham_flagged = [0usize; 2];
    let mut missed = Vec::new();
    let mut false_alarms = Vec::new();
    for (i, class) in ["phishing", "bec"].iter().enumerate() {
        for f in files(class) {
            let (p, b, rules) = judge(&f);
            totals[i] += 1;
            let hit = if i == 0 { p } else { b };
            if hit {
                caught[i] += 1;
            } else {
                missed.push(format!("{class}: {}", f.display()));
            }
            if verbose {
                println!("{class} {} -> phishing={p} bec={b} {rules:?}", f.display());
            }
        }
    }
    let ham = files("ham");
    for f in &ham {
        let (p, b, rules) = judge(f);
        if p {
            ham_flagged[0] += 1;
        }
        if b {
            ham_flagged[1] += 1;
        }
        if p || b {
            false_alarms.push(format!("{} {rules:?}", f.display()));
        }
        if verbose {
            println!("ham {} -> phishing={p} bec={b} {rules:?}", f.display());
        }
    }
    let mut table = String::from(
        "| class | samples | caught | missed | ham flagged (of {ham}) | precision | recall |\n|---|---|---|---|---|---|---|\n",
    )
    .replace("{ham}", &ham.len().to_string());
    for (i, class) in ["phishing", "bec"].iter().enumerate() {
        let precision = caught[i] as f64 / (caught[i] + ham_flagged[i]).max(1) as f64;
        let recall = caught[i] as f64 / totals[i].max(1) as f64;
        table.push_str(&format!(
            "| {class} | {} | {} | {} | {} | {precision:.3} | {recall:.3} |\n",
            totals[i],
            caught[i],
            totals[i] - caught[i],
            ham_flagged[i]
        ));
    }
    print!("{table}");
    for m in &missed {
        println!("missed {m}");
    }
    for f in &false_alarms {
        println!("false alarm {f}");
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(
        out.join("phishing-bec.txt"),
        format!("phishing and BEC, hand-labelled samples (tests/fixtures/phishing-bec):\n{table}"),
    );
    // Targets: each class catches at least 90 % of its samples with no ham quarantined.
    for (i, class) in ["phishing", "bec"].iter().enumerate() {
        assert!(
            caught[i] * 10 >= totals[i] * 9,
            "{class} recall below 0.9: {missed:?}"
        );
    }
    assert!(false_alarms.is_empty(), "ham quarantined: {false_alarms:?}");
}

/// The MIME-ambiguity check on real ham: how many of the SpamAssassin corpus's 4 150 ham
/// messages it would quarantine as unscannable (target: at most 0.1 %); `tests/run.sh`
/// fetches the corpus.
#[test]
fn mime_ambiguity_rarely_touches_real_ham() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/corpora/spam-assassin/package/data");
    assert!(
        data.exists(),
        "SpamAssassin corpus missing at {}; tests/run.sh fetches it",
        data.display()
    );
    let (mut total, mut flagged) = (0usize, Vec::new());
    for dir in ["easy-ham-1", "easy-ham-2", "hard-ham-1"] {
        let Ok(entries) = std::fs::read_dir(data.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            // Each message is a .txt; the .json beside it is the corpus's metadata.
            if e.path().extension().is_none_or(|x| x != "txt") {
                continue;
            }
            let Ok(raw) = std::fs::read(e.path()) else {
                continue;
            };
            total += 1;
            let f = moat_core::detect::ambiguity::scan(&raw);
            if !f.is_empty() {
                flagged.push(format!("{} {:?}", e.path().display(), f[0].matched));
            }
        }
    }
    let line = format!(
        "mime ambiguity on SpamAssassin ham: {} of {total} flagged\n",
        flagged.len()
    );
    print!("{line}");
    for f in &flagged {
        println!("  {f}");
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("mime-ambiguity.txt"), &line);
    assert!(total > 4000, "corpus incomplete: {total}");
    assert!(flagged.len() * 1000 <= total, "{line}{flagged:?}");
}
