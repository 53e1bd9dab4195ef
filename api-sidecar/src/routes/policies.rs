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
        .route("/policies", web::post().to(create));
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

async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let policy = Policy {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: caller.customer_id().to_string(),
        name,
        condition: new.condition,
        action: new.action,
        notify_admin: new.notify_admin,
        enabled: new.enabled,
        created_at: now_ms(),
    };
    // Compile exactly as the scanner will, so what is stored always compiles.
    policy.condition.validate()?;
    PolicySet::compile(std::slice::from_ref(&policy))?;
    state.store.insert_policy(policy.clone()).await?;
    Ok(HttpResponse::Created().json(policy_json(&policy)))
}
