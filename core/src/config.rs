//! Moat's one configuration file (TOML). Every key has a default, so no file is needed: data in
//! `./moat-data`, SMTP on port 2525, the API on 8080. `deploy/moat.example.toml` documents each key
//! and a test parses it.

use std::{net::SocketAddr, path::PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the SQLite database and other state.
    pub data_dir: PathBuf,
    /// Name Moat gives itself in the SMTP greeting and in `Received:` headers.
    pub hostname: String,
    pub smtp: SmtpConfig,
    pub api: ApiConfig,
    pub store: StoreConfig,
    pub relay: RelayConfig,
    pub spool: SpoolConfig,
    pub dns: DnsConfig,
    pub auth: AuthConfig,
    pub policy: PolicyConfig,
    pub malware: MalwareConfig,
    pub spamassassin: SpamAssassinConfig,
    pub reputation: ReputationConfig,
    pub dmarc_reports: DmarcReportsConfig,
    pub log: LogConfig,
}

/// DMARC aggregate reports (RFC 7489 §7.2) to the domains that ask for them with `rua=`. Off
/// by default: reports go out from the gateway's own name, and the operator should choose it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DmarcReportsConfig {
    pub enabled: bool,
    /// The organisation named in reports; empty: `hostname`.
    pub org_name: String,
    /// The reports' contact address and sender; empty: `dmarc-reports@<hostname>`. Bounces of
    /// reports come back to it.
    pub email: String,
    /// A URL or text for domain owners with questions (`extra_contact_info`).
    pub extra_contact_info: Option<String>,
    /// The reporting period: 86400 (a day, midnight to midnight UTC) as RFC 7489 expects;
    /// shorter periods send more, smaller reports.
    pub period_secs: u64,
    /// How often counts go from memory to the store and due reports are sent.
    pub flush_secs: u64,
}

impl Default for DmarcReportsConfig {
    fn default() -> Self {
        DmarcReportsConfig {
            enabled: false,
            org_name: String::new(),
            email: String::new(),
            extra_contact_info: None,
            period_secs: 86_400,
            flush_secs: 60,
        }
    }
}

/// How the process writes its log (to standard error).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text`: one readable line per event, coloured only on a terminal (never in files or
    /// journald; `NO_COLOR` turns colour off there too). `json`: one JSON object per line for
    /// log shippers, every field (`queue_id`, `client_ip`, `verdicts`…) a key.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// DNS reputation lists. None is queried by default: the lists operators use (Spamhaus ZEN and
/// DBL, SURBL, URIBL, Barracuda) require registration (or a paid feed) for commercial or
/// high-volume use, which a gateway for ISPs and MSPs is; `deploy/moat.example.toml` shows each
/// list's settings to copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReputationConfig {
    /// Lists the client's address is looked up in.
    pub ip_lists: Vec<crate::detect::reputation::ListConfig>,
    /// Lists the HELO name, the envelope sender's domain and link domains are looked up in.
    pub domain_lists: Vec<crate::detect::reputation::ListConfig>,
    /// Distinct link domains looked up per message (the first ones in the message).
    pub max_domains: usize,
}

impl Default for ReputationConfig {
    fn default() -> Self {
        ReputationConfig {
            ip_lists: Vec::new(),
            domain_lists: Vec::new(),
            max_domains: 20,
        }
    }
}

/// SpamAssassin's rule set, read at start from the rule files an operator already maintains
/// (Debian's `spamassassin` package, `sa-update`'s channel, `/etc/spamassassin/local.cf`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamAssassinConfig {
    /// Use the rules when they are found (when none are, the scanner logs it and goes on
    /// with Moat's own rules, unless `required`).
    pub enabled: bool,
    /// Refuse to start without them.
    pub required: bool,
    /// Rule directories read in order (later definitions win); empty: Debian's locations
    /// (`/usr/share/spamassassin`, or the newest `sa-update` channel under
    /// `/var/lib/spamassassin` when there is one, then `/etc/spamassassin`).
    pub rule_dirs: Vec<PathBuf>,
    /// Where the `*.pre` files naming the loaded plugins are; default `/etc/spamassassin`.
    pub pre_dir: Option<PathBuf>,
    /// Compiled Hyperscan databases are kept here (the first start compiles them, a minute
    /// or two; later starts load them in a fraction of a second); default
    /// `<data_dir>/sa-cache`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SpamAssassinConfig {
    fn default() -> Self {
        SpamAssassinConfig {
            enabled: true,
            required: false,
            rule_dirs: Vec::new(),
            pre_dir: None,
            cache_dir: None,
        }
    }
}

/// What to do with a message when the configured virus scanner cannot scan it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScannerDown {
    /// Answer 451: the sender retries later and nothing unscanned gets through.
    #[default]
    Tempfail,
    /// Go on without it (the verdict notes that ClamAV did not scan the message).
    Accept,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MalwareConfig {
    /// A ClamAV daemon to scan every message with: `unix:/run/clamav/clamd.ctl` or
    /// `tcp:127.0.0.1:3310`; unset: Moat's own malware checks only.
    pub clamd: Option<String>,
    /// Milliseconds one scan may take.
    pub clamd_timeout_ms: u64,
    /// Threads talking to clamd (scans in flight at once).
    pub clamd_threads: usize,
    /// `tempfail` (451) or `accept` when clamd is down or fails.
    pub clamd_on_error: ScannerDown,
    /// Threads opening archive attachments (off the SMTP shards).
    pub inspect_threads: usize,
    /// Milliseconds all archives of one message may take to open; what is left unopened then
    /// makes the message unscannable (quarantined).
    pub inspect_budget_ms: u64,
    /// Bytes all archives of one message may inflate to together.
    pub inspect_max_bytes: u64,
}

impl Default for MalwareConfig {
    fn default() -> Self {
        MalwareConfig {
            clamd: None,
            clamd_timeout_ms: 30_000,
            clamd_threads: 4,
            clamd_on_error: ScannerDown::Tempfail,
            inspect_threads: 2,
            inspect_budget_ms: 2000,
            inspect_max_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Resolvers (`ip:port`) for the look-ups Moat makes; empty means the system's
    /// (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Milliseconds to wait for one answer before asking again or giving up (`temperror`).
    pub timeout_ms: u64,
    /// Tries per query.
    pub attempts: usize,
    /// Answer every look-up from this zone file instead of the internet (tests, labs,
    /// air-gapped sites). Format: see `moat_core::dns::zone`.
    pub static_zone: Option<PathBuf>,
    /// Parsed records (SPF, DMARC, DKIM keys, addresses) kept per record kind, by their TTL.
    pub cache_entries: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: Vec::new(),
            timeout_ms: 2000,
            attempts: 2,
            static_zone: None,
            cache_entries: 50_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Check SPF, DKIM, ARC and DMARC and add an `Authentication-Results` header.
    pub enabled: bool,
    /// The authserv-id of Moat's `Authentication-Results` header (RFC 8601); fields claiming
    /// it that arrive with a message are removed. Empty means `hostname`.
    pub authserv_id: String,
    /// Seconds all checks of one message may take together; what is unfinished then is
    /// `temperror`.
    pub deadline_secs: u64,
    /// Apply the sender domain's DMARC policy (`p=reject` → 550, `p=quarantine` →
    /// quarantine) unless a customer policy with action `deliver` matches the message.
    pub enforce_dmarc: bool,
    /// Tokio threads doing authentication (DNS and signature checks).
    pub threads: usize,
    /// ARC-seal the copy Moat relays (RFC 8617): Moat changes the message (its
    /// `Authentication-Results`, its trace field), so its own ARC set lets the customer's server
    /// trust Moat's results. Off unless set.
    pub arc_seal: Option<ArcSealConfig>,
}

/// The key Moat seals relayed mail with; publish its public half at
/// `<selector>._domainkey.<domain>` (`v=DKIM1; k=rsa; p=...`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArcSealConfig {
    /// The signing domain (`d=`), e.g. the gateway's own domain.
    pub domain: String,
    pub selector: String,
    /// An RSA private key (2048 bits or more), PEM: PKCS#8 or PKCS#1.
    pub key_file: PathBuf,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            authserv_id: String::new(),
            deadline_secs: 15,
            enforce_dmarc: true,
            threads: 1,
            arc_seal: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Seconds before the first retry of a temporarily failed delivery.
    pub retry_initial_secs: u64,
    /// Longest wait between retries (the wait doubles up to this).
    pub retry_max_secs: u64,
    /// Give up on a message this many seconds after it was accepted (RFC 5321 4.5.4.1: 4-5 days).
    pub max_age_secs: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Threads writing and fsyncing spool files.
    pub writers: usize,
    /// `host:port` that delivery status notifications (bounces) are handed to, usually the
    /// ISP's outbound relay. Without it, DSNs go to the sender domain's MX hosts.
    pub dsn_relay: Option<String>,
    /// Port used when delivering to MX hosts (25; other values are for tests and labs).
    pub mx_port: u16,
    /// Days messages stay in `spool/failed/` (refused or expired, kept for the operator)
    /// before they are deleted.
    pub failed_retention_days: u32,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            retry_initial_secs: 300,
            retry_max_secs: 3600,
            max_age_secs: 5 * 24 * 3600,
            concurrency: 32,
            writers: 2,
            dsn_relay: None,
            mx_port: 25,
            failed_retention_days: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub listen: SocketAddr,
    /// Number of glommio shards (one SMTP listener each); 0 means one per CPU core.
    pub shards: usize,
    /// Pin each shard to its own CPU core.
    pub pin_shards: bool,
    /// Largest message accepted, in bytes (advertised with SIZE).
    pub max_message_size: usize,
    /// Recipients accepted per transaction (RFC 5321 requires at least 100).
    pub max_recipients: usize,
    /// Seconds a client may stay silent before Moat closes the connection (RFC 5321 4.5.3.2: 5 min).
    pub idle_timeout_secs: u64,
    /// Bad commands tolerated before Moat answers 421 and closes.
    pub max_errors: u32,
    /// Seconds a whole DATA or BDAT transfer may take (defeats slow-loris senders; RFC 5321
    /// 4.5.3.2.6 gives the client 10 minutes for the final reply, so keep it below that).
    pub data_timeout_secs: u64,
    /// Open connections per shard; over it, new connections get 421.
    pub max_connections_per_shard: usize,
    /// Open connections per client IP address across all shards; over it, 421.
    pub max_connections_per_ip: usize,
    /// PEM certificate chain for STARTTLS. With neither this nor `tls_key`, `moat up` generates
    /// a self-signed pair under `data_dir/tls/` on first run.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS.
    pub tls_key: Option<PathBuf>,
    /// Offer STARTTLS at all.
    pub starttls: bool,
    /// Seconds open sessions may take to finish after SIGTERM before they are cut.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Requests each token may make per hour.
    pub rate_limit_per_hour: u32,
    /// Burst: requests each token may make per minute.
    pub rate_limit_per_minute: u32,
    /// Requests all of one customer's tokens may make together per hour (minting more tokens
    /// does not multiply the budget); unset: twice `rate_limit_per_hour`.
    pub customer_rate_limit_per_hour: Option<u32>,
    /// The same per minute; unset: twice `rate_limit_per_minute`.
    pub customer_rate_limit_per_minute: Option<u32>,
    /// Tokens a customer may hold (not revoked) at once.
    pub max_tokens_per_customer: u32,
    /// Tokens a customer may create per hour.
    pub token_creations_per_hour: u32,
    /// The API's address as customers' browsers reach it (`https://moat.example.net`), for the
    /// release links of daily digests; unset: `http://<hostname>:<port of listen>` for mailed
    /// digests and the address the client used for `GET …/digest`.
    pub public_url: Option<String>,
    /// A bearer token Prometheus must present for `GET /metrics`; unset: metrics answer
    /// only loopback and private-network clients whose request was not forwarded by a
    /// proxy (no `Forwarded`/`X-Forwarded-For`/`X-Real-IP`), never the internet.
    pub metrics_token: Option<String>,
    /// Also serve `GET /metrics` (only that) on this address, to any client that reaches it
    /// (a port a reverse proxy does not forward), e.g. `127.0.0.1:9464`.
    pub metrics_listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS on `listen` (reloaded on SIGHUP); with `tls_key`. Unset:
    /// plain HTTP, for a TLS-terminating reverse proxy in front (or loopback only).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Failed authentications (401) one client address may cause per minute; more answer 429
    /// until the minute is over, so tokens cannot be guessed at speed.
    pub auth_failures_per_minute: u32,
    /// Offer to run the webhook dispatcher in this API process. Hosts sharing a store take
    /// turns through a lease in it (one dispatches at a time, another takes over when it
    /// dies); turn it off on hosts that should never dispatch.
    pub webhooks: bool,
    /// Concurrent webhook deliveries.
    pub webhook_workers: usize,
    /// Allow webhook URLs that resolve to loopback, private, link-local or other internal
    /// addresses (off: a customer cannot make Moat call into its own network).
    pub webhook_allow_private_targets: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    Sqlite {
        /// Database file; relative paths are under `data_dir`.
        #[serde(default = "default_db_path")]
        path: PathBuf,
        /// Threads serving reads.
        #[serde(default = "default_readers")]
        readers: usize,
    },
    /// A ScyllaDB cluster shared by several scanner and API hosts.
    Scylla {
        /// Contact points, `host:port` (9042).
        nodes: Vec<String>,
        #[serde(default = "default_keyspace")]
        keyspace: String,
        /// Replication factor of the keyspace when `moat migrate` creates it.
        #[serde(default = "default_replication")]
        replication_factor: u32,
        /// The local data centre: requests go there first, at LOCAL_QUORUM.
        #[serde(default)]
        local_dc: Option<String>,
        /// Days verdicts are kept (a TTL on every verdict row).
        #[serde(default = "default_verdict_days")]
        verdict_retention_days: u32,
        /// Days quarantined messages are kept.
        #[serde(default = "default_quarantine_days")]
        quarantine_retention_days: u32,
        /// Verdict inserts in flight at once.
        #[serde(default = "default_write_window")]
        write_window: usize,
    },
}

fn default_keyspace() -> String {
    "moat".into()
}

fn default_replication() -> u32 {
    3
}

fn default_verdict_days() -> u32 {
    90
}

fn default_quarantine_days() -> u32 {
    30
}

fn default_write_window() -> usize {
    256
}

fn default_db_path() -> PathBuf {
    PathBuf::from("moat.db")
}

fn default_readers() -> usize {
    2
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Seconds to wait for the downstream server at each step (connect, greeting, every
    /// reply, the TLS handshake).
    pub timeout_secs: u64,
    /// Sessions open at once to one destination (`host:port`); more deliveries wait their
    /// turn, so one slow or silent server cannot take every delivery slot.
    pub max_per_destination: usize,
    /// The slowest a server may take a message body, in bytes per second: a body's deadline
    /// is `timeout_secs` plus its size at this rate.
    pub min_bytes_per_sec: u64,
    /// Internal networks (loopback, private, link-local…) relaying may connect to, e.g. the
    /// site's own mail servers: `["10.20.0.0/16"]`. Customers' real servers and senders' MX
    /// hosts elsewhere must be public addresses; `moat domain allow-internal` excepts one
    /// domain.
    pub allow_internal_targets: Vec<String>,
    /// Extra trust anchors (PEM) for domains whose `tls` is `verify` (a private CA);
    /// the system's roots are always trusted.
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// How often the scanner checks the store for changed domains and policies.
    pub reload_interval_ms: u64,
    /// Spam score at or above which mail is quarantined, for domains that set none.
    pub spam_threshold: f64,
    /// The trained spam model (`moat spam train`); default `<data_dir>/spam-model.rkyv`. Without
    /// one, spam is scored by the rules alone.
    pub spam_model: Option<PathBuf>,
    /// BEC first contact: a sender with no clean mail delivered to the domain before is only
    /// called a first contact once the domain's history is at least this many days old.
    pub first_contact_learning_days: u32,
    /// A customer's model learns from its newest this many reports.
    pub reports_per_customer: u32,
    /// Reports one customer may make per day (each message counts once).
    pub reports_per_day: u32,
}

impl PolicyConfig {
    /// The first-contact learning period in milliseconds.
    pub fn first_contact_learning_ms(&self) -> i64 {
        i64::from(self.first_contact_learning_days) * 86_400_000
    }
}

impl Config {
    /// Where SpamAssassin's rules are read from and their compiled databases kept.
    pub fn spamassassin_settings(&self) -> crate::detect::sa::SaSettings {
        let sa = &self.spamassassin;
        let cache = sa
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("sa-cache"));
        let mut settings = crate::detect::sa::SaSettings::debian_default(Some(cache));
        if !sa.rule_dirs.is_empty() {
            settings.rule_dirs = sa.rule_dirs.clone();
        }
        if sa.pre_dir.is_some() {
            settings.pre_dir = sa.pre_dir.clone();
        }
        settings
    }

    /// Where the spam model is read from and written to.
    pub fn spam_model_path(&self) -> PathBuf {
        self.policy
            .spam_model
            .clone()
            .unwrap_or_else(|| self.data_dir.join("spam-model.rkyv"))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./moat-data"),
            hostname: "moat.localhost".into(),
            smtp: SmtpConfig::default(),
            api: ApiConfig::default(),
            store: StoreConfig::default(),
            relay: RelayConfig::default(),
            spool: SpoolConfig::default(),
            dns: DnsConfig::default(),
            auth: AuthConfig::default(),
            policy: PolicyConfig::default(),
            malware: MalwareConfig::default(),
            spamassassin: SpamAssassinConfig::default(),
            reputation: ReputationConfig::default(),
            dmarc_reports: DmarcReportsConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 2525)),
            shards: 0,
            pin_shards: true,
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout_secs: 300,
            max_errors: 10,
            data_timeout_secs: 540,
            max_connections_per_shard: 10_000,
            max_connections_per_ip: 50,
            tls_cert: None,
            tls_key: None,
            starttls: true,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            // Loopback: tokens must not cross a network in clear text; a reverse proxy with TLS
            // (or `tls_cert`) is what faces customers.
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            rate_limit_per_hour: 600,
            rate_limit_per_minute: 60,
            customer_rate_limit_per_hour: None,
            customer_rate_limit_per_minute: None,
            max_tokens_per_customer: 100,
            token_creations_per_hour: 30,
            public_url: None,
            metrics_token: None,
            metrics_listen: None,
            tls_cert: None,
            tls_key: None,
            auth_failures_per_minute: 60,
            webhooks: true,
            webhook_workers: 4,
            webhook_allow_private_targets: false,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Sqlite {
            path: default_db_path(),
            readers: default_readers(),
        }
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            timeout_secs: 60,
            max_per_destination: 8,
            min_bytes_per_sec: 16 * 1024,
            allow_internal_targets: Vec::new(),
            tls_ca_file: None,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            reload_interval_ms: 1000,
            spam_threshold: crate::detect::spam::DEFAULT_THRESHOLD,
            spam_model: None,
            first_contact_learning_days: 7,
            reports_per_customer: 2000,
            reports_per_day: 500,
        }
    }
}

/// Problems found in a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    /// Loads a config file, or the defaults when `path` is `None`.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Absolute or data-dir-relative path of the SQLite database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.store {
            StoreConfig::Sqlite { path, .. } if path.is_absolute() => Some(path.clone()),
            StoreConfig::Sqlite { path, .. } => Some(self.data_dir.join(path)),
            StoreConfig::Scylla { .. } => None,
        }
    }

    /// Makes `data_dir` (if needed) and keeps it private to Moat's user (mode 0700 on Unix):
    /// it holds the database, the spool, quarantined mail and keys, and files created in it
    /// under a permissive umask must not be readable by other local users through it.
    pub fn prepare_data_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.data_dir)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                std::fs::set_permissions(
                    &self.data_dir,
                    std::fs::Permissions::from_mode(mode & 0o700),
                )?;
            }
        }
        Ok(())
    }

    /// Shards to run: the configured count, or one per core.
    pub fn shard_count(&self) -> usize {
        if self.smtp.shards > 0 {
            self.smtp.shards
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults_where_documented() {
        let text = include_str!("../../deploy/moat.example.toml");
        let cfg = Config::parse(text).expect("example config parses");
        assert_eq!(cfg.smtp.listen.port(), 2525);
        assert_eq!(cfg.api.listen.port(), 8080);
    }

    #[test]
    fn container_config_parses() {
        let cfg = Config::parse(include_str!("../../deploy/container.toml"))
            .expect("container config parses");
        assert_eq!(cfg.smtp.listen.port(), 2525);
        assert_eq!(cfg.data_dir, std::path::PathBuf::from("/var/lib/moat"));
    }

    #[test]
    fn cluster_config_parses() {
        let cfg = Config::parse(include_str!("../../deploy/cluster.toml"))
            .expect("cluster config parses");
        match cfg.store {
            StoreConfig::Scylla {
                nodes,
                replication_factor,
                ..
            } => {
                assert_eq!(nodes.len(), 3);
                assert_eq!(replication_factor, 3);
            }
            other => panic!("expected a ScyllaDB store, got {other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_data_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("dir");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let config = Config {
            data_dir: data.clone(),
            ..Config::default()
        };
        config.prepare_data_dir().expect("prepared");
        let mode = std::fs::metadata(&data).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::parse("[smtp]\nlisten_port = 25\n").is_err());
        assert!(Config::parse("").is_ok());
    }
}
