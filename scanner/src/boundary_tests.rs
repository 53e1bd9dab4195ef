//! Proof of the runtime boundary the scanner relies on: futures from the store (answered by
//! SQLite threads through a oneshot) and from the relay (answered by a tokio runtime) complete
//! when awaited on a glommio executor, which has neither tokio's reactor nor blocking calls.

use std::time::Duration;

use futures::channel::oneshot;
use glommio::LocalExecutorBuilder;
use moat_core::{config::Config, store};

#[test]
fn oneshot_answered_by_a_plain_thread_wakes_a_glommio_task() {
    let got = LocalExecutorBuilder::default()
        .spawn(|| async {
            let (tx, rx) = oneshot::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                let _ = tx.send(42u32);
            });
            rx.await
        })
        .expect("executor starts")
        .join()
        .expect("executor ends");
    assert_eq!(got, Ok(42));
}

#[test]
fn sqlite_store_and_tokio_relay_answer_a_glommio_task() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let store = store::open(&config).expect("store");
    let mut config = config;
    config.relay.timeout_secs = 2;
    config.relay.allow_internal_targets = vec!["127.0.0.0/8".into()];
    let relay = crate::relay::RelayHandle::start(&config).expect("relay runtime");
    // A port nobody listens on: the relay must answer TempFail, through tokio, to glommio.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let (name, outcome, body) = LocalExecutorBuilder::default()
        .spawn(move || async move {
            let c = store.ensure_customer("acme").await.expect("store answers");
            let (outcome, body) = relay
                .send(
                    moat_core::relay::Route::to_mx(addr),
                    "a@b.test".into(),
                    vec!["c@d.test".into()],
                    b"x\r\n".to_vec(),
                    Default::default(),
                )
                .await;
            drop(relay_keepalive(relay));
            (c.name, outcome, body)
        })
        .expect("executor starts")
        .join()
        .expect("executor ends");
    assert_eq!(name, "acme");
    assert!(
        matches!(outcome, moat_core::relay::RelayOutcome::TempFail(_)),
        "{outcome:?}"
    );
    assert_eq!(
        body, b"x\r\n",
        "the buffer comes back from the relay thread"
    );
}

/// Moves the relay handle off the executor before it drops (a tokio runtime must not be
/// dropped inside an async context).
fn relay_keepalive(relay: crate::relay::RelayHandle) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || drop(relay))
}
