//! Bearer-token authentication: the token's shape and checksum are checked before any store
//! look-up, then its SHA-256 is looked up. Every handler receives the caller's customer.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use moat_core::{
    metrics::metrics,
    model::{TokenInfo, TokenScope},
    time::now_ms,
    token,
};

use crate::{AppState, error::ApiError};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: TokenInfo,
}

impl Caller {
    pub fn customer_id(&self) -> &str {
        &self.token.customer_id
    }

    /// Refuses with 403 unless the token's scope includes `need`.
    pub fn require(&self, need: TokenScope) -> Result<(), ApiError> {
        if self.token.scope >= need {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                have: self.token.scope.as_str(),
                need: need.as_str(),
            })
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let (Some(presented), Some(state)) = (presented, state) else {
                return Err(ApiError::Unauthorized);
            };
            if token::parse(&presented).is_none() {
                return Err(ApiError::Unauthorized);
            }
            let Some(token) = state.store.token_by_hash(&token::hash(&presented)).await? else {
                return Err(ApiError::Unauthorized);
            };
            let decision = state.limiter.check(&token.id, now_ms());
            req.extensions_mut().insert(decision);
            if !decision.allowed {
                metrics()
                    .api_rate_limited
                    .with_label_values(&[decision.window])
                    .inc();
                return Err(ApiError::RateLimited {
                    retry_after: decision.retry_after,
                });
            }
            Ok(Caller { token })
        })
    }
}
