//! MIME parse and policy evaluation per message, for 10, 1 000 and 10 000 policies, and
//! Moat's own detection classes (links, spam rules, phishing, BEC, malware with archive
//! inspection) per message.
//! Building a policy set (10 000 literals + 200 regexes): compiled from scratch, from the
//! rkyv archive a previous process left, and reused within one process.
//! Run: `cargo bench -p moat-bench --bench policy`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use moat_bench::{html_newsletter, mixed_policies, policies, small_plain, with_attachment};
use moat_core::{
    message::{MessageView, parse},
    policy::{PolicyCache, PolicySet},
};

fn samples() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("small_plain", small_plain()),
        ("html_4k", html_newsletter()),
        ("attach_60k", with_attachment()),
    ]
}

fn mime_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("mime_parse");
    for (name, raw) in samples() {
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &raw, |b, raw| {
            b.iter(|| parse(raw).map(|m| m.parts.len()))
        });
    }
    g.finish();
}

fn policy_eval(c: &mut Criterion) {
    for n in [10usize, 1_000, 10_000] {
        let set = PolicySet::compile(&policies(n)).expect("bench policies compile");
        let mut g = c.benchmark_group(format!("parse_and_evaluate/{n}_policies"));
        for (name, raw) in samples() {
            g.throughput(Throughput::Bytes(raw.len() as u64));
            g.bench_with_input(BenchmarkId::from_parameter(name), &raw, |b, raw| {
                b.iter(|| {
                    let msg = parse(raw);
                    let view = match &msg {
                        Some(m) => MessageView::new(m, "alice@sender.test"),
                        None => MessageView::envelope_only("alice@sender.test"),
                    };
                    set.evaluate(&view).action
                })
            });
        }
        g.finish();
    }
}

/// The matcher alone (message already parsed): 2 500 literals + 20 Hyperscan regexes, the
/// policy set of the performance protocol, in bytes per second of message.
fn matcher_only(c: &mut Criterion) {
    let set = PolicySet::compile(&mixed_policies(2_500, 20)).expect("bench policies compile");
    let mut g = c.benchmark_group("matcher/2500_literals_20_regexes");
    for (name, raw) in samples() {
        let msg = parse(&raw).expect("sample parses");
        let view = MessageView::new(&msg, "alice@sender.test");
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| set.evaluate(&view).action)
        });
    }
    g.finish();
}

/// Every detection class on a parsed message: links and visible text, spam rules (no trained
/// model), phishing (brands and the protected domain), BEC (two executives), malware.
fn detection(c: &mut Criterion) {
    use moat_core::{
        detect::{bec, links::Rendered, malware, phishing, spam},
        model::Executive,
    };
    let executives = vec![
        Executive {
            name: "Jane Doe".into(),
            addresses: vec!["jane.doe@acme.example".into()],
        },
        Executive {
            name: "Mark Lee".into(),
            addresses: vec!["mark.lee@acme.example".into()],
        },
    ];
    let mut g = c.benchmark_group("detection/all_classes");
    for (name, raw) in samples() {
        let msg = parse(&raw).expect("sample parses");
        let view = MessageView::new(&msg, "alice@sender.test");
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let rendered = Rendered::of(&view);
                let report = spam::scan(&view, &rendered, None, 1_795_000_000);
                let mut n = phishing::scan(&view, &rendered).len();
                n += phishing::scan_for_domain(&rendered, "acme.example").len();
                n += bec::scan(
                    &view,
                    &rendered,
                    "acme.example",
                    &executives,
                    bec::Correspondence::Unknown,
                )
                .len();
                n += malware::scan(&view).len();
                (report.score, n)
            })
        });
    }
    g.finish();
    // Each class alone on the HTML sample, to see where the time goes.
    let raw = html_newsletter();
    let msg = parse(&raw).expect("sample parses");
    let view = MessageView::new(&msg, "alice@sender.test");
    let rendered = Rendered::of(&view);
    let mut g = c.benchmark_group("detection/html_4k_by_class");
    g.bench_function("links_and_text", |b| {
        b.iter(|| Rendered::of(&view).links.len())
    });
    g.bench_function("spam_rules", |b| {
        b.iter(|| spam::scan(&view, &rendered, None, 1_795_000_000).score)
    });
    g.bench_function("phishing", |b| {
        b.iter(|| {
            phishing::scan(&view, &rendered).len()
                + phishing::scan_for_domain(&rendered, "acme.example").len()
        })
    });
    g.bench_function("bec", |b| {
        b.iter(|| {
            bec::scan(
                &view,
                &rendered,
                "acme.example",
                &executives,
                bec::Correspondence::Unknown,
            )
            .len()
        })
    });
    g.bench_function("malware", |b| b.iter(|| malware::scan(&view).len()));
    g.finish();
}

/// Everything the scanner runs over a message before any recipient domain is considered
/// (`moat_core::verdict::Scan::of`: links and text, malware, Moat's spam rules, phishing) with
/// the whole SpamAssassin rule set of Debian's package loaded and scored. The target
/// for the 4 KB HTML message is 100 µs on one core. The compiled rules come from
/// `target/sa-cache` (`tests/run.sh` or `moat spam rules` fills it; compiled here otherwise).
fn detection_with_spamassassin(c: &mut Criterion) {
    use moat_core::{
        detect::sa::{SaEngine, SaSettings},
        verdict::{Detectors, Scan},
    };
    let cache = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/sa-cache");
    let engine = match SaEngine::load(&SaSettings::debian_default(Some(cache))) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("detection/with_spamassassin skipped: {e} (apt-get install spamassassin)");
            return;
        }
    };
    eprintln!("SpamAssassin: {}", engine.report);
    let mut g = c.benchmark_group("detection/scan_with_spamassassin");
    for (name, raw) in samples() {
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &raw, |b, raw| {
            b.iter(|| {
                let msg = parse(raw);
                let view = match &msg {
                    Some(m) => MessageView::new(m, "alice@sender.test"),
                    None => MessageView::envelope_only("alice@sender.test"),
                };
                let detectors = Detectors {
                    spamassassin: Some(&engine),
                    now_secs: 1_795_000_000,
                    ..Detectors::default()
                };
                let scan = Scan::of(&view, raw, msg.as_ref(), &detectors);
                (scan.spam.score, scan.phishing.len())
            })
        });
    }
    g.finish();
    // SpamAssassin's rules alone (its input built and every rule run) on the HTML sample.
    let raw = html_newsletter();
    let msg = parse(&raw).expect("sample parses");
    let mut g = c.benchmark_group("detection/html_4k_spamassassin_rules");
    g.bench_function("input_and_rules", |b| {
        b.iter(|| {
            let m = moat_core::detect::sa::input::SaMessage::new(&raw, Some(&msg), None);
            engine.check(&m, 1_795_000_000).score
        })
    });
    g.finish();
}

/// Building the snapshot's policy set for 10 000 literals and 200 Hyperscan regexes: cold
/// (Hyperscan compiles), from the archive on disk (a restarted scanner), and from the live
/// sets of the previous snapshot (a reload after another customer's change).
fn policy_build(c: &mut Criterion) {
    let policies = mixed_policies(10_000, 200);
    let dir = tempfile::tempdir().expect("temp dir");
    let warm = PolicyCache::at(dir.path());
    let keep = PolicySet::compile_cached(&policies, &warm).expect("compiles");
    let mut g = c.benchmark_group("policy_build/10000_literals_200_regexes");
    g.sample_size(10);
    g.bench_function("cold_compile", |b| {
        b.iter(|| {
            PolicySet::compile_cached(&policies, &PolicyCache::in_memory())
                .map(|s| s.len())
                .unwrap_or(0)
        })
    });
    g.bench_function("from_rkyv_archive", |b| {
        b.iter(|| {
            PolicySet::compile_cached(&policies, &PolicyCache::at(dir.path()))
                .map(|s| s.len())
                .unwrap_or(0)
        })
    });
    g.bench_function("reload_in_process", |b| {
        b.iter(|| {
            PolicySet::compile_cached(&policies, &warm)
                .map(|s| s.len())
                .unwrap_or(0)
        })
    });
    g.finish();
    drop(keep);
}

criterion_group!(
    benches,
    mime_parse,
    policy_eval,
    matcher_only,
    detection,
    detection_with_spamassassin,
    policy_build
);
criterion_main!(benches);
