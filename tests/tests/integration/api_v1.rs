//! The API's cross-cutting contract over real HTTP: token scopes (403), the test-token sandbox
//! (separate namespace, no mail to real servers), signed tenant-bound cursors, the threat feed
//! and its filters, MX verification through a static DNS zone, report-as-spam teaching the
//! model, 405 with `Allow`, 413 for oversized bodies, and safe raw downloads.

use moat_core::model::{TokenKind, TokenScope};
use moat_tests::{client::smtplib_send, eventually, harness::Moat};
use serde_json::{Value, json};

const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

fn send(moat: &Moat, subject: &str, body: &str) {
    let msg = format!(
        "From: \"Mallory\" <mallory@sender.test>\r\nTo: ceo@acme.example\r\nSubject: {subject}\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}@sender.test>\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    );
    let reply = smtplib_send(
        moat.smtp,
        "mallory@sender.test",
        &["ceo@acme.example"],
        msg.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn scopes_sandbox_cursors_threats_and_reports() {
    let (moat, sink) = Moat::protected(|_| {});
    let admin = moat.token("acme", TokenKind::Live);
    let (status, _) = moat.call(
        "POST",
        "/v1/policies",
        Some(&admin),
        Some(json!({"name": "crypto", "condition": {"subject_contains": ["bitcoin"]}, "action": "quarantine"})),
    );
    assert_eq!(status, 201);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    send(&moat, "Free bitcoin one", "hello");
    send(&moat, "Free bitcoin two", "hello");
    send(&moat, "Spam three", GTUBE);
    eventually(10, "three quarantined", || {
        let (_, q) = moat.call("GET", "/v1/quarantine", Some(&admin), None);
        (ids(&q, "data").len() == 3)
            .then_some(())
            .ok_or(q.to_string())
    });

    // Threat feed: the seed's shape, type and severity filters.
    let (status, feed) = moat.call("GET", "/v1/threats", Some(&admin), None);
    assert_eq!(status, 200, "{feed}");
    let threats = feed["threats"].as_array().cloned().unwrap_or_default();
    assert_eq!(threats.len(), 3, "{feed}");
    for t in &threats {
        for key in [
            "id",
            "type",
            "severity",
            "from",
            "target",
            "detected_at",
            "action",
        ] {
            assert!(t.get(key).is_some(), "{key} missing in {t}");
        }
        assert_eq!(t["from"], "mallory@sender.test");
        assert_eq!(t["target"], "ceo@acme.example");
        assert_eq!(t["action"], "quarantined");
    }
    let (_, spam) = moat.call("GET", "/v1/threats?type=spam", Some(&admin), None);
    assert_eq!(ids(&spam, "threats").len(), 1, "{spam}");
    let (_, crit) = moat.call("GET", "/v1/threats?severity=critical", Some(&admin), None);
    assert_eq!(ids(&crit, "threats").len(), 0, "{crit}");
    let (status, _) = moat.call("GET", "/v1/threats?severity=worst", Some(&admin), None);
    assert_eq!(status, 400);

    // Cursor pagination: three pages of one, no repeats, then no cursor.
    let mut seen = Vec::new();
    let mut path = "/v1/quarantine?limit=1".to_string();
    let mut first_cursor = None;
    loop {
        let (status, page) = moat.call("GET", &path, Some(&admin), None);
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page, "data"));
        match page["next_cursor"].as_str() {
            Some(c) => {
                first_cursor.get_or_insert(c.to_string());
                path = format!("/v1/quarantine?limit=1&cursor={c}");
            }
            None => break,
        }
        assert!(seen.len() <= 3, "pagination does not end: {seen:?}");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (3, 3), "{seen:?}");
    // A cursor is bound to its customer and list, and cannot be edited.
    let cursor = first_cursor.expect("a first page cursor");
    let other = moat.token("globex", TokenKind::Live);
    let (status, body) = moat.call(
        "GET",
        &format!("/v1/quarantine?cursor={cursor}"),
        Some(&other),
        None,
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = moat.call(
        "GET",
        &format!("/v1/verdicts?cursor={cursor}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 400);
    let forged = format!("{}x", cursor);
    let (status, _) = moat.call(
        "GET",
        &format!("/v1/quarantine?cursor={forged}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 400);

    // Scopes: read-only reads but cannot act; quarantine acts on mail but not on policies.
    let reader = moat.scoped_token("acme", TokenKind::Live, TokenScope::ReadOnly);
    let operator = moat.scoped_token("acme", TokenKind::Live, TokenScope::Quarantine);
    let (_, me) = moat.call("GET", "/v1/me", Some(&reader), None);
    assert_eq!(me["scopes"], json!(["read_only"]), "{me}");
    let first = seen[0].clone();
    assert_eq!(
        moat.call(
            "GET",
            &format!("/v1/quarantine/{first}"),
            Some(&reader),
            None
        )
        .0,
        200
    );
    let (status, body) = moat.call(
        "POST",
        &format!("/v1/quarantine/{first}/release"),
        Some(&reader),
        None,
    );
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    for (method, path) in [("POST", "/v1/tokens"), ("GET", "/v1/tokens")] {
        let body = (method == "POST").then(|| json!({}));
        assert_eq!(moat.call(method, path, Some(&operator), body).0, 403);
    }
    let (status, body) = moat.call(
        "POST",
        "/v1/policies",
        Some(&operator),
        Some(json!({"name": "x", "condition": {"subject_contains": ["y"]}, "action": "reject"})),
    );
    assert_eq!(status, 403, "{body}");
    let (status, released) = moat.call(
        "POST",
        &format!("/v1/quarantine/{first}/release"),
        Some(&operator),
        None,
    );
    assert_eq!(
        (status, released["status"].as_str()),
        (200, Some("released"))
    );
    eventually(10, "released mail delivered", || {
        (sink.messages().len() == 1)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });

    // Report-as-spam teaches the customer's own model (in the store), never the gateway's
    // shared model file.
    let second = seen[1].clone();
    let (status, report) = moat.call(
        "POST",
        &format!("/v1/quarantine/{second}/report"),
        Some(&operator),
        Some(json!({"kind": "spam"})),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["learned"], true);
    assert_eq!(
        (report["model_spam"].as_u64(), report["model_ham"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(!moat.config.spam_model_path().exists());
    // The same message counts once.
    let (status, again) = moat.call(
        "POST",
        &format!("/v1/quarantine/{second}/report"),
        Some(&operator),
        Some(json!({"kind": "spam"})),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["learned"], false);
    assert_eq!(again["model_spam"].as_u64(), Some(1));
    let (status, _) = moat.call(
        "POST",
        &format!("/v1/quarantine/{second}/report"),
        Some(&operator),
        Some(json!({"kind": "ham"})),
    );
    assert_eq!(status, 400, "unknown report kinds are refused");

    // Sandbox: test tokens see none of the live data, and live tokens none of theirs.
    let test = moat.token("acme", TokenKind::Test);
    for path in [
        "/v1/domains",
        "/v1/quarantine",
        "/v1/verdicts",
        "/v1/policies",
    ] {
        let (status, body) = moat.call("GET", path, Some(&test), None);
        assert_eq!(status, 200);
        assert_eq!(ids(&body, "data").len(), 0, "{path}: {body}");
    }
    assert_eq!(
        ids(
            &moat.call("GET", "/v1/threats", Some(&test), None).1,
            "threats"
        )
        .len(),
        0
    );
    assert_eq!(
        moat.call(
            "GET",
            &format!("/v1/quarantine/{second}"),
            Some(&test),
            None
        )
        .0,
        404
    );
    let (status, sandbox_domain) = moat.call(
        "POST",
        "/v1/domains",
        Some(&test),
        Some(json!({"domain": "sandbox-acme.example", "real_mx_host": sink.addr.to_string()})),
    );
    assert_eq!(status, 201, "{sandbox_domain}");
    let (_, live_domains) = moat.call("GET", "/v1/domains", Some(&admin), None);
    assert!(!live_domains.to_string().contains("sandbox-acme.example"));
    let (status, body) = moat.call(
        "POST",
        "/v1/tokens",
        Some(&test),
        Some(json!({"kind": "live"})),
    );
    assert_eq!(status, 403, "{body}");
    // The scanner takes no mail for sandbox domains.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let reply = smtplib_send(
        moat.smtp,
        "a@sender.test",
        &["bob@sandbox-acme.example"],
        b"Subject: x\r\n\r\nx\r\n",
    );
    assert!(!reply.starts_with("250"), "{reply}");

    // A token cannot revoke itself.
    let (_, me) = moat.call("GET", "/v1/me", Some(&admin), None);
    let own = me["token"]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        moat.call("DELETE", &format!("/v1/tokens/{own}"), Some(&admin), None)
            .0,
        409
    );
}

#[test]
fn http_details_405_413_raw_download_and_mx_verification() {
    let zone_dir = tempfile::tempdir().expect("tempdir");
    let zone = zone_dir.path().join("zone");
    std::fs::write(
        &zone,
        "verified.example MX 10 moat.test\nelsewhere.example MX 10 mx.other.example\n\
         mxonly.example MX 10 moat.test\n",
    )
    .expect("zone");
    let moat = Moat::start_with(|c| {
        c.hostname = "moat.test".into();
        c.dns.static_zone = Some(zone.clone());
        c.api.metrics_token = Some("m3trics-scraper".into());
    });
    // API-8: with a metrics token set, /metrics needs it (404, like any unknown route, without).
    let metrics = format!("{}/metrics", moat.api);
    match ureq::get(&metrics).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("metrics without the token: {other:?}"),
    }
    let scrape = ureq::get(&metrics)
        .set("Authorization", "Bearer m3trics-scraper")
        .call()
        .expect("metrics with the token");
    assert!(scrape.into_string().unwrap_or_default().contains("moat_"));
    let admin = moat.token("acme", TokenKind::Live);

    let (status, body) = moat.call("PUT", "/v1/domains", Some(&admin), Some(json!({})));
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let resp = ureq::request("TRACE", &format!("{}/v1/quarantine", moat.api))
        .set("Authorization", &format!("Bearer {admin}"))
        .call();
    match resp {
        Err(ureq::Error::Status(405, r)) => assert_eq!(r.header("allow"), Some("GET")),
        other => panic!("expected 405, got {other:?}"),
    }

    let huge = "x".repeat(300 * 1024);
    let (status, body) = moat.call(
        "POST",
        "/v1/policies",
        Some(&admin),
        Some(json!({"name": huge, "condition": {"subject_contains": ["a"]}, "action": "reject"})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    // Ownership is proven by the domain's own TXT record, never by MX alone: a tenant must
    // not claim a name whose MX already points here (another tenant's) or take mail for a
    // domain nobody verified.
    let mut verified = String::new();
    for (name, publish, expect_verified, expect_mx) in [
        ("verified.example", true, true, true),
        ("elsewhere.example", true, true, false),
        ("mxonly.example", false, false, true),
        ("nomx.example", false, false, false),
    ] {
        let (status, d) = moat.call(
            "POST",
            "/v1/domains",
            Some(&admin),
            Some(json!({"domain": name, "real_mx_host": "127.0.0.1:25"})),
        );
        assert_eq!(status, 201, "{d}");
        assert_eq!(d["status"], "pending_mx_verification");
        assert_eq!(d["mx_records"][0]["value"], "moat.test");
        assert_eq!(
            d["verification_record"]["name"],
            format!("_moat-verify.{name}")
        );
        if publish {
            moat.publish_verification(&d);
        }
        let id = d["id"].as_str().unwrap_or_default();
        let (status, v) = moat.call(
            "POST",
            &format!("/v1/domains/{id}/verify"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["verified"], expect_verified, "{name}: {v}");
        assert_eq!(v["mx_points_here"], expect_mx, "{name}: {v}");
        if expect_verified {
            assert_eq!(v["domain"]["status"], "active");
            assert!(v["domain"]["verified_at"].is_string(), "{v}");
            if name == "verified.example" {
                verified = id.to_string();
            }
        } else {
            assert_eq!(v["domain"]["status"], "pending_mx_verification");
            assert!(
                v["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("_moat-verify")),
                "{v}"
            );
        }
    }
    let (_, d) = moat.call(
        "GET",
        &format!("/v1/domains/{verified}"),
        Some(&admin),
        None,
    );
    assert_eq!(d["status"], "active");
    // Another tenant can add the same name (201: nothing tells it the name is taken) but
    // cannot activate it, not even with its own record published: only one owner at a time.
    let rival = moat.token("rival", TokenKind::Live);
    let (status, theirs) = moat.call(
        "POST",
        "/v1/domains",
        Some(&rival),
        Some(json!({"domain": "verified.example", "real_mx_host": "127.0.0.1:25"})),
    );
    assert_eq!(status, 201, "{theirs}");
    assert_ne!(
        theirs["verification_record"]["value"],
        d["verification_record"]["value"]
    );
    let their_id = theirs["id"].as_str().unwrap_or_default();
    let (status, v) = moat.call(
        "POST",
        &format!("/v1/domains/{their_id}/verify"),
        Some(&rival),
        None,
    );
    assert_eq!((status, v["verified"].as_bool()), (200, Some(false)), "{v}");
    moat.publish_verification(&theirs);
    let (status, v) = moat.call(
        "POST",
        &format!("/v1/domains/{their_id}/verify"),
        Some(&rival),
        None,
    );
    assert_eq!(status, 409, "{v}");
    // The same customer cannot add a name twice.
    let (status, _) = moat.call(
        "POST",
        "/v1/domains",
        Some(&admin),
        Some(json!({"domain": "verified.example", "real_mx_host": "127.0.0.1:25"})),
    );
    assert_eq!(status, 409);

    // The spec is served at both paths and names every operation's errors.
    let (status, spec) = moat.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.1.0");
    let (_, again) = moat.call("GET", "/api/v1/openapi", None, None);
    assert_eq!(spec, again);
    let get_q = &spec["paths"]["/v1/quarantine/{id}"]["get"]["responses"];
    for code in ["200", "401", "404", "429"] {
        assert!(get_q.get(code).is_some(), "{code} undocumented: {get_q}");
    }
    let docs = ureq::get(&format!("{}/v1/docs/", moat.api))
        .call()
        .expect("swagger ui");
    assert!(docs.into_string().unwrap_or_default().contains("swagger"));
}

#[test]
fn raw_downloads_are_attachments_never_rendered() {
    let (moat, _sink) = Moat::protected(|_| {});
    let admin = moat.token("acme", TokenKind::Live);
    send(&moat, "Spam raw", GTUBE);
    let id = eventually(10, "quarantined", || {
        let (_, q) = moat.call("GET", "/v1/quarantine", Some(&admin), None);
        ids(&q, "data").first().cloned().ok_or(q.to_string())
    });
    let resp = ureq::get(&format!("{}/v1/quarantine/{id}/raw", moat.api))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .expect("raw");
    assert_eq!(resp.content_type(), "message/rfc822");
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert!(
        resp.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    assert!(resp.into_string().unwrap_or_default().contains("GTUBE"));
}

/// A POST with an `Idempotency-Key`, returning (status, replayed, body).
fn post_once(moat: &Moat, token: &str, path: &str, key: &str, body: Value) -> (u16, bool, Value) {
    let result = ureq::post(&format!("{}{path}", moat.api))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Idempotency-Key", key)
        .send_json(body);
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {path}: {e}"),
    };
    let status = resp.status();
    let replayed = resp.header("idempotent-replayed") == Some("true");
    let json = resp.into_json().unwrap_or(Value::Null);
    (status, replayed, json)
}

#[test]
fn idempotency_keys_replay_the_first_answer() {
    let moat = Moat::start();
    let admin = moat.token("acme", TokenKind::Live);
    let body = json!({"domain": "idem.example", "real_mx_host": "127.0.0.1:25"});
    let (s1, r1, first) = post_once(&moat, &admin, "/v1/domains", "create-idem-1", body.clone());
    assert_eq!((s1, r1), (201, false), "{first}");
    let (s2, r2, second) = post_once(&moat, &admin, "/v1/domains", "create-idem-1", body.clone());
    assert_eq!((s2, r2), (201, true), "{second}");
    assert_eq!(
        first["id"], second["id"],
        "the retry did not create a second domain"
    );
    let (_, list) = moat.call("GET", "/v1/domains", Some(&admin), None);
    assert_eq!(list["data"].as_array().map_or(0, Vec::len), 1);
    // Without the key the same request runs again (and conflicts).
    assert_eq!(
        moat.call("POST", "/v1/domains", Some(&admin), Some(body)).0,
        409
    );
    // The same key with another body is refused.
    let (s3, _, refused) = post_once(
        &moat,
        &admin,
        "/v1/domains",
        "create-idem-1",
        json!({"domain": "other.example", "real_mx_host": "127.0.0.1:25"}),
    );
    assert_eq!(
        (s3, refused["code"].as_str()),
        (422, Some("validation_failed"))
    );
    // Keys belong to the token that sent them.
    let other = moat.token("globex", TokenKind::Live);
    let (s4, r4, theirs) = post_once(
        &moat,
        &other,
        "/v1/domains",
        "create-idem-1",
        json!({"domain": "globex.example", "real_mx_host": "127.0.0.1:25"}),
    );
    assert_eq!((s4, r4), (201, false), "{theirs}");
    let (s5, _, bad) = post_once(&moat, &admin, "/v1/domains", "", json!({}));
    assert_eq!(s5, 400, "{bad}");
}

#[test]
fn bulk_jobs_and_the_digest_with_release_links() {
    let (moat, sink) = Moat::protected(|_| {});
    let admin = moat.token("acme", TokenKind::Live);
    for i in 0..5 {
        send(&moat, &format!("Spam bulk {i}"), GTUBE);
    }
    eventually(10, "five quarantined", || {
        let (_, q) = moat.call("GET", "/v1/quarantine", Some(&admin), None);
        (ids(&q, "data").len() == 5)
            .then_some(())
            .ok_or(q.to_string())
    });
    let (_, domains) = moat.call("GET", "/v1/domains", Some(&admin), None);
    let domain = domains["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // The digest of today lists them with release links that need no token.
    let today = moat_core::time::rfc3339(moat_core::time::now_ms())[..10].to_string();
    let (status, digest) = moat.call(
        "GET",
        &format!("/v1/domains/{domain}/digest?day={today}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{digest}");
    assert_eq!(digest["verdicts"]["quarantine"], 5, "{digest}");
    let items = digest["quarantined"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 5);
    let url = items[0]["release_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/v1/release/"),
        "{url}"
    );
    // Links never take their host from the request (a Host or X-Forwarded-Host header an
    // attacker sends would otherwise point the digest's links at the attacker).
    let spoofed: Value = ureq::get(&format!(
        "{}/v1/domains/{domain}/digest?day={today}",
        moat.api
    ))
    .set("Authorization", &format!("Bearer {admin}"))
    .set("Host", "evil.example")
    .set("X-Forwarded-Host", "evil.example")
    .set("X-Forwarded-Proto", "https")
    .call()
    .expect("digest")
    .into_json()
    .expect("json");
    assert!(
        spoofed["quarantined"][0]["release_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&moat.api)),
        "{spoofed}"
    );
    // Opening the link shows a page (and does not release: link scanners open links).
    let page = ureq::get(&url).call().expect("link opens");
    assert_eq!(page.content_type(), "text/html");
    assert!(
        page.into_string()
            .unwrap_or_default()
            .contains("<form method=\"post\">")
    );
    assert_eq!(sink.messages().len(), 0);
    let done = ureq::post(&url).call().expect("link releases");
    assert!(done.into_string().unwrap_or_default().contains("Released"));
    assert_eq!(sink.wait_for(1, 10).len(), 1);
    // A tampered link does nothing.
    let bad = format!("{}A", url);
    match ureq::post(&bad).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("tampered link: {other:?}"),
    }
    let (status, _) = moat.call(
        "GET",
        &format!("/v1/domains/{domain}/digest?day=yesterday"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 400);

    // The digest by mail to the domain's admin, through its real server.
    let (status, body) = moat.call(
        "PATCH",
        &format!("/v1/domains/{domain}"),
        Some(&admin),
        Some(json!({"admin_email": "it@elsewhere.example"})),
    );
    assert_eq!(status, 422, "{body}");
    let (status, body) = moat.call(
        "PATCH",
        &format!("/v1/domains/{domain}"),
        Some(&admin),
        Some(json!({"admin_email": "IT@acme.example"})),
    );
    assert_eq!(
        (status, body["admin_email"].as_str()),
        (200, Some("it@acme.example")),
        "{body}"
    );
    let (status, sent) = moat.call(
        "POST",
        &format!("/v1/domains/{domain}/digest/send?day={today}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        (sent["to"].as_str(), sent["quarantined"].as_u64()),
        (Some("it@acme.example"), Some(4))
    );
    let mails = sink.wait_for(2, 10);
    let digest_mail = mails
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).into_owned())
        .find(|m| m.contains("Subject: Moat digest for acme.example"))
        .expect("digest mailed");
    assert_eq!(
        digest_mail.matches("/v1/release/").count(),
        4,
        "{digest_mail}"
    );
    assert!(digest_mail.contains("Auto-Submitted: auto-generated"));

    // A bulk release of what is left (four spam messages), polled to the end.
    let reader = moat.scoped_token("acme", TokenKind::Live, TokenScope::ReadOnly);
    let (status, _) = moat.call(
        "POST",
        "/v1/quarantine/bulk",
        Some(&reader),
        Some(json!({"action": "release"})),
    );
    assert_eq!(status, 403);
    let (status, job) = moat.call(
        "POST",
        "/v1/quarantine/bulk",
        Some(&admin),
        Some(json!({"action": "release", "filter": {"threat_type": "spam", "domain": domain}})),
    );
    assert_eq!(status, 202, "{job}");
    let job_id = job["id"].as_str().unwrap_or_default().to_string();
    let finished = eventually(20, "bulk job finished", || {
        let (_, j) = moat.call(
            "GET",
            &format!("/v1/quarantine/bulk/{job_id}"),
            Some(&admin),
            None,
        );
        (j["status"] != "running")
            .then_some(j.clone())
            .ok_or(j.to_string())
    });
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(
        (finished["done"].as_u64(), finished["failed"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(sink.wait_for(6, 10).len(), 6);
    let (_, left) = moat.call(
        "GET",
        "/v1/quarantine?status=quarantined",
        Some(&admin),
        None,
    );
    assert_eq!(ids(&left, "data").len(), 0, "{left}");
    // Another customer cannot see the job.
    let other = moat.token("globex", TokenKind::Live);
    assert_eq!(
        moat.call(
            "GET",
            &format!("/v1/quarantine/bulk/{job_id}"),
            Some(&other),
            None
        )
        .0,
        404
    );
}

#[test]
fn another_customer_gets_404_on_every_endpoint_and_changes_nothing() {
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hook_url = format!("http://{}/h", receiver.local_addr().expect("addr"));
    let (moat, sink) = Moat::protected(|c| c.api.webhook_allow_private_targets = true);
    let acme = moat.token("acme", TokenKind::Live);
    let globex = moat.token("globex", TokenKind::Live);
    send(&moat, "Spam tenant", GTUBE);
    let q = eventually(10, "quarantined", || {
        let (_, q) = moat.call("GET", "/v1/quarantine", Some(&acme), None);
        ids(&q, "data").first().cloned().ok_or(q.to_string())
    });
    let (_, v) = moat.call("GET", "/v1/verdicts", Some(&acme), None);
    let verdict = ids(&v, "data")[0].clone();
    let (_, d) = moat.call("GET", "/v1/domains", Some(&acme), None);
    let domain = ids(&d, "data")[0].clone();
    let (_, p) = moat.call(
        "POST",
        "/v1/policies",
        Some(&acme),
        Some(
            json!({"name": "p", "condition": {"subject_contains": ["zz"]}, "action": "quarantine"}),
        ),
    );
    let policy = p["id"].as_str().unwrap_or_default().to_string();
    let (_, r) = moat.call(
        "POST",
        &format!("/v1/domains/{domain}/sender-rules"),
        Some(&acme),
        Some(json!({"kind": "block", "sender": "x@bad.example"})),
    );
    let rule = r["id"].as_str().unwrap_or_default().to_string();
    let (_, w) = moat.call(
        "POST",
        "/v1/webhooks",
        Some(&acme),
        Some(json!({"url": hook_url, "events": ["threat.detected"]})),
    );
    let hook = w["id"].as_str().unwrap_or_default().to_string();
    let (_, t) = moat.call(
        "POST",
        "/v1/tokens",
        Some(&acme),
        Some(json!({"scope": "read_only"})),
    );
    let token_id = t["id"].as_str().unwrap_or_default().to_string();

    let policy_body =
        json!({"name": "x", "condition": {"subject_contains": ["y"]}, "action": "deliver"});
    let sweep: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/v1/domains/{domain}"), None),
        (
            "PATCH",
            format!("/v1/domains/{domain}"),
            Some(json!({"spam_threshold": 50.0})),
        ),
        ("POST", format!("/v1/domains/{domain}/verify"), None),
        ("GET", format!("/v1/domains/{domain}/digest"), None),
        ("GET", format!("/v1/domains/{domain}/sender-rules"), None),
        (
            "POST",
            format!("/v1/domains/{domain}/sender-rules"),
            Some(json!({"kind": "allow", "sender": "evil.example"})),
        ),
        (
            "DELETE",
            format!("/v1/domains/{domain}/sender-rules/{rule}"),
            None,
        ),
        ("GET", format!("/v1/policies/{policy}"), None),
        ("PUT", format!("/v1/policies/{policy}"), Some(policy_body)),
        ("DELETE", format!("/v1/policies/{policy}"), None),
        ("GET", format!("/v1/quarantine/{q}"), None),
        ("GET", format!("/v1/quarantine/{q}/raw"), None),
        ("POST", format!("/v1/quarantine/{q}/release"), None),
        (
            "POST",
            format!("/v1/quarantine/{q}/report"),
            Some(json!({"kind": "not_spam"})),
        ),
        ("DELETE", format!("/v1/quarantine/{q}"), None),
        ("GET", format!("/v1/verdicts/{verdict}"), None),
        ("GET", format!("/v1/webhooks/{hook}"), None),
        ("GET", format!("/v1/webhooks/{hook}/deliveries"), None),
        ("POST", format!("/v1/webhooks/{hook}/test"), None),
        ("DELETE", format!("/v1/webhooks/{hook}"), None),
        ("DELETE", format!("/v1/tokens/{token_id}"), None),
        ("DELETE", format!("/v1/domains/{domain}"), None),
    ];
    for (method, path, body) in sweep {
        let (status, answer) = moat.call(method, &path, Some(&globex), body);
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "not_found", "{method} {path}");
    }
    // Lists never show acme's rows, and a tenant selector is refused, not obeyed.
    for path in [
        "/v1/domains",
        "/v1/policies",
        "/v1/quarantine",
        "/v1/verdicts",
        "/v1/webhooks",
    ] {
        let (_, list) = moat.call("GET", path, Some(&globex), None);
        assert_eq!(ids(&list, "data").len(), 0, "{path}: {list}");
    }
    let (status, _) = moat.call(
        "GET",
        &format!("/v1/quarantine?customer_id={}", "acme"),
        Some(&globex),
        None,
    );
    assert_eq!(status, 400);
    // Nothing of acme's changed.
    let (_, item) = moat.call("GET", &format!("/v1/quarantine/{q}"), Some(&acme), None);
    assert_eq!(item["status"], "quarantined");
    assert_eq!(sink.messages().len(), 0);
    for path in [
        format!("/v1/domains/{domain}"),
        format!("/v1/policies/{policy}"),
        format!("/v1/webhooks/{hook}"),
    ] {
        assert_eq!(moat.call("GET", &path, Some(&acme), None).0, 200, "{path}");
    }
    let (_, rules) = moat.call(
        "GET",
        &format!("/v1/domains/{domain}/sender-rules"),
        Some(&acme),
        None,
    );
    assert_eq!(ids(&rules, "data"), vec![rule]);
    let (_, toks) = moat.call("GET", "/v1/tokens", Some(&acme), None);
    assert!(toks.to_string().contains(&token_id));

    // Stats break the window down per domain and per day.
    let (_, stats) = moat.call("GET", "/v1/stats", Some(&acme), None);
    assert_eq!(stats["per_domain"][0]["domain"], "acme.example", "{stats}");
    assert_eq!(stats["per_domain"][0]["verdicts"]["quarantine"], 1);
    assert_eq!(stats["per_day"].as_array().map_or(0, Vec::len), 1);
    assert_eq!(stats["breakdown_complete"], true);
}

#[test]
fn tokens_in_urls_are_refused_and_guessing_is_throttled() {
    let moat = Moat::start_with(|c| c.api.auth_failures_per_minute = 5);
    let acme = moat.token("acme", TokenKind::Live);
    let (status, body) = moat.call("GET", &format!("/v1/me?api_key={acme}"), Some(&acme), None);
    assert_eq!(status, 400, "{body}");
    assert!(!body.to_string().contains(&acme), "the token is not echoed");
    let forged = format!("{}x", &acme[..acme.len() - 1]);
    for _ in 0..5 {
        assert_eq!(moat.call("GET", "/v1/me", Some(&forged), None).0, 401);
    }
    let resp = ureq::get(&format!("{}/v1/me", moat.api))
        .set("Authorization", "Bearer moat_live_nonsense")
        .call();
    match resp {
        Err(ureq::Error::Status(429, r)) => {
            let wait: i64 = r
                .header("retry-after")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!((1..=60).contains(&wait), "{wait}");
        }
        other => panic!("expected 429 after 5 failures, got {other:?}"),
    }
}

/// RL-5: 200 requests at once with one token: exactly the minute's burst (60) succeed.
#[test]
fn a_concurrent_burst_gets_exactly_the_minute_budget() {
    let moat = Moat::start_with(|c| {
        c.api.rate_limit_per_hour = 600;
        c.api.rate_limit_per_minute = 60;
    });
    let token = moat.token("acme", TokenKind::Live);
    let url = format!("{}/v1/me", moat.api);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
    moat_tests::within_one_minute_window(30);
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let (url, token, barrier) = (url.clone(), token.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                match ureq::get(&url)
                    .set("Authorization", &format!("Bearer {token}"))
                    .call()
                {
                    Ok(r) => r.status(),
                    Err(ureq::Error::Status(code, _)) => code,
                    Err(_) => 0,
                }
            })
        })
        .collect();
    let codes: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap_or(0)).collect();
    let ok = codes.iter().filter(|c| **c == 200).count();
    let limited = codes.iter().filter(|c| **c == 429).count();
    assert_eq!((ok, limited), (60, 140), "{codes:?}");
}

/// Release links are bearer credentials: reading them needs the `quarantine` scope (the
/// digest and the webhook delivery log that carries `report.daily`), revoking a token or all
/// links kills every link minted before, and malware is never released by a link (an admin
/// token must release it).
#[test]
fn release_links_need_the_scope_die_with_revocation_and_never_release_malware() {
    let (moat, sink) = Moat::protected(|_| {});
    let admin = moat.token("acme", TokenKind::Live);
    let reader = moat.scoped_token("acme", TokenKind::Live, TokenScope::ReadOnly);
    let clerk = moat.scoped_token("acme", TokenKind::Live, TokenScope::Quarantine);
    send(&moat, "Spam one", GTUBE);
    send(&moat, "Spam two", GTUBE);
    let eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    send(&moat, "Malware", eicar);
    eventually(10, "three quarantined", || {
        let (_, q) = moat.call("GET", "/v1/quarantine", Some(&admin), None);
        (ids(&q, "data").len() == 3)
            .then_some(())
            .ok_or(q.to_string())
    });
    let (_, domains) = moat.call("GET", "/v1/domains", Some(&admin), None);
    let domain = domains["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let today = moat_core::time::rfc3339(moat_core::time::now_ms())[..10].to_string();
    let path = format!("/v1/domains/{domain}/digest?day={today}");
    assert_eq!(moat.call("GET", &path, Some(&reader), None).0, 403);
    let (status, digest) = moat.call("GET", &path, Some(&clerk), None);
    assert_eq!(status, 200, "{digest}");
    let items = digest["quarantined"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 3);
    let malware = items
        .iter()
        .find(|i| i["threat_type"] == "malware")
        .expect("malware listed");
    assert!(malware["release_url"].is_null(), "{malware}");
    let urls: Vec<String> = items
        .iter()
        .filter_map(|i| i["release_url"].as_str().map(String::from))
        .collect();
    assert_eq!(urls.len(), 2);
    // A link minted for the malware item (with the real key) still cannot release it.
    let key = moat_api_sidecar::signing::SigningKey::load_or_create(moat.dir.path()).expect("key");
    let tenant = moat.call("GET", "/v1/me", Some(&admin), None).1["customer"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let forged = format!(
        "{}/v1/release/{}",
        moat.api,
        moat_api_sidecar::service::digest::link(
            &key,
            &tenant,
            malware["id"].as_str().unwrap_or_default(),
            moat_core::time::now_ms() + 60_000,
            0
        )
    );
    match ureq::post(&forged).call() {
        Err(ureq::Error::Status(409, _)) => {}
        other => panic!("malware by link: {other:?}"),
    }
    // Releasing malware through the API is an admin's act.
    let malware_id = malware["id"].as_str().unwrap_or_default();
    let release = format!("/v1/quarantine/{malware_id}/release");
    assert_eq!(moat.call("POST", &release, Some(&clerk), None).0, 403);
    // Nor can a bulk job of the clerk's release it: bulk jobs follow the same release rules.
    let (status, job) = moat.call(
        "POST",
        "/v1/quarantine/bulk",
        Some(&clerk),
        Some(json!({"action": "release", "filter": {"threat_type": "malware"}})),
    );
    assert_eq!(status, 202, "{job}");
    let job_path = format!(
        "/v1/quarantine/bulk/{}",
        job["id"].as_str().unwrap_or_default()
    );
    let job = eventually(10, "bulk job ends", || {
        let (_, j) = moat.call("GET", &job_path, Some(&clerk), None);
        (j["status"] != "running")
            .then_some(j.clone())
            .ok_or(j.to_string())
    });
    assert_eq!(
        (job["done"].as_u64(), job["failed"].as_u64()),
        (Some(0), Some(1)),
        "{job}"
    );
    let (_, held) = moat.call(
        "GET",
        &format!("/v1/quarantine/{malware_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(held["status"], "quarantined", "{held}");
    // One link works once: the message is released, the link then says so.
    let done = ureq::post(&urls[0]).call().expect("link releases");
    assert!(done.into_string().unwrap_or_default().contains("Released"));
    assert_eq!(sink.wait_for(1, 10).len(), 1);
    let again = ureq::get(&urls[0]).call().expect("link opens");
    assert!(
        again
            .into_string()
            .unwrap_or_default()
            .contains("already released")
    );
    // Revoking any token of the customer kills every link minted before.
    let (_, spare) = moat.call("POST", "/v1/tokens", Some(&admin), Some(json!({})));
    let spare_id = spare["id"].as_str().unwrap_or_default();
    assert_eq!(
        moat.call(
            "DELETE",
            &format!("/v1/tokens/{spare_id}"),
            Some(&admin),
            None
        )
        .0,
        204
    );
    match ureq::post(&urls[1]).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("link after a revocation: {other:?}"),
    }
    // New links work, until the customer revokes them all.
    let (_, digest) = moat.call("GET", &path, Some(&clerk), None);
    let fresh: Vec<String> = digest["quarantined"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["release_url"].as_str().map(String::from))
        .collect();
    assert_eq!(fresh.len(), 1, "{digest}");
    assert!(ureq::get(&fresh[0]).call().is_ok());
    assert_eq!(
        moat.call("POST", "/v1/release-links/revoke", Some(&clerk), None)
            .0,
        403
    );
    let (status, revoked) = moat.call("POST", "/v1/release-links/revoke", Some(&admin), None);
    assert_eq!(status, 200, "{revoked}");
    match ureq::get(&fresh[0]).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("link after revoking all: {other:?}"),
    }
    assert_eq!(sink.messages().len(), 1);
    // The admin releases the malware deliberately.
    assert_eq!(moat.call("POST", &release, Some(&admin), None).0, 200);
    assert_eq!(sink.wait_for(2, 10).len(), 2);
}

/// Without a metrics token, /metrics answers loopback clients, but never a request a proxy
/// forwarded (everyone behind a local reverse proxy arrives from loopback).
#[test]
fn metrics_refuse_forwarded_requests_and_have_their_own_listener() {
    let metrics_port = moat_tests::harness::free_port();
    let moat = Moat::start_with(|c| {
        c.api.metrics_listen = Some(format!("127.0.0.1:{metrics_port}").parse().expect("addr"));
    });
    let url = format!("{}/metrics", moat.api);
    assert_eq!(
        ureq::get(&url).call().expect("loopback scrape").status(),
        200
    );
    for header in ["X-Forwarded-For", "X-Real-IP", "Forwarded"] {
        match ureq::get(&url).set(header, "203.0.113.7").call() {
            Err(ureq::Error::Status(404, _)) => {}
            other => panic!("{header}: {other:?}"),
        }
    }
    let own = ureq::get(&format!("http://127.0.0.1:{metrics_port}/metrics"))
        .call()
        .expect("metrics listener");
    assert!(own.into_string().unwrap_or_default().contains("moat_"));
    match ureq::get(&format!("http://127.0.0.1:{metrics_port}/v1/me")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("the metrics listener serves only /metrics: {other:?}"),
    }
}

/// Hyperscan compilation of a hostile policy takes seconds of CPU: it runs off the HTTP
/// workers (the harness runs one), one at a time per customer, within size bounds, so another
/// tenant's requests are answered meanwhile.
#[test]
fn compiling_a_heavy_policy_does_not_stall_other_tenants() {
    let moat = Moat::start();
    let mallory = moat.token("mallory", TokenKind::Live);
    let acme = moat.token("acme", TokenKind::Live);
    let heavy = json!({
        "name": "heavy",
        "condition": {"body_matches": [
            "(?s)x[^y]{0,900}y[^z]{0,900}z",
            "(?s)a[^b]{0,900}b[^c]{0,900}c",
            "(?s)d[^e]{0,900}e[^f]{0,900}f",
        ]},
        "action": "tag"
    });
    let api = moat.api.clone();
    let post = move |token: String, body: Value| {
        let api = api.clone();
        std::thread::spawn(move || {
            match ureq::post(&format!("{api}/v1/policies"))
                .set("Authorization", &format!("Bearer {token}"))
                .send_json(body)
            {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(s, _)) => s,
                Err(e) => panic!("{e}"),
            }
        })
    };
    let first = post(mallory.clone(), heavy.clone());
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The same customer's second compilation waits its turn: 429 at once.
    let second = post(mallory.clone(), heavy.clone()).join().expect("second");
    assert_eq!(second, 429);
    // Another tenant is served while Mallory's policy compiles.
    let started = std::time::Instant::now();
    let (status, _) = moat.call("GET", "/v1/me", Some(&acme), None);
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "GET /v1/me took {:?} while a policy compiled",
        started.elapsed()
    );
    assert!(
        !first.is_finished(),
        "the heavy compilation should still be running (make the patterns heavier)"
    );
    assert_eq!(first.join().expect("first"), 201);
    // Size bounds come before any compiling.
    let long = format!("x{}", "ab".repeat(450));
    let (status, body) = moat.call(
        "POST",
        "/v1/policies",
        Some(&acme),
        Some(json!({"name": "too-big", "condition": {"body_matches": [long.clone(), long.clone(), long.clone(), long.clone(), long]}, "action": "tag"})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("bytes of regular expressions")),
        "{body}"
    );
}

/// The paths other gateways' integrations use: every `/v1` route also answers under `/api/v1`
/// (one router: same answers, same errors, query strings kept; the spec lists each operation
/// once), `/v1/docs` and `/api/v1/docs` redirect to Swagger UI, and `/api/browser` opens it.
#[test]
fn api_v1_paths_docs_and_browser_are_served() {
    let moat = Moat::start();
    let token = moat.token("acme", TokenKind::Live);
    let (status, me) = moat.call("GET", "/v1/me", Some(&token), None);
    assert_eq!(status, 200);
    let (status, me2) = moat.call("GET", "/api/v1/me", Some(&token), None);
    assert_eq!(status, 200, "{me2}");
    assert_eq!(me, me2);
    let (status, _) = moat.call("GET", "/api/v1/me", None, None);
    assert_eq!(status, 401);
    let (status, created) = moat.call(
        "POST",
        "/api/v1/domains",
        Some(&token),
        Some(json!({"domain": "alias.example", "real_mx_host": "mx.alias.example:25"})),
    );
    assert_eq!(status, 201, "{created}");
    let (status, listed) = moat.call("GET", "/api/v1/domains?limit=1", Some(&token), None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"][0]["domain"], "alias.example", "{listed}");
    let (status, bad) = moat.call("GET", "/api/v1/quarantine?status=bogus", Some(&token), None);
    assert_eq!(status, 400, "the query string reaches the route: {bad}");
    let (status, _) = moat.call(
        "GET",
        "/api/v1/quarantine?status=released",
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = moat.call("GET", "/api/v1x/me", Some(&token), None);
    assert_eq!(status, 404);

    let (status, spec) = moat.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/v1/me"));
    assert!(
        !paths.keys().any(|p| p.starts_with("/api/")),
        "aliases are not listed twice"
    );

    // Redirects, not followed, so their targets can be checked.
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    for (path, location) in [
        ("/v1/docs", "docs/"),
        ("/api/v1/docs", "docs/"),
        ("/api/browser", "/v1/docs/"),
    ] {
        let resp = match agent.get(&format!("{}{path}", moat.api)).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        assert_eq!(resp.status(), 308, "{path}");
        assert_eq!(resp.header("location"), Some(location), "{path}");
    }
    for path in ["/v1/docs/", "/api/v1/docs/"] {
        let page = ureq::get(&format!("{}{path}", moat.api))
            .call()
            .expect("swagger ui")
            .into_string()
            .unwrap_or_default();
        assert!(page.contains("swagger"), "{path}: {page}");
    }
}

/// `POST /v1/domains` with only a name (Pixacolour's quick start): the real server is taken
/// from the domain's MX records at that moment (most preferred first, never Moat itself),
/// and the answer says so; without usable MX records it is a 422 that says what to send.
#[test]
fn a_domain_without_real_mx_host_takes_its_current_mx() {
    let moat = Moat::start();
    let token = moat.token("acme", TokenKind::Live);
    let own = moat.config.hostname.clone();
    moat.add_zone_records(&format!(
        "pixa.example MX 20 backup.pixa.example\npixa.example MX 10 mail.pixa.example\n\
         moved.example MX 10 {own}\n"
    ));
    let (status, d) = moat.call(
        "POST",
        "/v1/domains",
        Some(&token),
        Some(json!({"domain": "pixa.example"})),
    );
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["real_mx_host"], "mail.pixa.example:25", "{d}");
    assert_eq!(d["status"], "pending_mx_verification");
    let note = d["real_mx_host_note"].as_str().unwrap_or_default();
    assert!(
        note.contains("mail.pixa.example") && note.contains("PATCH"),
        "{d}"
    );
    // Later reads are plain domain objects.
    let id = d["id"].as_str().unwrap_or_default();
    let (_, again) = moat.call("GET", &format!("/v1/domains/{id}"), Some(&token), None);
    assert!(again.get("real_mx_host_note").is_none(), "{again}");

    for (domain, says) in [
        ("nomx.example", "no MX records"),
        ("moved.example", "point at Moat"),
    ] {
        let (status, e) = moat.call(
            "POST",
            "/v1/domains",
            Some(&token),
            Some(json!({"domain": domain})),
        );
        assert_eq!(status, 422, "{e}");
        assert!(
            e["detail"].as_str().unwrap_or_default().contains(says),
            "{e}"
        );
    }
}
