//! Every API error in one shape: RFC 9457 problem details (`application/problem+json`) with a
//! stable machine-readable `code`.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use moat_core::{PolicyError, StoreError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("this token's scope ({have}) does not allow this; it needs {need}")]
    Forbidden {
        have: &'static str,
        need: &'static str,
    },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this path does not take that method")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RelayFailed(String),
    #[error("storage unavailable: {0}")]
    Store(StoreError),
    /// A service the request needs (DNS, say) did not answer; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    #[error("rate limit exceeded; retry in {retry_after} s")]
    RateLimited { retry_after: i64 },
}

/// An RFC 9457 problem document: every error the API answers has this shape.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// Stable machine-readable code: unauthorized, forbidden, not_found, invalid_parameter,
    /// invalid_json, payload_too_large, validation_failed, conflict, relay_failed,
    /// store_unavailable, dependency_unavailable, rate_limited.
    pub code: String,
}

impl ApiError {
    pub fn bad_json(e: actix_web::error::JsonPayloadError) -> ApiError {
        if let actix_web::error::JsonPayloadError::Overflow { limit }
        | actix_web::error::JsonPayloadError::OverflowKnownLength { limit, .. } = e
        {
            return ApiError::PayloadTooLarge(limit);
        }
        ApiError::InvalidJson(format!(
            "request body is not valid JSON for this endpoint: {e}"
        ))
    }

    pub fn bad_query(detail: String) -> ApiError {
        ApiError::BadRequest(detail)
    }

    /// Stable code and title.
    fn code(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::Unauthorized => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden { .. } => ("forbidden", "Forbidden"),
            ApiError::PayloadTooLarge(_) => ("payload_too_large", "Content Too Large"),
            ApiError::NotFound(_) => ("not_found", "Not Found"),
            ApiError::MethodNotAllowed(_) => ("method_not_allowed", "Method Not Allowed"),
            ApiError::BadRequest(_) => ("invalid_parameter", "Bad Request"),
            ApiError::InvalidJson(_) => ("invalid_json", "Bad Request"),
            ApiError::Unprocessable(_) => ("validation_failed", "Unprocessable Content"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::RelayFailed(_) => ("relay_failed", "Bad Gateway"),
            ApiError::Store(_) => ("store_unavailable", "Service Unavailable"),
            ApiError::Unavailable(_) => ("dependency_unavailable", "Service Unavailable"),
            ApiError::RateLimited { .. } => ("rate_limited", "Too Many Requests"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(m) => ApiError::Unprocessable(m),
            other => ApiError::Store(other),
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        ApiError::Unprocessable(format!("policy condition does not compile: {e}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RelayFailed(_) => StatusCode::BAD_GATEWAY,
            ApiError::Store(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, title) = self.code();
        let status = self.status_code();
        if let ApiError::Store(e) = self {
            tracing::error!(error = %e, "store error in API");
        }
        let mut resp = HttpResponse::build(status);
        resp.content_type("application/problem+json");
        if matches!(self, ApiError::Unauthorized) {
            resp.insert_header(("WWW-Authenticate", "Bearer realm=\"moat\""));
        }
        if let ApiError::MethodNotAllowed(allow) = self {
            resp.insert_header(("Allow", *allow));
        }
        if let ApiError::RateLimited { retry_after } = self {
            resp.insert_header(("Retry-After", retry_after.max(&1).to_string()));
        }
        resp.json(Problem {
            kind: format!("https://moat.dev/problems/{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: code.into(),
        })
    }
}
