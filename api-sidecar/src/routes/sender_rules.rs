//! `/v1/domains/{id}/sender-rules`: a protected domain's allow and block lists. An allow entry
//! skips content verdicts (never malware) and by default applies only to senders that
//! authenticate (`require_auth`), so an allow entry for a forged sender does nothing.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{SenderRule, SenderRuleKind, TokenScope},
    time::{now_ms, parse_rfc3339},
    validate,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::resource;
use crate::body::Body;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    schema::{SenderRuleList, SenderRuleOut},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/domains/{id}/sender-rules", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/domains/{id}/sender-rules/{rule_id}", "DELETE").route(web::delete().to(delete)),
    );
}

/// An allow or block entry to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub kind: SenderRuleKind,
    /// `user@example.com`, `example.com` or `*.example.com`.
    #[schema(example = "billing@partner.example")]
    pub sender: String,
    /// Allow entries apply only to senders that authenticate (default true).
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub require_auth: bool,
    /// RFC 3339; the rule stops applying then.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Normalises a sender: an address, a domain, or `*.` and a domain.
fn sender(input: &str) -> Result<String, ApiError> {
    let input = input.trim();
    let bad = |why: String| ApiError::Unprocessable(format!("sender: {why}"));
    if let Some((local, domain)) = input.rsplit_once('@') {
        let valid_local = !local.is_empty()
            && local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '@' | ',' | ';'));
        if !valid_local {
            return Err(bad("the local part of the address is not valid".into()));
        }
        let domain = validate::domain_name(domain).map_err(bad)?;
        return Ok(format!("{}@{domain}", local.to_ascii_lowercase()));
    }
    match input.strip_prefix("*.") {
        Some(base) => Ok(format!("*.{}", validate::domain_name(base).map_err(bad)?)),
        None => validate::domain_name(input).map_err(bad),
    }
}

async fn domain_exists(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    state
        .store
        .domain(caller.customer_id(), id)
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound("domain"))
}

/// A domain's allow and block entries.
#[utoipa::path(get, path = "/v1/domains/{id}/sender-rules", tag = "sender rules",
    operation_id = "list_sender_rules",
    params(("id" = String, Path, description = "Domain id")),
    responses((status = 200, body = SenderRuleList)))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    domain_exists(&state, &caller, &id).await?;
    let rules = state.store.sender_rules(caller.customer_id(), &id).await?;
    Ok(HttpResponse::Ok().json(SenderRuleList {
        data: rules.iter().map(SenderRuleOut::of).collect(),
    }))
}

/// Adds an allow or block entry to a domain.
#[utoipa::path(post, path = "/v1/domains/{id}/sender-rules", tag = "sender rules",
    operation_id = "create_sender_rule",
    params(("id" = String, Path, description = "Domain id")),
    request_body = NewRule,
    responses((status = 201, body = SenderRuleOut)))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<NewRule>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    domain_exists(&state, &caller, &id).await?;
    let now = now_ms();
    let expires_at = match &body.expires_at {
        Some(t) => {
            let ms = parse_rfc3339(t).ok_or_else(|| {
                ApiError::Unprocessable(
                    "expires_at must be an RFC 3339 time such as 2027-01-01T00:00:00Z".into(),
                )
            })?;
            if ms <= now {
                return Err(ApiError::Unprocessable("expires_at is in the past".into()));
            }
            Some(ms)
        }
        None => None,
    };
    let rule = SenderRule {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: caller.customer_id().to_string(),
        domain_id: id.into_inner(),
        kind: body.kind,
        sender: sender(&body.sender)?,
        require_auth: body.require_auth,
        expires_at,
        hits: 0,
        created_at: now,
    };
    state.store.insert_sender_rule(rule.clone()).await?;
    Ok(HttpResponse::Created().json(SenderRuleOut::of(&rule)))
}

/// Removes an entry.
#[utoipa::path(delete, path = "/v1/domains/{id}/sender-rules/{rule_id}", tag = "sender rules",
    operation_id = "delete_sender_rule",
    params(("id" = String, Path, description = "Domain id"),
        ("rule_id" = String, Path, description = "Sender rule id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let (id, rule_id) = path.into_inner();
    if state
        .store
        .delete_sender_rule(caller.customer_id(), &id, &rule_id)
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("sender rule"))
    }
}
