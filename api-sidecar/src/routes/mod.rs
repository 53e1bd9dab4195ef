//! The `/v1` routes, one module per resource.

pub mod domains;
pub mod me;
pub mod policies;
pub mod quarantine;
pub mod stats;
pub mod tokens;

use actix_web::web;
use moat_core::time::rfc3339;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .configure(me::configure)
            .configure(domains::configure)
            .configure(policies::configure)
            .configure(quarantine::configure)
            .configure(stats::configure)
            .configure(tokens::configure),
    );
}

/// RFC 3339 or null.
pub(crate) fn opt_time(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}
