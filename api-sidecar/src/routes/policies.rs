//! `/v1/policies`: a customer's rules. A condition that does not compile is refused with 422
//! and nothing is stored.

use actix_web::{HttpResponse, web};
use moat_core::model::{NewPolicy, TokenScope};

use super::resource;
use crate::body::Body;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    schema::{PolicyList, PolicyOut},
    service,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/policies", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/policies/{id}", "GET, PUT, DELETE")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::delete().to(delete)),
    );
}

/// The customer's policies.
#[utoipa::path(get, path = "/v1/policies", tag = "policies", operation_id = "list_policies",
    responses((status = 200, body = PolicyList)))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let policies = state.store.policies(caller.customer_id()).await?;
    Ok(HttpResponse::Ok().json(PolicyList {
        data: policies.iter().map(PolicyOut::of).collect(),
    }))
}

/// Creates a policy; one whose condition does not compile is refused with 422.
#[utoipa::path(post, path = "/v1/policies", tag = "policies", operation_id = "create_policy",
    request_body = NewPolicy,
    responses((status = 201, body = PolicyOut)))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let created = service::policies::create(
        &state.ctx(),
        &state.compiler,
        caller.customer_id(),
        vec![body.into_inner()],
    )
    .await?;
    let policy = created
        .first()
        .ok_or_else(|| ApiError::Unprocessable("no policy given".into()))?;
    Ok(HttpResponse::Created().json(PolicyOut::of(policy)))
}

/// One policy.
#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", operation_id = "get_policy",
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 200, body = PolicyOut)))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = state
        .store
        .policy(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("policy"))?;
    Ok(HttpResponse::Ok().json(PolicyOut::of(&p)))
}

/// Replaces a policy (same rules as creating one).
#[utoipa::path(put, path = "/v1/policies/{id}", tag = "policies", operation_id = "replace_policy",
    params(("id" = String, Path, description = "Policy id")),
    request_body = NewPolicy,
    responses((status = 200, body = PolicyOut)))]
pub async fn replace(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let policy = service::policies::replace(
        &state.ctx(),
        &state.compiler,
        caller.customer_id(),
        &id,
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(PolicyOut::of(&policy)))
}

/// Deletes a policy.
#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies", operation_id = "delete_policy",
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    if state.store.delete_policy(caller.customer_id(), &id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("policy"))
    }
}
