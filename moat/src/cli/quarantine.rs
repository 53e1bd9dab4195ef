//! `moat quarantine`: list a customer's held mail, or release a message through the API's
//! release service (claim, deliver, mark released; no delivery for a sandbox; malware is the
//! operator's to release; the `quarantine.released` webhook).

use anyhow::Context;
use clap::Subcommand;
use moat_api_sidecar::service::{self, quarantine::Actor};
use moat_core::{
    config::Config,
    model::{QuarantineFilter, QuarantineStatus},
    time::rfc3339,
};

use super::{Services, block, existing_customer, open_store};

#[derive(Subcommand)]
pub enum QuarantineCmd {
    /// List a customer's quarantined messages, newest first.
    List {
        #[arg(long)]
        customer: String,
        /// quarantined, released or deleted (default: all).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Deliver a quarantined message to its domain's real server.
    Release {
        id: String,
        #[arg(long)]
        customer: String,
    },
}

/// Runs `moat quarantine …`.
pub fn run(config: &Config, cmd: QuarantineCmd) -> anyhow::Result<()> {
    match cmd {
        QuarantineCmd::List {
            customer,
            status,
            limit,
        } => {
            let status = status
                .map(|s| {
                    QuarantineStatus::parse(&s).with_context(|| {
                        format!("--status {s}: use quarantined, released or deleted")
                    })
                })
                .transpose()?;
            if !(1..=500).contains(&limit) {
                anyhow::bail!("--limit must be between 1 and 500");
            }
            let store = open_store(config)?;
            let customer = existing_customer(&store, &customer)?;
            let filter = QuarantineFilter {
                status,
                limit,
                ..Default::default()
            };
            for q in block(store.quarantine_list(&customer.id, filter))? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    q.id,
                    rfc3339(q.received_at),
                    q.status.as_str(),
                    q.threat_type.as_str(),
                    q.mail_from,
                    q.subject
                );
            }
        }
        QuarantineCmd::Release { id, customer } => {
            let services = Services::open(config)?;
            let customer = existing_customer(&services.store, &customer)?;
            let before = block(services.store.quarantine_get(&customer.id, &id))?
                .with_context(|| format!("no quarantined message {id} for this customer"))?;
            let item = block(service::quarantine::release(
                &services.ctx(),
                &customer.id,
                Actor::OPERATOR,
                &id,
            ))
            .with_context(|| format!("releasing {id}"))?;
            if before.status == QuarantineStatus::Released {
                println!("{id} was already released");
            } else if moat_core::tenancy::sends_mail(&customer.id) {
                let to = block(services.store.domain(&customer.id, &item.domain_id))?
                    .map_or_else(|| "its domain's real server".into(), |d| d.real_mx_host);
                println!("{id} released to {to}");
            } else {
                println!("{id} released to nowhere (a sandbox never sends mail)");
            }
        }
    }
    Ok(())
}
