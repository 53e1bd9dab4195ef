//! `GET /v1/me`: who the token belongs to, so scripts can check a token.

use actix_web::{HttpResponse, web};
use moat_core::time::rfc3339;
use serde_json::json;

use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me));
}

async fn me(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let customer = state
        .store
        .customer(caller.customer_id())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(HttpResponse::Ok().json(json!({
        "customer": { "id": customer.id, "name": customer.name, "created_at": rfc3339(customer.created_at) },
        "token": {
            "id": caller.token.id,
            "kind": caller.token.kind,
            "prefix": caller.token.prefix,
            "created_at": rfc3339(caller.token.created_at),
        },
        "scopes": ["admin"],
    })))
}
