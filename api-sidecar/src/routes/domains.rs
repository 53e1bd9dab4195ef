//! `/v1/domains`: the domains a customer protects and where their real mail server is.

use actix_web::{HttpResponse, web};
use moat_core::model::{DeliveryMode, Domain, DomainPatch, RelayTls, TokenScope};
use serde::Deserialize;
use utoipa::ToSchema;

use super::resource;
use crate::body::Body;
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    schema::{DomainList, DomainOut, Verification},
    service::domains::{self, DomainRequest, OperatorGrant},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/domains", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/domains/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(resource("/domains/{id}/verify", "POST").route(web::post().to(verify)));
}

/// A domain to protect.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    /// The domain name (IDN allowed; stored as punycode).
    #[schema(example = "acme.example")]
    pub domain: String,
    /// `host:port` of the real mail server Moat relays good mail to: a public address
    /// (internal ones only where the operator allows them). Optional: without it Moat looks
    /// up the domain's MX records now (they still name the customer's own server before
    /// the switch to Moat), takes the most preferred one on port 25 and says so in
    /// `real_mx_host_note`.
    #[schema(example = "mail.acme.example:25")]
    #[serde(default)]
    pub real_mx_host: Option<String>,
    /// `spool` (default) or `proxy`.
    #[serde(default)]
    pub delivery_mode: DeliveryMode,
    /// STARTTLS on the hop to the real server: `opportunistic` (default), `required`, `verify`.
    #[serde(default)]
    pub tls: RelayTls,
}

fn out(d: &Domain, state: &AppState) -> DomainOut {
    DomainOut::of(d, &state.config.hostname)
}

/// The customer's domains.
#[utoipa::path(get, path = "/v1/domains", tag = "domains", operation_id = "list_domains",
    responses((status = 200, body = DomainList)))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let domains = state.store.domains(caller.customer_id()).await?;
    Ok(HttpResponse::Ok().json(DomainList {
        data: domains.iter().map(|d| out(d, &state)).collect(),
    }))
}

/// Protects a domain. The answer names the MX record to publish; the domain is
/// `pending_mx_verification` until `POST /v1/domains/{id}/verify` sees it.
#[utoipa::path(post, path = "/v1/domains", tag = "domains", operation_id = "create_domain",
    request_body = NewDomain,
    responses((status = 201, body = DomainOut)))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<NewDomain>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let body = body.into_inner();
    let request = DomainRequest {
        name: body.domain,
        real_mx_host: body.real_mx_host,
        delivery_mode: body.delivery_mode,
        tls: body.tls,
    };
    // A customer's own request: no operator grant (pending until proven, public real server).
    let created = domains::create(
        &state.ctx(),
        caller.customer_id(),
        request,
        OperatorGrant::default(),
    )
    .await?;
    let mut answer = out(&created.domain, &state);
    answer.real_mx_host_note = created.real_mx_host_note;
    Ok(HttpResponse::Created().json(answer))
}

/// One domain.
#[utoipa::path(get, path = "/v1/domains/{id}", tag = "domains", operation_id = "get_domain",
    params(("id" = String, Path, description = "Domain id")),
    responses((status = 200, body = DomainOut)))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = state
        .store
        .domain(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    Ok(HttpResponse::Ok().json(out(&d, &state)))
}

/// Changes a domain's real server, delivery mode, spam threshold or executives list.
#[utoipa::path(patch, path = "/v1/domains/{id}", tag = "domains", operation_id = "update_domain",
    params(("id" = String, Path, description = "Domain id")),
    request_body = DomainPatch,
    responses((status = 200, body = DomainOut)))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<DomainPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let d = domains::update(&state.ctx(), caller.customer_id(), &id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(out(&d, &state)))
}

/// Proves ownership: looks up the TXT record `_moat-verify.<domain>` now, and when it holds
/// this domain's `moat-verify=<token>` the domain becomes `active` (Moat takes its mail from
/// then on). Also reports whether the MX records already name this gateway. A name another
/// account has active answers 409 (only someone who controls the domain's DNS gets that far).
#[utoipa::path(post, path = "/v1/domains/{id}/verify", tag = "domains",
    operation_id = "verify_domain",
    params(("id" = String, Path, description = "Domain id")),
    responses((status = 200, body = Verification)))]
pub async fn verify(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    let v = domains::verify(&state.ctx(), caller.customer_id(), &id).await?;
    Ok(HttpResponse::Ok().json(Verification {
        domain: out(&v.domain, &state),
        verified: v.proven,
        mx_points_here: v.mx_points_here,
        found: v.found,
        detail: v.detail,
    }))
}

/// Stops protecting a domain: Moat refuses its mail from then on.
#[utoipa::path(delete, path = "/v1/domains/{id}", tag = "domains", operation_id = "delete_domain",
    params(("id" = String, Path, description = "Domain id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TokenScope::Admin)?;
    if state.store.delete_domain(caller.customer_id(), &id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("domain"))
    }
}
