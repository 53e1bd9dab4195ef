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

    // Customer names: no sandbox separator (`acme:test` would reach acme's sandbox row and
    // come out a live token for acme), and a typo is an error, never a new customer.
    let err = moat_fails(&config, &["token", "create", "--customer", "acme:test"]);
    assert!(err.contains("not a customer name"), "{err}");
    let err = moat_fails(&config, &["quarantine", "list", "--customer", "acme-typo"]);
    assert!(err.contains("no customer named acme-typo"), "{err}");
    let err = moat_fails(&config, &["domain", "list", "--customer", "acme-typo"]);
    assert!(err.contains("no customer named"), "{err}");

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
    // The verdict, then a finding per line: score (or severity), rule, what matched, and the
    // spam rules that added up under the threshold (no Date, From or Message-ID).
    assert!(human.contains(": quarantine (policy)"), "{human}");
    assert!(human.contains("sa.MISSING_DATE"), "{human}");
    assert!(
        human
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("crypto")),
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

#[test]
fn spam_train_learns_folders_and_mbox_and_check_uses_the_model() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("moat.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[spamassassin]\ncache_dir = \"{}\"\n",
            dir.path().join("data").display(),
            moat_tests::harness::sa_cache().display()
        ),
    )
    .expect("config");
    assert!(moat(&config, &["spam", "status"]).contains("no spam model"));
    // Spam as a folder of message files (plus a JSON index that is not mail), ham as an mbox.
    let spam = dir.path().join("spam");
    std::fs::create_dir(&spam).expect("dir");
    std::fs::write(spam.join("index.json"), "{\"count\": 60}\n").expect("write");
    let mut mbox = String::new();
    for i in 0..60 {
        std::fs::write(
            spam.join(format!("{i}.eml")),
            format!("From: s{i}@pills.test\nSubject: cheap pills {i}\n\nCheap pills, no prescription needed, order today {i}\n"),
        )
        .expect("write");
        mbox.push_str(&format!(
            "From colleague@acme.example Mon Jan  1 00:00:00 2024\nFrom: colleague@acme.example\nSubject: sprint {i}\n\nThe sprint review notes are in the wiki {i}\n\n"
        ));
    }
    let ham = dir.path().join("ham.mbox");
    std::fs::write(&ham, mbox).expect("write");
    let out = moat(
        &config,
        &[
            "spam",
            "train",
            "--spam",
            spam.to_str().unwrap_or_default(),
            "--ham",
            ham.to_str().unwrap_or_default(),
        ],
    );
    assert!(out.contains("learnt 60 spam"), "{out}");
    assert!(out.contains("learnt 60 ham"), "{out}");
    assert!(moat(&config, &["spam", "status"]).contains("60 spam, 60 ham"));
    let msg = dir.path().join("msg.eml");
    std::fs::write(
        &msg,
        "From: x@pills.test\nTo: bob@acme.example\nSubject: pills\nDate: Tue, 14 Nov 2023 10:00:00 +0000\nMessage-ID: <a@pills.test>\n\nCheap pills, no prescription needed\n",
    )
    .expect("write");
    let report = moat(&config, &["check", msg.to_str().unwrap_or_default()]);
    let report: serde_json::Value = serde_json::from_str(&report).expect("json");
    assert_eq!(report["verdict"], "quarantine", "{report}");
    assert_eq!(report["threat_type"], "spam", "{report}");
    // A damaged model is refused with a clear error.
    std::fs::write(dir.path().join("data/spam-model.rkyv"), b"garbage").expect("write");
    let err = moat_fails(&config, &["spam", "status"]);
    assert!(err.contains("not a valid model file"), "{err}");
}

/// TOK-7: a token never appears in Moat's logs, whatever is done with it (used, mistyped,
/// put in the URL, revoked), even at debug level.
#[test]
fn tokens_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("dir");
    let api_port = moat_tests::harness::free_port();
    let smtp_port = moat_tests::harness::free_port();
    let config = moat_tests::process::write_config(dir.path(), smtp_port, api_port);
    let token = moat(&config, &["token", "create", "--customer", "acme"])
        .trim()
        .to_string();
    let log = dir.path().join("moat.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut child = std::process::Command::new(moat_binary())
        .arg("--config")
        .arg(&config)
        .arg("api")
        .env("RUST_LOG", "debug")
        .stdout(log_file.try_clone().expect("clone"))
        .stderr(log_file)
        .spawn()
        .expect("moat api starts");
    let base = format!("http://127.0.0.1:{api_port}");
    moat_tests::eventually(20, "API answers", || {
        ureq::get(&format!("{base}/v1/me"))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .map_err(|e| e.to_string())
    });
    let mistyped = format!("{}x", &token[..token.len() - 1]);
    let (_, created) = {
        let r = ureq::post(&format!("{base}/v1/tokens"))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({"scope": "read_only"}))
            .expect("token created");
        (
            r.status(),
            r.into_json::<serde_json::Value>().expect("json"),
        )
    };
    let second = created["token"].as_str().unwrap_or_default().to_string();
    for (auth, url) in [
        (mistyped.clone(), format!("{base}/v1/me")),
        (token.clone(), format!("{base}/v1/me?api_key={token}")),
        (second.clone(), format!("{base}/v1/domains")),
        (second.clone(), format!("{base}/v1/tokens")),
    ] {
        let _ = ureq::get(&url)
            .set("Authorization", &format!("Bearer {auth}"))
            .call();
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = moat_tests::eventually(20, "moat api exits", || {
        child
            .try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "still running".to_string())
    });
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.len() > 100, "the log says something: {text}");
    for secret in [&token, &mistyped, &second] {
        // The random part identifies a token; the display prefix (14 characters) may appear.
        assert!(
            !text.contains(&secret[14..]),
            "a token reached the log:\n{text}"
        );
    }
}

/// A CA and a `localhost` certificate it signed, as PEM files `<stem>-ca.pem`, `<stem>.pem`
/// and `<stem>-key.pem` in `dir`.
fn pki(dir: &std::path::Path, stem: &str) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("Moat test CA {stem}"));
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &issuer).expect("cert");
    std::fs::write(dir.join(format!("{stem}-ca.pem")), ca_cert.pem()).expect("write");
    std::fs::write(dir.join(format!("{stem}.pem")), cert.pem()).expect("write");
    std::fs::write(dir.join(format!("{stem}-key.pem")), key.serialize_pem()).expect("write");
}

/// `curl` over HTTPS trusting only `ca`; the response headers, or why it failed.
fn curl_https(port: u16, ca: &std::path::Path) -> Result<String, String> {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--max-time",
            "5",
            "--cacert",
        ])
        .arg(ca)
        .arg(format!("https://localhost:{port}/v1/openapi.json"))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_lowercase())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[test]
fn the_api_serves_https_with_hsts_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().expect("dir");
    pki(dir.path(), "first");
    pki(dir.path(), "second");
    let (cert, key) = (dir.path().join("api.pem"), dir.path().join("api-key.pem"));
    std::fs::copy(dir.path().join("first.pem"), &cert).expect("copy");
    std::fs::copy(dir.path().join("first-key.pem"), &key).expect("copy");
    let api_port = moat_tests::harness::free_port();
    let smtp_port = moat_tests::harness::free_port();
    let config = moat_tests::process::write_config(dir.path(), smtp_port, api_port);
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "[api]\n",
            &format!(
                "[api]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                cert.display(),
                key.display()
            ),
        ),
    )
    .expect("config");
    let child = std::process::Command::new(moat_binary())
        .arg("--config")
        .arg(&config)
        .arg("api")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moat api starts");
    let _running = moat_tests::process::Running(child);
    let pid = _running.0.id().to_string();
    let first_ca = dir.path().join("first-ca.pem");
    let second_ca = dir.path().join("second-ca.pem");
    let headers = moat_tests::eventually(20, "HTTPS answers", || curl_https(api_port, &first_ca));
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    assert!(
        headers.contains("strict-transport-security: max-age=31536000"),
        "{headers}"
    );
    // Plain HTTP on the TLS port gets nowhere.
    assert!(
        ureq::get(&format!("http://127.0.0.1:{api_port}/v1/openapi.json"))
            .call()
            .is_err()
    );
    assert!(curl_https(api_port, &second_ca).is_err());
    // A renewed certificate is taken on SIGHUP, without a restart.
    std::fs::copy(dir.path().join("second.pem"), &cert).expect("copy");
    std::fs::copy(dir.path().join("second-key.pem"), &key).expect("copy");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    moat_tests::eventually(20, "the new certificate is served", || {
        curl_https(api_port, &second_ca)
    });
    assert!(curl_https(api_port, &first_ca).is_err());
}

/// README's "First steps once it runs", run as written: the block is taken from README.md and
/// run by bash against a running `moat up`; only the binary's path and the two ports differ
/// (a test may not take 2525 and 8080), and the config comes from `MOAT_CONFIG` as a user's
/// would. Each step must succeed, and the steps must do what the README says they do.
#[test]
fn readme_first_steps_run_as_written() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let block = readme
        .split_once("## First steps once it runs")
        .and_then(|(_, rest)| rest.split_once("```sh\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README has a first-steps block");
    assert!(block.starts_with("moat=./target/release/moat\n"), "{block}");
    assert!(block.contains("127.0.0.1:2525") && block.contains("127.0.0.1:8080"));

    let dir = tempfile::tempdir().expect("tmp");
    let (smtp_port, api_port) = (
        moat_tests::harness::free_port(),
        moat_tests::harness::free_port(),
    );
    let config = moat_tests::process::write_config(dir.path(), smtp_port, api_port);
    // The reloader's own tick is pushed out of reach: the policy the README creates must be in
    // force when the API answers (read-your-writes under `moat up`), not on the next tick.
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace("reload_interval_ms = 50", "reload_interval_ms = 600000"),
    )
    .expect("config");
    let _running = up(&config);
    moat_tests::eventually(30, "the API answers", || {
        std::net::TcpStream::connect(("127.0.0.1", api_port))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    moat_tests::eventually(30, "SMTP answers", || {
        std::net::TcpStream::connect(("127.0.0.1", smtp_port))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let script = block
        .replacen(
            "moat=./target/release/moat",
            &format!("moat={}", moat_binary().display()),
            1,
        )
        .replace("127.0.0.1:2525", &format!("127.0.0.1:{smtp_port}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{api_port}"));
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("MOAT_CONFIG", &config)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README's first steps failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // /v1/me names the customer; the policy was created; the offline check quarantines the
    // bitcoin message by that policy; the summary counted the two sample messages.
    assert!(stdout.contains("\"acme\""), "{stdout}");
    assert!(
        stdout.contains("\"name\": \"crypto\"") || stdout.contains("\"name\":\"crypto\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"quarantine\""), "{stdout}");
    assert!(stdout.contains("2 messages:"), "{stdout}");
    // The message swaks sent is quarantined by the new policy.
    moat_tests::eventually(20, "the swaks message in quarantine", || {
        let listing = moat(&config, &["quarantine", "list", "--customer", "acme"]);
        if listing.contains("free bitcoin") {
            Ok(())
        } else {
            Err(listing)
        }
    });
}

/// Logs: plain text (no colour codes) when standard error is not a terminal, and with
/// `log.format = "json"` one JSON object per line whose fields a log shipper indexes: the
/// judged message's queue id, client IP and verdicts.
#[test]
fn logs_are_plain_off_a_terminal_and_json_when_asked() {
    for json in [false, true] {
        let dir = tempfile::tempdir().expect("tmp");
        let sink = Sink::start();
        let (config, smtp) = setup(dir.path(), &sink);
        if json {
            let mut text = std::fs::read_to_string(&config).expect("config");
            text.push_str("[log]\nformat = \"json\"\n");
            std::fs::write(&config, text).expect("config");
        }
        let log_path = dir.path().join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = std::process::Command::new(moat_binary())
            .arg("--config")
            .arg(&config)
            .arg("up")
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("moat up starts");
        let _running = moat_tests::process::Running(child);
        wait_until_accepting(smtp, "bob@acme.example");
        let msg =
            b"From: m@sender.test\r\nTo: bob@acme.example\r\nSubject: log me\r\n\r\nhello\r\n";
        let reply = smtplib_send(smtp, "m@sender.test", &["bob@acme.example"], msg);
        assert!(reply.starts_with("250"), "{reply}");
        let judged = moat_tests::eventually(20, "a 'message judged' log line", || {
            let text = std::fs::read_to_string(&log_path).map_err(|e| e.to_string())?;
            text.lines()
                .find(|l| l.contains("message judged"))
                .map(str::to_string)
                .ok_or(text)
        });
        let text = std::fs::read_to_string(&log_path).expect("log");
        assert!(!text.contains('\u{1b}'), "colour codes in a file: {text}");
        if json {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
                assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
            }
            let v: serde_json::Value = serde_json::from_str(&judged).expect("json");
            assert_eq!(v["client_ip"], "127.0.0.1", "{judged}");
            assert!(
                v["queue_id"].as_str().is_some_and(|q| q.len() >= 8),
                "{judged}"
            );
            assert!(
                v["verdicts"]
                    .as_str()
                    .is_some_and(|s| s.contains("deliver")),
                "{judged}"
            );
        } else {
            assert!(judged.contains("client_ip=127.0.0.1"), "{judged}");
        }
    }
}
