//! A cluster on one machine: one `moat up` (the scanner, its own dispatcher switched off) and
//! two `moat api` hosts, three processes on one SQLite store, on loopback ports. Checks what
//! must not depend on which host answered: one token's minute budget holds across both API
//! hosts, exactly one host dispatches webhooks and another takes over when it dies (no event
//! lost, none delivered twice), and mail quarantined by the scanner is released through
//! either API host.

use std::{
    collections::HashMap,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use moat_tests::{
    client::smtplib_send,
    eventually,
    harness::{free_port, moat_binary},
    process::{Running, moat, setup},
    receiver::Receiver,
    sink::Sink,
    within_one_minute_window,
};
use serde_json::{Value, json};

const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// A copy of `config` for another host: its own API port, webhooks on or off.
fn host_config(config: &Path, name: &str, api_port: u16, webhooks: bool) -> std::path::PathBuf {
    let text = std::fs::read_to_string(config).expect("config");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("listen = \"127.0.0.1:") && out.contains("[api]") {
            out.push_str(&format!("listen = \"127.0.0.1:{api_port}\"\n"));
            out.push_str(&format!(
                "webhooks = {webhooks}\nwebhook_allow_private_targets = true\n"
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = config.with_file_name(format!("{name}.toml"));
    std::fs::write(&path, out).expect("host config");
    path
}

/// Starts `moat <command>` with its log (info) in `<dir>/<name>.log`.
fn start(config: &Path, command: &str, name: &str) -> Running {
    let log = std::fs::File::create(config.with_file_name(format!("{name}.log"))).expect("log");
    Running(
        Command::new(moat_binary())
            .arg("--config")
            .arg(config)
            .arg(command)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("moat starts"),
    )
}

fn call(api: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let req = ureq::request(method, &format!("http://127.0.0.1:{api}{path}"))
        .set("Authorization", &format!("Bearer {token}"));
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match res {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => (0, json!(e.to_string())),
    }
}

fn spam(smtp: std::net::SocketAddr, n: usize) {
    let msg = format!(
        "From: Mallory <mallory@sender.test>\r\nTo: bob@acme.example\r\nSubject: cluster {n}\r\n\
         Message-ID: <cluster-{n}@sender.test>\r\n\r\n{GTUBE}\r\n"
    );
    let reply = smtplib_send(
        smtp,
        "mallory@sender.test",
        &["bob@acme.example"],
        msg.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
}

/// Delivery id → how many times the receiver got it, for one event type.
fn deliveries(receiver: &Receiver, event: &str) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for hit in receiver.of_type(event) {
        *seen
            .entry(hit.header("moat-delivery").unwrap_or_default().to_string())
            .or_insert(0) += 1;
    }
    seen
}

#[test]
fn api_hosts_share_budgets_one_dispatcher_and_the_quarantine() {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = Sink::start();
    let (config, smtp) = setup(dir.path(), &sink);
    let (api_b, api_c) = (free_port(), free_port());
    let scanner = host_config(&config, "scanner", free_port(), false);
    let host_b = host_config(&config, "b", api_b, true);
    let host_c = host_config(&config, "c", api_c, true);
    let _scanner = start(&scanner, "up", "scanner");
    let mut b = Some(start(&host_b, "api", "b"));
    let mut c = Some(start(&host_c, "api", "c"));
    let token = moat(&config, &["token", "create", "--customer", "acme"])
        .trim()
        .to_string();
    let other = moat(&config, &["token", "create", "--customer", "acme"])
        .trim()
        .to_string();
    eventually(60, "the scanner takes SMTP connections", || {
        std::net::TcpStream::connect(smtp)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    for api in [api_b, api_c] {
        eventually(30, "API host answers", || {
            ureq::get(&format!("http://127.0.0.1:{api}/v1/openapi.json"))
                .call()
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }

    // 200 requests at once with one token, spread over both hosts: the minute's 60, once.
    within_one_minute_window(30);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let (token, barrier) = (token.clone(), barrier.clone());
            let api = if i % 2 == 0 { api_b } else { api_c };
            std::thread::spawn(move || {
                barrier.wait();
                call(api, "GET", "/v1/me", &token, None).0
            })
        })
        .collect();
    let codes: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap_or(0)).collect();
    let ok = codes.iter().filter(|c| **c == 200).count();
    let limited = codes.iter().filter(|c| **c == 429).count();
    assert_eq!((ok, limited), (60, 140), "{codes:?}");

    // One dispatcher for the cluster: events of mail the scanner quarantines arrive once.
    let receiver = Receiver::start();
    let (status, hook) = call(
        api_b,
        "POST",
        "/v1/webhooks",
        &other,
        Some(json!({"url": format!("http://{}/hook", receiver.addr),
                    "events": ["threat.quarantined"]})),
    );
    assert_eq!(status, 201, "{hook}");
    for n in 0..3 {
        spam(smtp, n);
    }
    eventually(30, "three events delivered", || {
        let seen = deliveries(&receiver, "threat.quarantined");
        (seen.len() == 3).then_some(()).ok_or(format!("{seen:?}"))
    });
    // Whichever API host holds the dispatcher's lease is killed; the other takes over.
    let holds = |name: &str| {
        std::fs::read_to_string(dir.path().join(format!("{name}.log")))
            .unwrap_or_default()
            .contains("this host now runs the webhook dispatcher")
    };
    let (holder, survivor) = if holds("b") {
        (b.take(), api_c)
    } else {
        assert!(holds("c"), "one of the API hosts runs the dispatcher");
        (c.take(), api_b)
    };
    drop(holder);
    for n in 3..6 {
        spam(smtp, n);
    }
    eventually(45, "the other host delivers the rest", || {
        let seen = deliveries(&receiver, "threat.quarantined");
        (seen.len() == 6).then_some(()).ok_or(format!("{seen:?}"))
    });
    std::thread::sleep(Duration::from_secs(2));
    let seen = deliveries(&receiver, "threat.quarantined");
    assert_eq!(seen.len(), 6);
    assert!(
        seen.values().all(|n| *n == 1),
        "an event delivered twice: {seen:?}"
    );

    // Quarantined by the scanner, released through the surviving API host.
    let (status, list) = call(survivor, "GET", "/v1/quarantine", &other, None);
    assert_eq!(status, 200, "{list}");
    let id = list["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, released) = call(
        survivor,
        "POST",
        &format!("/v1/quarantine/{id}/release"),
        &other,
        None,
    );
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["status"], "released");
    assert_eq!(sink.wait_for(1, 15).len(), 1);
}
