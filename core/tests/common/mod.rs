//! Shared by the conformance suites: where the third-party corpora live, how to read their YAML
//! documents, and a Moat authenticator answering from a suite's own DNS data.

#![allow(dead_code)]

use std::path::PathBuf;

use moat_core::{
    auth::Authenticator,
    config::Config,
    dns::{Dns, Zone},
};
use serde::Deserialize;

/// The pyspf source distribution `tests/run.sh` fetches from PyPI; it carries both SPF suites
/// with their licences.
pub const PYSPF: &str = "pyspf-2.0.14";

/// A suite file: `spf/<file>` from pyspf's source distribution, fetched by `tests/run.sh` into
/// `target/corpora/`; anything else from `tests/corpora/`, kept in the repository with its
/// licence. The suites need them, so an absent file fails with how to get it.
pub fn corpus(rel: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = match rel.strip_prefix("spf/") {
        Some(file) => root
            .join("target/corpora")
            .join(PYSPF)
            .join(PYSPF)
            .join("test")
            .join(file),
        None => root.join("tests/corpora").join(rel),
    };
    assert!(
        path.exists(),
        "corpus {} is missing: tests/run.sh fetches the SPF suites (pyspf's source \
distribution from PyPI); the ARC suite is kept in tests/corpora",
        path.display()
    );
    path
}

/// The ARC suite names a few tests twice in one document; YAML parsers refuse duplicate keys,
/// so a repeated test name gets a `#2` (`#3`…) suffix and both tests run.
fn rename_duplicate_tests(text: &str) -> String {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if line.starts_with("---") {
            seen.clear();
        }
        let key = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.trim_end().strip_suffix(':'))
            .filter(|k| !k.is_empty() && !k.contains(' '));
        match key {
            Some(k) => {
                let n = seen.entry(k.to_string()).or_insert(0);
                *n += 1;
                if *n > 1 {
                    out.push_str(&format!("  {k}#{n}:\n"));
                    continue;
                }
                out.push_str(line);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Every YAML document of a multi-document file.
pub fn yaml_documents(rel: &str) -> Vec<serde_yaml::Value> {
    let text = rename_duplicate_tests(&std::fs::read_to_string(corpus(rel)).expect("readable"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("valid YAML"))
        .collect()
}

/// A Moat authenticator whose resolver asks only a loopback server holding `zone`. Look-ups
/// give up quickly so the suites' TIMEOUT records cost little.
pub async fn authenticator(zone: Zone) -> Authenticator {
    let mut config = Config {
        hostname: "mx.moat.test".into(),
        ..Config::default()
    };
    config.dns.timeout_ms = 150;
    config.dns.attempts = 1;
    let dns = Dns::with_zone(zone, &config.dns)
        .await
        .expect("zone server starts");
    Authenticator::with_dns(dns, &config)
}

/// Pass/fail tallies that print every failure with its explanation, and fail the test on a
/// failure nobody explained (or on an explained one that no longer happens).
pub struct Tally {
    pub suite: &'static str,
    pub passed: usize,
    pub failed: Vec<(String, String)>,
}

impl Tally {
    pub fn new(suite: &'static str) -> Tally {
        Tally {
            suite,
            passed: 0,
            failed: Vec::new(),
        }
    }

    pub fn record(&mut self, name: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed.push((name.to_string(), detail));
        }
    }

    /// Prints `N passed, M failed` and each failure; `known` maps a test name to why it fails.
    pub fn finish(self, known: &[(&str, &str)]) {
        println!(
            "{}: {} passed, {} failed",
            self.suite,
            self.passed,
            self.failed.len()
        );
        let mut unexplained = Vec::new();
        for (name, detail) in &self.failed {
            match known.iter().find(|(k, _)| k == name) {
                Some((_, why)) => println!("  FAILED {name}: {detail}\n    explained: {why}"),
                None => {
                    println!("  FAILED {name}: {detail}\n    UNEXPLAINED");
                    unexplained.push(name.clone());
                }
            }
        }
        let stale: Vec<&str> = known
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !self.failed.iter().any(|(n, _)| n == k))
            .collect();
        // Written where the test command's summary can pick it up.
        let line = format!(
            "{}: {} passed, {} failed\n",
            self.suite,
            self.passed,
            self.failed.len()
        );
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance");
        if std::fs::create_dir_all(&out).is_ok() {
            let _ = std::fs::write(out.join(format!("{}.txt", self.suite)), line);
        }
        assert!(
            unexplained.is_empty(),
            "{}: unexplained failures: {unexplained:?}",
            self.suite
        );
        assert!(
            stale.is_empty(),
            "{}: these now pass; remove them from the known failures: {stale:?}",
            self.suite
        );
    }
}
