//! Moat's scanner: glommio shards that accept SMTP, judge each message against the compiled
//! policy snapshot, relay or quarantine it, and hand verdicts to the store's batched writer.
//!
//! Runtime boundary: shards never block and never touch tokio. The store, the relay client
//! (mail-send on tokio) and the snapshot reloader run on side threads; shards hold handles that
//! send a request and await a oneshot reply (see `relay::RelayHandle` and `moat_core::store`).
//!
//! # Layout
//! - [`shard`]: one glommio executor and listener per
//!   core; [`context`]: what every shard shares; [`reload`]: keeps the policy snapshot current.
//! - [`session`]: one SMTP session (commands, limits, STARTTLS via [`tls`]); [`data`]: the
//!   DATA receiver; [`transaction`]: end of data, the verdict library's judgement, the reply.
//! - Handles to side threads, each awaited through a oneshot: [`auth`] (sender
//!   authentication on tokio), [`clamd`] (ClamAV), [`inspect`] (archives), [`relay`] (outbound
//!   SMTP on tokio); [`spool`]: durable acceptance and delivery with retries; [`mx`]: MX
//!   routing for DSNs; [`dmarc_reports`]: stores DMARC report counts and spools due reports.

pub mod auth;
pub mod clamd;
pub mod context;
pub mod data;
pub mod dmarc_reports;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_support;
pub mod inspect;
pub mod mx;
pub mod relay;
pub mod reload;
pub mod session;
pub mod shard;
pub mod spool;
pub mod spool_report;
pub mod ticker;
pub mod tls;
pub mod transaction;

pub use context::ScannerContext;

#[cfg(test)]
mod boundary_tests;
