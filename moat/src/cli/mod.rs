//! The `moat` command line: each subcommand in a module of its own. Commands that change
//! customers' resources call the API crate's services (`moat_api_sidecar::service`), so the
//! command line and the API validate, release and emit webhooks alike.

pub mod check;
pub mod domain;
pub mod policy;
pub mod quarantine;
pub mod serve;
pub mod spam;
pub mod token;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use moat_core::{
    config::Config,
    store::{self, SharedStore},
    validate,
};

/// Moat: an email security gateway. Receives mail for protected domains over SMTP, judges every
/// message, relays the good mail to each domain's real server and quarantines the rest.
#[derive(Parser)]
#[command(name = "moat", version)]
pub struct Cli {
    /// Configuration file (TOML). Without it: data in ./moat-data, SMTP on :2525, API on :8080.
    #[arg(long, global = true, env = "MOAT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the SMTP scanner and the API on the configured store.
    Up,
    /// Run only the REST API on the configured store (API hosts of a ScyllaDB cluster; the
    /// scanners run `moat up`). Stops on SIGTERM or SIGINT.
    Api,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Manage protected domains.
    #[command(subcommand)]
    Domain(domain::DomainCmd),
    /// Manage policies.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Judge a message file offline and print the verdict as JSON (or `--human`).
    Check {
        /// Message files (RFC 5322, as received) or directories of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Apply this customer's policies (default: the owner of the To: address's domain).
        #[arg(long)]
        customer: Option<String>,
        /// Each finding with its rule, score and description instead of JSON.
        #[arg(long)]
        human: bool,
        /// Only count the verdicts (for a folder of messages).
        #[arg(long)]
        summary: bool,
    },
    /// List or release quarantined messages.
    #[command(subcommand)]
    Quarantine(quarantine::QuarantineCmd),
    /// Train or inspect the statistical spam model.
    #[command(subcommand)]
    Spam(spam::SpamCmd),
    /// Create or upgrade the store's schema, then exit (`up` does this too).
    Migrate,
    /// Configuration file tools.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print the API's OpenAPI document (JSON, as `/v1/openapi.json` serves it); the SDKs in
    /// `sdk/` are generated from it.
    Openapi,
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Check the configuration (file, TLS material) and print it with every default filled in.
    Check,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Up => serve::up(config, cli.config.as_deref())?,
        Command::Api => serve::api(config, cli.config.as_deref())?,
        Command::Token(cmd) => token::run(&config, cmd)?,
        Command::Domain(cmd) => domain::run(&config, cmd)?,
        Command::Policy(cmd) => policy::run(&config, cmd)?,
        Command::Quarantine(cmd) => quarantine::run(&config, cmd)?,
        Command::Check {
            files,
            customer,
            human,
            summary,
        } => check::run(
            &config,
            check::CheckArgs {
                paths: files,
                customer,
                human,
                summary,
            },
        )?,
        Command::Spam(cmd) => spam::run(&config, cmd)?,
        Command::Migrate => {
            open_store(&config)?;
            println!("store schema is current ({})", store_location(&config));
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&moat_api_sidecar::openapi::document())
                    .context("printing the OpenAPI document")?
            );
        }
        Command::Config(ConfigCmd::Check) => {
            moat_scanner::tls::server_config(&config)
                .context("STARTTLS material (smtp.tls_cert / smtp.tls_key)")?;
            println!("# configuration is valid; effective values:");
            println!(
                "{}",
                toml::to_string_pretty(&config).context("printing the config")?
            );
        }
    }
    Ok(())
}

/// Runs a future to completion on a runtime of its own: the services use tokio (the relay,
/// DNS, compile time-outs); the store's futures run on any executor.
pub(crate) fn block<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        // Without a runtime only the store's futures can run; they need none.
        Err(_) => futures::executor::block_on(f),
    }
}

pub(crate) fn open_store(config: &Config) -> anyhow::Result<SharedStore> {
    store::open(config).context("opening the store (check data_dir and [store] in the config)")
}

/// The customer of this name, which must exist (a typo is an error, not a new customer).
pub(crate) fn existing_customer(
    store: &SharedStore,
    name: &str,
) -> anyhow::Result<moat_core::model::Customer> {
    let name = validate::customer_name(name).map_err(anyhow::Error::msg)?;
    block(store.customer_by_name(&name))?.with_context(|| {
        format!("no customer named {name} (`moat token create --customer {name}` makes one)")
    })
}

/// What the API's services need, for the operator: the store, the configuration and a relay.
pub(crate) struct Services {
    pub store: SharedStore,
    pub config: Config,
    pub relay: moat_core::relay::Relay,
}

impl Services {
    pub fn open(config: &Config) -> anyhow::Result<Services> {
        Ok(Services {
            store: open_store(config)?,
            config: config.clone(),
            relay: moat_core::relay::Relay::from_config(config, 1)
                .context("configuring the relay")?,
        })
    }

    pub fn ctx(&self) -> moat_api_sidecar::service::Ctx<'_> {
        moat_api_sidecar::service::Ctx {
            store: &self.store,
            config: &self.config,
            relay: &self.relay,
        }
    }
}

fn store_location(config: &Config) -> String {
    match &config.store {
        moat_core::config::StoreConfig::Scylla {
            nodes, keyspace, ..
        } => format!("ScyllaDB keyspace {keyspace} at {}", nodes.join(", ")),
        _ => config
            .sqlite_path()
            .map_or_else(|| "store".into(), |p| p.display().to_string()),
    }
}
