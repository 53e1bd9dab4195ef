//! `/v1/domains`: the domains a customer protects and where their real mail server is.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{DeliveryMode, Domain, DomainPatch, DomainStatus},
    time::{now_ms, rfc3339},
    validate,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppState, auth::Caller, error::ApiError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/domains", web::get().to(list))
        .route("/domains", web::post().to(create))
        .route("/domains/{id}", web::get().to(get))
        .route("/domains/{id}", web::patch().to(patch))
        .route("/domains/{id}", web::delete().to(delete));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDomain {
    domain: String,
    real_mx_host: String,
    /// `spool` (default) or `proxy`.
    #[serde(default)]
    delivery_mode: DeliveryMode,
}

/// The JSON shape of a domain, with the MX record the customer must publish.
pub fn domain_json(d: &Domain, hostname: &str) -> Value {
    json!({
        "id": d.id,
        "domain": d.name,
        "real_mx_host": d.real_mx_host,
        "delivery_mode": d.delivery_mode,
        "status": d.status,
        "created_at": rfc3339(d.created_at),
        "mx_records": [{ "type": "MX", "priority": 10, "value": hostname }],
    })
}

async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let domains = state.store.domains(caller.customer_id()).await?;
    let data: Vec<Value> = domains
        .iter()
        .map(|d| domain_json(d, &state.config.hostname))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewDomain>,
) -> Result<HttpResponse, ApiError> {
    let name = validate::domain_name(&body.domain).map_err(ApiError::Unprocessable)?;
    let real_mx_host =
        validate::relay_target(&body.real_mx_host).map_err(ApiError::Unprocessable)?;
    let domain = Domain {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: caller.customer_id().to_string(),
        name,
        real_mx_host,
        delivery_mode: body.delivery_mode,
        status: DomainStatus::PendingMxVerification,
        created_at: now_ms(),
    };
    state
        .store
        .insert_domain(domain.clone())
        .await
        .map_err(|e| match e {
            moat_core::StoreError::Conflict(_) => {
                ApiError::Conflict(format!("domain {} is already protected", domain.name))
            }
            other => other.into(),
        })?;
    Ok(HttpResponse::Created().json(domain_json(&domain, &state.config.hostname)))
}

async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = state
        .store
        .domain(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    Ok(HttpResponse::Ok().json(domain_json(&d, &state.config.hostname)))
}

async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<DomainPatch>,
) -> Result<HttpResponse, ApiError> {
    let mut patch = body.into_inner();
    if let Some(host) = &patch.real_mx_host {
        patch.real_mx_host = Some(validate::relay_target(host).map_err(ApiError::Unprocessable)?);
    }
    let d = state
        .store
        .update_domain(caller.customer_id(), &id, patch)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    Ok(HttpResponse::Ok().json(domain_json(&d, &state.config.hostname)))
}

async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_domain(caller.customer_id(), &id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("domain"))
    }
}
