//! API behaviour across resources: per-token rate limits and token management.

use moat_core::model::TokenKind;
use moat_tests::harness::Moat;
use serde_json::json;

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
    // Another token of the same customer has its own budget.
    assert_eq!(call_with_headers(&moat, &b).0, 200);
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
