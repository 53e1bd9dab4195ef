//! The admin's command line, run as a user would: the real `moat` binary against a running
//! `moat up` on the same data directory.

use moat_tests::{
    client::smtplib_send,
    harness::{moat_binary, wait_until_accepting},
    process::{moat, setup, up},
    sink::Sink,
};

fn moat_fails(config: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(moat_binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("moat runs");
    assert!(!out.status.success(), "moat {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn admin_commands_check_configs_list_and_release_quarantine() {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = Sink::start();
    let (config, smtp) = setup(dir.path(), &sink);

    // config check: effective values printed; a bad key is named.
    let effective = moat(&config, &["config", "check"]);
    assert!(effective.contains("max_recipients = 100"), "{effective}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[smtp]\nlisten_port = 25\n").expect("write");
    let err = moat_fails(&bad, &["config", "check"]);
    assert!(err.contains("listen_port"), "{err}");
    assert!(moat(&config, &["migrate"]).contains("schema is current"));

    // A policy from a file, validated first.
    let policy = dir.path().join("crypto.json");
    std::fs::write(
        &policy,
        r#"{"name": "crypto", "condition": {"subject_contains": ["bitcoin"]}, "action": "quarantine"}"#,
    )
    .expect("write");
    assert!(
        moat(
            &config,
            &["policy", "validate", policy.to_str().unwrap_or_default()]
        )
        .contains("compiles")
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"name": "x", "condition": {"any": []}, "action": "reject"}"#,
    )
    .expect("write");
    let err = moat_fails(
        &config,
        &["policy", "validate", broken.to_str().unwrap_or_default()],
    );
    assert!(err.contains("empty list"), "{err}");
    moat(
        &config,
        &[
            "policy",
            "add",
            policy.to_str().unwrap_or_default(),
            "--customer",
            "acme",
        ],
    );

    // Offline check, human and JSON.
    let eml = dir.path().join("spam.eml");
    std::fs::write(
        &eml,
        "To: bob@acme.example\r\nSubject: Free Bitcoin\r\n\r\nhi\r\n",
    )
    .expect("write");
    let human = moat(
        &config,
        &["check", eml.to_str().unwrap_or_default(), "--human"],
    );
    assert!(
        human.contains("quarantine") && human.contains("crypto matched"),
        "{human}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&moat(&config, &["check", eml.to_str().unwrap_or_default()]))
            .expect("JSON");
    assert_eq!(json["verdict"], "quarantine");

    // Live: quarantine a message, list it, release it from the command line.
    let _server = up(&config);
    wait_until_accepting(smtp, "bob@acme.example");
    let msg = b"From: a@sender.test\r\nSubject: Free Bitcoin now\r\n\r\nsend coins\r\n";
    assert!(smtplib_send(smtp, "m@sender.test", &["bob@acme.example"], msg).starts_with("250"));
    let listed = moat(
        &config,
        &[
            "quarantine",
            "list",
            "--customer",
            "acme",
            "--status",
            "quarantined",
        ],
    );
    let id = listed
        .split('\t')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(
        listed.contains("Free Bitcoin now") && !id.is_empty(),
        "{listed}"
    );
    assert!(
        moat(
            &config,
            &["quarantine", "release", &id, "--customer", "acme"]
        )
        .contains("released")
    );
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0].data).contains("send coins"));
    assert!(
        moat(
            &config,
            &["quarantine", "release", &id, "--customer", "acme"]
        )
        .contains("already released")
    );
    let err = moat_fails(
        &config,
        &["quarantine", "release", "nope", "--customer", "acme"],
    );
    assert!(err.contains("no quarantined message"), "{err}");
}

/// `moat api` serves the REST API alone (an API host of a cluster) on the same store, and
/// stops cleanly on SIGTERM.
#[test]
fn moat_api_serves_the_api_alone_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let api_port = moat_tests::harness::free_port();
    let smtp_port = moat_tests::harness::free_port();
    let config = moat_tests::process::write_config(dir.path(), smtp_port, api_port);
    let token = moat(&config, &["token", "create", "--customer", "acme"]);
    let mut child = std::process::Command::new(moat_binary())
        .arg("--config")
        .arg(&config)
        .arg("api")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moat api starts");
    let me = moat_tests::eventually(20, "API answers", || {
        ureq::get(&format!("http://127.0.0.1:{api_port}/v1/me"))
            .set("Authorization", &format!("Bearer {}", token.trim()))
            .call()
            .map_err(|e| e.to_string())
    });
    assert_eq!(me.status(), 200);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err(),
        "no SMTP listener in API-only mode"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = moat_tests::eventually(20, "moat api exits", || {
        child
            .try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "still running".to_string())
    });
    assert!(exit.success(), "{exit:?}");
}
