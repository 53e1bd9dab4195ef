//! What operators rely on: every documented metric is exported after real traffic, and the
//! shipped dashboard and alert rules name only metrics that exist.

use std::collections::BTreeSet;

use moat_core::model::TokenKind;
use moat_tests::{
    client::{Conversation, smtplib_send},
    eventually,
    harness::Moat,
    sink::Sink,
};
use serde_json::{Value, json};

fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Metric names listed in docs/METRICS.md.
fn documented() -> BTreeSet<String> {
    let names: BTreeSet<String> = repo_file("docs/METRICS.md")
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("moat_"))
        .map(str::to_string)
        .collect();
    assert!(
        names.len() >= 10,
        "docs/METRICS.md lists the metrics: {names:?}"
    );
    names
}

/// `moat_…` identifiers in a PromQL expression, without histogram series suffixes.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(off) = expr[i..].find("moat_") {
        let start = i + off;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &expr[start..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| b.ends_with("_seconds")))
            .unwrap_or(name);
        out.push(base.to_string());
        i = end;
    }
    out
}

#[test]
fn a_scrape_after_traffic_exports_exactly_the_documented_metrics() {
    let spool_sink = Sink::start();
    let proxy_sink = Sink::start();
    let moat = Moat::start_with(|c| c.smtp.max_connections_per_ip = 3);
    let token = moat.token("acme", TokenKind::Live);
    for (domain, sink, mode) in [
        ("acme.example", &spool_sink, "spool"),
        ("proxy.example", &proxy_sink, "proxy"),
    ] {
        moat.create_domain(
            &token,
            json!({"domain": domain, "real_mx_host": sink.addr.to_string(), "delivery_mode": mode}),
        );
    }
    let (status, _) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(json!({"name": "no-wire", "condition": {"body_contains": ["wire transfer"]}, "action": "reject"})),
    );
    assert_eq!(status, 201);
    moat.wait_until_accepting("bob@proxy.example");
    moat.wait_until_accepting("bob@acme.example");

    let clean = b"From: a@sender.test\r\nSubject: hi\r\n\r\nhello\r\n";
    assert!(
        smtplib_send(moat.smtp, "a@sender.test", &["bob@acme.example"], clean).starts_with("250")
    );
    assert!(
        smtplib_send(moat.smtp, "a@sender.test", &["bob@proxy.example"], clean).starts_with("250")
    );
    let wire = b"From: a@sender.test\r\nSubject: pay\r\n\r\nplease do the wire transfer\r\n";
    eventually(10, "reject policy never applied", || {
        let reply = smtplib_send(moat.smtp, "a@sender.test", &["bob@acme.example"], wire);
        if reply.starts_with("550") {
            Ok(())
        } else {
            Err(reply)
        }
    });
    // Over the per-IP cap: a refused connection.
    let held: Vec<Conversation> = (0..3)
        .map(|_| {
            let mut c = Conversation::connect(moat.smtp);
            c.read_reply();
            c
        })
        .collect();
    let mut refused = Conversation::connect(moat.smtp);
    refused.expect("421");
    drop(held);
    assert_eq!(spool_sink.wait_for(1, 10).len(), 1);

    // The spool gauges refresh every second.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let scrape = ureq::get(&format!("{}/metrics", moat.api))
        .call()
        .expect("scrape")
        .into_string()
        .expect("text");
    let exported: BTreeSet<String> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect();
    let documented = documented();
    let missing: Vec<_> = documented.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "documented but not exported: {missing:?}\n{scrape}"
    );
    let undocumented: Vec<_> = exported.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "exported but not documented: {undocumented:?}"
    );
    // The registry is the process's, shared with tests running alongside: check lower bounds.
    let value = |series: &str| -> f64 {
        scrape
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    };
    for (series, at_least) in [
        (
            "moat_messages_total{threat_type=\"none\",verdict=\"deliver\"}",
            2.0,
        ),
        (
            "moat_messages_total{threat_type=\"policy\",verdict=\"reject\"}",
            1.0,
        ),
        (
            "moat_relay_total{mode=\"proxy\",outcome=\"delivered\"}",
            1.0,
        ),
        (
            "moat_relay_total{mode=\"spool\",outcome=\"delivered\"}",
            1.0,
        ),
        (
            "moat_smtp_connections_refused_total{reason=\"per_ip\"}",
            1.0,
        ),
        (
            "moat_api_requests_total{route=\"/v1/domains\",status=\"201\"}",
            2.0,
        ),
        ("moat_smtp_message_replies_total{class=\"5xx\"}", 1.0),
    ] {
        assert!(
            value(series) >= at_least,
            "{series} below {at_least} in\n{scrape}"
        );
    }
    assert!(!scrape.contains("bob@"), "no addresses in labels");
}

#[test]
fn dashboard_and_alert_rules_name_only_documented_metrics() {
    let documented = documented();
    let dashboard: Value = serde_json::from_str(&repo_file("deploy/grafana/moat-dashboard.json"))
        .expect("dashboard is JSON");
    let mut exprs = Vec::new();
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr", Value::String(e)) => out.push(e.clone()),
                        _ => collect(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    collect(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has queries");
    let alerts = repo_file("deploy/prometheus/alerts.yml");
    let alert_exprs: Vec<String> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(str::to_string)
        .collect();
    assert!(alert_exprs.len() >= 5, "alert rules are there");
    let mut used = BTreeSet::new();
    for e in exprs.iter().chain(&alert_exprs) {
        let names = metric_names(e);
        assert!(!names.is_empty(), "expression names no Moat metric: {e}");
        for n in names {
            assert!(
                documented.contains(&n),
                "`{n}` in `{e}` is not a documented metric"
            );
            used.insert(n);
        }
    }
    let unused: Vec<_> = documented.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "documented metrics the dashboard never shows: {unused:?}"
    );
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = repo_file("deploy/systemd/moat.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/moat "));
    assert!(unit.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
    assert!(unit.contains("io_uring_setup io_uring_enter io_uring_register"));
    // verify checks that ExecStart names an executable: point it at the built binary.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("moat.service");
    let binary = moat_tests::harness::moat_binary();
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/moat", &binary.display().to_string()),
    )
    .expect("unit written");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (Debian package systemd)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("moat.service:"),
        "no complaints about the unit: {text}"
    );
}

#[test]
fn the_seccomp_profile_allows_io_uring_and_denies_by_default() {
    let profile: Value =
        serde_json::from_str(&repo_file("deploy/seccomp-io_uring.json")).expect("profile is JSON");
    assert_eq!(
        profile["defaultAction"], "SCMP_ACT_ERRNO",
        "not `unconfined`"
    );
    let allowed: BTreeSet<String> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW" && rule.get("args").is_none())
        .flat_map(|rule| rule["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    // What glommio, tokio and SQLite call on x86_64.
    for needed in [
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "mlock",
        "mmap",
        "munmap",
        "epoll_wait",
        "epoll_ctl",
        "futex",
        "sched_setaffinity",
        "fsync",
        "fdatasync",
        "rename",
        "openat",
        "accept4",
        "clone3",
        "eventfd2",
        "timerfd_create",
        "getrandom",
        "statx",
    ] {
        assert!(allowed.contains(needed), "{needed} is not allowed");
    }
    // No typos: every name is one this machine's kernel headers know, a 32-bit or ARM variant
    // for the sub-architectures, or a call newer than Debian 12's headers.
    let headers = std::fs::read_to_string("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
        .expect("linux-libc-dev headers (build-essential)");
    let known: BTreeSet<&str> = headers
        .lines()
        .filter_map(|l| l.strip_prefix("#define __NR_"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    const OTHER_ARCH_OR_NEWER: &[&str] = &[
        "ipc",
        "mmap2",
        "recv",
        "send",
        "sigprocmask",
        "sigreturn",
        "socketcall",
        "ugetrlimit",
        "waitpid",
        "fchmodat2",
        "futex_requeue",
        "futex_wait",
        "futex_wake",
        "map_shadow_stack",
    ];
    let unknown: Vec<&String> = allowed
        .iter()
        .filter(|n| !known.contains(n.as_str()) && !OTHER_ARCH_OR_NEWER.contains(&n.as_str()))
        .filter(|n| !(n.ends_with("32") || n.ends_with("64") || n.starts_with('_')))
        .collect();
    assert!(unknown.is_empty(), "not syscall names: {unknown:?}");
}

/// A public clone has nothing beside it: no tracked file may name a path outside the
/// repository (the material once read from a sibling folder is fetched by `tests/run.sh` or kept
/// in `tests/corpora/`). `.ci/run` also runs the test command in a fresh clone to prove it.
#[test]
fn no_file_names_a_path_outside_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The tracked files; without git (an exported tree), every file but build output.
    let listed = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z"])
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let paths: Vec<std::path::PathBuf> = match listed {
        Some(out) => out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
            .collect(),
        None => {
            let mut found = Vec::new();
            let mut dirs = vec![root.clone()];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let path = entry.path();
                    let name = entry.file_name();
                    if path.is_dir() {
                        if name != "target" && name != ".git" && name != "node_modules" {
                            dirs.push(path);
                        }
                    } else {
                        found.push(path);
                    }
                }
            }
            found
        }
    };
    // Spelled in two pieces so this file does not name it either.
    let sibling = format!("../{}", "shared");
    let mut offenders = Vec::new();
    let mut checked = 0;
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        checked += 1;
        if bytes
            .windows(sibling.len())
            .any(|w| w == sibling.as_bytes())
        {
            offenders.push(path.display().to_string());
        }
    }
    assert!(checked > 100, "only {checked} files were read");
    assert!(
        offenders.is_empty(),
        "files naming {sibling}: {offenders:?}"
    );
}
