//! The shards' handle to sender authentication. mail-auth's resolver needs tokio, so SPF, DKIM,
//! ARC and DMARC run on a small tokio runtime of their own ("moat-auth") sharing one
//! [`Authenticator`] (and so one set of DNS caches) between all shards. The message buffer moves
//! to the auth thread and comes back as the message to deliver: Moat's `Authentication-Results`
//! field on top, forged fields claiming Moat's authserv-id removed.

use std::{net::IpAddr, sync::Arc};

use anyhow::Context;
use futures::channel::oneshot;
use moat_core::{
    auth::{AuthInput, AuthOutcome, Authenticator, results},
    config::Config,
};

pub struct AuthHandle {
    runtime: tokio::runtime::Runtime,
    auth: Arc<Authenticator>,
}

/// One message to authenticate.
pub struct AuthJob {
    pub client_ip: IpAddr,
    pub helo: String,
    pub mail_from: String,
    /// The whole buffer: Moat's trace header (`trace_len` bytes), then the client's message.
    pub raw: Vec<u8>,
    pub trace_len: usize,
}

impl AuthHandle {
    /// Starts the auth runtime and its resolver (static zone, configured servers or the system's).
    pub fn start(config: &Config) -> anyhow::Result<AuthHandle> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.auth.threads.max(1))
            .thread_name("moat-auth")
            .enable_all()
            .build()
            .context("starting the auth runtime")?;
        let auth = runtime
            .block_on(Authenticator::start(config))
            .context("setting up DNS for authentication")?
            .with_arc_sealer(&config.auth)
            .map_err(anyhow::Error::msg)?;
        Ok(AuthHandle {
            runtime,
            auth: Arc::new(auth),
        })
    }

    /// The client's forward-confirmed reverse DNS name (`None`: none, or DNS too slow).
    pub fn confirmed_name(&self, ip: IpAddr) -> impl Future<Output = Option<String>> + use<> {
        let (tx, rx) = oneshot::channel();
        let auth = self.auth.clone();
        self.runtime.spawn(async move {
            let _ = tx.send(auth.confirmed_name(ip).await);
        });
        async move { rx.await.ok().flatten() }
    }

    /// Looks the sender up in the configured reputation lists (empty: no listing, or no list
    /// configured).
    pub fn reputation(
        &self,
        lists: moat_core::config::ReputationConfig,
        client_ip: IpAddr,
        helo: String,
        mail_from: String,
        link_domains: Vec<String>,
    ) -> impl Future<Output = Vec<moat_core::model::Finding>> + use<> {
        let (tx, rx) = oneshot::channel();
        let auth = self.auth.clone();
        self.runtime.spawn(async move {
            let found = auth
                .reputation(&lists, client_ip, &helo, &mail_from, &link_domains)
                .await;
            let _ = tx.send(found);
        });
        async move { rx.await.unwrap_or_default() }
    }

    /// The addresses of `policy_domain`'s DMARC record that may receive its reports (RFC 7489
    /// §7.1); `None` when DNS failed.
    pub fn report_addresses(
        &self,
        policy_domain: String,
        addresses: Vec<String>,
    ) -> impl Future<Output = Option<Vec<String>>> + use<> {
        let (tx, rx) = oneshot::channel();
        let auth = self.auth.clone();
        self.runtime.spawn(async move {
            let _ = tx.send(auth.report_addresses(&policy_domain, &addresses).await);
        });
        async move { rx.await.ok().flatten() }
    }

    /// Authenticates a message; gives back the outcome and the message to pass on.
    pub fn check(
        &self,
        job: AuthJob,
    ) -> impl Future<Output = Result<(AuthOutcome, Vec<u8>), Vec<u8>>> + use<> {
        let (tx, rx) = oneshot::channel();
        let auth = self.auth.clone();
        self.runtime.spawn(async move {
            let AuthJob {
                client_ip,
                helo,
                mail_from,
                raw,
                trace_len,
            } = job;
            let trace_len = trace_len.min(raw.len());
            let (trace, message) = raw.split_at(trace_len);
            let outcome = auth
                .check(&AuthInput {
                    client_ip,
                    helo: &helo,
                    mail_from: &mail_from,
                    message,
                })
                .await;
            let forged = results::forged_ranges(message, auth.authserv_id());
            let rewritten =
                results::assemble(&[outcome.header.as_bytes(), trace], message, &forged);
            if !forged.is_empty() {
                tracing::info!(
                    removed = forged.len(),
                    "removed Authentication-Results fields claiming our authserv-id"
                );
            }
            // If the shard has gone away, the message goes with it: nothing was promised yet.
            let _ = tx.send((outcome, rewritten));
        });
        async move { rx.await.map_err(|_| Vec::new()) }
    }
}
