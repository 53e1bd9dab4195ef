//! Webhooks over real HTTP: a receiver in the test takes Moat's signed POSTs. Checks the test
//! ping, events raised by real SMTP traffic (`threat.detected`, `threat.quarantined`) and by
//! the API (`quarantine.released`), signatures verified with Python's hmac (an independent
//! implementation), retries after a 500 with the delivery log and redelivery, deletion, and
//! that another customer sees none of it.

use std::sync::atomic::Ordering;

use moat_core::model::TokenKind;
use moat_tests::{
    client::smtplib_send,
    eventually,
    harness::Moat,
    receiver::{Hit, Receiver},
};
use serde_json::json;

/// Checks `Moat-Signature` with Python's hmac module.
fn signature_valid(secret: &str, hit: &Hit) -> bool {
    let Some(sig) = hit.header("moat-signature") else {
        return false;
    };
    let Some((t, v1)) = sig
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys;print(hmac.new(sys.argv[1].encode(),(sys.argv[2]+'.'+sys.argv[3]).encode(),hashlib.sha256).hexdigest())",
            secret,
            t,
            &hit.body,
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim() == v1
}

#[test]
fn signed_events_retries_redelivery_and_isolation() {
    let receiver = Receiver::start();
    let (moat, _sink) = Moat::protected(|c| c.api.webhook_allow_private_targets = true);
    let admin = moat.token("acme", TokenKind::Live);
    let url = format!("http://{}/hooks/moat", receiver.addr);

    let (status, body) = moat.call(
        "POST",
        "/v1/webhooks",
        Some(&admin),
        Some(json!({"url": "ftp://nowhere", "events": ["threat.detected"]})),
    );
    assert_eq!(status, 422, "{body}");
    let (status, body) = moat.call(
        "POST",
        "/v1/webhooks",
        Some(&admin),
        Some(json!({"url": url, "events": ["threat.sneezed"]})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, hook) = moat.call(
        "POST",
        "/v1/webhooks",
        Some(&admin),
        Some(json!({"url": url, "events": ["threat.detected", "threat.quarantined", "quarantine.released"]})),
    );
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_str().unwrap_or_default().to_string();
    let secret = hook["secret"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("whsec_"), "{hook}");
    let (_, listed) = moat.call("GET", "/v1/webhooks", Some(&admin), None);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    // The test ping is sent at once and signed.
    let (status, ping) = moat.call(
        "POST",
        &format!("/v1/webhooks/{id}/test"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{ping}");
    assert_eq!(
        (ping["status"].as_str(), ping["last_status"].as_u64()),
        (Some("succeeded"), Some(200))
    );
    let pings = receiver.of_type("webhook.test");
    assert_eq!(pings.len(), 1);
    assert!(signature_valid(&secret, &pings[0]), "{pings:?}");
    assert!(!signature_valid("whsec_wrong", &pings[0]));

    // Mail that is quarantined raises threat.detected and threat.quarantined.
    let gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
    let msg = format!(
        "From: Mallory <mallory@sender.test>\r\nTo: bob@acme.example\r\nSubject: hook me\r\n\
Message-ID: <hook@sender.test>\r\n\r\n{gtube}\r\n"
    );
    let reply = smtplib_send(
        moat.smtp,
        "mallory@sender.test",
        &["bob@acme.example"],
        msg.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let quarantined = eventually(15, "threat.quarantined delivered", || {
        let hits = receiver.of_type("threat.quarantined");
        hits.first()
            .cloned()
            .ok_or_else(|| format!("{:?}", receiver.hits.lock().map(|h| h.len())))
    });
    assert!(signature_valid(&secret, &quarantined));
    let event = quarantined.json();
    assert_eq!(event["type"], "threat.quarantined");
    assert_eq!(event["data"]["type"], "spam", "{event}");
    assert_eq!(event["data"]["target"], "bob@acme.example");
    assert_eq!(event["data"]["action"], "quarantined");
    assert_eq!(quarantined.header("moat-delivery"), event["id"].as_str());
    eventually(5, "threat.detected delivered", || {
        (receiver.of_type("threat.detected").len() == 1)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });

    // A failing endpoint: the delivery is logged with its status and retried later;
    // redelivery sends it again now.
    receiver.status.store(500, Ordering::SeqCst);
    let (_, q) = moat.call("GET", "/v1/quarantine", Some(&admin), None);
    let qid = q["data"][0]["id"].as_str().unwrap_or_default().to_string();
    let (status, _) = moat.call(
        "POST",
        &format!("/v1/quarantine/{qid}/release"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200);
    let failed = eventually(15, "release event attempted", || {
        let (_, log) = moat.call(
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            Some(&admin),
            None,
        );
        log["data"]
            .as_array()
            .and_then(|d| {
                d.iter()
                    .find(|d| d["event"] == "quarantine.released" && d["attempts"] == 1)
                    .cloned()
            })
            .ok_or_else(|| log.to_string())
    });
    assert_eq!(failed["status"], "pending", "{failed}");
    assert_eq!(failed["last_status"], 500);
    assert!(failed["next_attempt_at"].is_string());
    assert_eq!(receiver.of_type("quarantine.released").len(), 1);
    receiver.status.store(200, Ordering::SeqCst);
    let did = failed["id"].as_str().unwrap_or_default().to_string();
    let (status, again) = moat.call(
        "POST",
        &format!("/v1/webhooks/{id}/deliveries/{did}/redeliver"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 202, "{again}");
    eventually(15, "redelivered", || {
        let (_, log) = moat.call(
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            Some(&admin),
            None,
        );
        log["data"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["id"] == did.as_str()).cloned())
            .filter(|d| d["status"] == "succeeded")
            .ok_or_else(|| log.to_string())
    });
    let released = receiver.of_type("quarantine.released");
    assert_eq!(released.len(), 2);
    assert_eq!(
        released[0].body, released[1].body,
        "a redelivery sends the same event"
    );
    assert!(signature_valid(&secret, &released[1]));

    // Another customer sees none of it.
    let other = moat.token("globex", TokenKind::Live);
    for (method, path) in [
        ("GET", format!("/v1/webhooks/{id}")),
        ("GET", format!("/v1/webhooks/{id}/deliveries")),
        ("POST", format!("/v1/webhooks/{id}/test")),
        (
            "POST",
            format!("/v1/webhooks/{id}/deliveries/{did}/redeliver"),
        ),
        ("DELETE", format!("/v1/webhooks/{id}")),
    ] {
        assert_eq!(
            moat.call(method, &path, Some(&other), None).0,
            404,
            "{method} {path}"
        );
    }

    assert_eq!(
        moat.call("DELETE", &format!("/v1/webhooks/{id}"), Some(&admin), None)
            .0,
        204
    );
    let (_, listed) = moat.call("GET", "/v1/webhooks", Some(&admin), None);
    assert_eq!(listed["data"].as_array().map_or(1, Vec::len), 0);
}
