//! `/v1/policies`: a customer's rules. A condition that does not compile is refused with 422
//! and nothing is stored.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{NewPolicy, Policy},
    policy::PolicySet,
    time::{now_ms, rfc3339},
};
use serde_json::{Value, json};

use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/policies", web::get().to(list))
        .route("/policies", web::post().to(create))
        .route("/policies/{id}", web::get().to(get))
        .route("/policies/{id}", web::put().to(replace))
        .route("/policies/{id}", web::delete().to(delete));
}

fn policy_json(p: &Policy) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "condition": p.condition,
        "action": p.action,
        "notify_admin": p.notify_admin,
        "enabled": p.enabled,
        "created_at": rfc3339(p.created_at),
    })
}

async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let policies = state.store.policies(caller.customer_id()).await?;
    let data: Vec<Value> = policies.iter().map(policy_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// Checks a submitted policy and builds it; compiled exactly as the scanner will, so what is
/// stored always compiles.
fn build(
    new: NewPolicy,
    id: String,
    customer_id: &str,
    created_at: i64,
) -> Result<Policy, ApiError> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let policy = Policy {
        id,
        customer_id: customer_id.to_string(),
        name,
        condition: new.condition,
        action: new.action,
        notify_admin: new.notify_admin,
        enabled: new.enabled,
        created_at,
    };
    policy.condition.validate()?;
    PolicySet::compile(std::slice::from_ref(&policy))?;
    Ok(policy)
}

async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    let policy = build(
        body.into_inner(),
        uuid::Uuid::now_v7().to_string(),
        caller.customer_id(),
        now_ms(),
    )?;
    state.store.insert_policy(policy.clone()).await?;
    Ok(HttpResponse::Created().json(policy_json(&policy)))
}

async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = state
        .store
        .policy(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("policy"))?;
    Ok(HttpResponse::Ok().json(policy_json(&p)))
}

async fn replace(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    let existing = state
        .store
        .policy(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("policy"))?;
    let policy = build(
        body.into_inner(),
        existing.id,
        caller.customer_id(),
        existing.created_at,
    )?;
    if !state.store.update_policy(policy.clone()).await? {
        return Err(ApiError::NotFound("policy"));
    }
    Ok(HttpResponse::Ok().json(policy_json(&policy)))
}

async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_policy(caller.customer_id(), &id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("policy"))
    }
}
