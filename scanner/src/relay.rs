//! The shards' handle to the relay thread: mail-send needs tokio, so relaying runs on a small
//! tokio runtime of its own and the shard awaits a oneshot. The message buffer moves to the relay
//! thread and back, so relaying copies nothing.

use std::time::Duration;

use futures::channel::oneshot;
use std::sync::Arc;

use moat_core::relay::{MailOptions, RelayOutcome, RelayPool};

/// Sends messages to customers' real mail servers from a dedicated tokio runtime.
pub struct RelayHandle {
    runtime: tokio::runtime::Runtime,
    /// Sessions to real servers kept open between proxy-mode messages.
    pool: Arc<RelayPool>,
    helo: String,
    timeout: Duration,
}

impl RelayHandle {
    pub fn start(helo: String, timeout: Duration) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("moat-relay")
            .enable_all()
            .build()?;
        Ok(RelayHandle {
            runtime,
            pool: Arc::new(RelayPool::new(16, Duration::from_secs(30))),
            helo,
            timeout,
        })
    }

    /// The relay runtime, for other tokio-bound work (the spool's delivery tasks).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Relays `body` and gives it back with the outcome.
    pub fn send(
        &self,
        hostport: String,
        mail_from: String,
        rcpts: Vec<String>,
        body: Vec<u8>,
        options: MailOptions,
    ) -> impl Future<Output = (RelayOutcome, Vec<u8>)> + use<> {
        let (tx, rx) = oneshot::channel();
        let helo = self.helo.clone();
        let timeout = self.timeout;
        let pool = self.pool.clone();
        self.runtime.spawn(async move {
            let outcome = pool
                .deliver(
                    &hostport, &helo, &mail_from, &rcpts, &body, options, timeout,
                )
                .await;
            let _ = tx.send((outcome, body));
        });
        async move {
            rx.await.unwrap_or_else(|_| {
                (
                    RelayOutcome::TempFail("relay thread stopped".into()),
                    Vec::new(),
                )
            })
        }
    }
}
