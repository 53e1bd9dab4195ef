//! Starts a real Moat (scanner shards + API) in-process on loopback ports over a temporary
//! SQLite file, and sets up customers and tokens the way `moat token create` does.

use std::{net::SocketAddr, time::Duration};

use moat_core::{
    config::Config,
    model::{TokenKind, TokenScope},
    store::{self, SharedStore},
};
use serde_json::Value;
use tempfile::TempDir;

pub struct Moat {
    pub dir: TempDir,
    pub config: Config,
    pub smtp: SocketAddr,
    pub api: String,
    pub store: SharedStore,
    _running: moat::up::Running,
}

/// The compiled SpamAssassin databases every test shares (`target/sa-cache`).
pub fn sa_cache() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/sa-cache")
}

impl Moat {
    /// Starts Moat with test-friendly settings; `tweak` may change the config first.
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Moat {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.smtp.listen = "127.0.0.1:0".parse().expect("addr");
        config.smtp.shards = 2;
        config.smtp.pin_shards = false;
        config.api.listen = "127.0.0.1:0".parse().expect("addr");
        config.api.workers = 1;
        config.policy.reload_interval_ms = 50;
        config.relay.timeout_secs = 10;
        // Tests poll the API; the rate-limit test sets its own small budgets.
        config.api.rate_limit_per_minute = 100_000;
        config.api.rate_limit_per_hour = 1_000_000;
        config.spool.retry_initial_secs = 1;
        config.spool.retry_max_secs = 2;
        // The tests' real servers (sinks) listen on loopback, which the relay refuses unless
        // the operator allows it; tests of that refusal clear this.
        config.relay.allow_internal_targets = vec!["127.0.0.0/8".into()];
        // No test may need the internet: every look-up is answered from a static zone (empty
        // unless a test gives its own), so unknown names are NXDOMAIN at once.
        let zone = dir.path().join("zone.txt");
        std::fs::write(&zone, "# test zone: empty\n").expect("zone written");
        config.dns.static_zone = Some(zone);
        // SpamAssassin's rules (Debian's package) are compiled once per workspace, not once
        // per test.
        config.spamassassin.cache_dir = Some(sa_cache());
        tweak(&mut config);
        let running = moat::up::start(config.clone()).expect("moat starts");
        // A second handle on the same file, as the CLI would open it.
        let store = store::open(&config).expect("store opens");
        Moat {
            smtp: running.smtp_addr,
            api: format!("http://{}", running.api_addr),
            dir,
            config,
            store,
            _running: running,
        }
    }

    pub fn start() -> Moat {
        Moat::start_with(|_| {})
    }

    /// Waits until every verdict the scanner has queued is written (they are batched after
    /// the SMTP reply).
    pub fn flush_verdicts(&self) {
        futures::executor::block_on(self._running.store().flush()).expect("verdicts flushed");
    }

    /// Creates a token for `customer` (creating the customer), as `moat token create` does.
    pub fn token(&self, customer: &str, kind: TokenKind) -> String {
        self.scoped_token(customer, kind, TokenScope::Admin)
    }

    /// A token limited to `scope`.
    pub fn scoped_token(&self, customer: &str, kind: TokenKind, scope: TokenScope) -> String {
        futures::executor::block_on(moat_api_sidecar::service::tokens::issue(
            &self.store,
            customer,
            kind,
            scope,
        ))
        .expect("token issued")
        .1
    }

    /// Starts Moat with customer `acme` protecting `acme.example`, relayed to a new sink.
    pub fn protected(tweak: impl FnOnce(&mut Config)) -> (Moat, crate::sink::Sink) {
        let sink = crate::sink::Sink::start();
        let moat = Moat::start_with(tweak);
        let token = moat.token("acme", TokenKind::Live);
        moat.create_domain(
            &token,
            serde_json::json!({"domain": "acme.example", "real_mx_host": sink.addr.to_string()}),
        );
        moat.wait_until_accepting("bob@acme.example");
        (moat, sink)
    }

    /// Adds a domain as a customer does: `POST /v1/domains`, then the verification TXT
    /// record published in the static zone, then `POST /v1/domains/{id}/verify`. Returns the
    /// active domain.
    pub fn create_domain(&self, token: &str, body: Value) -> Value {
        let (status, domain) = self.call("POST", "/v1/domains", Some(token), Some(body));
        assert_eq!(status, 201, "{domain}");
        self.verify_domain(token, &domain)
    }

    /// Publishes a pending domain's verification record and verifies it; returns the active
    /// domain.
    pub fn verify_domain(&self, token: &str, domain: &Value) -> Value {
        let id = domain["id"].as_str().unwrap_or_default();
        if self.config.dns.static_zone.is_none() {
            // A test with a real DNS server (dnsmasq) instead of the static zone: the operator
            // vouches for the domain, as `moat domain activate` does.
            let me = self.call("GET", "/v1/me", Some(token), None).1;
            let customer = me["customer"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            futures::executor::block_on(self.store.activate_domain(&customer, id, 1))
                .expect("activated")
                .expect("domain exists");
            return self
                .call("GET", &format!("/v1/domains/{id}"), Some(token), None)
                .1;
        }
        self.publish_verification(domain);
        let (status, v) = self.call(
            "POST",
            &format!("/v1/domains/{id}/verify"),
            Some(token),
            None,
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["verified"], true, "{v}");
        assert_eq!(v["domain"]["status"], "active", "{v}");
        v["domain"].clone()
    }

    /// Appends a domain's verification TXT record (from its API form) to the static zone.
    pub fn publish_verification(&self, domain: &Value) {
        let record = &domain["verification_record"];
        let (name, value) = (
            record["name"].as_str().unwrap_or_default(),
            record["value"].as_str().unwrap_or_default(),
        );
        assert!(!name.is_empty() && !value.is_empty(), "{domain}");
        self.add_zone_records(&format!("{name} TXT \"{value}\"\n"));
    }

    /// Appends lines to the static zone file (read again by every API verification).
    pub fn add_zone_records(&self, lines: &str) {
        use std::io::Write;
        let zone = self
            .config
            .dns
            .static_zone
            .as_ref()
            .expect("tests run with a static zone");
        std::fs::OpenOptions::new()
            .append(true)
            .open(zone)
            .and_then(|mut f| f.write_all(lines.as_bytes()))
            .expect("zone appended");
    }

    /// Calls the API; returns the status and the JSON body (Null when empty).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = ureq::request(method, &format!("{}{}", self.api, path))
            .timeout(Duration::from_secs(30));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("HTTP {method} {path} failed: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap_or_default();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Waits until the scanner's snapshot accepts a recipient (domains reload asynchronously).
    pub fn wait_until_accepting(&self, rcpt: &str) {
        wait_until_accepting(self.smtp, rcpt);
    }
}

/// Waits until the SMTP server at `smtp` accepts `rcpt` at RCPT.
pub fn wait_until_accepting(smtp: SocketAddr, rcpt: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = match std::net::TcpStream::connect(smtp) {
            Err(e) => format!("cannot connect: {e}"),
            Ok(stream) => {
                let mut c = crate::client::Conversation::from_stream(stream);
                let greeting = c.read_reply();
                if greeting.starts_with("220") {
                    c.send("EHLO probe.test\r\n");
                    c.read_reply();
                    c.send("MAIL FROM:<probe@probe.test>\r\n");
                    c.read_reply();
                    c.send(&format!("RCPT TO:<{rcpt}>\r\n"));
                    let reply = c.read_reply();
                    c.send("QUIT\r\n");
                    c.read_reply();
                    reply
                } else {
                    greeting
                }
            }
        };
        if reply.starts_with("250") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Moat never accepted {rcpt}: {reply}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free loopback UDP port (bound and released).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free loopback UDP port")
}

/// A free loopback port (bound and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The `moat` binary built next to the test binary (`cargo build -p moat --bin moat`,
/// which `tests/run.sh` does first).
pub fn moat_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile> directory");
    let bin = dir.join("moat");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p moat --bin moat` first (tests/run.sh does)",
        bin.display()
    );
    bin
}
