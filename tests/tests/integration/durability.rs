//! "Once Moat has answered 250, the message is never lost": the real `moat` binary is killed
//! with SIGKILL while it holds accepted mail, restarted, and every accepted message must reach
//! the downstream server.

use std::{
    collections::BTreeSet,
    process::Command,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use moat_tests::{
    client::Conversation,
    harness::wait_until_accepting,
    process::{Running, setup, up},
    sink::{Sink, SinkMode},
};

/// Sends one message on an open session; true on 250.
fn send(c: &mut Conversation, n: usize) -> Option<bool> {
    if !c.try_send(
        "MAIL FROM:<a@sender.test>
RCPT TO:<bob@acme.example>
DATA
",
    ) {
        return None;
    }
    for _ in 0..2 {
        if !c.read_reply().starts_with("250") {
            return None;
        }
    }
    if !c.read_reply().starts_with("354") {
        return None;
    }
    if !c.try_send(&format!(
        "From: a@sender.test\r\nSubject: msg {n}\r\n\r\nbody of message {n}\r\n.\r\n"
    )) {
        return None;
    }
    let reply = c.read_reply();
    if reply.is_empty() {
        return None;
    }
    Some(reply.starts_with("250"))
}

fn subjects(sink: &Sink) -> BTreeSet<usize> {
    sink.messages()
        .iter()
        .filter_map(|m| {
            let text = String::from_utf8_lossy(&m.data);
            text.split("Subject: msg ")
                .nth(1)
                .and_then(|r| r.split("\r\n").next())
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

fn wait_for_all(sink: &Sink, accepted: &BTreeSet<usize>, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = subjects(sink);
        let missing: Vec<_> = accepted.difference(&got).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "accepted but never delivered: {missing:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn spooled_mail_survives_sigkill_while_the_real_server_is_down() {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = Sink::start();
    sink.set_mode(SinkMode::TempFail);
    let (config, smtp) = setup(dir.path(), &sink);

    let server = up(&config);
    wait_until_accepting(smtp, "bob@acme.example");
    let mut c = Conversation::connect(smtp);
    c.expect("220");
    c.send("EHLO client.test\r\n");
    c.expect("250");
    let mut accepted = BTreeSet::new();
    for n in 0..20 {
        assert_eq!(send(&mut c, n), Some(true), "message {n}");
        accepted.insert(n);
    }
    drop(server); // SIGKILL, with 20 accepted messages undelivered.
    assert!(sink.messages().is_empty());

    sink.set_mode(SinkMode::Accept);
    let _server = up(&config);
    wait_for_all(&sink, &accepted, 60);
}

#[test]
fn sigkill_mid_load_loses_nothing_that_got_250() {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = Sink::start();
    let (config, smtp) = setup(dir.path(), &sink);

    let server = up(&config);
    wait_until_accepting(smtp, "bob@acme.example");
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let mut senders = Vec::new();
    for t in 0..4usize {
        let accepted = accepted.clone();
        senders.push(thread::spawn(move || {
            let mut c = Conversation::connect(smtp);
            if !c.read_reply().starts_with("220") || !c.try_send("EHLO client.test\r\n") {
                return;
            }
            c.read_reply();
            for i in 0..500 {
                let n = t * 1000 + i;
                match send(&mut c, n) {
                    Some(true) => {
                        accepted.lock().unwrap_or_else(|p| p.into_inner()).insert(n);
                    }
                    Some(false) => {}
                    None => return,
                }
            }
        }));
    }
    // Kill once some mail is accepted and while more is in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while accepted.lock().unwrap_or_else(|p| p.into_inner()).len() < 100 {
        assert!(Instant::now() < deadline, "load never got going");
        thread::sleep(Duration::from_millis(10));
    }
    drop(server);
    for s in senders {
        let _ = s.join();
    }
    let accepted = accepted.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(accepted.len() >= 100);

    let _server = up(&config);
    wait_for_all(&sink, &accepted, 120);
}

fn signal(server: &Running, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.0.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn sighup_reloads_and_sigterm_drains_sessions_then_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = Sink::start();
    let (config, smtp) = setup(dir.path(), &sink);
    let mut server = up(&config);
    wait_until_accepting(smtp, "bob@acme.example");

    signal(&server, "HUP");
    thread::sleep(Duration::from_millis(300));
    assert!(
        server.0.try_wait().expect("status").is_none(),
        "SIGHUP must not stop Moat"
    );
    wait_until_accepting(smtp, "bob@acme.example");

    // A transaction in flight when SIGTERM arrives may finish within the grace period.
    let mut c = Conversation::connect(smtp);
    c.expect("220");
    c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("250");
    c.send("DATA\r\n");
    c.expect("354");
    signal(&server, "TERM");
    thread::sleep(Duration::from_millis(500));
    assert!(
        std::net::TcpStream::connect(smtp).is_err(),
        "no new connections once shutting down"
    );
    c.send("From: a@sender.test\r\nSubject: msg 7\r\n\r\nin flight at SIGTERM\r\n.\r\n");
    c.expect("250");
    c.send("QUIT\r\n");
    c.expect("221");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("status") {
            break status;
        }
        assert!(Instant::now() < deadline, "Moat did not exit after SIGTERM");
        thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit: {status:?}");
    // Accepted before exit: delivered, or still spooled for the next start.
    let spooled = std::fs::read_dir(dir.path().join("data/spool/queue"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        subjects(&sink).contains(&7) || spooled == 1,
        "the accepted message is kept"
    );
}
