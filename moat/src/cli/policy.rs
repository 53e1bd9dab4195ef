//! `moat policy`: add or check policies from a JSON file, through the API's policy service
//! (the same bounds and compilation as `POST /v1/policies`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use moat_api_sidecar::{compile::PolicyCompiler, service};
use moat_core::{config::Config, model::NewPolicy};

use super::{Services, block, existing_customer};

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Add policies from a JSON file: one policy ({"name", "condition", "action",
    /// "notify_admin"}) or an array of them. Either all are stored or none (a set that does not
    /// compile is refused whole).
    Add {
        file: PathBuf,
        #[arg(long)]
        customer: String,
    },
    /// Check that a policy file compiles, without storing it.
    Validate { file: PathBuf },
}

/// One policy or an array of policies.
fn read_policies(file: &Path) -> anyhow::Result<Vec<NewPolicy>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<NewPolicy>),
        Many(Vec<NewPolicy>),
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading policy file {}", file.display()))?;
    Ok(
        match serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a valid policy or array of policies",
                file.display()
            )
        })? {
            OneOrMany::One(p) => vec![*p],
            OneOrMany::Many(v) => v,
        },
    )
}

/// Runs `moat policy …`.
pub fn run(config: &Config, cmd: PolicyCmd) -> anyhow::Result<()> {
    let compiler = PolicyCompiler::start(1).context("starting the policy compiler")?;
    match cmd {
        PolicyCmd::Validate { file } => {
            let policies = block(service::policies::validate(
                &compiler,
                read_policies(&file)?,
            ))?;
            for p in policies {
                println!(
                    "ok: policy `{}` compiles (action {})",
                    p.name,
                    p.action.as_str()
                );
            }
        }
        PolicyCmd::Add { file, customer } => {
            let new = read_policies(&file)?;
            let services = Services::open(config)?;
            let customer = existing_customer(&services.store, &customer)?;
            let policies = block(service::policies::create(
                &services.ctx(),
                &compiler,
                &customer.id,
                new,
            ))?;
            if let [one] = policies.as_slice() {
                let out = moat_api_sidecar::schema::PolicyOut::of(one);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("added {} policies", policies.len());
            }
        }
    }
    Ok(())
}
