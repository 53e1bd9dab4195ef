//! The `moat` command: runs the gateway (`moat up`) and administers it.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use moat_core::{
    config::Config,
    message::{MessageView, domain_of, parse},
    model::{DeliveryMode, Domain, DomainStatus, NewPolicy, Policy, TokenKind},
    policy::PolicySet,
    store::{self, SharedStore},
    time::now_ms,
    token, validate,
};
use signal_hook::{
    consts::{SIGHUP, SIGINT, SIGTERM},
    iterator::Signals,
};

/// Moat: an email security gateway. Receives mail for protected domains over SMTP, judges every
/// message, relays the good mail to each domain's real server and quarantines the rest.
#[derive(Parser)]
#[command(name = "moat", version)]
struct Cli {
    /// Configuration file (TOML). Without it: data in ./moat-data, SMTP on :2525, API on :8080.
    #[arg(long, global = true, env = "MOAT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SMTP scanner and the API on the configured store.
    Up,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage protected domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Manage policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Judge a message file offline and print the verdict as JSON.
    Check {
        /// The message (RFC 5322, as received).
        file: PathBuf,
        /// Apply this customer's policies (default: the owner of the To: address's domain).
        #[arg(long)]
        customer: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token for a customer (created if new); prints the token once.
    Create {
        #[arg(long)]
        customer: String,
        /// A `moat_test_` token instead of a live one.
        #[arg(long)]
        test: bool,
    },
}

#[derive(Subcommand)]
enum DomainCmd {
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
    },
    /// List a customer's domains.
    List {
        #[arg(long)]
        customer: String,
    },
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Add a policy from a JSON file ({"name", "condition", "action", "notify_admin"}).
    Add {
        file: PathBuf,
        #[arg(long)]
        customer: String,
    },
    /// Check that a policy file compiles, without storing it.
    Validate { file: PathBuf },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("moat: error: {e:#}");
        std::process::exit(1);
    }
}

fn block<T>(f: impl Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

fn open_store(config: &Config) -> anyhow::Result<SharedStore> {
    store::open(config).context("opening the store (check data_dir and [store] in the config)")
}

fn read_policy(file: &PathBuf) -> anyhow::Result<NewPolicy> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading policy file {}", file.display()))?;
    let p: NewPolicy = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid policy", file.display()))?;
    p.condition.validate()?;
    Ok(p)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Up => {
            // Registered before starting, so no signal falls into a window with default action.
            let mut signals =
                Signals::new([SIGTERM, SIGINT, SIGHUP]).context("installing signal handlers")?;
            let running = moat_scanner::up::start(config)?;
            println!(
                "moat is up: SMTP on {}, API on http://{}/v1",
                running.smtp_addr, running.api_addr
            );
            for signal in signals.forever() {
                if signal == SIGHUP {
                    tracing::info!("SIGHUP: reloading");
                    running.reload(cli.config.as_deref());
                } else {
                    running.shutdown();
                    break;
                }
            }
        }
        Command::Token(TokenCmd::Create { customer, test }) => {
            let store = open_store(&config)?;
            let kind = if test {
                TokenKind::Test
            } else {
                TokenKind::Live
            };
            let (_, secret) = block(token::issue(&store, &customer, kind))?;
            println!("{secret}");
        }
        Command::Domain(DomainCmd::Add {
            domain,
            real_mx,
            customer,
            mode,
        }) => {
            let name = validate::domain_name(&domain).map_err(anyhow::Error::msg)?;
            let real_mx_host = validate::relay_target(&real_mx).map_err(anyhow::Error::msg)?;
            let store = open_store(&config)?;
            let customer = block(store.ensure_customer(&customer))?;
            let d = Domain {
                id: uuid::Uuid::now_v7().to_string(),
                customer_id: customer.id,
                name,
                real_mx_host,
                delivery_mode: DeliveryMode::parse(&mode).unwrap_or_default(),
                status: DomainStatus::PendingMxVerification,
                created_at: now_ms(),
            };
            block(store.insert_domain(d.clone())).with_context(|| format!("adding {}", d.name))?;
            println!("{}", serde_json::to_string_pretty(&d)?);
        }
        Command::Domain(DomainCmd::List { customer }) => {
            let store = open_store(&config)?;
            let customer = block(store.ensure_customer(&customer))?;
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
        Command::Policy(PolicyCmd::Validate { file }) => {
            let p = read_policy(&file)?;
            println!(
                "ok: policy `{}` compiles (action {})",
                p.name,
                p.action.as_str()
            );
        }
        Command::Policy(PolicyCmd::Add { file, customer }) => {
            let p = read_policy(&file)?;
            let store = open_store(&config)?;
            let customer = block(store.ensure_customer(&customer))?;
            let policy = Policy {
                id: uuid::Uuid::now_v7().to_string(),
                customer_id: customer.id,
                name: p.name,
                condition: p.condition,
                action: p.action,
                notify_admin: p.notify_admin,
                enabled: p.enabled,
                created_at: now_ms(),
            };
            block(store.insert_policy(policy.clone()))?;
            println!("{}", serde_json::to_string_pretty(&policy)?);
        }
        Command::Check { file, customer } => check(&config, &file, customer)?,
    }
    Ok(())
}

/// `moat check`: the verdict the scanner would reach, computed offline.
fn check(config: &Config, file: &PathBuf, customer: Option<String>) -> anyhow::Result<()> {
    let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let store = open_store(config)?;
    let parsed = parse(&raw);
    let view = match &parsed {
        Some(m) => MessageView::new(m, ""),
        None => MessageView::envelope_only(""),
    };
    let customer_id = match customer {
        Some(name) => Some(block(store.ensure_customer(&name))?.id),
        None => {
            let to = parsed
                .as_ref()
                .and_then(|m| m.to())
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(domain_of)
                .unwrap_or_default();
            block(store.all_domains())?
                .into_iter()
                .find(|d| d.name == to)
                .map(|d| d.customer_id)
        }
    };
    let policies = match &customer_id {
        Some(id) => block(store.policies(id))?,
        None => Vec::new(),
    };
    let set = PolicySet::compile(&policies)?;
    let outcome = set.evaluate(&view);
    let report = serde_json::json!({
        "file": file.display().to_string(),
        "parsed": parsed.is_some(),
        "customer_id": customer_id,
        "subject": view.subject,
        "from": view.from_address,
        "verdict": outcome.action,
        "threat_type": outcome.threat_type(),
        "matched_policies": outcome.matched.iter().map(|m| &m.name).collect::<Vec<_>>(),
        "findings": outcome.findings(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if customer_id.is_none() && policies.is_empty() {
        eprintln!("note: no customer matched (use --customer NAME); no policies applied");
    }
    Ok(())
}
