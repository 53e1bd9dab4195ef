//! `/v1/tokens`: a customer's API tokens. The secret is returned once, at creation; only its
//! SHA-256 is stored. Tokens are revoked, not deleted, so an audit can still name them.
//! Managing tokens needs the `admin` scope.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{TokenKind, TokenScope},
    tenancy,
    time::now_ms,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::resource;
use crate::body::Body;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    schema::{TokenList, TokenOut},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/tokens", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/tokens/{id}", "DELETE").route(web::delete().to(revoke)));
}

/// A token to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// `live` (default) or `test`.
    #[serde(default = "live")]
    #[schema(default = "live")]
    pub kind: TokenKind,
    /// What the new token may do; default `admin`.
    #[serde(default)]
    #[schema(default = "admin")]
    pub scope: TokenScope,
}

fn live() -> TokenKind {
    TokenKind::Live
}

/// The tenants whose tokens the caller manages: a live token manages the customer's live and
/// sandbox tokens; a test token only the sandbox's.
fn managed_tenants(caller: &Caller) -> Vec<String> {
    let customer = tenancy::customer_of(caller.customer_id());
    match caller.token.kind {
        TokenKind::Live => vec![
            tenancy::tenant_of(customer, TokenKind::Live),
            tenancy::tenant_of(customer, TokenKind::Test),
        ],
        TokenKind::Test => vec![tenancy::tenant_of(customer, TokenKind::Test)],
    }
}

/// The customer's tokens that are not revoked (a live token also sees the sandbox's).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", operation_id = "list_tokens",
    responses((status = 200, body = TokenList)))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let mut data = Vec::new();
    for tenant in managed_tenants(&caller) {
        let tokens = state.store.tokens(&tenant).await?;
        data.extend(tokens.iter().map(TokenOut::of));
    }
    Ok(HttpResponse::Ok().json(TokenList { data }))
}

/// Creates a token; the answer holds the secret, shown this once. A `test` token acts on the
/// customer's sandbox; a test token can create only test tokens.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", operation_id = "create_token",
    request_body = NewToken,
    responses((status = 201, body = TokenOut)))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<NewToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    if caller.token.kind == TokenKind::Test && body.kind == TokenKind::Live {
        return Err(ApiError::Forbidden {
            have: "test",
            need: "a live token to create live tokens",
        });
    }
    let customer_id = tenancy::customer_of(caller.customer_id()).to_string();
    let per_hour = state.config.api.token_creations_per_hour;
    if let Err(retry_after) =
        crate::ratelimit::token_creation(&state.store, per_hour, &customer_id, now_ms()).await?
    {
        return Err(ApiError::RateLimited { retry_after });
    }
    let mut held = 0;
    for tenant in managed_tenants(&caller) {
        held += state.store.tokens(&tenant).await?.len();
    }
    if held >= state.config.api.max_tokens_per_customer as usize {
        return Err(ApiError::Conflict(format!(
            "a customer holds at most {} tokens; revoke one first",
            state.config.api.max_tokens_per_customer
        )));
    }
    let (info, secret) =
        crate::service::tokens::mint(&state.store, caller.customer_id(), body.kind, body.scope)
            .await?;
    let mut out = TokenOut::of(&info);
    out.token = Some(secret);
    let mut resp = HttpResponse::Created().json(out);
    // An Idempotency-Key replay answers without the secret: it is shown once.
    resp.extensions_mut()
        .insert(crate::idempotency::RedactOnReplay(&["token"]));
    Ok(resp)
}

/// Revokes a token: it stops working at once. A token cannot revoke itself (409), so a
/// script cannot lock its customer out.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", operation_id = "revoke_token",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    if *id == caller.token.id {
        return Err(ApiError::Conflict(
            "a token cannot revoke itself; revoke it with another token".into(),
        ));
    }
    for tenant in managed_tenants(&caller) {
        if state.store.revoke_token(&tenant, &id, now_ms()).await? {
            // Release links minted while the token was trusted stop working too.
            state
                .store
                .bump_link_epoch(moat_core::tenancy::customer_of(&tenant))
                .await?;
            return Ok(HttpResponse::NoContent().finish());
        }
    }
    Err(ApiError::NotFound("token"))
}
