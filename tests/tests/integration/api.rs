//! API behaviour across resources: per-token rate limits and token management.

use moat_core::model::TokenKind;
use moat_tests::{eventually, harness::Moat};
use serde_json::{Value, json};

/// Status and the rate-limit headers of one call.
fn call_with_headers(
    moat: &Moat,
    token: &str,
) -> (u16, Option<String>, Option<String>, Option<String>) {
    let result = ureq::get(&format!("{}/v1/me", moat.api))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let h = |n: &str| resp.header(n).map(str::to_string);
    (
        resp.status(),
        h("x-ratelimit-remaining"),
        h("retry-after"),
        h("x-ratelimit-limit"),
    )
}

#[test]
fn tokens_are_rate_limited_per_token_with_headers_and_retry_after() {
    let moat = Moat::start_with(|c| {
        c.api.rate_limit_per_minute = 5;
        c.api.rate_limit_per_hour = 100;
    });
    let a = moat.token("acme", TokenKind::Live);
    let b = moat.token("acme", TokenKind::Live);
    moat_tests::within_one_minute_window(20);
    for expected_remaining in (0..5).rev() {
        let (status, remaining, _, limit) = call_with_headers(&moat, &a);
        assert_eq!(status, 200);
        assert_eq!(
            remaining.as_deref(),
            Some(expected_remaining.to_string().as_str())
        );
        assert_eq!(limit.as_deref(), Some("100"));
    }
    let (status, remaining, retry_after, _) = call_with_headers(&moat, &a);
    assert_eq!(status, 429);
    assert_eq!(remaining.as_deref(), Some("0"));
    let wait: u64 = retry_after.and_then(|r| r.parse().ok()).unwrap_or(0);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let (_, body) = moat.call("GET", "/v1/me", Some(&a), None);
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["status"], 429);
    // Another token of the same customer has its own budget...
    assert_eq!(call_with_headers(&moat, &b).0, 200);
    // ...but all of a customer's tokens share the customer's (twice a token's by default):
    // minting more tokens does not buy more requests.
    for _ in 0..4 {
        assert_eq!(call_with_headers(&moat, &b).0, 200);
    }
    let c = moat.token("acme", TokenKind::Live);
    let (status, _, retry_after, _) = call_with_headers(&moat, &c);
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    let globex = moat.token("globex", TokenKind::Live);
    assert_eq!(call_with_headers(&moat, &globex).0, 200, "per customer");
}

#[test]
fn token_creation_is_bounded_and_its_secret_is_never_replayed() {
    let moat = Moat::start_with(|c| {
        c.api.max_tokens_per_customer = 4;
        c.api.token_creations_per_hour = 5;
    });
    // The creation budget is a clock-aligned hour in the store: not across its end.
    moat_tests::within_one_minute_window(20);
    let admin = moat.token("acme", TokenKind::Live);
    let post = |token: &str, key: &str| {
        let resp = ureq::post(&format!("{}/v1/tokens", moat.api))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Idempotency-Key", key)
            .send_json(json!({}));
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let replayed = resp.header("idempotent-replayed") == Some("true");
        (
            resp.status(),
            replayed,
            resp.into_json::<Value>().unwrap_or(Value::Null),
        )
    };
    let (status, replayed, first) = post(&admin, "mint-1");
    assert_eq!((status, replayed), (201, false), "{first}");
    let secret = first["token"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("moat_live_"));
    // A retry with the key gets the same token, without its secret.
    let (status, replayed, again) = post(&admin, "mint-1");
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again["id"], first["id"]);
    assert!(again.get("token").is_none(), "{again}");
    // The minted token revokes the one that minted it; the revoked token's retry is refused,
    // not answered from what was kept.
    let admin_id = moat.call("GET", "/v1/me", Some(&admin), None).1["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _) = moat.call(
        "DELETE",
        &format!("/v1/tokens/{admin_id}"),
        Some(&secret),
        None,
    );
    assert_eq!(status, 204);
    let (status, replayed, refused) = post(&admin, "mint-1");
    assert_eq!((status, replayed), (401, false), "{refused}");
    // At most four tokens held (the second and first are counted; the revoked one is not).
    for i in 0..3 {
        let (status, _, body) = post(&secret, &format!("more-{i}"));
        assert_eq!(status, 201, "{body}");
    }
    let (status, _, body) = post(&secret, "one-too-many");
    assert_eq!(status, 409, "{body}");
    // And at most five creations an hour, revoked or not.
    let list = moat.call("GET", "/v1/tokens", Some(&secret), None).1;
    let spare = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str())
        .find(|id| *id != first["id"].as_str().unwrap_or_default())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        moat.call(
            "DELETE",
            &format!("/v1/tokens/{spare}"),
            Some(&secret),
            None
        )
        .0,
        204
    );
    let (status, _, body) = post(&secret, "sixth");
    assert_eq!(status, 429, "{body}");
}

#[test]
fn tokens_can_be_created_listed_and_revoked_by_their_customer_only() {
    let moat = Moat::start();
    let admin = moat.token("acme", TokenKind::Live);
    let other = moat.token("globex", TokenKind::Live);

    let (status, created) = moat.call(
        "POST",
        "/v1/tokens",
        Some(&admin),
        Some(json!({"kind": "test"})),
    );
    assert_eq!(status, 201, "{created}");
    let secret = created["token"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("moat_test_") && moat_core::token::parse(&secret).is_some());
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let (status, me) = moat.call("GET", "/v1/me", Some(&secret), None);
    assert_eq!(status, 200);
    assert_eq!(me["customer"]["name"], "acme");
    assert_eq!(me["token"]["kind"], "test");

    let (_, list) = moat.call("GET", "/v1/tokens", Some(&admin), None);
    let listed = list["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|t| t.get("token").is_none()),
        "secrets are never listed"
    );
    assert!(!list.to_string().contains(&secret));

    // Another customer cannot see or revoke it.
    let (_, theirs) = moat.call("GET", "/v1/tokens", Some(&other), None);
    assert_eq!(theirs["data"].as_array().map_or(0, Vec::len), 1);
    assert_eq!(
        moat.call("DELETE", &format!("/v1/tokens/{id}"), Some(&other), None)
            .0,
        404
    );

    assert_eq!(
        moat.call("DELETE", &format!("/v1/tokens/{id}"), Some(&admin), None)
            .0,
        204
    );
    assert_eq!(
        moat.call("GET", "/v1/me", Some(&secret), None).0,
        401,
        "revoked"
    );
    assert_eq!(
        moat.call("DELETE", &format!("/v1/tokens/{id}"), Some(&admin), None)
            .0,
        404
    );
    let (status, body) = moat.call(
        "POST",
        "/v1/tokens",
        Some(&admin),
        Some(json!({"kind": "root"})),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn verdicts_raw_quarantine_domain_patch_and_policy_crud() {
    use moat_tests::{
        client::smtplib_send,
        sink::{Sink, SinkMode},
    };
    let sink = Sink::start();
    let moat = Moat::start();
    let token = moat.token("acme", TokenKind::Live);
    let other = moat.token("globex", TokenKind::Live);
    let domain = moat.create_domain(
        &token,
        json!({"domain": "acme.example", "real_mx_host": sink.addr.to_string()}),
    );
    let domain_id = domain["id"].as_str().unwrap_or_default().to_string();
    let (status, policy) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(json!({"name": "crypto", "condition": {"subject_contains": ["bitcoin"]}, "action": "quarantine"})),
    );
    assert_eq!(status, 201);
    let policy_id = policy["id"].as_str().unwrap_or_default().to_string();
    moat.wait_until_accepting("bob@acme.example");
    let spam = b"From: a@sender.test\r\nSubject: bitcoin offer\r\n\r\nraw body here\r\n";
    assert!(
        smtplib_send(moat.smtp, "m@sender.test", &["bob@acme.example"], spam).starts_with("250")
    );
    let clean = b"From: a@sender.test\r\nSubject: hello\r\n\r\nhi\r\n";
    assert!(
        smtplib_send(moat.smtp, "a@sender.test", &["bob@acme.example"], clean).starts_with("250")
    );

    // Verdicts: both listed (after the batched writer), filterable, one by id with findings.
    let list = eventually(10, "both verdicts listed", || {
        let (_, list) = moat.call("GET", "/v1/verdicts", Some(&token), None);
        if list["data"].as_array().map_or(0, Vec::len) == 2 {
            Ok(list)
        } else {
            Err(list.to_string())
        }
    });
    let (_, q) = moat.call("GET", "/v1/verdicts?verdict=quarantine", Some(&token), None);
    let qv = &q["data"][0];
    assert_eq!(qv["verdict"], "quarantine");
    assert_eq!(qv["findings"][0]["rule"], "crypto");
    let vid = qv["id"].as_str().unwrap_or_default();
    let (status, one) = moat.call("GET", &format!("/v1/verdicts/{vid}"), Some(&token), None);
    assert_eq!(
        (status, one["subject"].as_str()),
        (200, Some("bitcoin offer"))
    );
    assert_eq!(
        moat.call("GET", &format!("/v1/verdicts/{vid}"), Some(&other), None)
            .0,
        404
    );
    assert_eq!(list["data"][0]["domain_id"], domain_id.as_str());
    let (_, by_domain) = moat.call(
        "GET",
        &format!("/v1/verdicts?domain={domain_id}"),
        Some(&token),
        None,
    );
    assert_eq!(by_domain["data"].as_array().map_or(0, Vec::len), 2);
    let (_, future) = moat.call(
        "GET",
        "/v1/verdicts?since=2099-01-01T00:00:00Z",
        Some(&token),
        None,
    );
    assert_eq!(future["data"], json!([]));
    assert_eq!(
        moat.call("GET", "/v1/verdicts?since=yesterday", Some(&token), None)
            .0,
        400
    );
    assert_eq!(
        moat.call("GET", "/v1/verdicts?verdict=maybe", Some(&token), None)
            .0,
        400
    );

    // The quarantined message as message/rfc822, and the new quarantine filters.
    let (_, ql) = moat.call(
        "GET",
        &format!("/v1/quarantine?domain={domain_id}&until=2099-01-01T00:00:00Z"),
        Some(&token),
        None,
    );
    let qid = ql["data"][0]["id"].as_str().unwrap_or_default().to_string();
    let resp = ureq::get(&format!("{}/v1/quarantine/{qid}/raw", moat.api))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("raw");
    assert_eq!(resp.content_type(), "message/rfc822");
    let body = resp.into_string().expect("text");
    assert!(
        body.contains("raw body here")
            && body.starts_with("Authentication-Results: ")
            && body.contains("\r\nReceived: "),
        "{body}"
    );
    assert_eq!(
        moat.call(
            "GET",
            &format!("/v1/quarantine/{qid}/raw"),
            Some(&other),
            None
        )
        .0,
        404
    );
    let (_, none) = moat.call("GET", "/v1/quarantine?domain=nope", Some(&token), None);
    assert_eq!(none["data"], json!([]));

    // PATCH a domain: proxy mode takes effect in the scanner.
    let (status, patched) = moat.call(
        "PATCH",
        &format!("/v1/domains/{domain_id}"),
        Some(&token),
        Some(json!({"delivery_mode": "proxy"})),
    );
    assert_eq!(
        (status, patched["delivery_mode"].as_str()),
        (200, Some("proxy"))
    );
    assert_eq!(
        moat.call(
            "PATCH",
            &format!("/v1/domains/{domain_id}"),
            Some(&token),
            Some(json!({"real_mx_host": "bad host"}))
        )
        .0,
        422
    );
    assert_eq!(
        moat.call(
            "PATCH",
            &format!("/v1/domains/{domain_id}"),
            Some(&other),
            Some(json!({"delivery_mode": "spool"}))
        )
        .0,
        404
    );
    sink.set_mode(SinkMode::TempFail);
    eventually(10, "proxy mode never applied", || {
        let reply = smtplib_send(moat.smtp, "a@sender.test", &["bob@acme.example"], clean);
        if reply.starts_with("451") {
            Ok(())
        } else {
            Err(reply)
        }
    });

    // Policies: get, replace (a bad one changes nothing), delete; others see 404.
    let path = format!("/v1/policies/{policy_id}");
    assert_eq!(
        moat.call("GET", &path, Some(&token), None).1["name"],
        "crypto"
    );
    assert_eq!(moat.call("GET", &path, Some(&other), None).0, 404);
    let (status, replaced) = moat.call("PUT", &path, Some(&token), Some(json!({"name": "crypto2", "condition": {"subject_contains": ["ethereum"]}, "action": "reject"})));
    assert_eq!((status, replaced["action"].as_str()), (200, Some("reject")));
    assert_eq!(
        moat.call(
            "PUT",
            &path,
            Some(&token),
            Some(json!({"name": "x", "condition": {"any": []}, "action": "reject"}))
        )
        .0,
        422
    );
    assert_eq!(
        moat.call("GET", &path, Some(&token), None).1["name"],
        "crypto2"
    );
    assert_eq!(
        moat.call(
            "PUT",
            &path,
            Some(&other),
            Some(
                json!({"name": "x", "condition": {"subject_contains": ["a"]}, "action": "reject"})
            )
        )
        .0,
        404
    );
    assert_eq!(moat.call("DELETE", &path, Some(&other), None).0, 404);
    assert_eq!(moat.call("DELETE", &path, Some(&token), None).0, 204);
    assert_eq!(moat.call("GET", &path, Some(&token), None).0, 404);
}
