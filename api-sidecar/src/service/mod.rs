//! Use cases, one implementation each, shared by every front door: the HTTP routes extract a
//! request, call a service and shape its answer; `moat`'s command line calls the same
//! services, so the API and the CLI cannot disagree on validation, sandbox rules, the release
//! protocol or the webhooks a change emits.
//!
//! # Layout
//! - [`quarantine`]: release (claim, deliver, mark) and delete, with the [`quarantine::Actor`]
//!   rules; [`digest`]: the daily digest, its links and its mail;
//! - [`domains`]: create, change and verify; [`policies`]: create, replace, validate;
//!   [`tokens`]: mint and issue; [`threats`]: the threat a verdict represents.

pub mod digest;
pub mod domains;
pub mod policies;
pub mod quarantine;
pub mod threats;
pub mod tokens;

use moat_core::{config::Config, relay::Relay, store::SharedStore};

/// What a service works with: the store, the configuration and the outbound relay (with
/// its address guard).
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub store: &'a SharedStore,
    pub config: &'a Config,
    pub relay: &'a Relay,
}
