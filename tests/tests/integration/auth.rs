//! Sender authentication end to end: DKIM against messages signed by an independent signer
//! (dkimpy), and DMARC dispositions, forged Authentication-Results and ambiguous From headers
//! through real SMTP into a running Moat whose DNS is a static zone.

use base64::Engine;
use moat_core::{
    auth::{AuthInput, Authenticator},
    config::Config,
    dns::{Dns, Zone},
    model::TokenKind,
};
use moat_tests::{client::smtplib_send, eventually, harness::Moat, sink::Sink};
use serde_json::{Value, json};

/// Runs the dkimpy signer; returns the zone it published and its cases.
fn dkimpy_cases(dir: &std::path::Path) -> (Zone, Vec<Value>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/dkim_sign.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "dkimpy signer failed (tests/run.sh installs dkimpy and pynacl): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zone = Zone::load(&dir.join("zone.txt")).expect("zone");
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).expect("cases"))
            .expect("json");
    (zone, cases)
}

#[test]
fn dkim_verifies_dkimpy_signatures_and_fails_tampered_ones() {
    let dir = tempfile::tempdir().expect("dir");
    let (zone, cases) = dkimpy_cases(dir.path());
    assert!(cases.len() >= 12);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let config = Config::default();
        let dns = Dns::with_zone(zone, &config.dns).await.expect("zone server");
        let auth = Authenticator::with_dns(dns, &config);
        let mut failures = Vec::new();
        for case in &cases {
            let name = case["name"].as_str().unwrap_or_default();
            let message = base64::engine::general_purpose::STANDARD
                .decode(case["message"].as_str().unwrap_or_default())
                .expect("base64");
            let outcome = auth
                .check(&AuthInput {
                    client_ip: "192.0.2.99".parse().expect("ip"),
                    helo: "mail.signer.example",
                    mail_from: "bounces@signer.example",
                    message: &message,
                })
                .await;
            let dkim = outcome
                .summary
                .dkim
                .first()
                .map_or("none", |d| d.result.as_str());
            let dmarc = outcome.summary.dmarc.result.as_str();
            let want_dkim = case["dkim"].as_str().unwrap_or_default();
            let want_dmarc = case["dmarc"].as_str().unwrap_or_default();
            if (want_dkim != "any" && dkim != want_dkim) || dmarc != want_dmarc {
                failures.push(format!(
                    "{name}: dkim {dkim} (want {want_dkim}), dmarc {dmarc} (want {want_dmarc}); {:?}",
                    outcome.summary
                ));
            }
            // Moat's own results reach Authentication-Results with their reason.
            if matches!(want_dkim, "policy" | "permerror") && dkim == want_dkim {
                assert!(
                    outcome.header.contains(&format!("dkim={want_dkim} (")),
                    "{name}: {}",
                    outcome.header
                );
                assert!(!outcome.header.contains("i/o error"), "{}", outcome.header);
            }
            if want_dkim == "pass" && dkim == "pass" {
                let d = &outcome.summary.dkim[0];
                assert_eq!(d.domain, "signer.example", "{name}: {:?}", outcome.summary);
                assert!(outcome.header.contains("dkim=pass"), "{}", outcome.header);
            }
        }
        println!("dkimpy cases: {} checked, {} failed", cases.len(), failures.len());
        assert!(failures.is_empty(), "{failures:#?}");
    });
}

/// A zone with three sender domains whose DMARC policies differ, for a client on 127.0.0.1.
const ZONE: &str = "\
reject.example TXT \"v=spf1 ip4:192.0.2.0/24 -all\"
_dmarc.reject.example TXT \"v=DMARC1; p=reject\"
quarantine.example TXT \"v=spf1 ip4:192.0.2.0/24 -all\"
_dmarc.quarantine.example TXT \"v=DMARC1; p=quarantine\"
good.example TXT \"v=spf1 ip4:127.0.0.0/8 -all\"
1.0.0.127.in-addr.arpa PTR client.good.example
client.good.example A 127.0.0.1
_dmarc.good.example TXT \"v=DMARC1; p=reject\"
";

fn moat_with_zone() -> (Moat, Sink, String) {
    let sink = Sink::start();
    let moat = Moat::start_with(|c| {
        c.hostname = "mx.moat.test".into();
        if let Some(zone) = &c.dns.static_zone {
            std::fs::write(zone, ZONE).expect("zone");
        }
    });
    let token = moat.token("acme", TokenKind::Live);
    moat.create_domain(
        &token,
        json!({"domain": "acme.example", "real_mx_host": sink.addr.to_string(), "delivery_mode": "proxy"}),
    );
    moat.wait_until_accepting("bob@acme.example");
    (moat, sink, token)
}

fn message(from: &str, extra: &str) -> Vec<u8> {
    format!(
        "{extra}From: {from}\r\nTo: bob@acme.example\r\nSubject: auth test\r\n\
Message-ID: <{}@test>\r\n\r\nHello.\r\n",
        uuid::Uuid::new_v4()
    )
    .into_bytes()
}

/// The newest verdict, once every verdict queued so far is written (verdicts are batched
/// after the SMTP reply, so reading at once races the writer).
fn newest_verdict(moat: &Moat, token: &str) -> Value {
    moat.flush_verdicts();
    let (status, list) = moat.call("GET", "/v1/verdicts?limit=1", Some(token), None);
    assert_eq!(status, 200, "{list}");
    list["data"][0].clone()
}

/// The client is named in Moat's Received field as MTAs name it: its reverse DNS name when
/// that name resolves back to its address (looked up at connect).
#[test]
fn the_received_field_names_the_client_by_its_confirmed_reverse_name() {
    let (moat, sink, _token) = moat_with_zone();
    let reply = smtplib_send(
        moat.smtp,
        "a@good.example",
        &["bob@acme.example"],
        &message("a@good.example", ""),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(1, 10);
    let text = String::from_utf8_lossy(&got[0].data).to_string();
    // The zone names 127.0.0.1 client.good.example; a machine's hosts file may name it first
    // (the resolver reads it too). Either way a confirmed name, never "unknown".
    let at = text.find("Received: from ").expect("Received field");
    let client = text[at..]
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(" [127.0.0.1])\r\n\tby mx.moat.test (Moat)"))
        .map(|(name, _)| name.to_string())
        .unwrap_or_default();
    assert!(
        !client.is_empty() && client != "unknown" && !client.contains(' '),
        "{text}"
    );
}

#[test]
fn dmarc_reject_quarantine_and_pass_with_authentication_results() {
    let (moat, sink, token) = moat_with_zone();

    // p=reject, SPF fails (127.0.0.1 is not in 192.0.2.0/24), no DKIM: 550 5.7.1.
    let reply = smtplib_send(
        moat.smtp,
        "sender@reject.example",
        &["bob@acme.example"],
        &message("ceo@reject.example", ""),
    );
    assert!(reply.contains("550") && reply.contains("5.7.1"), "{reply}");
    assert!(reply.contains("DMARC"), "{reply}");
    let v = eventually(10, "reject verdict recorded", || {
        let v = newest_verdict(&moat, &token);
        if v["verdict"] == "reject" {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(v["auth"]["spf"]["result"], "fail");
    assert_eq!(v["auth"]["dmarc"]["result"], "fail");
    assert_eq!(v["auth"]["dmarc"]["policy"], "reject");
    assert_eq!(v["threat_type"], "phishing");
    assert_eq!(v["findings"][0]["rule"], "auth.dmarc_reject");

    // p=quarantine: accepted, held in quarantine with the finding.
    let reply = smtplib_send(
        moat.smtp,
        "sender@quarantine.example",
        &["bob@acme.example"],
        &message("ceo@quarantine.example", ""),
    );
    assert!(reply.contains("250"), "{reply}");
    let (status, q) = moat.call(
        "GET",
        "/v1/quarantine?threat_type=phishing",
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{q}");
    assert_eq!(
        q["data"][0]["findings"][0]["rule"], "auth.dmarc_quarantine",
        "{q}"
    );

    // Aligned SPF pass: delivered with Moat's Authentication-Results on top, and a forged one
    // claiming Moat's authserv-id removed (another server's is kept).
    let forged = "Authentication-Results: mx.moat.test; dmarc=pass header.from=reject.example\r\n\
Authentication-Results: other.example; spf=pass\r\n";
    let reply = smtplib_send(
        moat.smtp,
        "sender@good.example",
        &["bob@acme.example"],
        &message("news@good.example", forged),
    );
    assert!(reply.contains("250"), "{reply}");
    let got = sink.wait_for(1, 10);
    let text = String::from_utf8_lossy(&got[0].data).to_string();
    assert!(
        text.starts_with("Authentication-Results: mx.moat.test;"),
        "{text}"
    );
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Authentication-Results: mx.moat.test"))
        .collect();
    assert_eq!(ours.len(), 1, "forged field kept: {text}");
    assert!(text.contains("Authentication-Results: other.example; spf=pass"));
    assert!(text.contains("spf=pass"), "{text}");
    assert!(text.contains("dmarc=pass"), "{text}");
    assert!(!text.contains("header.from=reject.example"), "{text}");
    let v = newest_verdict(&moat, &token);
    assert_eq!(v["auth"]["dmarc"]["result"], "pass", "{v}");

    // The metrics count the results.
    let metrics = ureq::get(&format!("{}/metrics", moat.api))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    assert!(metrics.contains("moat_auth_results_total{check=\"dmarc\",result=\"fail\"}"));
    assert!(metrics.contains("moat_auth_duration_seconds_count"));
}

#[test]
fn a_deliver_policy_overrides_dmarc_and_ambiguous_from_is_never_a_pass() {
    let (moat, sink, token) = moat_with_zone();
    let (status, body) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(json!({
            "name": "partner-allow",
            "condition": {"sender_domain_in": ["reject.example"]},
            "action": "deliver"
        })),
    );
    assert_eq!(status, 201, "{body}");
    let reply = eventually(10, "allow policy loaded", || {
        let r = smtplib_send(
            moat.smtp,
            "sender@reject.example",
            &["bob@acme.example"],
            &message("ceo@reject.example", ""),
        );
        if r.contains("250") { Ok(r) } else { Err(r) }
    });
    assert!(reply.contains("250"));
    sink.wait_for(1, 10);

    // HDR-1: a second From (the forged domain's) above the real one: quarantined, DMARC never
    // passes even though good.example's SPF does.
    let reply = smtplib_send(
        moat.smtp,
        "sender@good.example",
        &["bob@acme.example"],
        &message("news@good.example", "From: ceo@reject.example\r\n"),
    );
    assert!(reply.contains("250"), "{reply}");
    let v = newest_verdict(&moat, &token);
    assert_eq!(v["verdict"], "quarantine", "{v}");
    assert_eq!(v["auth"]["dmarc"]["result"], "permerror", "{v}");
    assert_eq!(v["findings"][0]["rule"], "auth.from_ambiguous", "{v}");

    // HDR-3: no From at all: 550 5.7.7.
    let reply = smtplib_send(
        moat.smtp,
        "sender@good.example",
        &["bob@acme.example"],
        b"To: bob@acme.example\r\nSubject: anonymous\r\n\r\nwho am I\r\n",
    );
    assert!(reply.contains("550") && reply.contains("5.7.7"), "{reply}");
}

#[test]
fn sender_rules_block_allow_authenticated_senders_only_and_count_hits() {
    let (moat, sink, token) = moat_with_zone();
    let (_, domains) = moat.call("GET", "/v1/domains", Some(&token), None);
    let domain_id = domains["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rules = format!("/v1/domains/{domain_id}/sender-rules");
    let add = |body: Value| moat.call("POST", &rules, Some(&token), Some(body));
    assert_eq!(
        add(json!({"kind": "allow", "sender": "not an address!"})).0,
        422
    );
    assert_eq!(
        add(json!({"kind": "allow", "sender": "a.example", "expires_at": "2001-01-01T00:00:00Z"}))
            .0,
        422
    );
    assert_eq!(
        moat.call("GET", "/v1/domains/nope/sender-rules", Some(&token), None)
            .0,
        404
    );
    let (status, block) = add(json!({"kind": "block", "sender": "Bad@Good.Example"}));
    assert_eq!(status, 201, "{block}");
    assert_eq!(block["sender"], "bad@good.example");
    assert_eq!(
        add(json!({"kind": "allow", "sender": "*.good.example"})).0,
        201
    );
    assert_eq!(
        add(json!({"kind": "allow", "sender": "good.example"})).0,
        201
    );
    // An allow entry for a domain whose mail fails DMARC here: it must not apply.
    assert_eq!(
        add(json!({"kind": "allow", "sender": "reject.example"})).0,
        201
    );
    let (status, _) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(json!({"name": "invoices", "condition": {"subject_contains": ["invoice"]}, "action": "quarantine"})),
    );
    assert_eq!(status, 201);

    // Blocked sender (block wins over the domain's allow entry).
    let reply = eventually(10, "rules loaded", || {
        let r = smtplib_send(
            moat.smtp,
            "bad@good.example",
            &["bob@acme.example"],
            &message("bad@good.example", ""),
        );
        if r.contains("blocked") { Ok(r) } else { Err(r) }
    });
    assert!(reply.starts_with("550 5.7.1"), "{reply}");

    // Allowed and authenticated (SPF and DMARC pass): the invoice policy is skipped.
    let reply = smtplib_send(
        moat.smtp,
        "billing@good.example",
        &["bob@acme.example"],
        b"From: billing@good.example\r\nTo: bob@acme.example\r\nSubject: invoice 7\r\n\r\npay\r\n",
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(sink.wait_for(1, 10).len(), 1);
    let v = newest_verdict(&moat, &token);
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert_eq!(v["findings"][0]["rule"], "sender_rule.allow", "{v}");

    // A forged sender of an allowed domain fails DMARC: the allow entry does not apply.
    let reply = smtplib_send(
        moat.smtp,
        "ceo@reject.example",
        &["bob@acme.example"],
        &message("ceo@reject.example", ""),
    );
    assert!(reply.contains("DMARC"), "{reply}");

    // Malware from an allowed sender is still quarantined.
    let eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    let reply = smtplib_send(
        moat.smtp,
        "billing@good.example",
        &["bob@acme.example"],
        &format!("From: billing@good.example\r\nSubject: file\r\n\r\n{eicar}\r\n").into_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let v = newest_verdict(&moat, &token);
    assert_eq!(v["verdict"], "quarantine", "{v}");
    assert_eq!(v["threat_type"], "malware", "{v}");
    assert_eq!(sink.messages().len(), 1);

    // Hit counters, and deletion.
    let listed = eventually(10, "hits counted", || {
        let (_, l) = moat.call("GET", &rules, Some(&token), None);
        let block_hits = l["data"][0]["hits"].as_u64().unwrap_or(0);
        if block_hits >= 1 {
            Ok(l)
        } else {
            Err(l.to_string())
        }
    });
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(4));
    let id = block["id"].as_str().unwrap_or_default();
    assert_eq!(
        moat.call("DELETE", &format!("{rules}/{id}"), Some(&token), None)
            .0,
        204
    );
    assert_eq!(
        moat.call("DELETE", &format!("{rules}/{id}"), Some(&token), None)
            .0,
        404
    );
}

/// Reputation lists through the real resolver and a static zone: the client's address, the
/// HELO name, the envelope domain and link domains are each looked up; a list's refusal
/// (`127.255.255.x`) never counts; codes and bitmasks decide what a listing is.
#[test]
fn reputation_lists_count_listings_and_never_refusals() {
    use moat_core::{config::ReputationConfig, detect::reputation::ListConfig};
    let zone = Zone::parse(
        "8.8.8.8.zen.test A 127.0.0.4\n\
         9.9.9.9.zen.test A 127.255.255.254\n\
         evil.test.dbl.test A 127.0.1.2\n\
         quota.test.dbl.test A 127.255.255.252\n\
         grey.test.multi.test A 127.0.0.8\n\
         bad.test.multi.test A 127.0.0.2\n",
    )
    .expect("zone");
    let lists = ReputationConfig {
        ip_lists: vec![ListConfig {
            zone: "zen.test".into(),
            score: 3.0,
            codes: Vec::new(),
            mask: None,
        }],
        domain_lists: vec![
            ListConfig {
                zone: "dbl.test".into(),
                score: 2.5,
                codes: vec!["127.0.1.2".parse().expect("ip")],
                mask: None,
            },
            ListConfig {
                zone: "multi.test".into(),
                score: 1.5,
                codes: Vec::new(),
                mask: Some(0b10),
            },
        ],
        max_domains: 20,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let config = Config::default();
        let dns = Dns::with_zone(zone, &config.dns)
            .await
            .expect("zone server");
        let auth = Authenticator::with_dns(dns, &config);
        let links = vec![
            "www.evil.test".to_string(),
            "login.evil.test".to_string(),
            "quota.test".to_string(),
            "grey.test".to_string(),
            "bad.test".to_string(),
            "clean.test".to_string(),
        ];
        let found = auth
            .reputation(
                &lists,
                "8.8.8.8".parse().expect("ip"),
                "mx.bad.test",
                "a@clean.test",
                &links,
            )
            .await;
        let mut got: Vec<(String, String)> = found
            .iter()
            .map(|f| (f.rule.clone(), f.matched.clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    "reputation.domain_listed".to_string(),
                    "helo domain mx.bad.test is listed by multi.test (127.0.0.2)".to_string()
                ),
                (
                    "reputation.domain_listed".to_string(),
                    "link domain www.evil.test is listed by dbl.test (127.0.1.2)".to_string()
                ),
                (
                    "reputation.ip_listed".to_string(),
                    "client address 8.8.8.8 is listed by zen.test (127.0.0.4)".to_string()
                ),
            ],
            "{found:?}"
        );
        assert!(found.iter().all(|f| f.score.is_some_and(|s| s > 0.0)));
        // A refusal for the client address is not a listing.
        let refused = auth
            .reputation(&lists, "9.9.9.9".parse().expect("ip"), "", "", &[])
            .await;
        assert!(refused.is_empty(), "{refused:?}");
        // Internal addresses are never asked about.
        let internal = auth
            .reputation(&lists, "10.0.0.1".parse().expect("ip"), "", "", &[])
            .await;
        assert!(internal.is_empty());
    });
}

/// With `[auth.arc_seal]`, the copy Moat relays carries Moat's own ARC set above its
/// Authentication-Results, and an independent implementation (dkimpy's `arc_verify`, with the
/// public key from the test's zone) validates the chain: `cv=pass`.
#[test]
fn relayed_mail_is_arc_sealed_and_dkimpy_validates_the_chain() {
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("arc.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .status()
        .expect("openssl runs");
    assert!(status.success());
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .expect("openssl runs");
    let p = base64::engine::general_purpose::STANDARD.encode(&public.stdout);
    let record = format!("v=DKIM1; k=rsa; p={p}");
    let zone_line = format!(
        "moat._domainkey.gateway.test TXT {}\n",
        record
            .as_bytes()
            .chunks(250)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (moat, sink) = Moat::protected(|c| {
        c.hostname = "mx.moat.test".into();
        c.auth.arc_seal = Some(moat_core::config::ArcSealConfig {
            domain: "gateway.test".into(),
            selector: "moat".into(),
            key_file: key.clone(),
        });
        if let Some(zone) = &c.dns.static_zone {
            std::fs::write(zone, format!("{ZONE}{zone_line}")).expect("zone");
        }
    });
    let msg = message("alice@good.example", "");
    let reply = smtplib_send(moat.smtp, "alice@good.example", &["bob@acme.example"], &msg);
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(1, 20);
    let relayed = got.first().expect("relayed").data.clone();
    let text = String::from_utf8_lossy(&relayed);
    let seal = text.find("ARC-Seal: i=1;").expect("an ARC-Seal");
    let results = text
        .find("Authentication-Results: mx.moat.test")
        .expect("A-R");
    assert!(
        seal < results,
        "the ARC set sits above Moat's results: {text}"
    );
    assert!(text.contains("ARC-Message-Signature: i=1;"), "{text}");
    assert!(
        text.contains("ARC-Authentication-Results: i=1; mx.moat.test"),
        "{text}"
    );
    // dkimpy validates the chain with the key from the zone.
    let script = r#"
import sys, dkim
record = sys.argv[1].encode()
def dns(name, timeout=5):
    return record if name == b"moat._domainkey.gateway.test." else None
cv, results, comment = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dns)
print(cv.decode(), comment)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, &record])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&relayed)
            .expect("write");
    }
    let out = child.wait_with_output().expect("dkimpy");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("pass"),
        "dkimpy: {said} {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// DMARC aggregate reports (RFC 7489 §7): domains that publish `rua=` get a gzipped XML report
/// per period, valid against RFC 7489's schema (xmllint, the schema from PyPI's `dmarc`
/// package, fetched by tests/run.sh), at every address in the domain or authorised by its own
/// `_report._dmarc` record, never at an unauthorised one, and never over an address's size
/// limit. The counts are the messages sent, with the dispositions DMARC gave them.
#[test]
fn dmarc_aggregate_reports_reach_authorised_addresses_and_validate_against_the_schema() {
    const REPORT_ZONE: &str = "\
good.example TXT \"v=spf1 ip4:127.0.0.0/8 -all\"
_dmarc.good.example TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@good.example,mailto:agg@reports.test,mailto:nope@elsewhere.test\"
good.example._report._dmarc.reports.test TXT \"v=DMARC1\"
bad.example TXT \"v=spf1 ip4:192.0.2.0/24 -all\"
small.example TXT \"v=spf1 ip4:127.0.0.0/8 -all\"
_dmarc.small.example TXT \"v=DMARC1; p=none; rua=mailto:dmarc@small.example!50\"
";
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/corpora/dmarc-1.2.1/dmarc/report/schemas/dmarc.xsd");
    assert!(
        xsd.exists(),
        "{} is missing: tests/run.sh fetches it",
        xsd.display()
    );
    let sink = Sink::start();
    let reports = Sink::start();
    let relay = reports.addr.to_string();
    let moat = Moat::start_with(|c| {
        c.hostname = "mx.moat.test".into();
        c.dmarc_reports.enabled = true;
        c.dmarc_reports.org_name = "Moat & Test".into();
        c.dmarc_reports.period_secs = 2;
        c.dmarc_reports.flush_secs = 1;
        c.spool.dsn_relay = Some(relay);
        if let Some(zone) = &c.dns.static_zone {
            std::fs::write(zone, REPORT_ZONE).expect("zone");
        }
    });
    let token = moat.token("acme", TokenKind::Live);
    moat.create_domain(
        &token,
        json!({"domain": "acme.example", "real_mx_host": sink.addr.to_string(), "delivery_mode": "proxy"}),
    );
    moat.wait_until_accepting("bob@acme.example");

    // Three that pass (SPF aligned), one that fails and is rejected (p=reject), one for the
    // domain whose only address takes reports of at most 50 bytes.
    let send = |envelope_from: &str, author: &str, want: &str| {
        let reply = smtplib_send(
            moat.smtp,
            envelope_from,
            &["bob@acme.example"],
            &message(author, ""),
        );
        assert!(reply.starts_with(want), "{reply}");
    };
    for _ in 0..3 {
        send("a@good.example", "a@good.example", "250");
    }
    send("x@bad.example", "ceo@good.example", "550");
    send("a@small.example", "a@small.example", "250");

    // Periods are 2 s: the messages may fall into two, so reports are summed per address.
    let count_at = |address: &str| -> (u64, u64, Vec<String>) {
        let (mut messages, mut rejected, mut xml) = (0, 0, Vec::new());
        for m in reports.messages() {
            if m.rcpts != [address.to_string()] {
                continue;
            }
            let doc = report_xml(&m.data);
            for cap in doc.split("<count>").skip(1) {
                messages += cap
                    .split_once("</count>")
                    .and_then(|(n, _)| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            for record in doc.split("<record>").skip(1) {
                if record.contains("<disposition>reject</disposition>") {
                    rejected += record
                        .split_once("<count>")
                        .and_then(|(_, r)| r.split_once("</count>"))
                        .and_then(|(n, _)| n.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
            xml.push(doc);
        }
        (messages, rejected, xml)
    };
    eventually(30, "reports counting all 4 good.example messages", || {
        let (a, _, _) = count_at("dmarc@good.example");
        let (b, _, _) = count_at("agg@reports.test");
        if a == 4 && b == 4 {
            Ok(())
        } else {
            Err(format!(
                "{a} and {b} counted; {} report mails",
                reports.messages().len()
            ))
        }
    });
    // A period boundary may still be open: give the reporter two more flushes.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (counted, rejected, documents) = count_at("dmarc@good.example");
    assert_eq!((counted, rejected), (4, 1), "{documents:#?}");
    for m in reports.messages() {
        assert!(
            m.rcpts == ["dmarc@good.example"] || m.rcpts == ["agg@reports.test"],
            "a report went to {:?} (unauthorised, or over its size limit)",
            m.rcpts
        );
        assert_eq!(m.mail_from, "dmarc-reports@mx.moat.test");
        let text = String::from_utf8_lossy(&m.data);
        assert!(
            text.contains(
                "Subject: Report Domain: good.example Submitter: mx.moat.test Report-ID: <"
            ),
            "{text}"
        );
        assert!(
            text.contains("filename=\"mx.moat.test!good.example!"),
            "{text}"
        );
        let doc = report_xml(&m.data);
        assert!(
            doc.contains("<org_name>Moat &amp; Test</org_name>"),
            "{doc}"
        );
        assert!(doc.contains("<p>reject</p>"), "{doc}");
        let file = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(file.path(), &doc).expect("written");
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(file.path())
            .output()
            .expect("xmllint runs (tests/run.sh installs libxml2-utils)");
        assert!(
            out.status.success(),
            "not valid against RFC 7489's schema: {}\n{doc}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The XML of a report mail: its base64 attachment, gunzipped.
fn report_xml(mail: &[u8]) -> String {
    use std::io::Read;
    let text = String::from_utf8_lossy(mail);
    let body = text
        .split_once("Content-Transfer-Encoding: base64\r\n")
        .and_then(|(_, rest)| rest.split_once("\r\n\r\n"))
        .map(|(_, b)| b)
        .expect("a base64 attachment");
    let b64: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64");
    let mut xml = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take: a report is a few kilobytes
    let gunzip = flate2::read::GzDecoder::new(&gz[..]);
    gunzip
        .take(16 << 20)
        .read_to_string(&mut xml)
        .expect("gzip");
    xml
}
