//! Hostile SMTP input (the reliability checklist's sections B to F: smuggling, pipelining,
//! STARTTLS injection, limits, slow clients, bombs): each test sends
//! the attack bytes and checks the exact reply and that nothing slipped through to the sink.

use std::time::Duration;

use moat_core::model::TokenKind;
use moat_tests::{
    client::{Conversation, python, smtplib_send},
    eventually,
    harness::Moat,
};

fn open_data(c: &mut Conversation) {
    c.expect("220");
    c.send("EHLO client.test\r\n");
    c.expect("250");
    c.send("MAIL FROM:<a@sender.test>\r\n");
    c.expect("250");
    c.send("RCPT TO:<bob@acme.example>\r\n");
    c.expect("250");
    c.send("DATA\r\n");
    c.expect("354");
}

const SMUGGLED: &[u8] = b"MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<bob@acme.example>\r\nDATA\r\n\
From: ceo@victim.example\r\n\r\nsmuggled\r\n.\r\n";

#[test]
fn smtp_smuggling_endings_never_inject_a_second_message() {
    let (moat, sink) = Moat::protected(|_| {});
    let endings: [&[u8]; 10] = [
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\r",
        b"\r.\n",
        b"\n.\r",
        b"\r\n.\n",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n\x00.\r\n",
        b"\r\r\n.\r\r\n",
    ];
    for (i, ending) in endings.iter().enumerate() {
        let mut c = Conversation::connect(moat.smtp);
        open_data(&mut c);
        let mut attack = b"From: a@sender.test\r\nSubject: innocent\r\n\r\nfirst message".to_vec();
        attack.extend_from_slice(ending);
        attack.extend_from_slice(SMUGGLED);
        c.send_bytes(&attack);
        let reply = c.expect("550 5.6.0");
        assert!(
            !reply.contains('\n') || reply.lines().count() == 1,
            "SMUG-{}: one reply: {reply:?}",
            i + 1
        );
        // The session goes on and a clean message still works.
        c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\nDATA\r\n");
        c.expect("250");
        c.expect("250");
        c.expect("354");
        c.send("From: a@sender.test\r\nSubject: clean\r\n\r\nok\r\n.\r\n");
        c.expect("250");
        c.send("QUIT\r\n");
        c.expect("221");
    }
    let got = sink.wait_for(endings.len(), 10);
    assert_eq!(got.len(), endings.len());
    for m in &got {
        assert_eq!(m.mail_from, "a@sender.test", "no smuggled envelope");
        assert!(!String::from_utf8_lossy(&m.data).contains("smuggled"));
    }
}

#[test]
fn bare_line_feed_in_headers_is_refused() {
    let (moat, sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    open_data(&mut c);
    c.send_bytes(b"From: a@sender.test\r\nSubject: x\nX-Other: y\r\n\r\nbody\r\n.\r\n");
    c.expect("550 5.6.0");
    assert!(sink.messages().is_empty());
}

#[test]
fn content_pipelined_before_354_ends_the_session() {
    let (moat, sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send(
        "EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\n\
DATA\r\nFrom: ceo@victim.example\r\n\r\nsmuggled\r\n.\r\n",
    );
    c.expect("250");
    c.expect("250");
    c.expect("250");
    c.expect("554 5.5.0");
    assert!(c.closed());
    std::thread::sleep(Duration::from_millis(200));
    assert!(sink.messages().is_empty());
}

#[test]
fn sender_specified_routing_is_refused() {
    let (moat, _sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n");
    c.expect("250");
    c.expect("250");
    for rcpt in [
        "x%evil.test@acme.example",
        "evil.test!x@acme.example",
        "\"x@evil.test\"@acme.example",
        "x@evil.test@acme.example",
        "x@[192.0.2.1]",
        "x@acme.example.evil.test",
    ] {
        c.send(&format!("RCPT TO:<{rcpt}>\r\n"));
        let reply = c.read_reply();
        assert!(
            reply.starts_with("550 5.7.1") || reply.starts_with("501"),
            "{rcpt}: {reply}"
        );
    }
    // Canonical forms of the protected domain are accepted.
    for rcpt in ["x@ACME.EXAMPLE", "x@acme.example."] {
        c.send(&format!("RCPT TO:<{rcpt}>\r\n"));
        c.expect("250");
    }
}

#[test]
fn bdat_chunks_are_taken_verbatim_and_limits_hold() {
    let (moat, sink) = Moat::protected(|c| c.smtp.max_message_size = 4000);
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("EHLO client.test\r\n");
    assert!(c.expect("250").contains("CHUNKING"));
    // BDAT with no transaction: the chunk is read and dropped, then 503.
    c.send("BDAT 5\r\nhello");
    c.expect("503 5.5.1");
    c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\n");
    c.expect("250");
    c.expect("250");
    // A chunk holding CRLF.CRLF is data, not an end of message.
    let chunk = b"From: a@sender.test\r\nSubject: bdat\r\n\r\nline one\r\n.\r\nline two\r\n";
    c.send(&format!("BDAT {}\r\n", chunk.len()));
    c.send_bytes(chunk);
    c.expect("250 2.0.0");
    c.send("DATA\r\n");
    c.expect("503 5.5.1");
    c.send("BDAT 0 LAST\r\n");
    c.expect("250 2.0.0 Ok");
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].data.ends_with(chunk),
        "{}",
        String::from_utf8_lossy(&got[0].data)
    );

    // Over the size limit: the chunk is read whole, then 552, and the session goes on.
    c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\n");
    c.expect("250");
    c.expect("250");
    c.send("BDAT 5000 LAST\r\n");
    c.send(&"y".repeat(5000));
    c.expect("552 5.3.4");
    c.send("NOOP\r\n");
    c.expect("250");
    // An unparseable chunk size cannot be skipped safely: 501 and close.
    c.send("BDAT 18446744073709551616\r\n");
    c.expect("501 5.5.4");
    assert!(c.closed());
    assert_eq!(sink.messages().len(), 1);
}

/// Connects until Moat greets with 220 (earlier sessions' slots are freed asynchronously).
fn connect_greeted(addr: std::net::SocketAddr) -> Conversation {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Conversation::connect(addr);
        let greeting = c.read_reply();
        if greeting.starts_with("220") {
            return c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never greeted: {greeting}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn connections_over_the_per_ip_limit_get_421() {
    let (moat, _sink) = Moat::protected(|c| c.smtp.max_connections_per_ip = 2);
    let mut a = connect_greeted(moat.smtp);
    let mut b = connect_greeted(moat.smtp);
    let mut c = Conversation::connect(moat.smtp);
    c.expect("421 4.7.0");
    assert!(c.closed());
    a.send("QUIT\r\n");
    a.expect("221");
    assert!(a.closed());
    // The slot comes back once the session has ended.
    let _d = connect_greeted(moat.smtp);
    b.send("NOOP\r\n");
    b.expect("250");
}

#[test]
fn idle_and_slow_clients_are_cut_off_with_421() {
    let (moat, sink) = Moat::protected(|c| {
        c.smtp.idle_timeout_secs = 1;
        c.smtp.data_timeout_secs = 2;
    });
    let mut idle = Conversation::connect(moat.smtp);
    idle.expect("220");
    std::thread::sleep(Duration::from_millis(1500));
    idle.expect("421 4.4.2");
    assert!(idle.closed());

    // Slow-loris: one byte every 300 ms keeps the idle timer happy but not the DATA deadline.
    let mut slow = Conversation::connect(moat.smtp);
    open_data(&mut slow);
    let started = std::time::Instant::now();
    let mut cut = false;
    for _ in 0..40 {
        if !slow.try_send("x") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if started.elapsed() > Duration::from_millis(2500) {
            cut = true;
            break;
        }
    }
    assert!(
        cut || started.elapsed() >= Duration::from_secs(2),
        "cut off too early"
    );
    slow.expect("421 4.4.2");
    assert!(sink.messages().is_empty());
}

const STARTTLS_INJECTION: &str = r#"
import socket, ssl, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=10)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "".join(lines)
print("greeting", reply().split()[0])
s.sendall(b"EHLO client.test\r\n")
print("ehlo_has_starttls", "STARTTLS" in reply())
# The injection: a command pipelined after STARTTLS in the clear.
s.sendall(b"STARTTLS\r\nNOOP\r\n")
print("starttls", reply().split()[0])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="moat.localhost")
tf = t.makefile("rb")
def treply():
    lines = []
    while True:
        line = tf.readline().decode()
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "".join(lines)
# If the NOOP had been kept, its "250 2.0.0 Ok" would arrive before the EHLO reply.
t.sendall(b"MAIL FROM:<a@sender.test>\r\n")
print("mail_before_ehlo", treply().split()[0])
t.sendall(b"EHLO client.test\r\n")
r = treply()
print("ehlo_after_tls", r.split("\n")[0].strip(), "STARTTLS" in r)
t.sendall(b"STARTTLS\r\n")
print("double_starttls", treply().split()[0])
t.sendall(b"QUIT\r\n")
print("quit", treply().split()[0])
"#;

#[test]
fn starttls_discards_plaintext_injection_and_resets_state() {
    let (moat, _sink) = Moat::protected(|_| {});
    let out = python(STARTTLS_INJECTION, moat.smtp);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "greeting 220",
            "ehlo_has_starttls True",
            "starttls 220",
            "mail_before_ehlo 503",
            "ehlo_after_tls 250-moat.localhost False",
            "double_starttls 503",
            "quit 221",
        ],
        "{out}"
    );
}

const SMTPLIB_TLS: &str = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
s.ehlo("client.test")
s.starttls(context=ctx)
s.ehlo("client.test")
s.sendmail("a@sender.test", ["bob@acme.example"], b"From: a@sender.test\r\nSubject: over tls\r\n\r\nsecret\r\n")
print(s.sock.version())
s.quit()
"#;

#[test]
fn smtplib_delivers_over_starttls_with_the_generated_certificate() {
    let (moat, sink) = Moat::protected(|_| {});
    assert!(moat.dir.path().join("tls/cert.pem").exists());
    let out = python(SMTPLIB_TLS, moat.smtp);
    assert!(
        out.trim().starts_with("TLSv1.3") || out.trim().starts_with("TLSv1.2"),
        "{out}"
    );
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.contains("secret"));
    // The trace says the hop was encrypted, as MTAs write it (RFC 3848 ESMTPS)...
    assert!(text.contains("with ESMTPS id"), "{text}");
    assert!(text.contains("(using TLSv1."), "{text}");
    // ...and so does the verdict.
    moat.flush_verdicts();
    let token = moat.token("acme", TokenKind::Live);
    let (_, v) = moat.call("GET", "/v1/verdicts?limit=1", Some(&token), None);
    let tls = v["data"][0]["transport"]["inbound_tls"]
        .as_str()
        .unwrap_or_default();
    assert!(tls.starts_with("TLSv1."), "{v}");
}

#[test]
fn smtputf8_addresses_are_accepted_and_passed_on() {
    let (moat, sink) = Moat::protected(|_| {});
    let msg = "From: Zoë <zoë@sender.test>\r\nSubject: héllo\r\n\r\nçà va\r\n";
    let script = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
s.ehlo("client.test")
print(s.has_extn("smtputf8"))
s.sendmail("zoë@sender.test", ["bøb@acme.example"], sys.argv[3].encode(), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
s.quit()
print("sent")
"#;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &moat.smtp.ip().to_string(),
            &moat.smtp.port().to_string(),
            msg,
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("True") && text.contains("sent"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "zoë@sender.test");
    assert_eq!(got[0].rcpts, vec!["bøb@acme.example".to_string()]);
}

#[test]
fn too_many_recipients_get_452_and_earlier_ones_stand() {
    let (moat, sink) = Moat::protected(|c| c.smtp.max_recipients = 3);
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n");
    c.expect("250");
    c.expect("250");
    for i in 0..3 {
        c.send(&format!("RCPT TO:<u{i}@acme.example>\r\n"));
        c.expect("250 2.1.5");
    }
    c.send("RCPT TO:<u3@acme.example>\r\n");
    c.expect("452 4.5.3");
    c.send("DATA\r\n");
    c.expect("354");
    c.send("From: a@sender.test\r\nSubject: many\r\n\r\nhi\r\n.\r\n");
    c.expect("250");
    let got = sink.wait_for(1, 10);
    assert_eq!(got[0].rcpts.len(), 3);
}

#[test]
fn rset_and_ehlo_clear_the_transaction() {
    let (moat, _sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\nRSET\r\nDATA\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("250");
    c.expect("250 2.0.0");
    c.expect("503 5.5.1");
    c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\nEHLO again.test\r\nRCPT TO:<bob@acme.example>\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("250");
    c.expect("503 5.5.1");
}

#[test]
fn a_client_that_disconnects_mid_data_leaves_nothing_behind() {
    let (moat, sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    open_data(&mut c);
    c.send("From: a@sender.test\r\nSubject: half\r\n\r\nthis message never ends\r\n");
    drop(c);
    std::thread::sleep(Duration::from_millis(500));
    assert!(sink.messages().is_empty());
    let queue = moat.dir.path().join("spool/queue");
    assert_eq!(std::fs::read_dir(&queue).map(|d| d.count()).unwrap_or(0), 0);
    let customer = futures::executor::block_on(moat.store.ensure_customer("acme")).expect("c");
    let verdicts = futures::executor::block_on(moat.store.verdicts(
        &customer.id,
        moat_core::model::VerdictFilter {
            limit: 10,
            ..Default::default()
        },
    ))
    .expect("v");
    assert!(
        verdicts.is_empty(),
        "nothing half-written is recorded: {verdicts:?}"
    );
}

#[test]
fn a_spool_that_cannot_be_written_answers_451_never_250() {
    let (moat, sink) = Moat::protected(|_| {});
    // Replace the queue directory with a file: the atomic rename into it must fail.
    let queue = moat.dir.path().join("spool/queue");
    std::fs::remove_dir_all(&queue).expect("remove queue dir");
    std::fs::write(&queue, b"not a directory").expect("block the queue");
    let mut c = Conversation::connect(moat.smtp);
    open_data(&mut c);
    c.send("From: a@sender.test\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    c.expect("451 4.3.0");
    // The session goes on; the client will retry later.
    c.send("NOOP\r\n");
    c.expect("250");
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.messages().is_empty());
    assert!(
        std::fs::read_dir(moat.dir.path().join("spool/tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "the temporary file is cleaned up"
    );
}

#[test]
fn connections_over_the_per_shard_limit_get_421() {
    let (moat, _sink) = Moat::protected(|c| {
        c.smtp.shards = 1;
        c.smtp.max_connections_per_shard = 1;
    });
    let mut a = connect_greeted(moat.smtp);
    let mut b = Conversation::connect(moat.smtp);
    b.expect("421 4.7.0");
    a.send("NOOP\r\n");
    a.expect("250");
}

/// MIME-1 and MIME-3 over SMTP: a message whose structure has two readings (two boundaries,
/// or two transfer encodings in one part) is quarantined as unscannable, never delivered on
/// one reading, even for a sender a deliver policy trusts.
#[test]
fn ambiguous_mime_is_quarantined_not_delivered_on_one_reading() {
    let (moat, sink) = Moat::protected(|_| {});
    let token = moat.token("acme", TokenKind::Live);
    let (status, _) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(serde_json::json!({"name": "trust", "condition": {"sender_domain_in": ["partner.test"]}, "action": "deliver"})),
    );
    assert_eq!(status, 201);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let two_boundaries = "From: ops@partner.test\r\nTo: bob@acme.example\r\nSubject: two readings\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"A\"; boundary=\"B\"\r\n\r\n\
--A\r\nContent-Type: text/plain\r\n\r\nclean\r\n--A--\r\n--B\r\nContent-Type: application/octet-stream; name=\"x.exe\"\r\n\r\nMZ\r\n--B--\r\n";
    let two_encodings = "From: ops@partner.test\r\nTo: bob@acme.example\r\nSubject: two encodings\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\
Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\naGk=\r\n--Z--\r\n";
    for (msg, subject, rule) in [
        (
            two_boundaries,
            "two readings",
            "malware.mime_ambiguous_boundary",
        ),
        (
            two_encodings,
            "two encodings",
            "malware.mime_conflicting_encoding",
        ),
    ] {
        let reply = smtplib_send(
            moat.smtp,
            "ops@partner.test",
            &["bob@acme.example"],
            msg.as_bytes(),
        );
        assert!(reply.starts_with("250"), "{reply}");
        let item = eventually(10, "quarantined", || {
            let (_, q) = moat.call("GET", "/v1/quarantine", Some(&token), None);
            q["data"]
                .as_array()
                .and_then(|d| d.iter().find(|i| i["subject"] == subject).cloned())
                .ok_or_else(|| q.to_string())
        });
        assert_eq!(item["threat_type"], "malware", "{item}");
        let rules: Vec<&str> = item["findings"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["rule"].as_str()).collect())
            .unwrap_or_default();
        assert!(rules.contains(&rule), "{rules:?}");
    }
    assert!(sink.messages().is_empty());
}

/// A message whose archives each stay within their own limits but together would take
/// long to inflate (1500 small nested gzip bombs): the message's archives share one budget,
/// the work runs off the shard, and another client is greeted at once meanwhile. The test
/// raises the byte budget so the inspection really runs into its time budget (3 s), and
/// checks that the second client was greeted while it ran.
#[test]
fn many_small_archives_neither_block_the_shard_nor_escape_the_budget() {
    use base64::Engine;
    use std::io::Write;
    let (moat, sink) = Moat::protected(|c| {
        // One shard, so the second client is served by the shard that scans the message.
        c.smtp.shards = 1;
        c.smtp.max_message_size = 64 << 20;
        c.malware.inspect_max_bytes = 1 << 40;
        c.malware.inspect_budget_ms = 3000;
    });
    let token = moat.token("acme", TokenKind::Live);
    // A gzip of a gzip of 30 MiB of zeros: about 200 bytes in the message, 30 MiB of
    // inflation for the inspector. 1500 of them (45 GB) cannot be inflated within the 3 s
    // budget on any machine, however fast its inflate is.
    let gzip = |data: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(data).expect("gzip");
        gz.finish().expect("gzip")
    };
    let attachment =
        base64::engine::general_purpose::STANDARD.encode(gzip(&gzip(&vec![0u8; 30 << 20])));
    let mut body = String::from(
        "From: a@sender.test\r\nTo: bob@acme.example\r\nSubject: many archives\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n",
    );
    for i in 0..1500 {
        body.push_str(&format!(
            "--b\r\nContent-Type: application/gzip; name=\"log{i}.gz\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for line in attachment.as_bytes().chunks(76) {
            body.push_str(std::str::from_utf8(line).expect("ascii"));
            body.push_str("\r\n");
        }
    }
    body.push_str("--b--\r\n.\r\n");
    let mut heavy = Conversation::connect(moat.smtp);
    open_data(&mut heavy);
    heavy.send(&body);
    let sent = std::time::Instant::now();
    // Let the shard read the end of the message and start judging it.
    std::thread::sleep(Duration::from_millis(700));
    let started = std::time::Instant::now();
    let mut other = Conversation::connect(moat.smtp);
    other.expect("220");
    let greeted = started.elapsed();
    other.send("NOOP\r\n");
    other.expect("250");
    let reply = heavy.read_reply();
    let judged = sent.elapsed();
    assert!(
        greeted < Duration::from_secs(1),
        "greeting took {greeted:?}"
    );
    assert!(
        judged > Duration::from_millis(700) + greeted,
        "the message was judged before the second client was greeted ({judged:?})"
    );
    assert!(reply.starts_with("250"), "{reply}");
    moat.flush_verdicts();
    let (_, list) = moat.call("GET", "/v1/quarantine", Some(&token), None);
    let item = &list["data"][0];
    assert_eq!(item["subject"], "many archives", "{list}");
    assert_eq!(item["threat_type"], "malware");
    let rules: Vec<&str> = item["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(rules.contains(&"malware.archive_over_budget"), "{rules:?}");
    assert!(sink.messages().is_empty());
}
