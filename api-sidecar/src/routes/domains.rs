//! `/v1/domains`: the domains a customer protects and where their real mail server is.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{DeliveryMode, Domain, DomainPatch, DomainStatus, Executive, TokenScope},
    time::now_ms,
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
    schema::{DomainList, DomainOut, Verification},
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
    /// `host:port` of the real mail server Moat relays good mail to.
    #[schema(example = "mail.acme.example:25")]
    pub real_mx_host: String,
    /// `spool` (default) or `proxy`.
    #[serde(default)]
    pub delivery_mode: DeliveryMode,
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
        verified_at: None,
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
    Ok(HttpResponse::Created().json(out(&domain, &state)))
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
    if let Some(admin) = &mut patch.admin_email
        && !admin.is_empty()
    {
        let domain = state
            .store
            .domain(caller.customer_id(), &id)
            .await?
            .ok_or(ApiError::NotFound("domain"))?;
        let lower = admin.trim().to_ascii_lowercase();
        let at_domain = lower.rsplit_once('@').is_some_and(|(local, d)| {
            !local.is_empty()
                && local.len() <= 64
                && local
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"<>@,;\\\"".contains(&b))
                && d == domain.name
        });
        if !at_domain {
            return Err(ApiError::Unprocessable(format!(
                "admin_email must be an address at {} (the digest goes through its real server)",
                domain.name
            )));
        }
        *admin = lower;
    }
    let d = state
        .store
        .update_domain(caller.customer_id(), &id, patch)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    Ok(HttpResponse::Ok().json(out(&d, &state)))
}

/// Looks up the domain's MX records now; when one names this gateway (`hostname` in Moat's
/// configuration) the domain becomes `active` and `verified_at` is set.
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
    let d = state
        .store
        .domain(caller.customer_id(), &id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    let ours = state
        .config
        .hostname
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let (found, detail) = match mx_hosts(&state, &d.name).await {
        Ok(hosts) if hosts.is_empty() => (hosts, Some(format!("{} has no MX records", d.name))),
        Ok(hosts) if !hosts.contains(&ours) => {
            let detail = format!("no MX record of {} names {ours}", d.name);
            (hosts, Some(detail))
        }
        Ok(hosts) => (hosts, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let verified = detail.is_none();
    let d = if verified && d.verified_at.is_none() {
        let patch = DomainPatch {
            verified_at: Some(now_ms()),
            ..Default::default()
        };
        state
            .store
            .update_domain(caller.customer_id(), &id, patch)
            .await?
            .ok_or(ApiError::NotFound("domain"))?
    } else {
        d
    };
    Ok(HttpResponse::Ok().json(Verification {
        domain: out(&d, &state),
        verified,
        found,
        detail,
    }))
}

/// The MX hosts of `name`, lowest preference first, lower case without the final dot.
async fn mx_hosts(state: &AppState, name: &str) -> Result<Vec<String>, String> {
    let dns = moat_core::dns::Dns::start(&state.config.dns)
        .await
        .map_err(|e| format!("DNS is not available: {e}"))?;
    match dns.resolver.mx_lookup(format!("{name}.")).await {
        Ok(answer) => {
            let mut records: Vec<(u16, String)> = answer
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    hickory_resolver::proto::rr::RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange
                            .to_ascii()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    )),
                    _ => None,
                })
                .collect();
            records.sort();
            Ok(records.into_iter().map(|(_, h)| h).collect())
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
        Err(e) => Err(format!("the MX look-up of {name} failed: {e}")),
    }
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
