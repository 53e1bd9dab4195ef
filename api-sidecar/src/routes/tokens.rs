//! `/v1/tokens`: a customer's API tokens. The secret is returned once, at creation; only its
//! SHA-256 is stored. Tokens are revoked, not deleted, so an audit can still name them.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{TokenInfo, TokenKind},
    time::{now_ms, rfc3339},
    token,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokens", web::get().to(list))
        .route("/tokens", web::post().to(create))
        .route("/tokens/{id}", web::delete().to(revoke));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// `live` (default) or `test`.
    #[serde(default = "live")]
    kind: TokenKind,
}

fn live() -> TokenKind {
    TokenKind::Live
}

fn token_json(t: &TokenInfo) -> Value {
    json!({
        "id": t.id,
        "kind": t.kind,
        "prefix": t.prefix,
        "created_at": rfc3339(t.created_at),
    })
}

async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tokens = state.store.tokens(caller.customer_id()).await?;
    let data: Vec<Value> = tokens.iter().map(token_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, ApiError> {
    let secret = token::generate(body.kind);
    let info = TokenInfo {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: caller.customer_id().to_string(),
        kind: body.kind,
        prefix: token::display_prefix(&secret),
        created_at: now_ms(),
    };
    state
        .store
        .insert_token(info.clone(), token::hash(&secret))
        .await?;
    let mut out = token_json(&info);
    out["token"] = Value::String(secret);
    Ok(HttpResponse::Created().json(out))
}

async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state
        .store
        .revoke_token(caller.customer_id(), &id, now_ms())
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("token"))
    }
}
