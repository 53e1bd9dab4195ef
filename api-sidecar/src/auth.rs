//! Bearer-token authentication: the token's shape and checksum are checked before any store
//! look-up, then its SHA-256 is looked up. Every handler receives the caller's customer.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use moat_core::{model::TokenInfo, token};

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
        Box::pin(async move {
            let (Some(presented), Some(state)) = (presented, state) else {
                return Err(ApiError::Unauthorized);
            };
            if token::parse(&presented).is_none() {
                return Err(ApiError::Unauthorized);
            }
            match state.store.token_by_hash(&token::hash(&presented)).await? {
                Some(token) => Ok(Caller { token }),
                None => Err(ApiError::Unauthorized),
            }
        })
    }
}
