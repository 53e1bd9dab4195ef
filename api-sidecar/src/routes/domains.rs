//! `/v1/domains`: the domains a customer protects and where their real mail server is.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{DeliveryMode, Domain, DomainPatch, DomainStatus, Executive},
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
        "spam_threshold": d.detection.spam_threshold,
        "executives": d.detection.executives,
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
        detection: Default::default(),
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
    if let Some(t) = patch.spam_threshold
        && !(t.is_finite() && (0.5..=100.0).contains(&t))
    {
        return Err(ApiError::Unprocessable(
            "spam_threshold must be a number from 0.5 to 100".into(),
        ));
    }
    if let Some(execs) = &mut patch.executives {
        validate_executives(execs)?;
    }
    let d = state
        .store
        .update_domain(caller.customer_id(), &id, patch)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    Ok(HttpResponse::Ok().json(domain_json(&d, &state.config.hostname)))
}

/// At most 200 executives, each with a name of 3 to 100 characters and at most 20 addresses
/// that look like addresses (stored lower-cased).
fn validate_executives(execs: &mut [Executive]) -> Result<(), ApiError> {
    if execs.len() > 200 {
        return Err(ApiError::Unprocessable("at most 200 executives".into()));
    }
    for e in execs.iter_mut() {
        let name = e.name.trim();
        let letters = name.chars().filter(|c| c.is_alphabetic()).count();
        if !(3..=100).contains(&name.chars().count())
            || letters < 3
            || name.chars().any(char::is_control)
        {
            return Err(ApiError::Unprocessable(format!(
                "executive name {:?} must be 3 to 100 characters with at least 3 letters",
                e.name
            )));
        }
        e.name = name.to_string();
        if e.addresses.len() > 20 {
            return Err(ApiError::Unprocessable(
                "at most 20 addresses per executive".into(),
            ));
        }
        for a in e.addresses.iter_mut() {
            let lower = a.trim().to_ascii_lowercase();
            let valid = lower.len() <= 254
                && lower
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && validate::domain_name(d).is_ok())
                && !lower.chars().any(|c| c.is_whitespace() || c.is_control());
            if !valid {
                return Err(ApiError::Unprocessable(format!(
                    "{a:?} is not an email address"
                )));
            }
            *a = lower;
        }
    }
    Ok(())
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
