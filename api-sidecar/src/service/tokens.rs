//! API tokens: minting one (the secret is returned once; only its SHA-256 is stored). The
//! operator's `moat token create` and the API's `POST /v1/tokens` both mint through here.

use moat_core::{
    model::{TokenInfo, TokenKind, TokenScope},
    store::SharedStore,
    tenancy,
    time::now_ms,
    token, validate,
};

use crate::error::ApiError;

/// Mints a token of `kind` for the customer `customer_id` (live or its sandbox, as `kind`
/// says) and stores its hash; returns the token and its secret.
pub async fn mint(
    store: &SharedStore,
    customer_id: &str,
    kind: TokenKind,
    scope: TokenScope,
) -> Result<(TokenInfo, String), ApiError> {
    if kind == TokenKind::Test {
        let customer = store
            .customer(tenancy::customer_of(customer_id))
            .await?
            .ok_or(ApiError::NotFound("customer"))?;
        store.ensure_sandbox(&customer).await?;
    }
    let secret = token::generate(kind);
    let info = TokenInfo {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: tenancy::tenant_of(customer_id, kind),
        kind,
        prefix: token::display_prefix(&secret),
        created_at: now_ms(),
        scope,
    };
    store
        .insert_token(info.clone(), token::hash(&secret))
        .await?;
    Ok((info, secret))
}

/// The operator's issue: a token for the customer named `customer`, made if new (the name is
/// checked first).
pub async fn issue(
    store: &SharedStore,
    customer: &str,
    kind: TokenKind,
    scope: TokenScope,
) -> Result<(TokenInfo, String), ApiError> {
    let name = validate::customer_name(customer).map_err(ApiError::Unprocessable)?;
    let customer = store.ensure_customer(&name).await?;
    mint(store, &customer.id, kind, scope).await
}
