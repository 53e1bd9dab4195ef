//! SMTP protocol behaviour checked with exact replies over raw TCP, and with swaks.

use moat_tests::{
    client::{Conversation, swaks},
    harness::Moat,
};

#[test]
fn pipelined_transaction_gets_per_recipient_answers_and_unstuffed_data() {
    let (moat, sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send(
        "EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\n\
RCPT TO:<eve@open-relay.test>\r\nRCPT TO:<carol@ACME.example>\r\nDATA\r\n",
    );
    let ehlo = c.expect("250");
    assert!(
        ehlo.contains("PIPELINING") && ehlo.contains("SIZE") && ehlo.contains("8BITMIME"),
        "{ehlo}"
    );
    c.expect("250 2.1.0");
    c.expect("250 2.1.5");
    let relay = c.expect("550 5.7.1");
    assert!(relay.contains("Relaying denied"), "{relay}");
    c.expect("250 2.1.5");
    c.expect("354");
    c.send(
        "From: a@sender.test\r\nSubject: dots\r\n\r\n..starts with a dot\r\n...two\r\nend\r\n.\r\n",
    );
    let done = c.expect("250 2.0.0");
    let queue_id = done
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    c.send("QUIT\r\n");
    c.expect("221");

    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].rcpts,
        vec![
            "bob@acme.example".to_string(),
            "carol@ACME.example".to_string()
        ]
    );
    let text = String::from_utf8_lossy(&got[0].data).to_string();
    assert!(
        text.ends_with("Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\nend\r\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("id {queue_id}")),
        "queue id {queue_id} in Received: {text}"
    );
}

#[test]
fn command_sequence_errors_have_exact_codes() {
    let (moat, _sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("MAIL FROM:<a@sender.test>\r\n");
    c.expect("503 5.5.1");
    c.send("HELO client.test\r\n");
    c.expect("250");
    c.send("RCPT TO:<bob@acme.example>\r\n");
    c.expect("503 5.5.1");
    c.send("DATA\r\n");
    c.expect("503 5.5.1");
    c.send("MAIL FROM:<a@sender.test>\r\n");
    c.expect("250");
    c.send("MAIL FROM:<a@sender.test>\r\n");
    c.expect("503 5.5.1");
    c.send("DATA\r\n");
    c.expect("554 5.5.1");
    c.send("RSET\r\nNOOP\r\nXYZZY\r\nMAIL FROM:bad address\r\nRCPT TO:<>\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("500 5.5.1");
    c.expect("501");
    c.expect("50");
    c.send("VRFY bob\r\nEXPN staff\r\nQUIT\r\n");
    c.expect("252");
    c.expect("502");
    c.expect("221");
}

#[test]
fn size_limits_are_announced_enforced_at_mail_and_during_data() {
    let (moat, sink) = Moat::protected(|c| c.smtp.max_message_size = 2000);
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("EHLO client.test\r\n");
    assert!(c.expect("250").contains("SIZE 2000"));
    c.send("MAIL FROM:<a@sender.test> SIZE=5000\r\n");
    c.expect("552 5.3.4");
    // A size past 2^64 (which the SMTP parser would wrap into a small number) is refused too,
    // whatever its digits wrap to, and the session goes on.
    c.send("MAIL FROM:<a@sender.test> SIZE=184467440737095516160000000000000000000100\r\n");
    c.expect("552 5.3.4");
    c.send("MAIL FROM:<a@sender.test> SIZE=18446744073709551616\r\n");
    c.expect("552 5.3.4");
    c.send("MAIL FROM:<a@sender.test> SIZE=100\r\n");
    c.expect("250");
    c.send("RCPT TO:<bob@acme.example>\r\nDATA\r\n");
    c.expect("250");
    c.expect("354");
    let big = format!(
        "From: a@sender.test\r\nSubject: big\r\n\r\n{}\r\n.\r\n",
        "x".repeat(70)
            .repeat(60)
            .replace(&"x".repeat(70), &format!("{}\r\n", "x".repeat(70)))
    );
    c.send(&big);
    c.expect("552 5.3.4");
    // The session goes on after an oversized message.
    c.send("NOOP\r\n");
    c.expect("250");
    // A BDAT chunk size past 2^64 would frame the chunk wrongly: refused, session closed.
    c.send("RSET\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@acme.example>\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("250");
    c.send("BDAT 18446744073709551616000000000000000000005 LAST\r\nhello");
    c.expect("501 5.5.4");
    assert!(c.closed());
    assert!(sink.messages().is_empty());
}

#[test]
fn too_many_errors_end_the_session_with_421() {
    let (moat, _sink) = Moat::protected(|c| c.smtp.max_errors = 3);
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send("BAD1\r\nBAD2\r\nBAD3\r\nBAD4\r\nNOOP\r\n");
    c.expect("500");
    c.expect("500");
    c.expect("500");
    c.expect("421 4.7.0");
    assert!(c.closed());
}

#[test]
fn overlong_command_line_is_refused_and_session_survives() {
    let (moat, _sink) = Moat::protected(|_| {});
    let mut c = Conversation::connect(moat.smtp);
    c.expect("220");
    c.send(&format!("HELO {}\r\n", "a".repeat(10_000)));
    c.expect("500 5.5.2");
    c.send("NOOP\r\n");
    c.expect("250");
    // The same line split over many writes is refused the same way.
    c.send("HELO ");
    for _ in 0..10 {
        c.send(&"b".repeat(500));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    c.send("\r\nNOOP\r\n");
    c.expect("500 5.5.2");
    c.expect("250");
}

#[test]
fn swaks_delivers_through_moat() {
    let (moat, sink) = Moat::protected(|_| {});
    let (ok, transcript) = swaks(
        moat.smtp,
        &[
            "--to",
            "bob@acme.example",
            "--from",
            "alice@sender.test",
            "--header",
            "Subject: via swaks",
            "--body",
            "hello from swaks",
        ],
    );
    assert!(ok, "{transcript}");
    assert!(
        transcript.contains("250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0].data).contains("hello from swaks"));
    // swaks to an unprotected domain is refused at RCPT.
    let (ok, transcript) = swaks(
        moat.smtp,
        &["--to", "x@elsewhere.test", "--from", "alice@sender.test"],
    );
    assert!(!ok);
    assert!(transcript.contains("550 5.7.1"), "{transcript}");
}
