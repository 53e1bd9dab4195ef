//! The store contract, checked on a real SQLite file through the `Store` trait only.

use futures::executor::block_on;
use moat_core::{
    config::Config,
    model::{
        Action, DeliveryMode, Domain, DomainStatus, QuarantineFilter, QuarantineItem,
        QuarantineStatus, ThreatType, TokenInfo, TokenKind, VerdictFilter, VerdictRecord,
    },
    store::{self, SharedStore},
    time::now_ms,
};

fn open(dir: &std::path::Path) -> SharedStore {
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    store::open(&config).expect("store opens")
}

fn verdict(customer: &str, domain: &str, action: Action) -> VerdictRecord {
    VerdictRecord {
        id: uuid::Uuid::now_v7().to_string(),
        queue_id: "Q1".into(),
        received_at: now_ms(),
        customer_id: customer.into(),
        domain_id: domain.into(),
        client_ip: "127.0.0.1".into(),
        mail_from: "a@b.test".into(),
        rcpt_to: vec!["x@acme.example".into()],
        from_header: "A <a@b.test>".into(),
        subject: "s".into(),
        size: 10,
        action,
        threat_type: None,
        notify_admin: false,
        findings: vec![],
        auth: None,
    }
}

#[test]
fn sqlite_store_round_trips_and_isolates_customers() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(dir.path());
    block_on(async {
        let acme = s.ensure_customer("acme").await.expect("c");
        assert_eq!(
            s.ensure_customer("acme").await.expect("c").id,
            acme.id,
            "idempotent"
        );
        let globex = s.ensure_customer("globex").await.expect("c");

        let tok = TokenInfo {
            id: "t1".into(),
            customer_id: acme.id.clone(),
            kind: TokenKind::Test,
            prefix: "moat_test_abcd".into(),
            created_at: 1,
        };
        s.insert_token(tok.clone(), "hash1".into())
            .await
            .expect("token");
        assert_eq!(s.token_by_hash("hash1").await.expect("q"), Some(tok));
        assert_eq!(s.token_by_hash("nope").await.expect("q"), None);

        let v0 = s.config_version().await.expect("v");
        let d = Domain {
            id: "d1".into(),
            customer_id: acme.id.clone(),
            name: "acme.example".into(),
            real_mx_host: "127.0.0.1:25".into(),
            delivery_mode: DeliveryMode::Proxy,
            status: DomainStatus::Active,
            created_at: 1,
        };
        s.insert_domain(d.clone()).await.expect("domain");
        let dup = Domain {
            id: "d2".into(),
            customer_id: globex.id.clone(),
            ..d.clone()
        };
        assert!(
            matches!(
                s.insert_domain(dup).await,
                Err(moat_core::StoreError::Conflict(_))
            ),
            "names are unique across customers"
        );
        assert!(
            s.config_version().await.expect("v") > v0,
            "domain changes bump the version"
        );
        assert_eq!(s.domains(&acme.id).await.expect("q"), vec![d.clone()]);
        assert!(s.domains(&globex.id).await.expect("q").is_empty());
        assert_eq!(s.domain(&globex.id, "d1").await.expect("q"), None);
        assert!(!s.delete_domain(&globex.id, "d1").await.expect("q"));

        // A batch of verdicts, and a quarantined message with its bytes.
        let verdicts: Vec<_> = (0..100)
            .map(|_| verdict(&acme.id, "d1", Action::Deliver))
            .collect();
        s.record_verdicts(verdicts).await.expect("batch");
        let qv = verdict(&acme.id, "d1", Action::Quarantine);
        let item = QuarantineItem {
            id: "q1".into(),
            verdict_id: qv.id.clone(),
            customer_id: acme.id.clone(),
            domain_id: "d1".into(),
            received_at: now_ms(),
            mail_from: "Spammer@b.test".into(),
            rcpt_to: vec!["x@acme.example".into()],
            from_header: "S <spammer@b.test>".into(),
            subject: "buy".into(),
            threat_type: ThreatType::Spam,
            status: QuarantineStatus::Quarantined,
            size: 3,
            findings: vec![],
            released_at: None,
        };
        s.quarantine(item.clone(), b"raw".to_vec(), qv)
            .await
            .expect("quarantine");
        assert_eq!(
            s.verdicts(
                &acme.id,
                VerdictFilter {
                    limit: 500,
                    ..Default::default()
                }
            )
            .await
            .expect("q")
            .len(),
            101
        );
        assert!(
            s.verdicts(
                &globex.id,
                VerdictFilter {
                    limit: 500,
                    ..Default::default()
                }
            )
            .await
            .expect("q")
            .is_empty()
        );

        let all = QuarantineFilter {
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            s.quarantine_list(&acme.id, all.clone()).await.expect("q"),
            vec![item.clone()]
        );
        assert!(
            s.quarantine_list(&globex.id, all.clone())
                .await
                .expect("q")
                .is_empty()
        );
        let like = QuarantineFilter {
            from: Some("spammer%".into()),
            ..all.clone()
        };
        assert!(
            s.quarantine_list(&acme.id, like)
                .await
                .expect("q")
                .is_empty(),
            "LIKE wildcards are escaped"
        );
        let from = QuarantineFilter {
            from: Some("SPAMMER".into()),
            ..all.clone()
        };
        assert_eq!(s.quarantine_list(&acme.id, from).await.expect("q").len(), 1);
        assert_eq!(
            s.quarantine_raw(&acme.id, "q1").await.expect("q"),
            Some(b"raw".to_vec())
        );
        assert_eq!(s.quarantine_raw(&globex.id, "q1").await.expect("q"), None);

        assert!(
            s.quarantine_set_status(&acme.id, "q1", QuarantineStatus::Released, 42)
                .await
                .expect("q")
        );
        let got = s
            .quarantine_get(&acme.id, "q1")
            .await
            .expect("q")
            .expect("found");
        assert_eq!(
            (got.status, got.released_at),
            (QuarantineStatus::Released, Some(42))
        );
        assert!(
            s.quarantine_set_status(&acme.id, "q1", QuarantineStatus::Deleted, 43)
                .await
                .expect("q")
        );
        assert_eq!(
            s.quarantine_raw(&acme.id, "q1").await.expect("q"),
            None,
            "deleted bytes are gone"
        );
        assert!(
            !s.quarantine_set_status(&globex.id, "q1", QuarantineStatus::Released, 1)
                .await
                .expect("q")
        );
    });

    // Everything survives reopening the file (migrations are idempotent).
    drop(s);
    let s = open(dir.path());
    block_on(async {
        let acme = s.ensure_customer("acme").await.expect("c");
        assert_eq!(
            s.verdicts(
                &acme.id,
                VerdictFilter {
                    limit: 500,
                    ..Default::default()
                }
            )
            .await
            .expect("q")
            .len(),
            101
        );
        assert_eq!(s.all_domains().await.expect("q").len(), 1);
    });
}

#[test]
fn a_failing_write_does_not_poison_its_batch() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(dir.path());
    block_on(async {
        let c = s.ensure_customer("acme").await.expect("c");
        let d = |id: &str, name: &str| Domain {
            id: id.into(),
            customer_id: c.id.clone(),
            name: name.into(),
            real_mx_host: "h:25".into(),
            delivery_mode: DeliveryMode::Spool,
            status: DomainStatus::Active,
            created_at: 1,
        };
        // Queue three writes at once so they share a group commit; the middle one conflicts.
        let a = s.insert_domain(d("1", "a.example"));
        let b = s.insert_domain(d("2", "a.example"));
        let e = s.insert_domain(d("3", "b.example"));
        assert!(a.await.is_ok());
        assert!(b.await.is_err());
        assert!(e.await.is_ok());
        assert_eq!(s.domains(&c.id).await.expect("q").len(), 2);
    });
}
