//! Realistic inputs for Moat's benchmarks: a small plain message, a 4 KB HTML newsletter and a
//! 60 KB message with a base64 attachment, plus generated policy sets of any size.

use moat_core::model::{Action, Policy};
use moat_core::policy::Condition;

/// A short plain-text message (≈ 600 bytes).
pub fn small_plain() -> Vec<u8> {
    b"Received: from mail.sender.test (203.0.113.7)\r\n\tby mx.acme.example (Moat) with ESMTP id 1;\r\n\tMon, 23 Nov 2026 02:00:00 +0000\r\n\
From: Alice Example <alice@sender.test>\r\nTo: Bob <bob@acme.example>\r\nSubject: Lunch on Thursday?\r\n\
Date: Mon, 23 Nov 2026 01:59:00 +0000\r\nMessage-ID: <a1@sender.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHi Bob,\r\n\r\nAre you free for lunch on Thursday? The new place on Main Street\r\n\
has good reviews. Let me know.\r\n\r\nAlice\r\n"
        .to_vec()
}

/// A multipart/alternative newsletter of about 4 KB.
pub fn html_newsletter() -> Vec<u8> {
    let mut html = String::from("<html><body><h1>This week at Example</h1>");
    let mut text = String::new();
    for i in 0..24 {
        html.push_str(&format!(
            "<p>Item {i}: read about <a href=\"https://news.example.com/a/{i}\">our product update</a>.</p>"
        ));
        text.push_str(&format!(
            "Item {i}: our product update https://news.example.com/a/{i}\r\n"
        ));
    }
    html.push_str("</body></html>");
    format!(
        "From: Example News <news@example.com>\r\nTo: bob@acme.example\r\nSubject: Weekly digest\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b1--\r\n"
    )
    .into_bytes()
}

/// A message with a ≈ 60 KB base64 attachment.
pub fn with_attachment() -> Vec<u8> {
    let mut b64 = String::new();
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0";
    while b64.len() < 60_000 {
        b64.push_str(line);
        b64.push_str("\r\n");
    }
    format!(
        "From: Carol <carol@partner.test>\r\nTo: bob@acme.example\r\nSubject: Contract draft\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m1\"\r\n\r\n\
--m1\r\nContent-Type: text/plain\r\n\r\nPlease find the draft attached.\r\n\
--m1\r\nContent-Type: application/pdf; name=\"draft.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"draft.pdf\"\r\n\r\n{b64}--m1--\r\n"
    )
    .into_bytes()
}

/// `n` policies, each a literal list over subject or body, none of which matches the samples.
pub fn policies(n: usize) -> Vec<Policy> {
    (0..n)
        .map(|i| {
            let words = vec![format!("zq{i:05}scam"), format!("wallet-{i:05}-seed")];
            let condition = if i % 2 == 0 {
                Condition::SubjectContains(words)
            } else {
                Condition::BodyContains(words)
            };
            Policy {
                id: format!("p{i}"),
                customer_id: "bench".into(),
                name: format!("policy-{i}"),
                condition,
                action: Action::Quarantine.into(),
                notify_admin: false,
                enabled: true,
                created_at: 0,
                shadow: false,
            }
        })
        .collect()
}

/// The policy set of the side-by-side protocol: `literals` literal policies (as [`policies`])
/// plus `regexes` regular-expression policies over subject and body, none matching the samples.
pub fn mixed_policies(literals: usize, regexes: usize) -> Vec<Policy> {
    let mut out = policies(literals);
    for i in 0..regexes {
        let pattern = format!(r"acc[o0]unt\s+{i:03}\s*(suspended|locked)\s+verify\w*");
        let condition = if i % 2 == 0 {
            Condition::SubjectMatches(vec![pattern])
        } else {
            Condition::BodyMatches(vec![pattern])
        };
        out.push(Policy {
            id: format!("r{i}"),
            customer_id: "bench".into(),
            name: format!("regex-{i}"),
            condition,
            action: Action::Quarantine.into(),
            notify_admin: false,
            enabled: true,
            created_at: 0,
            shadow: false,
        });
    }
    out
}
