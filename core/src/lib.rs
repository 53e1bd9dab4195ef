//! Moat's shared library: the data model, the policy engine, the store (trait and backends),
//! configuration, API tokens and the SMTP relay client.
//!
//! Both binaries' halves (the glommio scanner and the actix-web API) link this crate, so everything
//! that must mean the same thing on both sides of the store lives here.

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
pub mod time;
pub mod token;
pub mod validate;
pub mod verdict;

pub use error::{PolicyError, StoreError};
