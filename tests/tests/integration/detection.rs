//! The detection engine over real SMTP: phishing, BEC with a domain's executives, the spam
//! threshold per domain, per-recipient verdicts across two domains, and a trained spam model
//! picked up by a running scanner without a restart.

use moat_core::{detect::spam::Trainer, model::TokenKind};
use moat_tests::{client::smtplib_send, eventually, harness::Moat, sink::Sink};
use serde_json::{Value, json};

/// Customer `name` protecting `domain`, relayed to `sink`; returns (token, domain id).
fn protect(moat: &Moat, sink: &Sink, name: &str, domain: &str) -> (String, String) {
    let token = moat.token(name, TokenKind::Live);
    let body = moat.create_domain(
        &token,
        json!({"domain": domain, "real_mx_host": sink.addr.to_string()}),
    );
    moat.wait_until_accepting(&format!("bob@{domain}"));
    (token, body["id"].as_str().unwrap_or_default().to_string())
}

/// The newest verdict of the customer whose subject is `subject`.
fn verdict(moat: &Moat, token: &str, subject: &str) -> Value {
    eventually(10, "verdict recorded", || {
        let (_, v) = moat.call("GET", "/v1/verdicts?limit=50", Some(token), None);
        v["data"]
            .as_array()
            .and_then(|d| d.iter().find(|v| v["subject"] == subject).cloned())
            .ok_or_else(|| v.to_string())
    })
}

fn rules(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or("").to_string(),
                        f["severity"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has(v: &Value, rule: &str, severity: &str) -> bool {
    rules(v).iter().any(|(r, s)| r == rule && s == severity)
}

#[test]
fn phishing_with_a_lookalike_link_is_quarantined_and_explained() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, _) = protect(&moat, &sink, "acme", "acme.example");
    let puny = "xn--pypal-4ve.com"; // pаypal.com with a Cyrillic а
    let msg = format!(
        "From: PayPal <service@paypa1.com>\r\nTo: bob@acme.example\r\nSubject: Account notice\r\n\
Date: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <p1@paypa1.com>\r\nContent-Type: text/html\r\n\r\n\
<p>We noticed unusual sign-in activity. Please verify your account:\r\n\
<a href=\"https://{puny}/signin\">https://www.paypal.com/signin</a></p>\r\n"
    );
    let reply = smtplib_send(
        moat.smtp,
        "service@paypa1.com",
        &["bob@acme.example"],
        msg.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let v = verdict(&moat, &token, "Account notice");
    assert_eq!(v["verdict"], "quarantine", "{v}");
    assert_eq!(v["threat_type"], "phishing", "{v}");
    for (rule, severity) in [
        ("phishing.lookalike_link", "critical"),
        ("phishing.link_text_mismatch", "high"),
        ("phishing.lookalike_sender", "high"),
        ("phishing.credential_request", "high"),
    ] {
        assert!(
            has(&v, rule, severity),
            "{rule} {severity} missing: {:?}",
            rules(&v)
        );
    }
    // Where it matched: the link's part and byte range.
    let link = v["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["rule"] == "phishing.lookalike_link"))
        .cloned()
        .unwrap_or_default();
    assert!(link["part"].is_u64() && link["range"].is_array(), "{link}");
    let (_, one) = moat.call(
        "GET",
        &format!("/v1/verdicts/{}", v["id"].as_str().unwrap_or("")),
        Some(&token),
        None,
    );
    assert_eq!(one["findings"], v["findings"], "{one}");
    assert!(sink.messages().is_empty(), "phishing was not delivered");
}

#[test]
fn executive_impersonation_is_caught_once_the_domain_names_its_executives() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, id) = protect(&moat, &sink, "acme", "acme.example");
    let fake = |subject: &str| {
        format!(
            "From: \"Jane Doe\" <jane.doe.office@freemail.test>\r\nTo: bob@acme.example\r\n\
Subject: {subject}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <{subject}@freemail.test>\r\n\r\n\
Are you at your desk? I need you to make a wire transfer today, keep this confidential.\r\n"
        )
    };
    // Without an executives list the payment language alone is only noted.
    let reply = smtplib_send(
        moat.smtp,
        "x@freemail.test",
        &["bob@acme.example"],
        fake("before").as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let v = verdict(&moat, &token, "before");
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert!(has(&v, "bec.payment_request", "low"), "{:?}", rules(&v));

    let (status, d) = moat.call(
        "PATCH",
        &format!("/v1/domains/{id}"),
        Some(&token),
        Some(json!({"executives": [{"name": "Jane Doe", "addresses": ["Jane.Doe@acme.example"]}]})),
    );
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["executives"][0]["addresses"][0], "jane.doe@acme.example");
    for bad in [
        json!({"executives": [{"name": "J", "addresses": []}]}),
        json!({"executives": [{"name": "Jane Doe", "addresses": ["not an address"]}]}),
        json!({"executives": [{"name": "Jane Doe", "title": "CEO"}]}),
        json!({"spam_threshold": -1}),
        json!({"spam_threshold": "high"}),
    ] {
        let (status, body) = moat.call(
            "PATCH",
            &format!("/v1/domains/{id}"),
            Some(&token),
            Some(bad.clone()),
        );
        assert!(status == 422 || status == 400, "{bad} gave {status} {body}");
    }
    let v = eventually(10, "executives loaded", || {
        let subject = format!("after-{}", uuid::Uuid::new_v4().simple());
        smtplib_send(
            moat.smtp,
            "x@freemail.test",
            &["bob@acme.example"],
            fake(&subject).as_bytes(),
        );
        let v = verdict(&moat, &token, &subject);
        if v["verdict"] == "quarantine" {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(v["threat_type"], "bec", "{v}");
    assert!(
        has(&v, "bec.executive_impersonation", "critical"),
        "{:?}",
        rules(&v)
    );

    // The real Jane asking the same is delivered.
    let real = "From: \"Jane Doe\" <jane.doe@acme.example>\r\nTo: bob@acme.example\r\nSubject: real\r\n\
Date: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <real@acme.example>\r\n\r\nPlease make a wire transfer to the caterer.\r\n";
    smtplib_send(
        moat.smtp,
        "jane.doe@acme.example",
        &["bob@acme.example"],
        real.as_bytes(),
    );
    let v = verdict(&moat, &token, "real");
    assert_eq!(v["verdict"], "deliver", "{v}");
}

#[test]
fn a_first_contact_asking_for_money_is_flagged_and_a_delivered_sender_becomes_known() {
    use moat_core::model::{Action, VerdictRecord};
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, id) = protect(&moat, &sink, "acme", "acme.example");
    // A month of history: the domain has had clean mail from its old supplier.
    let month_ago = moat_core::time::now_ms() - 30 * 86_400_000;
    let old = VerdictRecord {
        id: "seed-1".into(),
        queue_id: "SEED1".into(),
        received_at: month_ago,
        customer_id: String::new(),
        domain_id: id.clone(),
        client_ip: "192.0.2.1".into(),
        mail_from: "billing@old-supplier.example".into(),
        rcpt_to: vec!["bob@acme.example".into()],
        from_header: "Old Supplier <Billing@Old-Supplier.example>".into(),
        subject: "March invoice".into(),
        size: 100,
        action: Action::Deliver,
        threat_type: None,
        notify_admin: false,
        findings: vec![],
        auth: None,
        transport: None,
    };
    let customer =
        futures::executor::block_on(moat.store.ensure_customer("acme")).expect("customer");
    let old = VerdictRecord {
        customer_id: customer.id,
        ..old
    };
    futures::executor::block_on(moat.store.record_verdicts(vec![old])).expect("seeded");
    futures::executor::block_on(moat.store.flush()).expect("flushed");

    let send = |from: &str, subject: &str, body: &str| {
        let msg = format!(
            "From: Accounts <{from}>\r\nTo: bob@acme.example\r\nSubject: {subject}\r\n\
Date: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <{subject}@x.test>\r\n\r\n{body}\r\n"
        );
        let reply = smtplib_send(moat.smtp, from, &["bob@acme.example"], msg.as_bytes());
        assert!(reply.starts_with("250"), "{reply}");
        moat.flush_verdicts();
        verdict(&moat, &token, subject)
    };
    let pay = "Please settle the outstanding invoice by bank transfer this week.";
    let v = send("billing@old-supplier.example", "known-pays", pay);
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert!(
        !rules(&v).iter().any(|(r, _)| r == "bec.first_contact"),
        "{v}"
    );

    let v = send("billing@new-supplier.example", "new-pays", pay);
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert!(has(&v, "bec.first_contact", "medium"), "{:?}", rules(&v));

    let v = send("acme.payables@freemail.test", "freemail-pays", pay);
    assert!(has(&v, "bec.first_contact", "medium"), "{:?}", rules(&v));
    let v = send("acme.payables@gmail.com", "gmail-pays", pay);
    assert_eq!(v["verdict"], "quarantine", "{v}");
    assert_eq!(v["threat_type"], "bec", "{v}");
    assert!(has(&v, "bec.first_contact", "high"), "{:?}", rules(&v));

    // Clean mail from the new supplier is delivered; afterwards it is a known sender.
    let v = send(
        "billing@new-supplier.example",
        "new-hello",
        "Thanks for the meeting.",
    );
    assert_eq!(v["verdict"], "deliver", "{v}");
    let v = send("billing@new-supplier.example", "new-pays-again", pay);
    assert!(
        !rules(&v).iter().any(|(r, _)| r == "bec.first_contact"),
        "{v}"
    );
    let history = futures::executor::block_on(
        moat.store
            .sender_history(&id, "BILLING@new-supplier.example"),
    )
    .expect("history");
    assert!(history.known);
    assert_eq!(history.history_since, Some(month_ago));
}

const SPAMMY: &str = "From: \"deals@promo.test\" <a1234567@bulk.test>\r\nTo: bob@acme.example, ann@beta.example\r\n\
Subject: LIMITED OFFER FOR YOU!! $500\r\nContent-Type: text/html\r\n\r\n\
<html><p>Dear friend, act now! Click here to <a href=\"http://192.0.2.9/o\">claim</a></p></html>\r\n";

#[test]
fn spam_threshold_is_per_domain_and_verdicts_are_per_recipient() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (acme, acme_id) = protect(&moat, &sink, "acme", "acme.example");
    let (beta, _) = protect(&moat, &sink, "beta", "beta.example");
    let (status, d) = moat.call(
        "PATCH",
        &format!("/v1/domains/{acme_id}"),
        Some(&acme),
        Some(json!({"spam_threshold": 60.0})),
    );
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["spam_threshold"], 60.0);
    eventually(10, "threshold loaded", || {
        let reply = smtplib_send(
            moat.smtp,
            "a1234567@bulk.test",
            &["bob@acme.example", "ann@beta.example"],
            SPAMMY.as_bytes(),
        );
        assert!(reply.starts_with("250"), "{reply}");
        let a = verdict(&moat, &acme, "LIMITED OFFER FOR YOU!! $500");
        if a["verdict"] == "deliver" {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
    // beta keeps the default threshold: the same message is spam there.
    let (_, v) = moat.call("GET", "/v1/verdicts?limit=50", Some(&beta), None);
    let b = v["data"]
        .as_array()
        .and_then(|d| d.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(b["verdict"], "quarantine", "{b}");
    assert_eq!(b["threat_type"], "spam", "{b}");
    assert_eq!(b["findings"][0]["rule"], "spam.score", "{b}");
    assert!(
        b["findings"][0]["score"].as_f64().unwrap_or(0.0) >= 5.0,
        "{b}"
    );
    assert!(has(&b, "spam.link_to_ip", "low"), "{:?}", rules(&b));
    // acme's copy reached the real server, beta's did not.
    let delivered = eventually(10, "acme's copy delivered", || {
        let m = sink.messages();
        if m.is_empty() {
            Err("nothing yet".to_string())
        } else {
            Ok(m)
        }
    });
    assert!(
        delivered.iter().all(|m| m.rcpts == ["bob@acme.example"]),
        "{:?}",
        delivered.iter().map(|m| &m.rcpts).collect::<Vec<_>>()
    );
}

#[test]
fn a_trained_model_is_picked_up_by_the_running_scanner() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, _) = protect(&moat, &sink, "acme", "acme.example");
    let msg = |subject: &str| {
        format!(
            "From: Sales <sales@vendor.test>\r\nTo: bob@acme.example\r\nSubject: {subject}\r\n\
Date: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <{subject}@vendor.test>\r\n\r\n\
Genuine replica watches and designer handbags shipped discreetly worldwide\r\n"
        )
    };
    smtplib_send(
        moat.smtp,
        "sales@vendor.test",
        &["bob@acme.example"],
        msg("untrained").as_bytes(),
    );
    assert_eq!(verdict(&moat, &token, "untrained")["verdict"], "deliver");

    let mut trainer = Trainer::new();
    for i in 0..60 {
        let spam = format!(
            "From: s{i}@spam.test\r\nSubject: replica watches {i}\r\n\r\nGenuine replica watches, designer handbags, shipped discreetly worldwide {i}\r\n"
        );
        let ham = format!(
            "From: colleague@acme.example\r\nSubject: project {i}\r\n\r\nThe project review moved to Thursday, agenda attached {i}\r\n"
        );
        trainer.learn(
            &moat_core::detect::spam::corpus::tokens_of(spam.as_bytes()),
            true,
        );
        trainer.learn(
            &moat_core::detect::spam::corpus::tokens_of(ham.as_bytes()),
            false,
        );
    }
    trainer
        .build()
        .save(&moat.config.spam_model_path())
        .expect("model written");
    let v = eventually(10, "model loaded", || {
        let subject = format!("trained-{}", uuid::Uuid::new_v4().simple());
        smtplib_send(
            moat.smtp,
            "sales@vendor.test",
            &["bob@acme.example"],
            msg(&subject).as_bytes(),
        );
        let v = verdict(&moat, &token, &subject);
        if v["verdict"] == "quarantine" {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(v["threat_type"], "spam");
    assert!(
        rules(&v).iter().any(|(r, _)| r == "spam.bayes"),
        "{:?}",
        rules(&v)
    );
    // A damaged model file is refused and the loaded one kept.
    std::fs::write(moat.config.spam_model_path(), b"garbage").expect("write");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let reply = smtplib_send(
        moat.smtp,
        "sales@vendor.test",
        &["bob@acme.example"],
        msg("after-garbage").as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(
        verdict(&moat, &token, "after-garbage")["verdict"],
        "quarantine"
    );
}

#[test]
fn url_domain_and_threat_score_policies_over_smtp() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, _) = protect(&moat, &sink, "acme", "acme.example");
    for (name, condition, action) in [
        (
            "no-evil-links",
            json!({"url_domain_in": ["evil.example"]}),
            "reject",
        ),
        ("score-3", json!({"threat_score_over": 3.0}), "quarantine"),
    ] {
        let (status, body) = moat.call(
            "POST",
            "/v1/policies",
            Some(&token),
            Some(json!({"name": name, "condition": condition, "action": action})),
        );
        assert_eq!(status, 201, "{body}");
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let link = "From: Ann <ann@partner.test>\r\nTo: bob@acme.example\r\nSubject: invoice\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <u1@partner.test>\r\nContent-Type: text/html\r\n\r\n\
<p>Your <a href=\"https://pay.evil.example/i\">invoice</a>.</p>\r\n";
    let reply = smtplib_send(
        moat.smtp,
        "ann@partner.test",
        &["bob@acme.example"],
        link.as_bytes(),
    );
    assert!(
        reply.contains("550") && reply.contains("rejected by policy"),
        "{reply}"
    );
    let rejected = verdict(&moat, &token, "invoice");
    assert!(
        rules(&rejected).iter().any(|(r, _)| r == "no-evil-links"),
        "{rejected}"
    );
    // No Date, no Message-ID, a shouting subject: rules add up past 3 without being spam (5).
    let shouty = "From: Ann <ann@partner.test>\r\nTo: bob@acme.example\r\n\
Subject: URGENT!!! READ THIS NOW!!!\r\n\r\nhello\r\n";
    let reply = smtplib_send(
        moat.smtp,
        "ann@partner.test",
        &["bob@acme.example"],
        shouty.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let v = verdict(&moat, &token, "URGENT!!! READ THIS NOW!!!");
    let score = v["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["rule"] == "score-3"))
        .cloned();
    let spam_score: f64 = v["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["score"].as_f64()).sum())
        .unwrap_or(0.0);
    match score {
        Some(f) => {
            assert_eq!(v["verdict"], "quarantine", "{v}");
            assert_eq!(f["field"], "threat_score", "{f}");
        }
        None => panic!("score-3 did not fire (score {spam_score}): {v}"),
    }
}

#[test]
fn a_shadow_policy_records_what_it_would_do_and_the_mail_is_delivered() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, _) = protect(&moat, &sink, "acme", "acme.example");
    let (status, p) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(
            json!({"name": "trial-invoices", "condition": {"subject_contains": ["invoice"]},
                    "action": "reject", "shadow": true}),
        ),
    );
    assert_eq!((status, p["shadow"].as_bool()), (201, Some(true)), "{p}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let msg = "From: Ann <ann@partner.test>\r\nTo: bob@acme.example\r\nSubject: March invoice\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <s1@partner.test>\r\n\r\nAttached.\r\n";
    let reply = smtplib_send(
        moat.smtp,
        "ann@partner.test",
        &["bob@acme.example"],
        msg.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(
        sink.wait_for(1, 10).len(),
        1,
        "delivered despite the reject policy"
    );
    let v = verdict(&moat, &token, "March invoice");
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert!(has(&v, "shadow:trial-invoices", "low"), "{v}");
    let would = v["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["field"] == "would_have").cloned())
        .unwrap_or_default();
    assert_eq!(would["matched"], "reject", "{v}");
}

#[test]
fn a_tag_policy_delivers_with_a_header_naming_it() {
    let sink = Sink::start();
    let moat = Moat::start();
    let (token, _) = protect(&moat, &sink, "acme", "acme.example");
    let (status, p) = moat.call(
        "POST",
        "/v1/policies",
        Some(&token),
        Some(json!({"name": "newsletters", "condition": {"header_contains": {"name": "List-Unsubscribe", "values": ["http"]}},
                    "action": "tag"})),
    );
    assert_eq!((status, p["action"].as_str()), (201, Some("tag")), "{p}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let msg = "From: News <news@shop.test>\r\nTo: bob@acme.example\r\nSubject: Weekly deals\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <t1@shop.test>\r\n\
List-Unsubscribe: <https://shop.test/unsub>\r\n\r\nDeals.\r\n";
    let reply = smtplib_send(
        moat.smtp,
        "news@shop.test",
        &["bob@acme.example"],
        msg.as_bytes(),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(1, 10);
    let text = String::from_utf8_lossy(&got[0].data).into_owned();
    let v = verdict(&moat, &token, "Weekly deals");
    assert!(text.contains("X-Moat-Tag: newsletters\r\n"), "{text}\n{v}");
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert!(has(&v, "newsletters", "low"), "{v}");
}

/// The poisoning attack of a shared model: a tenant quarantines its own copies of ordinary
/// mail and reports them as spam from many tokens. Its reports teach its own model only: its
/// own ordinary mail becomes spam, another customer's identical mail does not move. Each
/// message counts once, and a customer's reports per day are bounded.
#[test]
fn one_customers_reports_move_only_its_own_verdicts() {
    let sink = Sink::start();
    let moat = Moat::start_with(|c| c.policy.reports_per_day = 100);
    let (acme, _) = protect(&moat, &sink, "acme", "acme.example");
    let (mallory, _) = protect(&moat, &sink, "mallory", "mallory.example");
    // The operator's gateway model, trained elsewhere.
    let mut trainer = Trainer::new();
    for i in 0..60 {
        let spam = format!(
            "From: s{i}@spam.test\r\nSubject: replica watches {i}\r\n\r\nGenuine replica watches, designer handbags, shipped discreetly worldwide {i}\r\n"
        );
        let ham = format!(
            "From: colleague@acme.example\r\nSubject: project {i}\r\n\r\nThe project review moved to Thursday, agenda attached {i}\r\n"
        );
        trainer.learn(
            &moat_core::detect::spam::corpus::tokens_of(spam.as_bytes()),
            true,
        );
        trainer.learn(
            &moat_core::detect::spam::corpus::tokens_of(ham.as_bytes()),
            false,
        );
    }
    trainer
        .build()
        .save(&moat.config.spam_model_path())
        .expect("model written");
    let ordinary = |to: &str, subject: &str| {
        format!(
            "From: Facilities <facilities@supplier.test>\r\nTo: {to}\r\nSubject: {subject}\r\n\
Date: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <{subject}@supplier.test>\r\n\r\n\
Please find the maintenance schedule for the boiler room and the elevator inspection \
dates for next quarter. Regards, facilities team\r\n"
        )
    };
    // Mallory holds all of its own mail and reports every copy as spam, from 12 tokens.
    let (status, _) = moat.call(
        "POST",
        "/v1/policies",
        Some(&mallory),
        Some(json!({"name": "hold", "condition": {"subject_contains": ["schedule"]}, "action": "quarantine"})),
    );
    assert_eq!(status, 201);
    std::thread::sleep(std::time::Duration::from_millis(300));
    for i in 0..110 {
        let reply = smtplib_send(
            moat.smtp,
            "facilities@supplier.test",
            &["bob@mallory.example"],
            ordinary("bob@mallory.example", &format!("schedule {i}")).as_bytes(),
        );
        assert!(reply.starts_with("250"), "{reply}");
    }
    moat.flush_verdicts();
    let mut items = Vec::new();
    let mut path = "/v1/quarantine?limit=100".to_string();
    loop {
        let (_, page) = moat.call("GET", &path, Some(&mallory), None);
        items.extend(
            page["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|q| q["id"].as_str().map(String::from)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/quarantine?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(items.len(), 110);
    let tokens: Vec<String> = (0..12)
        .map(|_| moat.token("mallory", TokenKind::Live))
        .collect();
    let mut refused = 0;
    for (i, id) in items.iter().enumerate() {
        let (status, r) = moat.call(
            "POST",
            &format!("/v1/quarantine/{id}/report"),
            Some(&tokens[i % tokens.len()]),
            Some(json!({"kind": "spam"})),
        );
        match status {
            200 => assert_eq!(r["learned"], true, "{r}"),
            429 => refused += 1,
            other => panic!("report answered {other}: {r}"),
        }
    }
    assert_eq!(refused, 10, "100 reports a day, whichever token sends them");
    // Reporting a message again teaches nothing new.
    let (status, r) = moat.call(
        "POST",
        &format!("/v1/quarantine/{}/report", items[0]),
        Some(&mallory),
        Some(json!({"kind": "spam"})),
    );
    assert_eq!(status, 429, "the day's budget is spent: {r}");
    // Mallory's own ordinary mail is spam to Mallory's model now...
    let v = eventually(10, "mallory's model loaded", || {
        let subject = format!("note-{}", uuid::Uuid::new_v4().simple());
        smtplib_send(
            moat.smtp,
            "facilities@supplier.test",
            &["bob@mallory.example"],
            ordinary("bob@mallory.example", &subject).as_bytes(),
        );
        let v = verdict(&moat, &mallory, &subject);
        if rules(&v).iter().any(|(r, _)| r == "spam.bayes") {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(v["threat_type"], "spam", "{v}");
    // ...while the same mail to acme is judged by the gateway's model alone: delivered.
    smtplib_send(
        moat.smtp,
        "facilities@supplier.test",
        &["bob@acme.example"],
        ordinary("bob@acme.example", "acme-copy").as_bytes(),
    );
    let v = verdict(&moat, &acme, "acme-copy");
    assert_eq!(v["verdict"], "deliver", "{v}");
    assert!(
        !rules(&v).iter().any(|(r, _)| r == "spam.bayes"),
        "{:?}",
        rules(&v)
    );
}

/// A link domain on a configured reputation list scores as spam through real SMTP (the list
/// answered by the test's static zone); the same message without the listed link is clean.
#[test]
fn a_link_on_a_reputation_list_makes_the_message_spam() {
    use moat_core::detect::reputation::ListConfig;
    let sink = Sink::start();
    let moat = Moat::start_with(|c| {
        if let Some(zone) = &c.dns.static_zone {
            std::fs::write(zone, "evil.test.dbl.test A 127.0.1.2\n").expect("zone");
        }
        c.reputation.domain_lists = vec![ListConfig {
            zone: "dbl.test".into(),
            score: 20.0,
            codes: Vec::new(),
            mask: None,
        }];
    });
    let (token, _) = protect(&moat, &sink, "acme", "acme.example");
    let send = |subject: &str, link: &str| {
        let msg = format!(
            "From: Tom <tom@partner.example>\r\nTo: bob@acme.example\r\nSubject: {subject}\r\n\
Date: Tue, 17 Nov 2026 10:21:00 +0000\r\nMessage-ID: <{subject}@partner.example>\r\n\r\n\
Hello Bob, the notes are at {link} as promised.\r\n"
        );
        let reply = smtplib_send(
            moat.smtp,
            "tom@partner.example",
            &["bob@acme.example"],
            msg.as_bytes(),
        );
        assert!(reply.starts_with("250"), "{reply}");
    };
    send("listed", "https://files.evil.test/notes");
    send("unlisted", "https://files.partner.example/notes");
    let listed = verdict(&moat, &token, "listed");
    assert_eq!(listed["verdict"], "quarantine", "{listed}");
    assert_eq!(listed["threat_type"], "spam", "{listed}");
    assert!(
        rules(&listed)
            .iter()
            .any(|(r, _)| r == "reputation.domain_listed"),
        "{listed}"
    );
    let unlisted = verdict(&moat, &token, "unlisted");
    assert_eq!(unlisted["verdict"], "deliver", "{unlisted}");
}
