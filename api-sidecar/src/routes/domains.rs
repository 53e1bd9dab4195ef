//! `/v1/domains`: the domains a customer protects and where their real mail server is.

use actix_web::{HttpResponse, web};
use moat_core::{
    model::{DeliveryMode, Domain, DomainPatch, DomainStatus, Executive, RelayTls, TokenScope},
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

/// Refuses a real server that is (or resolves only to) an internal address the operator has
/// not allowed: a tenant must not make Moat relay into the operator's network. The relay
/// checks again at every connection (a name can change what it resolves to).
pub async fn check_relay_target(
    state: &AppState,
    hostport: &str,
    domain_allows: bool,
) -> Result<(), ApiError> {
    if domain_allows {
        return Ok(());
    }
    let guard = &state.relay.settings().guard;
    let (host, _) = moat_core::relay::split_host_port(hostport);
    let refuse = |addrs: String| {
        ApiError::Unprocessable(format!(
            "real_mx_host {hostport} is an internal address ({addrs}); Moat relays only to \
             public addresses unless the operator allows that network"
        ))
    };
    let ips: Vec<std::net::IpAddr> = if let Ok(ip) = host.parse() {
        vec![ip]
    } else if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") {
        vec![std::net::IpAddr::from([127, 0, 0, 1])]
    } else {
        // A name that does not resolve yet is accepted (the customer may publish it later);
        // one that resolves only inward is not.
        match moat_core::dns::Dns::start(&state.config.dns).await {
            Ok(dns) => match dns.resolver.lookup_ip(format!("{host}.")).await {
                Ok(found) => found.iter().collect(),
                Err(_) => Vec::new(),
            },
            Err(_) => Vec::new(),
        }
    };
    if !ips.is_empty() && ips.iter().all(|ip| !guard.permits(*ip, false)) {
        let shown: Vec<String> = ips.iter().map(ToString::to_string).collect();
        return Err(refuse(shown.join(", ")));
    }
    Ok(())
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
    let (given, note) = match &body.real_mx_host {
        Some(host) => (host.clone(), None),
        None => {
            let (host, note) = proposed_real_server(&state, &name).await?;
            (host, Some(note))
        }
    };
    let real_mx_host = validate::relay_target(&given).map_err(ApiError::Unprocessable)?;
    check_relay_target(&state, &real_mx_host, false).await?;
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
        tls: body.tls,
        allow_internal_target: false,
        verification_token: moat_core::token::domain_verification_token(),
    };
    // Only this customer's own domains can conflict: a pending domain claims no name, so
    // the answer says nothing about what other tenants protect.
    state
        .store
        .insert_domain(domain.clone())
        .await
        .map_err(|e| match e {
            moat_core::StoreError::Conflict(_) => {
                ApiError::Conflict(format!("you already have domain {}", domain.name))
            }
            other => other.into(),
        })?;
    let mut answer = out(&domain, &state);
    answer.real_mx_host_note = note;
    Ok(HttpResponse::Created().json(answer))
}

/// The real server for a domain created without one: its most preferred MX host that is not
/// Moat itself, on port 25, with a note saying where it came from.
async fn proposed_real_server(state: &AppState, name: &str) -> Result<(String, String), ApiError> {
    let hosts = mx_hosts(state, name)
        .await
        .map_err(|e| ApiError::Unprocessable(format!("real_mx_host is missing and {e}")))?;
    let own = state.config.hostname.to_ascii_lowercase();
    let others: Vec<&String> = hosts.iter().filter(|h| **h != own).collect();
    match others.first() {
        Some(host) => Ok((
            format!("{host}:25"),
            format!(
                "real_mx_host was taken from {name}'s MX records ({}): Moat relays good mail \
                 to {host}:25; if that is not your real mail server, set it with \
                 PATCH /v1/domains/{{id}} before pointing MX at Moat",
                hosts.join(", ")
            ),
        )),
        None if hosts.is_empty() => Err(ApiError::Unprocessable(format!(
            "real_mx_host is missing and {name} has no MX records to take it from: give \
             real_mx_host (host:port of your mail server)"
        ))),
        None => Err(ApiError::Unprocessable(format!(
            "real_mx_host is missing and {name}'s MX records already point at Moat: give \
             real_mx_host (host:port of your mail server)"
        ))),
    }
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
        let host = validate::relay_target(host).map_err(ApiError::Unprocessable)?;
        let current = state
            .store
            .domain(caller.customer_id(), &id)
            .await?
            .ok_or(ApiError::NotFound("domain"))?;
        check_relay_target(&state, &host, current.allow_internal_target).await?;
        patch.real_mx_host = Some(host);
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
    let (found, mx_detail) = match mx_hosts(&state, &d.name).await {
        Ok(hosts) if hosts.is_empty() => (hosts, Some(format!("{} has no MX records", d.name))),
        Ok(hosts) if !hosts.contains(&ours) => {
            let detail = format!("no MX record of {} names {ours} yet", d.name);
            (hosts, Some(detail))
        }
        Ok(hosts) => (hosts, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let mx_points_here = mx_detail.is_none();
    let expected = crate::schema::verification_value(&d.verification_token);
    let txt_name = crate::schema::verification_name(&d.name);
    let proven = d.status == DomainStatus::Active
        || txt_values(&state, &txt_name)
            .await
            .map_err(ApiError::Unavailable)?
            .iter()
            .any(|v| v.trim() == expected);
    let d = if proven && d.status != DomainStatus::Active {
        state
            .store
            .activate_domain(caller.customer_id(), &id, now_ms())
            .await
            .map_err(|e| match e {
                moat_core::StoreError::Conflict(_) => ApiError::Conflict(format!(
                    "{} is already protected by another account; contact the operator",
                    d.name
                )),
                other => other.into(),
            })?
            .ok_or(ApiError::NotFound("domain"))?
    } else {
        d
    };
    let detail = if !proven {
        Some(format!(
            "publish the TXT record {txt_name} with the value \"{expected}\" and verify again"
        ))
    } else {
        mx_detail
    };
    Ok(HttpResponse::Ok().json(Verification {
        domain: out(&d, &state),
        verified: proven,
        mx_points_here,
        found,
        detail,
    }))
}

/// The TXT strings at `name` (each record's strings joined); empty when there are none.
async fn txt_values(state: &AppState, name: &str) -> Result<Vec<String>, String> {
    let dns = moat_core::dns::Dns::start(&state.config.dns)
        .await
        .map_err(|e| format!("DNS is not available: {e}"))?;
    match dns.resolver.txt_lookup(format!("{name}.")).await {
        Ok(answer) => Ok(answer
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                hickory_resolver::proto::rr::RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
        Err(e) => Err(format!("the TXT look-up of {name} failed: {e}")),
    }
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
