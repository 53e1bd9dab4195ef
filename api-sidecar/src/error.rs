//! Every API error in one shape: RFC 9457 problem details (`application/problem+json`) with a
//! stable machine-readable `code`.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use moat_core::{PolicyError, StoreError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
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
    #[error("rate limit exceeded; retry in {retry_after} s")]
    RateLimited { retry_after: i64 },
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
}

impl ApiError {
    pub fn bad_json(e: actix_web::error::JsonPayloadError) -> ApiError {
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
            ApiError::NotFound(_) => ("not_found", "Not Found"),
            ApiError::BadRequest(_) => ("invalid_parameter", "Bad Request"),
            ApiError::InvalidJson(_) => ("invalid_json", "Bad Request"),
            ApiError::Unprocessable(_) => ("validation_failed", "Unprocessable Content"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::RelayFailed(_) => ("relay_failed", "Bad Gateway"),
            ApiError::Store(_) => ("store_unavailable", "Service Unavailable"),
            ApiError::RateLimited { .. } => ("rate_limited", "Too Many Requests"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
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
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RelayFailed(_) => StatusCode::BAD_GATEWAY,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        if let ApiError::RateLimited { retry_after } = self {
            resp.insert_header(("Retry-After", retry_after.max(&1).to_string()));
        }
        resp.json(Problem {
            kind: format!("https://moat.dev/problems/{code}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            code,
        })
    }
}
