//! The `moat` command: runs the gateway (`moat up`) and administers it.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use moat_core::{
    config::{Config, LogFormat},
    model::{
        DeliveryMode, Domain, DomainStatus, NewPolicy, Policy, QuarantineFilter, QuarantineStatus,
        RelayTls, TokenKind, TokenScope,
    },
    policy::PolicySet,
    store::{self, SharedStore},
    time::{now_ms, rfc3339},
    token, validate,
};
mod cli {
    pub mod check;
    pub(crate) use super::{block, existing_customer, open_store};
}

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
    /// Run only the REST API on the configured store (API hosts of a ScyllaDB cluster; the
    /// scanners run `moat up`). Stops on SIGTERM or SIGINT.
    Api,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage protected domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Manage policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
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
    Quarantine(QuarantineCmd),
    /// Train or inspect the statistical spam model.
    #[command(subcommand)]
    Spam(SpamCmd),
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
enum SpamCmd {
    /// Learn labelled mail (directories of message files, maildirs or mbox files) and write
    /// the model the scanner loads (policy.spam_model); running scanners pick it up within
    /// policy.reload_interval_ms.
    Train {
        /// Spam: a directory or mbox file (repeatable).
        #[arg(long, required = true)]
        spam: Vec<PathBuf>,
        /// Ham (wanted mail): a directory or mbox file (repeatable).
        #[arg(long, required = true)]
        ham: Vec<PathBuf>,
        /// Add to the existing model instead of starting a new one.
        #[arg(long)]
        add: bool,
    },
    /// Print what the current model was trained on.
    Status,
    /// Load (and on first use compile) SpamAssassin's rules as the scanner will, and print
    /// what was loaded; `--list` prints every active rule with its score and how it runs.
    Rules {
        #[arg(long)]
        list: bool,
    },
}

#[derive(Subcommand)]
enum QuarantineCmd {
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

#[derive(Subcommand)]
enum ConfigCmd {
    /// Check the configuration (file, TLS material) and print it with every default filled in.
    Check,
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
        /// What the token may do: read_only, quarantine or admin.
        #[arg(long, default_value = "admin", value_parser = parse_scope)]
        scope: TokenScope,
    },
}

fn parse_scope(s: &str) -> Result<TokenScope, String> {
    TokenScope::parse(s).ok_or_else(|| format!("{s:?} is not one of read_only, quarantine, admin"))
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

#[derive(Subcommand)]
enum PolicyCmd {
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

/// The log as `[log]` asks (text by default; a config that does not load is reported by
/// `run`, with the plain text log meanwhile).
fn init_log(cli: &Cli) {
    use std::io::IsTerminal;
    let format = Config::load(cli.config.as_deref())
        .map(|c| c.log.format)
        .unwrap_or_default();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => {
            // Colour codes only for a person at a terminal, never into files or journald.
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init()
        }
    }
}

fn main() {
    let cli = Cli::parse();
    init_log(&cli);
    if let Err(e) = run(cli) {
        eprintln!("moat: error: {e:#}");
        std::process::exit(1);
    }
}

pub(crate) fn block<T>(f: impl Future<Output = T>) -> T {
    futures::executor::block_on(f)
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

/// The customer of this name, made if new (the name is checked first).
fn creating_customer(
    store: &SharedStore,
    name: &str,
) -> anyhow::Result<moat_core::model::Customer> {
    let name = validate::customer_name(name).map_err(anyhow::Error::msg)?;
    Ok(block(store.ensure_customer(&name))?)
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

/// One policy or an array of policies, each checked.
fn read_policies(file: &PathBuf) -> anyhow::Result<Vec<NewPolicy>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<NewPolicy>),
        Many(Vec<NewPolicy>),
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading policy file {}", file.display()))?;
    let policies = match serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid policy or array of policies",
            file.display()
        )
    })? {
        OneOrMany::One(p) => vec![*p],
        OneOrMany::Many(v) => v,
    };
    for p in &policies {
        p.condition
            .validate()
            .with_context(|| format!("policy `{}`", p.name))?;
    }
    Ok(policies)
}

fn build_policies(new: Vec<NewPolicy>, customer_id: &str) -> Vec<Policy> {
    new.into_iter()
        .map(|p| Policy {
            id: uuid::Uuid::now_v7().to_string(),
            customer_id: customer_id.to_string(),
            name: p.name,
            condition: p.condition,
            action: p.action,
            notify_admin: p.notify_admin,
            enabled: p.enabled,
            created_at: now_ms(),
            shadow: p.shadow,
        })
        .collect()
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
                "moat is up: SMTP on {}, API on {}://{}/v1",
                running.smtp_addr,
                running.api_scheme(),
                running.api_addr
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
        Command::Api => {
            let mut signals =
                Signals::new([SIGTERM, SIGINT, SIGHUP]).context("installing signal handlers")?;
            let store = open_store(&config)?;
            let api = moat_api::ApiServer::start(config.clone(), store.clone(), None)
                .context("starting the API")?;
            let scheme = if api.certificate.is_some() {
                "https"
            } else {
                "http"
            };
            println!("moat API is up on {scheme}://{}/v1", api.addr);
            for signal in signals.forever() {
                if signal == SIGHUP {
                    // The API's certificate is what a reload can change here.
                    if let (Some(cert), Ok(new)) =
                        (&api.certificate, Config::load(cli.config.as_deref()))
                    {
                        match cert.reload(&new) {
                            Ok(()) => tracing::info!("API certificate reloaded"),
                            Err(e) => tracing::error!(error = %e, "API certificate not reloaded"),
                        }
                    }
                    continue;
                }
                block(store.flush())?;
                tracing::info!("API stopped");
                break;
            }
        }
        Command::Token(TokenCmd::Create {
            customer,
            test,
            scope,
        }) => {
            let store = open_store(&config)?;
            let kind = if test {
                TokenKind::Test
            } else {
                TokenKind::Live
            };
            let (_, secret) = block(token::issue(&store, &customer, kind, scope))?;
            println!("{secret}");
        }
        Command::Domain(DomainCmd::Add {
            domain,
            real_mx,
            customer,
            mode,
            tls,
            pending,
            allow_internal,
        }) => {
            let name = validate::domain_name(&domain).map_err(anyhow::Error::msg)?;
            let real_mx_host = validate::relay_target(&real_mx).map_err(anyhow::Error::msg)?;
            let store = open_store(&config)?;
            let customer = creating_customer(&store, &customer)?;
            let now = now_ms();
            let d = Domain {
                id: uuid::Uuid::now_v7().to_string(),
                customer_id: customer.id,
                name,
                real_mx_host,
                delivery_mode: DeliveryMode::parse(&mode).unwrap_or_default(),
                status: if pending {
                    DomainStatus::PendingMxVerification
                } else {
                    DomainStatus::Active
                },
                created_at: now,
                detection: Default::default(),
                verified_at: (!pending).then_some(now),
                tls: RelayTls::parse(&tls).unwrap_or_default(),
                allow_internal_target: allow_internal,
                verification_token: token::domain_verification_token(),
            };
            block(store.insert_domain(d.clone())).with_context(|| format!("adding {}", d.name))?;
            // The API's representation (RFC 3339 times, the records to publish), so a script
            // reads the same fields from either.
            let out = moat_api::schema::DomainOut::of(&d, &config.hostname);
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Domain(DomainCmd::Activate { domain, customer }) => {
            let store = open_store(&config)?;
            let d = customer_domain(&store, &customer, &domain)?;
            let d = block(store.activate_domain(&d.customer_id, &d.id, now_ms()))
                .with_context(|| format!("activating {domain}"))?
                .with_context(|| format!("{domain} was deleted meanwhile"))?;
            println!("{} is {}", d.name, d.status.as_str());
        }
        Command::Domain(DomainCmd::AllowInternal {
            domain,
            customer,
            off,
        }) => {
            let store = open_store(&config)?;
            let d = customer_domain(&store, &customer, &domain)?;
            block(store.set_domain_internal_target(&d.customer_id, &d.id, !off))?;
            println!(
                "{}: internal real server {}",
                d.name,
                if off { "not allowed" } else { "allowed" }
            );
        }
        Command::Domain(DomainCmd::List { customer }) => {
            let store = open_store(&config)?;
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
        Command::Policy(PolicyCmd::Validate { file }) => {
            let policies = read_policies(&file)?;
            PolicySet::compile(&build_policies(policies.clone(), "validate"))?;
            for p in policies {
                println!(
                    "ok: policy `{}` compiles (action {})",
                    p.name,
                    p.action.as_str()
                );
            }
        }
        Command::Policy(PolicyCmd::Add { file, customer }) => {
            let new = read_policies(&file)?;
            let store = open_store(&config)?;
            let customer = existing_customer(&store, &customer)?;
            let policies = build_policies(new, &customer.id);
            // The customer's stored policies and the new ones must compile together, as the
            // scanner will compile them; otherwise nothing is stored.
            let mut together = block(store.policies(&customer.id))?;
            together.extend(policies.iter().cloned());
            PolicySet::compile(&together)?;
            for policy in &policies {
                block(store.insert_policy(policy.clone()))?;
            }
            if let [one] = policies.as_slice() {
                let out = moat_api::schema::PolicyOut::of(one);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("added {} policies", policies.len());
            }
        }
        Command::Check {
            files,
            customer,
            human,
            summary,
        } => cli::check::run(
            &config,
            cli::check::CheckArgs {
                paths: files,
                customer,
                human,
                summary,
            },
        )?,
        Command::Spam(cmd) => spam_cmd(&config, cmd)?,
        Command::Migrate => {
            open_store(&config)?;
            println!("store schema is current ({})", store_location(&config));
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&moat_api::openapi::document())
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
        Command::Quarantine(QuarantineCmd::List {
            customer,
            status,
            limit,
        }) => {
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
            let store = open_store(&config)?;
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
        Command::Quarantine(QuarantineCmd::Release { id, customer }) => {
            let store = open_store(&config)?;
            release(&config, &store, &customer, &id)?;
        }
    }
    Ok(())
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

/// `moat quarantine release`: the API's release protocol from the command line: claim, deliver,
/// mark released (so it cannot race the API or another operator), no delivery for a sandbox,
/// and the `quarantine.released` webhook.
fn release(config: &Config, store: &SharedStore, customer: &str, id: &str) -> anyhow::Result<()> {
    let customer = existing_customer(store, customer)?;
    let item = block(store.quarantine_get(&customer.id, id))?
        .with_context(|| format!("no quarantined message {id} for this customer"))?;
    match item.status {
        QuarantineStatus::Released => {
            println!("{id} was already released");
            return Ok(());
        }
        QuarantineStatus::Deleted => anyhow::bail!("{id} was deleted and cannot be released"),
        QuarantineStatus::Quarantined | QuarantineStatus::Releasing => {}
    }
    let claim_at = now_ms();
    if !block(store.quarantine_claim_release(&customer.id, id, claim_at))? {
        anyhow::bail!("{id} is being released by someone else; look again shortly");
    }
    let sandbox = moat_core::token::is_sandbox(&customer.id);
    let delivered: anyhow::Result<String> = if sandbox {
        Ok("nowhere (a sandbox never sends mail)".into())
    } else {
        (|| {
            let domain = block(store.domain(&customer.id, &item.domain_id))?
                .context("the message's domain is no longer protected; add it again to release")?;
            let raw =
                block(store.quarantine_raw(&customer.id, id))?.context("message bytes missing")?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the relay runtime")?;
            let relay =
                moat_core::relay::Relay::from_config(config, 1).context("configuring the relay")?;
            let envelope = moat_core::relay::Envelope {
                mail_from: &item.mail_from,
                rcpts: &item.rcpt_to,
                body: &raw,
                options: Default::default(),
            };
            match runtime
                .block_on(relay.deliver(&moat_core::relay::Route::to_domain(&domain), envelope))
            {
                moat_core::relay::RelayOutcome::Delivered { .. } => Ok(domain.real_mx_host),
                other => anyhow::bail!(
                    "{} did not take the message ({other:?}); it stays quarantined, try again later",
                    domain.real_mx_host
                ),
            }
        })()
    };
    block(store.quarantine_finish_release(
        &customer.id,
        id,
        claim_at,
        delivered.is_ok(),
        now_ms(),
    ))?;
    let to = delivered?;
    if let Some(item) = block(store.quarantine_get(&customer.id, id))? {
        block(moat_api::webhooks::emit(
            store,
            &customer.id,
            moat_core::model::WebhookEvent::QuarantineReleased,
            &item.id,
            serde_json::to_value(moat_api::schema::QuarantineOut::of(&item)).unwrap_or_default(),
        ));
    }
    println!("{id} released to {to}");
    Ok(())
}

/// `moat spam train|status`.
fn spam_cmd(config: &Config, cmd: SpamCmd) -> anyhow::Result<()> {
    use moat_core::detect::spam::{BayesModel, Trainer, corpus};
    let path = config.spam_model_path();
    match cmd {
        SpamCmd::Train { spam, ham, add } => {
            let mut trainer = if add && path.exists() {
                Trainer::from_model(&BayesModel::load(&path)?)
            } else {
                Trainer::new()
            };
            for (paths, is_spam) in [(&spam, true), (&ham, false)] {
                for p in paths {
                    let n = corpus::learn_path(&mut trainer, p, is_spam)
                        .with_context(|| format!("reading {}", p.display()))?;
                    println!(
                        "learnt {n} {} messages from {}",
                        if is_spam { "spam" } else { "ham" },
                        p.display()
                    );
                }
            }
            let model = trainer.build();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            model.save(&path)?;
            let (s, h) = model.trained();
            println!(
                "model written to {}: {s} spam, {h} ham, {} tokens{}",
                path.display(),
                model.token_count(),
                if model.is_usable() {
                    ""
                } else {
                    " (too little mail of one class to be used yet)"
                }
            );
        }
        SpamCmd::Rules { list } => {
            let started = std::time::Instant::now();
            match moat_core::detect::sa::load_configured(config)? {
                None => println!("SpamAssassin rules: not loaded (disabled or not installed)"),
                Some(engine) => {
                    println!(
                        "SpamAssassin rules: {} ({} files, {} in {:.1} s)",
                        engine.report,
                        engine.report.files,
                        if engine.report.from_cache {
                            "loaded from the cache"
                        } else {
                            "compiled"
                        },
                        started.elapsed().as_secs_f64()
                    );
                    if list {
                        for r in engine.rules() {
                            println!(
                                "{:<32} {:>7.3} {:?} {}",
                                r.name,
                                moat_core::detect::spam::weights::shipped()
                                    .sa_score(&r.name, r.score),
                                r.tier,
                                r.describe.as_deref().unwrap_or("")
                            );
                        }
                    }
                }
            }
        }
        SpamCmd::Status => {
            if !path.exists() {
                println!(
                    "no spam model at {}: spam is scored by the rules alone",
                    path.display()
                );
            } else {
                let model = BayesModel::load(&path)?;
                let (s, h) = model.trained();
                println!(
                    "{}: {s} spam, {h} ham, {} tokens, {}",
                    path.display(),
                    model.token_count(),
                    if model.is_usable() {
                        "in use"
                    } else {
                        "not used yet (needs 50 of each class)"
                    }
                );
            }
        }
    }
    Ok(())
}
