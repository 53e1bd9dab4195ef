//! The `/v1` routes, one module per resource.

pub mod bulk;
pub mod digest;
pub mod domains;
pub mod me;
pub mod policies;
pub mod quarantine;
pub mod sender_rules;
pub mod stats;
pub mod threats;
pub mod tokens;
pub mod verdicts;
pub mod webhooks;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .configure(me::configure)
            .configure(digest::configure)
            .configure(domains::configure)
            .configure(sender_rules::configure)
            .configure(policies::configure)
            .configure(bulk::configure)
            .configure(quarantine::configure)
            .configure(stats::configure)
            .configure(threats::configure)
            .configure(tokens::configure)
            .configure(crate::openapi::configure)
            .configure(verdicts::configure)
            .configure(webhooks::configure),
    );
}

/// A resource whose other methods answer 405 with `Allow: <allow>` and a problem document.
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(crate::error::ApiError::MethodNotAllowed(allow))
    }))
}

/// Parses an optional RFC 3339 query parameter into Unix milliseconds.
pub(crate) fn time_param(
    name: &str,
    value: Option<&str>,
) -> Result<Option<i64>, crate::error::ApiError> {
    value
        .map(|v| {
            moat_core::time::parse_rfc3339(v).ok_or_else(|| {
                crate::error::ApiError::BadRequest(format!(
                    "{name} must be an RFC 3339 time such as 2026-11-23T00:00:00Z"
                ))
            })
        })
        .transpose()
}

/// Checks a `limit` parameter: default 50, at most 500.
pub(crate) fn limit_param(limit: Option<u32>) -> Result<u32, crate::error::ApiError> {
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(crate::error::ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    Ok(limit)
}
