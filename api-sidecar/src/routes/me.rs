//! `GET /v1/me`: who the token belongs to and what it may do, so scripts can check a token.

use actix_web::{HttpResponse, web};
use moat_core::time::rfc3339;

use super::resource;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    schema::{CustomerOut, Me, TokenOut},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/me", "GET").route(web::get().to(me)));
}

/// The calling token, its customer and its scopes.
#[utoipa::path(get, path = "/v1/me", tag = "account", operation_id = "get_me",
    responses((status = 200, body = Me)))]
pub async fn me(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let customer = state
        .store
        .customer(moat_core::tenancy::customer_of(caller.customer_id()))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(HttpResponse::Ok().json(Me {
        customer: CustomerOut {
            id: customer.id,
            name: customer.name,
            created_at: rfc3339(customer.created_at),
        },
        token: TokenOut::of(&caller.token),
        scopes: caller.token.scope.granted(),
    }))
}
