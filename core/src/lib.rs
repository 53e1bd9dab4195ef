//! Moat's shared library: the data model, the policy engine, the store (trait and backends),
//! configuration, API tokens and the SMTP relay client.
//!
//! Both binaries' halves (the glommio scanner and the actix-web API) link this crate, so everything
//! that must mean the same thing on both sides of the store lives here.
//!
//! # Layout
//! - [`model`]: customers, tokens, domains, policies, verdicts, quarantine (what is stored);
//!   [`store`]: the one trait and its SQLite and ScyllaDB backends; [`snapshot`]: the
//!   scanner's immutable view of domains and compiled policies.
//! - [`verdict`]: one home for decisions (`scan` every detector once, `judge` per recipient
//!   domain, `record` the result); [`detect`]: the threat classes and SpamAssassin's rules;
//!   [`policy`]: customers' conditions compiled to Hyperscan and aho-corasick;
//!   [`message`]: the borrowed view of a parsed message.
//! - [`auth`]: SPF (Moat's RFC 7208 evaluator), DKIM, ARC, DMARC and its aggregate reports,
//!   the author identity and `Authentication-Results`; [`dns`]: the resolver, its caches and
//!   the static-zone server.
//! - [`relay`]: outbound SMTP with deadlines, per-destination slots, STARTTLS and MTA-STS;
//!   [`dsn`]: bounce messages; [`spoolfile`]: the spool's file format; [`netguard`]: which
//!   addresses Moat may connect to.
//! - [`tenancy`]: customers and their sandboxes (who owns what, who may send mail).
//! - [`config`], [`metrics`], [`token`], [`validate`], [`time`], [`error`]: the shared edges.

pub mod auth;
pub mod config;
pub mod detect;
pub mod dns;
pub mod dsn;
pub mod error;
pub mod message;
pub mod metrics;
pub mod model;
pub mod netguard;
pub mod policy;
pub mod relay;
pub mod snapshot;
pub mod spoolfile;
pub mod store;
pub mod tenancy;
pub mod time;
pub mod token;
pub mod validate;
pub mod verdict;

pub use error::{PolicyError, StoreError};
