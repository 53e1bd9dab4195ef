//! `moat domain`: the operator protects domains. Adding one goes through the API's domain
//! service (the same validation and address guard as `POST /v1/domains`); the operator may
//! vouch for it (active at once) and allow an internal real server.

use anyhow::Context;
use clap::Subcommand;
use moat_api_sidecar::service::domains::{self, DomainRequest, OperatorGrant};
use moat_core::{
    config::Config,
    model::{DeliveryMode, Domain, RelayTls},
    store::SharedStore,
    time::now_ms,
    validate,
};

use super::{Services, block, existing_customer, open_store};

#[derive(Subcommand)]
pub enum DomainCmd {
    /// Protect a domain: accept its mail and relay it to its real server.
    Add {
        domain: String,
        /// The domain's real mail server, host:port.
        #[arg(long = "real-mx")]
        real_mx: String,
        #[arg(long)]
        customer: String,
        /// `spool`: accept, store durably, relay with retries. `proxy`: relay before answering.
        #[arg(long, default_value = "spool", value_parser = ["spool", "proxy"])]
        mode: String,
        /// STARTTLS to the real server: opportunistic, required or verify.
        #[arg(long, default_value = "opportunistic", value_parser = ["opportunistic", "required", "verify"])]
        tls: String,
        /// Leave the domain pending until its owner publishes the verification TXT record
        /// (otherwise the operator vouches for it and it takes mail at once).
        #[arg(long)]
        pending: bool,
        /// Allow the real server to be an internal address (loopback, private network…).
        #[arg(long)]
        allow_internal: bool,
    },
    /// List a customer's domains.
    List {
        #[arg(long)]
        customer: String,
    },
    /// Activate a pending domain without DNS proof (the operator vouches for the customer).
    Activate {
        domain: String,
        #[arg(long)]
        customer: String,
    },
    /// Allow (or with --off, stop allowing) a domain's real server to be an internal address.
    AllowInternal {
        domain: String,
        #[arg(long)]
        customer: String,
        #[arg(long)]
        off: bool,
    },
}

/// A customer's domain by name (the customer must exist already).
fn customer_domain(store: &SharedStore, customer: &str, name: &str) -> anyhow::Result<Domain> {
    let name = validate::domain_name(name).map_err(anyhow::Error::msg)?;
    let customer = existing_customer(store, customer)?;
    block(store.domains(&customer.id))?
        .into_iter()
        .find(|d| d.name == name)
        .with_context(|| format!("customer {} has no domain {name}", customer.name))
}

/// Runs `moat domain …`.
pub fn run(config: &Config, cmd: DomainCmd) -> anyhow::Result<()> {
    match cmd {
        DomainCmd::Add {
            domain,
            real_mx,
            customer,
            mode,
            tls,
            pending,
            allow_internal,
        } => {
            let services = Services::open(config)?;
            let customer_name = validate::customer_name(&customer).map_err(anyhow::Error::msg)?;
            let customer = block(services.store.ensure_customer(&customer_name))?;
            let request = DomainRequest {
                name: domain.clone(),
                real_mx_host: Some(real_mx),
                delivery_mode: DeliveryMode::parse(&mode).unwrap_or_default(),
                tls: RelayTls::parse(&tls).unwrap_or_default(),
            };
            let grant = OperatorGrant {
                vouched: !pending,
                allow_internal,
            };
            let created = block(domains::create(
                &services.ctx(),
                &customer.id,
                request,
                grant,
            ))
            .with_context(|| format!("adding {domain}"))?;
            // The API's representation (RFC 3339 times, the records to publish), so a script
            // reads the same fields from either.
            let out = moat_api_sidecar::schema::DomainOut::of(&created.domain, &config.hostname);
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        DomainCmd::Activate { domain, customer } => {
            let store = open_store(config)?;
            let d = customer_domain(&store, &customer, &domain)?;
            let d = block(store.activate_domain(&d.customer_id, &d.id, now_ms()))
                .with_context(|| format!("activating {domain}"))?
                .with_context(|| format!("{domain} was deleted meanwhile"))?;
            println!("{} is {}", d.name, d.status.as_str());
        }
        DomainCmd::AllowInternal {
            domain,
            customer,
            off,
        } => {
            let store = open_store(config)?;
            let d = customer_domain(&store, &customer, &domain)?;
            block(store.set_domain_internal_target(&d.customer_id, &d.id, !off))?;
            println!(
                "{}: internal real server {}",
                d.name,
                if off { "not allowed" } else { "allowed" }
            );
        }
        DomainCmd::List { customer } => {
            let store = open_store(config)?;
            let customer = existing_customer(&store, &customer)?;
            for d in block(store.domains(&customer.id))? {
                println!(
                    "{}\t{}\t{}\t{}",
                    d.id,
                    d.name,
                    d.real_mx_host,
                    d.status.as_str()
                );
            }
        }
    }
    Ok(())
}
