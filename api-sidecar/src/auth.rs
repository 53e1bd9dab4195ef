//! Bearer-token authentication: the token's shape and checksum are checked before any store
//! look-up, then its SHA-256 is looked up. Every handler receives the caller's customer.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use moat_core::{
    metrics::metrics,
    model::{TokenInfo, TokenScope},
    tenancy,
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
        self.actor().require(need)
    }

    /// The caller as the services' rules see it.
    pub fn actor(&self) -> crate::service::quarantine::Actor {
        crate::service::quarantine::Actor {
            kind: self.token.kind,
            scope: self.token.scope,
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
        let in_url = req.query_string().split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            matches!(
                name.as_str(),
                "api_key" | "apikey" | "token" | "access_token" | "key"
            )
        });
        let ip = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = state else {
                return Err(ApiError::Unauthorized);
            };
            if in_url {
                return Err(ApiError::BadRequest(
                    "credentials belong in the Authorization header, never in the URL".into(),
                ));
            }
            let now = now_ms();
            if let Some(retry_after) = state.auth_failures.blocked(&ip, now) {
                return Err(ApiError::RateLimited { retry_after });
            }
            let fail = || {
                state.auth_failures.record(&ip, now);
                ApiError::Unauthorized
            };
            let Some(presented) = presented else {
                return Err(fail());
            };
            // A wrong checksum is refused without a store look-up.
            if token::parse(&presented).is_none() {
                return Err(fail());
            }
            let Some(token) = state.store.token_by_hash(&token::hash(&presented)).await? else {
                return Err(fail());
            };
            // The token's budget and its customer's (tokens are cheap to mint, so a per-token
            // budget alone is no limit), counted in the store for every API host at once.
            let decision = crate::ratelimit::shared(
                &state.store,
                state.budgets,
                &token.id,
                tenancy::customer_of(&token.customer_id),
                now,
            )
            .await?;
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

/// Failed authentications per client address, in one-minute windows.
pub struct AuthFailures {
    per_minute: u32,
    windows: std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>,
}

impl AuthFailures {
    pub fn new(per_minute: u32) -> Self {
        AuthFailures {
            per_minute: per_minute.max(1),
            windows: Default::default(),
        }
    }

    /// Seconds to wait when `ip` has used up its failures this minute.
    pub fn blocked(&self, ip: &str, now_ms: i64) -> Option<i64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let (start, count) = windows.get(ip).copied()?;
        (now_ms < start + 60_000 && count >= self.per_minute)
            .then(|| ((start + 60_000 - now_ms) + 999) / 1000)
    }

    pub fn record(&self, ip: &str, now_ms: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now_ms < *start + 60_000);
        }
        let w = windows.entry(ip.to_string()).or_insert((now_ms, 0));
        if now_ms >= w.0 + 60_000 {
            *w = (now_ms, 0);
        }
        w.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::AuthFailures;

    #[test]
    fn failures_block_an_address_for_the_rest_of_its_minute() {
        let f = AuthFailures::new(3);
        for _ in 0..3 {
            assert_eq!(f.blocked("10.0.0.1", 1_000), None);
            f.record("10.0.0.1", 1_000);
        }
        assert_eq!(f.blocked("10.0.0.1", 1_000), Some(60));
        assert_eq!(f.blocked("10.0.0.1", 30_500), Some(31));
        assert_eq!(f.blocked("10.0.0.2", 1_000), None, "per address");
        assert_eq!(f.blocked("10.0.0.1", 61_000), None, "the window ends");
    }
}
