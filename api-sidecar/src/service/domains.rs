//! Domains: creating one (validated, its real server checked against the address guard, or
//! proposed from its MX records), changing one, and proving ownership through DNS. The API's
//! routes and `moat domain` call these, so both validate alike.

use moat_core::{
    StoreError,
    model::{DeliveryMode, Domain, DomainPatch, DomainStatus, Executive, RelayTls},
    time::now_ms,
    validate,
};

use super::Ctx;
use crate::error::ApiError;

/// A domain to create.
pub struct DomainRequest {
    /// As given (IDN allowed; stored as punycode).
    pub name: String,
    /// `host:port`; `None` proposes the domain's most preferred MX host on port 25.
    pub real_mx_host: Option<String>,
    pub delivery_mode: DeliveryMode,
    pub tls: RelayTls,
}

/// What the operator grants beyond what a customer may ask for itself.
#[derive(Clone, Copy, Default)]
pub struct OperatorGrant {
    /// The operator vouches for the domain: it is active at once, without the DNS proof.
    pub vouched: bool,
    /// The real server may be an internal address.
    pub allow_internal: bool,
}

/// A created domain, and where its real server came from when it was not given.
pub struct Created {
    pub domain: Domain,
    pub real_mx_host_note: Option<String>,
}

/// Creates a domain of `customer_id`. A customer's own request gets no grant: the domain is
/// pending until its owner proves control, and its real server must be public.
pub async fn create(
    ctx: &Ctx<'_>,
    customer_id: &str,
    request: DomainRequest,
    grant: OperatorGrant,
) -> Result<Created, ApiError> {
    let name = validate::domain_name(&request.name).map_err(ApiError::Unprocessable)?;
    let (given, note) = match request.real_mx_host {
        Some(host) => (host, None),
        None => {
            let (host, note) = proposed_real_server(ctx, &name).await?;
            (host, Some(note))
        }
    };
    let real_mx_host = validate::relay_target(&given).map_err(ApiError::Unprocessable)?;
    check_relay_target(ctx, &real_mx_host, grant.allow_internal).await?;
    let now = now_ms();
    let domain = Domain {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: customer_id.to_string(),
        name,
        real_mx_host,
        delivery_mode: request.delivery_mode,
        status: if grant.vouched {
            DomainStatus::Active
        } else {
            DomainStatus::PendingMxVerification
        },
        created_at: now,
        detection: Default::default(),
        verified_at: grant.vouched.then_some(now),
        tls: request.tls,
        allow_internal_target: grant.allow_internal,
        verification_token: moat_core::token::domain_verification_token(),
    };
    // A pending domain claims no name, so only this customer's own domains can conflict and
    // the answer says nothing about what other tenants protect. A vouched one claims its name.
    ctx.store
        .insert_domain(domain.clone())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) if grant.vouched => ApiError::Conflict(format!(
                "{} is already yours or protected by another account",
                domain.name
            )),
            StoreError::Conflict(_) => {
                ApiError::Conflict(format!("you already have domain {}", domain.name))
            }
            other => other.into(),
        })?;
    Ok(Created {
        domain,
        real_mx_host_note: note,
    })
}

/// Checks and applies a change to a domain of `customer_id`.
pub async fn update(
    ctx: &Ctx<'_>,
    customer_id: &str,
    id: &str,
    mut patch: DomainPatch,
) -> Result<Domain, ApiError> {
    let current = ctx
        .store
        .domain(customer_id, id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    if let Some(host) = &patch.real_mx_host {
        let host = validate::relay_target(host).map_err(ApiError::Unprocessable)?;
        check_relay_target(ctx, &host, current.allow_internal_target).await?;
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
        let lower = admin.trim().to_ascii_lowercase();
        let at_domain = lower.rsplit_once('@').is_some_and(|(local, d)| {
            !local.is_empty()
                && local.len() <= 64
                && local
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"<>@,;\\\"".contains(&b))
                && d == current.name
        });
        if !at_domain {
            return Err(ApiError::Unprocessable(format!(
                "admin_email must be an address at {} (the digest goes through its real server)",
                current.name
            )));
        }
        *admin = lower;
    }
    ctx.store
        .update_domain(customer_id, id, patch)
        .await?
        .ok_or(ApiError::NotFound("domain"))
}

/// What a verification found.
pub struct Verified {
    pub domain: Domain,
    /// The TXT record proves ownership (or the domain was active already).
    pub proven: bool,
    /// The domain's MX records name this gateway.
    pub mx_points_here: bool,
    /// The MX hosts found.
    pub found: Vec<String>,
    /// What to do next, when something is missing.
    pub detail: Option<String>,
}

/// Proves ownership of a domain of `customer_id` through its `_moat-verify` TXT record and
/// activates it; also says whether its MX records already point here. A name another account
/// has active is a conflict (only someone who controls the domain's DNS gets that far).
pub async fn verify(ctx: &Ctx<'_>, customer_id: &str, id: &str) -> Result<Verified, ApiError> {
    let d = ctx
        .store
        .domain(customer_id, id)
        .await?
        .ok_or(ApiError::NotFound("domain"))?;
    let ours = ctx
        .config
        .hostname
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let (found, mx_detail) = match mx_hosts(ctx, &d.name).await {
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
        || txt_values(ctx, &txt_name)
            .await
            .map_err(ApiError::Unavailable)?
            .iter()
            .any(|v| v.trim() == expected);
    let domain = if proven && d.status != DomainStatus::Active {
        ctx.store
            .activate_domain(customer_id, id, now_ms())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ApiError::Conflict(format!(
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
    Ok(Verified {
        domain,
        proven,
        mx_points_here,
        found,
        detail,
    })
}

/// Refuses a real server that is (or resolves only to) an internal address the operator has
/// not allowed: a tenant must not make Moat relay into the operator's network. The relay
/// checks again at every connection (a name can change what it resolves to).
pub async fn check_relay_target(
    ctx: &Ctx<'_>,
    hostport: &str,
    domain_allows: bool,
) -> Result<(), ApiError> {
    if domain_allows {
        return Ok(());
    }
    let guard = &ctx.relay.settings().guard;
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
        match moat_core::dns::Dns::start(&ctx.config.dns).await {
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

/// The real server for a domain created without one: its most preferred MX host that is not
/// Moat itself, on port 25, with a note saying where it came from.
async fn proposed_real_server(ctx: &Ctx<'_>, name: &str) -> Result<(String, String), ApiError> {
    let hosts = mx_hosts(ctx, name)
        .await
        .map_err(|e| ApiError::Unprocessable(format!("real_mx_host is missing and {e}")))?;
    let own = ctx.config.hostname.to_ascii_lowercase();
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

/// The TXT strings at `name` (each record's strings joined); empty when there are none.
async fn txt_values(ctx: &Ctx<'_>, name: &str) -> Result<Vec<String>, String> {
    let dns = moat_core::dns::Dns::start(&ctx.config.dns)
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
async fn mx_hosts(ctx: &Ctx<'_>, name: &str) -> Result<Vec<String>, String> {
    let dns = moat_core::dns::Dns::start(&ctx.config.dns)
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
