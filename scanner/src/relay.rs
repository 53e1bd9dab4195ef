//! The shards' handle to the relay: mail-send needs tokio, so relaying runs on a small tokio
//! runtime of its own and the shard awaits a oneshot. The message buffer moves to the relay
//! thread and back, so relaying copies nothing. The same [`Relay`] (its sessions, its
//! per-destination limits) serves proxy mode and the spool.

use std::sync::Arc;

use anyhow::Context;
use futures::channel::oneshot;

use moat_core::{
    config::Config,
    relay::{Envelope, MailOptions, Relay, RelayOutcome, Route},
};

/// Sends messages to customers' real mail servers from a dedicated tokio runtime.
pub struct RelayHandle {
    runtime: tokio::runtime::Runtime,
    relay: Arc<Relay>,
}

impl RelayHandle {
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("moat-relay")
            .enable_all()
            .build()
            .context("starting the relay runtime")?;
        let relay = Relay::from_config(config, 16).context("configuring the relay")?;
        Ok(RelayHandle {
            runtime,
            relay: Arc::new(relay),
        })
    }

    /// The relay runtime, for other tokio-bound work (the spool's delivery tasks).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// The relay itself, shared with the spool.
    pub fn relay(&self) -> Arc<Relay> {
        self.relay.clone()
    }

    /// Relays `body` and gives it back with the outcome.
    pub fn send(
        &self,
        route: Route,
        mail_from: String,
        rcpts: Vec<String>,
        body: Vec<u8>,
        options: MailOptions,
    ) -> impl Future<Output = (RelayOutcome, Vec<u8>)> + use<> {
        let (tx, rx) = oneshot::channel();
        let relay = self.relay.clone();
        self.runtime.spawn(async move {
            let envelope = Envelope {
                mail_from: &mail_from,
                rcpts: &rcpts,
                body: &body,
                options,
            };
            let outcome = relay.deliver(&route, envelope).await;
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
