//! Delivery status notifications (RFC 3464): the `multipart/report` message sent from the null
//! sender `<>` to tell a sender that mail Moat accepted could not be delivered. Never generated
//! for a `<>` sender (RFC 5321 6.1) and never for quarantined content (it does not go this way).

use crate::time::rfc5322_now;

/// One recipient's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    pub address: String,
    /// Enhanced status code, `5.x.x` (or `4.4.7` for an expired message).
    pub status: String,
    /// What the remote server said, or why Moat gave up.
    pub diagnostic: String,
}

/// Builds the DSN for `original` (the message as Moat accepted it; only its header section is
/// returned to the sender, never the content).
pub fn build(
    reporting_host: &str,
    sender: &str,
    remote_host: &str,
    arrival_date: &str,
    failed: &[FailedRecipient],
    original: &[u8],
) -> Vec<u8> {
    let boundary = format!("moat-dsn-{}", uuid::Uuid::new_v4().simple());
    let headers_end = memfind(original, b"\r\n\r\n").map_or(original.len(), |p| p + 2);
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).collect() };
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{reporting_host}>\r\n\
         To: <{}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {}\r\n\
         Message-ID: <{}@{reporting_host}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n",
        clean(sender),
        rfc5322_now(),
        uuid::Uuid::new_v4().simple()
    ));
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         This is the mail system at host {reporting_host}.\r\n\r\n\
         Your message could not be delivered to one or more recipients.\r\n\
         It is attached below (headers only).\r\n\r\n"
    ));
    for f in failed {
        m.push_str(&format!(
            "<{}>: {}\r\n",
            clean(&f.address),
            clean(&f.diagnostic)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {reporting_host}\r\nArrival-Date: {arrival_date}\r\n"
    ));
    for f in failed {
        m.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\n\
             Remote-MTA: dns; {}\r\nDiagnostic-Code: smtp; {}\r\n",
            clean(&f.address),
            clean(&f.status),
            clean(remote_host),
            clean(&f.diagnostic)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let mut out = m.into_bytes();
    out.extend_from_slice(&original[..headers_end]);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_reports_each_recipient_and_returns_headers_only() {
        let original = b"Subject: hello\r\nFrom: a@b.test\r\n\r\nSECRET BODY\r\n";
        let dsn = build(
            "mx.moat.test",
            "a@b.test",
            "mail.acme.example:25",
            "Mon, 23 Nov 2026 03:00:00 +0000",
            &[FailedRecipient {
                address: "bob@acme.example".into(),
                status: "5.1.1".into(),
                diagnostic: "550 5.1.1 no such user".into(),
            }],
            original,
        );
        let text = String::from_utf8(dsn).expect("utf-8");
        assert!(text.contains("report-type=delivery-status"));
        assert!(text.contains(
            "Final-Recipient: rfc822; bob@acme.example\r\nAction: failed\r\nStatus: 5.1.1"
        ));
        assert!(text.contains("Subject: hello"));
        assert!(!text.contains("SECRET BODY"));
        let msg = crate::message::parse(text.as_bytes()).expect("parses as a message");
        assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
    }
}
