//! Conformance with SpamAssassin itself: the same messages go through SpamAssassin 4.0.1
//! (Debian's package, through its Perl API: `tests/scripts/sa_oracle.pl`, local tests only,
//! no Bayes) and through Moat's SpamAssassin engine with the same rule files. Printed (and
//! written to `target/conformance/sa-agreement.txt`): the share of (message, rule) pairs that
//! agree over every rule Moat runs, the share of messages whose spam/ham decision agrees, and
//! the rules that disagree most. Messages: every 20th of the SpamAssassin public corpus
//! (`MOAT_SA_EVERY` changes the step).

use std::{
    collections::{BTreeMap, HashMap},
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use moat_core::detect::sa::{SaEngine, SaSettings, input::SaMessage};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("MOAT_SPAM_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/corpora/spam-assassin/package/data")
        });
    dir.join("spam-1").is_dir().then_some(dir)
}

fn sample(dir: &std::path::Path, every: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
        files.sort();
        out.extend(files.into_iter().step_by(every));
    }
    out
}

#[derive(serde::Deserialize)]
struct Oracle {
    file: String,
    score: f64,
    #[serde(default)]
    values: BTreeMap<String, f64>,
}

#[test]
fn moat_agrees_with_spamassassin() {
    let Some(dir) = corpus() else {
        eprintln!("SpamAssassin corpus missing: skipped (tests/run.sh fetches it)");
        return;
    };
    let settings = SaSettings::debian_default(Some(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/sa-cache"),
    ));
    if Command::new("perl")
        .arg("-MMail::SpamAssassin")
        .arg("-e1")
        .status()
        .map_or(true, |s| !s.success())
    {
        eprintln!("SpamAssassin (perl) not installed: skipped");
        return;
    }
    let every: usize = std::env::var("MOAT_SA_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let files = sample(&dir, every);
    let engine = SaEngine::load(&settings).expect("rules load");
    // The oracle.
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts/sa_oracle.pl");
    let home = tempfile::tempdir().expect("home");
    let mut child = Command::new("perl")
        .arg(&script)
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("oracle runs");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for f in &files {
            writeln!(stdin, "{}", f.display()).expect("write");
        }
    }
    let out = child.wait_with_output().expect("oracle output");
    let oracle: HashMap<String, Oracle> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Oracle>(l).ok())
        .map(|o| (o.file.clone(), o))
        .collect();
    let names: Vec<&str> = engine.rules().iter().map(|r| r.name.as_str()).collect();
    let (mut pairs, mut agree, mut msgs, mut same_verdict) = (0u64, 0u64, 0u64, 0u64);
    let mut missed: BTreeMap<String, u32> = BTreeMap::new();
    let mut extra: BTreeMap<String, u32> = BTreeMap::new();
    let mut score_diff = 0.0;
    let mut line_end_differences = Vec::new();
    for f in &files {
        let Some(o) = oracle.get(&f.display().to_string()) else {
            continue;
        };
        let raw = std::fs::read(f).expect("read");
        let parsed = moat_core::message::parse(&raw);
        let m = SaMessage::new(&raw, parsed.as_ref(), None);
        let r = engine.check(&m, 1_700_000_000);
        // The same message as SMTP delivers it (CRLF line ends) must fire the same rules.
        let crlf = to_crlf(&raw);
        let crlf_parsed = moat_core::message::parse(&crlf);
        let r2 = engine.check_received(&crlf, crlf_parsed.as_ref(), None, 1_700_000_000);
        let fired = |r: &moat_core::detect::sa::SaResult| -> Vec<String> {
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| r.values.get(*i).copied().unwrap_or(0.0) != 0.0)
                .map(|(_, n)| n.to_string())
                .collect()
        };
        if fired(&r) != fired(&r2) {
            line_end_differences.push(format!(
                "{}: LF {:?} / CRLF {:?}",
                f.display(),
                fired(&r),
                fired(&r2)
            ));
        }
        msgs += 1;
        if (r.score >= 5.0) == (o.score >= 5.0) {
            same_verdict += 1;
        }
        score_diff += (r.score - o.score).abs();
        for (i, n) in names.iter().enumerate() {
            pairs += 1;
            let ours = r.values.get(i).copied().unwrap_or(0.0) != 0.0;
            let theirs = o.values.get(*n).copied().unwrap_or(0.0) != 0.0;
            if ours == theirs {
                agree += 1;
            } else if theirs {
                *missed.entry(n.to_string()).or_default() += 1;
            } else {
                *extra.entry(n.to_string()).or_default() += 1;
            }
        }
    }
    assert!(msgs > 0, "the oracle answered nothing");
    let pct = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
    let mut worst: Vec<(String, u32, u32)> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                missed.get(*n).copied().unwrap_or(0),
                extra.get(*n).copied().unwrap_or(0),
            )
        })
        .filter(|(_, a, b)| a + b > 0)
        .collect();
    worst.sort_by_key(|(_, a, b)| std::cmp::Reverse(a + b));
    let summary = format!(
        "sa-agreement: {msgs} messages x {} rules: {:.2}% of (message, rule) pairs agree; spam/ham decision agrees on {:.1}% of messages; mean |score difference| {:.2}\n",
        names.len(),
        pct(agree, pairs),
        pct(same_verdict, msgs),
        score_diff / msgs as f64
    );
    eprint!("{summary}");
    for (n, a, b) in worst.iter().take(40) {
        eprintln!("  {n}: SpamAssassin only {a}, Moat only {b}");
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("sa-agreement.txt"), summary);
    assert!(
        line_end_differences.is_empty(),
        "{} messages fire other rules with CRLF line ends:\n{}",
        line_end_differences.len(),
        line_end_differences.join("\n")
    );
}

/// `raw` with every bare LF turned into CRLF, as an SMTP client sends it.
fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for (i, b) in raw.iter().enumerate() {
        if *b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}
