//! Error types of the shared library. Policy and store failures are distinct enums so callers can
//! map them to SMTP replies (`451`) or API problems (`422`, `503`) without string matching.

use thiserror::Error;

/// A failure of the store. Cloneable because one failed group commit answers many waiters.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store backend error: {0}")]
    Backend(String),
    #[error("store is closed (its worker thread stopped); restart Moat")]
    Closed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot open store at {path}: {reason}")]
    Open { path: String, reason: String },
    /// The caller asked for something invalid (a malformed name, say).
    #[error("{0}")]
    Invalid(String),
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()));
        }
        StoreError::Backend(e.to_string())
    }
}

/// A policy that cannot be compiled. The API answers these with `422`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("condition has an empty list at `{0}`")]
    EmptyList(&'static str),
    #[error("condition `{0}` contains an empty string")]
    EmptyLiteral(&'static str),
    #[error("policy name must be 1 to 200 characters")]
    BadName,
    #[error("condition nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("literal matcher could not be built: {0}")]
    Matcher(String),
    #[error("regular expression `{pattern}` is not accepted: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error("`auth` condition: {0}")]
    BadAuthCheck(String),
    #[error("`attachment_type_in` condition: {0}")]
    BadAttachmentType(String),
    #[error("`threat_score_over` must be a number from -1000 to 1000, not {0}")]
    BadScore(String),
}
