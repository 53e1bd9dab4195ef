//! Loads Debian's SpamAssassin rules (the `spamassassin` package the test command installs),
//! reports how they compile, and checks a few messages end to end.

use moat_core::detect::sa::{SaEngine, SaSettings, input::SaMessage};

fn settings() -> Option<SaSettings> {
    let s = SaSettings::debian_default(Some(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/sa-cache"),
    ));
    s.rule_dirs
        .iter()
        .any(|d| d.join("50_scores.cf").exists() || d.join("72_active.cf").exists())
        .then_some(s)
}

#[test]
fn debian_rules_load_and_compile() {
    let Some(settings) = settings() else {
        eprintln!("spamassassin rules not installed: skipped (tests/run.sh installs them)");
        return;
    };
    let started = std::time::Instant::now();
    let engine = SaEngine::load(&settings).expect("rules load");
    eprintln!("loaded in {:?}: {}", started.elapsed(), engine.report);
    for e in engine.report.errors.iter().take(20) {
        eprintln!("  {e}");
    }
    assert!(engine.report.rules > 1000, "{}", engine.report);
    let raw = b"From: \"Lottery\" <winner@example.com>\r\nTo: you@example.org\r\nSubject: You have WON $1,000,000!!!\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nDear friend, you have won ONE MILLION DOLLARS. Click here to claim your prize!\r\n\
Send your bank account details to claim. 100% FREE. Act now!\r\n";
    let msg = moat_core::message::parse(raw).expect("parses");
    let m = SaMessage::new(raw, Some(&msg), None);
    let started = std::time::Instant::now();
    let r = engine.check(&m, 1_700_000_000);
    eprintln!(
        "checked in {:?}: score {} hits {:?}",
        started.elapsed(),
        r.score,
        r.hits
            .iter()
            .map(|h| (&h.name, h.score))
            .collect::<Vec<_>>()
    );
}
