//! The SMTP client that hands mail to customers' real servers and to senders' MX hosts
//! (mail-send, on tokio). Used by the scanner (proxy mode, the spool and its DSNs) and by the
//! API (quarantine release, mailed digests). Outcomes distinguish temporary from permanent
//! refusals so the scanner can answer `451` or `550` truthfully.
//!
//! Every session is bounded: each step (connect, greeting, every reply, the STARTTLS
//! handshake) has `relay.timeout_secs`, the message body a deadline that grows with its size,
//! and each destination at most `relay.max_per_destination` sessions at once, so a server that
//! accepts and never answers delays only its own mail. Every address connected to passes
//! [`crate::netguard`] at connection time. STARTTLS follows the domain's [`RelayTls`] mode.

pub mod limits;
pub mod mta_sts;
pub mod tls;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mail_send::{
    SmtpClient,
    smtp::{AssertReply, message::Parameters},
};
use tokio::{io::AsyncWriteExt, net::TcpStream, sync::Semaphore};

use crate::{
    config::Config,
    model::{Domain, RelayTls},
    netguard::TargetGuard,
};
use limits::DestinationLimits;
use tls::{RelayStream, TlsClients};

/// How a relay attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayOutcome {
    /// The downstream server accepted the message: its reply text, and the TLS version of the
    /// session (`None`: clear text).
    Delivered { reply: String, tls: Option<String> },
    /// A temporary failure: connection refused, timeout, 4xx. The sender should retry.
    TempFail(String),
    /// The downstream server refused permanently (5xx), with its reply and its enhanced
    /// status code (`5.1.1`; `5.0.0` when the server gave none).
    PermFail {
        code: u16,
        status: String,
        text: String,
    },
}

/// ESMTP options of the original transaction that the downstream server must see too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailOptions {
    /// `SMTPUTF8` (RFC 6531): addresses or headers hold UTF-8.
    pub smtputf8: bool,
    /// `BODY=8BITMIME` (RFC 6152).
    pub eight_bit: bool,
}

impl RelayOutcome {
    /// A metric label: `delivered`, `tempfail` or `permfail`.
    pub fn label(&self) -> &'static str {
        match self {
            RelayOutcome::Delivered { .. } => "delivered",
            RelayOutcome::TempFail(_) => "tempfail",
            RelayOutcome::PermFail { .. } => "permfail",
        }
    }

    /// Whether the message was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self, RelayOutcome::Delivered { .. })
    }
}

/// Splits `host:port`; a missing port means 25.
pub fn split_host_port(hostport: &str) -> (String, u16) {
    if let Some((h, p)) = hostport.rsplit_once(':')
        && let Ok(port) = p.parse()
        && !h.is_empty()
    {
        return (h.trim_matches(['[', ']']).to_string(), port);
    }
    (hostport.to_string(), 25)
}

/// Where one delivery goes and how that hop is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `host:port` (a host name or an IP literal).
    pub hostport: String,
    pub tls: RelayTls,
    /// The operator allowed this destination to be an internal address.
    pub allow_internal: bool,
    /// The name the server's certificate must carry under `verify`, when `hostport` is an
    /// address (an MX host found by Moat, under an MTA-STS policy); `None`: `hostport`'s host.
    pub tls_name: Option<String>,
}

impl Route {
    /// To a protected domain's real mail server, as its settings say.
    pub fn to_domain(d: &Domain) -> Route {
        Route {
            hostport: d.real_mx_host.clone(),
            tls: d.tls,
            allow_internal: d.allow_internal_target,
            tls_name: None,
        }
    }

    /// To a host Moat found itself (a sender's MX for a DSN): opportunistic TLS, and only
    /// internal if the operator's networks allow it.
    pub fn to_mx(hostport: String) -> Route {
        Route {
            hostport,
            tls: RelayTls::Opportunistic,
            allow_internal: false,
            tls_name: None,
        }
    }

    /// To an MX host under an enforced MTA-STS policy: TLS with a certificate valid for the
    /// MX host's name (RFC 8461 4.2).
    pub fn to_mx_enforced(hostport: String, mx_name: &str) -> Route {
        Route {
            hostport,
            tls: RelayTls::Verify,
            allow_internal: false,
            tls_name: Some(mx_name.trim_end_matches('.').to_ascii_lowercase()),
        }
    }

    fn pool_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.tls.as_str(),
            self.allow_internal,
            self.hostport.to_ascii_lowercase(),
            self.tls_name.as_deref().unwrap_or("")
        )
    }
}

/// One message to send.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    pub mail_from: &'a str,
    pub rcpts: &'a [String],
    /// The complete message, not dot-stuffed.
    pub body: &'a [u8],
    pub options: MailOptions,
}

/// Why the relay could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RelaySetupError {
    #[error("relay.allow_internal_targets: {0}")]
    Guard(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
}

/// What every session of a process shares: identity, deadlines, the address guard and TLS.
#[derive(Clone)]
pub struct RelaySettings {
    pub helo: String,
    /// Each step's deadline.
    pub timeout: Duration,
    /// Sessions per destination at once.
    pub per_destination: usize,
    /// The slowest a message body may be taken, in bytes per second, before the transfer is
    /// abandoned (the body's deadline is `timeout` plus its size at this rate).
    pub min_rate: u64,
    pub guard: TargetGuard,
    pub tls: TlsClients,
}

impl RelaySettings {
    pub fn from_config(config: &Config) -> Result<RelaySettings, RelaySetupError> {
        Ok(RelaySettings {
            helo: config.hostname.clone(),
            timeout: Duration::from_secs(config.relay.timeout_secs.max(1)),
            per_destination: config.relay.max_per_destination.max(1),
            min_rate: config.relay.min_bytes_per_sec.max(1),
            guard: TargetGuard::new(&config.relay.allow_internal_targets)
                .map_err(RelaySetupError::Guard)?,
            tls: TlsClients::new(config.relay.tls_ca_file.as_deref())?,
        })
    }

    /// The deadline of a body of `len` bytes (write and final reply).
    fn body_deadline(&self, len: usize) -> Duration {
        self.timeout + Duration::from_secs(len as u64 / self.min_rate)
    }
}

/// The relay: settings, pooled idle sessions and per-destination limits. One per process.
pub struct Relay {
    settings: Arc<RelaySettings>,
    pool: RelayPool,
    limits: DestinationLimits,
}

impl Relay {
    pub fn new(settings: RelaySettings, max_idle_per_host: usize) -> Relay {
        Relay {
            limits: DestinationLimits::new(settings.per_destination),
            pool: RelayPool::new(max_idle_per_host, Duration::from_secs(30)),
            settings: Arc::new(settings),
        }
    }

    /// An MTA-STS policy fetcher with this relay's trust anchors and address guard.
    pub fn mta_sts_fetcher(&self) -> mta_sts::Fetcher {
        mta_sts::Fetcher::new(
            self.settings.tls.verified_config.clone(),
            self.settings.guard.clone(),
        )
    }

    /// A relay configured from `config`.
    pub fn from_config(
        config: &Config,
        max_idle_per_host: usize,
    ) -> Result<Relay, RelaySetupError> {
        Ok(Relay::new(
            RelaySettings::from_config(config)?,
            max_idle_per_host,
        ))
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    /// Sessions open to `hostport` now.
    pub fn in_flight(&self, hostport: &str) -> usize {
        self.limits.in_use(hostport)
    }

    /// Idle pooled sessions for a route.
    pub fn idle_count(&self, route: &Route) -> usize {
        self.pool.idle_count(&route.pool_key())
    }

    /// Delivers one message, waiting at most one step's timeout for a free slot to the
    /// destination (for callers with a client waiting: proxy mode, releases).
    pub async fn deliver(&self, route: &Route, envelope: Envelope<'_>) -> RelayOutcome {
        self.deliver_queued(route, envelope, self.settings.timeout, None)
            .await
    }

    /// Delivers one message, waiting up to `wait` for a slot to the destination and only
    /// then for one of `global` (the spool's slots), so a busy destination never holds a
    /// slot other destinations could use.
    pub async fn deliver_queued(
        &self,
        route: &Route,
        envelope: Envelope<'_>,
        wait: Duration,
        global: Option<&Semaphore>,
    ) -> RelayOutcome {
        let Some(_slot) = self.limits.acquire(&route.hostport, wait).await else {
            return RelayOutcome::TempFail(format!(
                "{}: {} deliveries already in progress to this destination",
                route.hostport, self.settings.per_destination
            ));
        };
        let _global = match global {
            Some(g) => match g.acquire().await {
                Ok(p) => Some(p),
                Err(_) => return RelayOutcome::TempFail("relay is shutting down".into()),
            },
            None => None,
        };
        // Every step is bounded on its own; this bounds their sum once more, so no sequence of
        // slow-but-in-time answers can hold the slot for longer.
        let whole = self.settings.timeout * 8 + self.settings.body_deadline(envelope.body.len());
        match tokio::time::timeout(whole, self.pool.deliver(&self.settings, route, envelope)).await
        {
            Ok(outcome) => outcome,
            Err(_) => RelayOutcome::TempFail(format!(
                "{}: session took longer than {} s",
                route.hostport,
                whole.as_secs()
            )),
        }
    }
}

/// One transaction on an open session. With PIPELINING, MAIL, every RCPT and DATA go in one
/// write and their replies are read together (one round trip instead of 2 + recipients).
async fn send_on(
    settings: &RelaySettings,
    session: &mut Session,
    hostport: &str,
    envelope: Envelope<'_>,
) -> Attempt {
    // mail-send always ends DATA with CRLF.CRLF; a message that already ends with CRLF would
    // gain an empty line, so hand it the body without its final line break.
    let body = envelope.body.strip_suffix(b"\r\n").unwrap_or(envelope.body);
    let mut params = Parameters::default();
    if envelope.options.eight_bit {
        params.add(("BODY", "8BITMIME"));
    }
    if envelope.options.smtputf8 {
        params.add("SMTPUTF8");
    }
    let tls = session.tls.clone();
    let delivered = |reply: &smtp_proto::Response<String>| RelayOutcome::Delivered {
        reply: reply.message().to_string(),
        tls: tls.clone(),
    };
    let body_deadline = settings.body_deadline(body.len());
    let client = &mut session.client;
    if !session.pipelining {
        // One command at a time. Only a failure of MAIL, the first command, can mean the
        // session was gone before the transaction began; a broken connection later (after the
        // body was sent, say) must not be retried, or the message could arrive twice.
        if let Err(e) = client.mail_from(envelope.mail_from, &params).await {
            return Attempt {
                stale: is_stale(&e),
                outcome: classify(e, hostport),
            };
        }
        let mut sent = Ok(());
        for r in envelope.rcpts {
            sent = client.rcpt_to(r, &Parameters::default()).await;
            if sent.is_err() {
                break;
            }
        }
        let opened = match sent {
            Ok(()) => client.cmd(b"DATA\r\n").await.and_then(|r| match r.code() {
                354 => Ok(()),
                _ => Err(mail_send::Error::UnexpectedReply(r)),
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = opened {
            return Attempt {
                stale: false,
                outcome: classify(e, hostport),
            };
        }
        return Attempt {
            stale: false,
            outcome: send_body(client, body, body_deadline, hostport, delivered).await,
        };
    }
    let mut commands = Vec::with_capacity(envelope.rcpts.len() + 2);
    commands.push(format!("MAIL FROM:<{}>{params}\r\n", envelope.mail_from));
    commands.extend(envelope.rcpts.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));
    commands.push("DATA\r\n".to_string());
    let replies = match client.cmds(&commands).await {
        Ok(r) => r,
        Err(e) => {
            return Attempt {
                stale: is_stale(&e),
                outcome: classify(e, hostport),
            };
        }
    };
    // The first refusal decides, as in an unpipelined transaction: MAIL, then the recipients.
    let (env_replies, data) = replies.split_at(replies.len().saturating_sub(1));
    let refused = env_replies.iter().position(|r| !r.is_positive_completion());
    let data_ok = data.first().is_some_and(|r| r.code() == 354);
    if let Some(i) = refused {
        let reply = env_replies[i].clone();
        if data_ok {
            // The server opened DATA for the recipients it took; the only way to abort without
            // delivering an empty message to them is to drop the session.
            let _ = tokio::time::timeout(settings.timeout, client.stream.shutdown()).await;
        }
        return Attempt {
            // A 421 to MAIL on a reused session: the server had given up on it while idle.
            stale: i == 0 && reply.code() == 421,
            outcome: classify(mail_send::Error::UnexpectedReply(reply), hostport),
        };
    }
    if !data_ok {
        let reply = data.first().cloned();
        return Attempt {
            stale: false,
            outcome: match reply {
                Some(r) => classify(mail_send::Error::UnexpectedReply(r), hostport),
                None => RelayOutcome::TempFail(format!("{hostport}: no reply to DATA")),
            },
        };
    }
    Attempt {
        outcome: send_body(client, body, body_deadline, hostport, delivered).await,
        stale: false,
    }
}

/// Writes the body after a `354` and reads the final reply, within `deadline`.
async fn send_body(
    client: &mut SmtpClient<RelayStream>,
    body: &[u8],
    deadline: Duration,
    hostport: &str,
    delivered: impl Fn(&smtp_proto::Response<String>) -> RelayOutcome,
) -> RelayOutcome {
    let sent = tokio::time::timeout(deadline, async {
        client.write_message(body).await?;
        client.read().await
    })
    .await;
    match sent {
        Err(_) => RelayOutcome::TempFail(format!("{hostport}: timed out after DATA")),
        Ok(Err(e)) => classify(e, hostport),
        Ok(Ok(reply)) if reply.is_positive_completion() => delivered(&reply),
        Ok(Ok(reply)) => classify(mail_send::Error::UnexpectedReply(reply), hostport),
    }
}

/// Errors that mean the session was already gone before this transaction began.
fn is_stale(e: &mail_send::Error) -> bool {
    match e {
        mail_send::Error::Io(_) | mail_send::Error::UnparseableReply => true,
        mail_send::Error::UnexpectedReply(r) => r.code() == 421,
        _ => false,
    }
}

/// An idle session and when it was last used.
type IdleSession = (Session, Instant);

/// Idle SMTP sessions to real servers, reused across deliveries: a spool draining to one host
/// pays the TCP, EHLO and TLS round trips once, not per message. A session is reused without
/// a probe (see [`RelayPool::deliver`]), dropped after a temporary failure, and closed after
/// `idle_ttl` unused. Keyed by route (destination, TLS mode, internal exception).
struct RelayPool {
    idle: Mutex<HashMap<String, Vec<IdleSession>>>,
    max_idle_per_host: usize,
    idle_ttl: Duration,
}

impl RelayPool {
    fn new(max_idle_per_host: usize, idle_ttl: Duration) -> Self {
        RelayPool {
            idle: Mutex::new(HashMap::new()),
            max_idle_per_host,
            idle_ttl,
        }
    }

    fn take(&self, key: &str) -> Option<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        while let Some((client, since)) = list.pop() {
            if since.elapsed() < self.idle_ttl {
                return Some(client);
            }
        }
        None
    }

    fn put(&self, key: &str, client: Session) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(key.to_string()).or_default();
        list.retain(|(_, since)| since.elapsed() < self.idle_ttl);
        if list.len() < self.max_idle_per_host {
            list.push((client, Instant::now()));
        }
    }

    fn idle_count(&self, key: &str) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get(key).map_or(0, Vec::len)
    }

    /// Delivers on a pooled session when one is idle. A reused session is not probed with
    /// RSET first (a round trip per message); if it turns out to have been closed while idle,
    /// before any reply of this transaction, the message goes on a new session.
    async fn deliver(
        &self,
        settings: &RelaySettings,
        route: &Route,
        envelope: Envelope<'_>,
    ) -> RelayOutcome {
        let key = route.pool_key();
        loop {
            let (mut session, reused) = match self.take(&key) {
                Some(s) => (s, true),
                None => match connect(settings, route).await {
                    Ok(s) => (s, false),
                    Err(outcome) => return outcome,
                },
            };
            let attempt = send_on(settings, &mut session, &route.hostport, envelope).await;
            if reused && attempt.stale {
                continue;
            }
            match attempt.outcome {
                // A completed DATA ends the transaction: the session is ready for the next.
                RelayOutcome::Delivered { .. } => self.put(&key, session),
                // A refusal can leave MAIL open on the server (the next MAIL would be a
                // nested-MAIL error); RSET closes it, and a session that fails RSET (or that
                // was dropped to abandon DATA) is not reused.
                RelayOutcome::PermFail { .. } => {
                    if session.client.rset().await.is_ok() {
                        self.put(&key, session);
                    }
                }
                // Possibly a broken connection: do not reuse it.
                RelayOutcome::TempFail(_) => {}
            }
            return attempt.outcome;
        }
    }
}

/// Opens an SMTP session for `route`: the name resolved and every address checked by the
/// guard, TCP with Nagle off (every SMTP step is a small write that waits for a reply), the
/// greeting and EHLO, then STARTTLS as the route's mode asks. Each step has the timeout.
async fn connect(settings: &RelaySettings, route: &Route) -> Result<Session, RelayOutcome> {
    let hostport = &route.hostport;
    let temp = |why: String| RelayOutcome::TempFail(format!("{hostport}: {why}"));
    let (host, port) = split_host_port(hostport);
    let resolved = tokio::time::timeout(
        settings.timeout,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| temp("name look-up timed out".into()))?
    .map_err(|e| temp(format!("name look-up failed: {e}")))?;
    let addrs = settings
        .guard
        .filter(&host, resolved, route.allow_internal)
        .map_err(|e| temp(e.to_string()))?;
    let upgrade = route.tls != RelayTls::Opportunistic;
    match open(settings, route, &host, &addrs, true).await {
        Ok(s) => Ok(s),
        // A server that offers STARTTLS and then fails the handshake gets the message in
        // clear text when the domain only asked for opportunistic TLS (as MTAs do).
        Err(Failure::Handshake(_)) if !upgrade => open(settings, route, &host, &addrs, false)
            .await
            .map_err(|f| f.outcome(hostport)),
        Err(f) => Err(f.outcome(hostport)),
    }
}

/// Why opening a session failed.
enum Failure {
    Smtp(mail_send::Error),
    Handshake(String),
    Other(String),
}

impl Failure {
    fn outcome(self, hostport: &str) -> RelayOutcome {
        match self {
            Failure::Smtp(e) => classify(e, hostport),
            Failure::Handshake(why) => {
                RelayOutcome::TempFail(format!("{hostport}: TLS handshake failed: {why}"))
            }
            Failure::Other(why) => RelayOutcome::TempFail(format!("{hostport}: {why}")),
        }
    }
}

impl From<mail_send::Error> for Failure {
    fn from(e: mail_send::Error) -> Self {
        Failure::Smtp(e)
    }
}

async fn open(
    settings: &RelaySettings,
    route: &Route,
    host: &str,
    addrs: &[std::net::SocketAddr],
    try_tls: bool,
) -> Result<Session, Failure> {
    let timeout = settings.timeout;
    let mut last = Failure::Other("no address to connect to".into());
    let mut stream = None;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = Failure::Other(format!("connect {addr}: {e}")),
            Err(_) => last = Failure::Other(format!("connect {addr}: timed out")),
        }
    }
    let Some(stream) = stream else {
        return Err(last);
    };
    stream
        .set_nodelay(true)
        .map_err(|e| Failure::Other(e.to_string()))?;
    let mut client = SmtpClient {
        stream: RelayStream::Plain(stream),
        timeout,
    };
    let greeting = tokio::time::timeout(timeout, client.read())
        .await
        .map_err(|_| Failure::Other("no greeting in time".into()))??;
    greeting.assert_positive_completion()?;
    let mut ehlo = client.ehlo(&settings.helo).await?;
    let offered = ehlo.has_capability(smtp_proto::EXT_START_TLS);
    let mut tls = None;
    if try_tls && offered {
        client
            .cmd(b"STARTTLS\r\n")
            .await?
            .assert_positive_completion()?;
        let RelayStream::Plain(tcp) = client.stream else {
            return Err(Failure::Other("STARTTLS on an encrypted session".into()));
        };
        let connector = match route.tls {
            RelayTls::Verify => &settings.tls.verified,
            RelayTls::Opportunistic | RelayTls::Required => &settings.tls.any_certificate,
        };
        let expected = route.tls_name.as_deref().unwrap_or(host);
        let name = tls::server_name(expected)
            .ok_or_else(|| Failure::Handshake(format!("{expected} is not a valid TLS name")))?;
        let upgraded = tokio::time::timeout(timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| Failure::Handshake("timed out".into()))?
            .map_err(|e| Failure::Handshake(e.to_string()))?;
        client = SmtpClient {
            stream: RelayStream::Tls(Box::new(upgraded)),
            timeout,
        };
        tls = client.stream.tls_version();
        // RFC 3207 4.2: forget what was learnt before TLS and ask again.
        ehlo = client.ehlo(&settings.helo).await?;
    } else if route.tls != RelayTls::Opportunistic {
        let why = if offered {
            "TLS required but not attempted"
        } else {
            "TLS required by the domain's settings but the server does not offer STARTTLS"
        };
        let _ = tokio::time::timeout(timeout, client.cmd(b"QUIT\r\n")).await;
        return Err(Failure::Other(why.into()));
    }
    Ok(Session {
        pipelining: ehlo.has_capability(smtp_proto::EXT_PIPELINING),
        client,
        tls,
    })
}

/// An open SMTP session, whether the server offered PIPELINING (RFC 2920), and its TLS version.
struct Session {
    client: SmtpClient<RelayStream>,
    pipelining: bool,
    tls: Option<String>,
}

/// How a transaction on a session ended, and whether it failed before the server answered
/// anything (a session that was closed while idle in the pool: safe to retry on a new one,
/// since no transaction began).
struct Attempt {
    outcome: RelayOutcome,
    stale: bool,
}

fn classify(e: mail_send::Error, hostport: &str) -> RelayOutcome {
    match e {
        mail_send::Error::UnexpectedReply(r) if r.code() >= 500 => RelayOutcome::PermFail {
            code: r.code(),
            status: match r.esc {
                [5, b, c] => format!("5.{b}.{c}"),
                _ => "5.0.0".into(),
            },
            text: r.message().to_string(),
        },
        mail_send::Error::UnexpectedReply(r) => {
            RelayOutcome::TempFail(format!("{hostport} answered {} {}", r.code(), r.message()))
        }
        other => RelayOutcome::TempFail(format!("{hostport}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        io::{BufRead, BufReader, Write},
        net::TcpListener,
        sync::{Arc, Mutex as StdMutex},
    };

    /// What the scripted server saw: connections opened and message bodies taken.
    #[derive(Default)]
    struct Seen {
        connections: usize,
        messages: Vec<String>,
    }

    /// A loopback SMTP server offering PIPELINING that refuses `nobody@` recipients and, with
    /// `close_after_each`, hangs up after every transaction (as a server whose idle timer fired).
    fn scripted_server(close_after_each: bool) -> (String, Arc<StdMutex<Seen>>) {
        scripted_server_with(close_after_each, true)
    }

    /// As [`scripted_server`]; `pipelining` says whether EHLO offers PIPELINING.
    fn scripted_server_with(
        close_after_each: bool,
        pipelining: bool,
    ) -> (String, Arc<StdMutex<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let seen = Arc::new(StdMutex::new(Seen::default()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                seen2.lock().expect("lock").connections += 1;
                let seen = seen2.clone();
                std::thread::spawn(move || -> std::io::Result<()> {
                    let mut w = stream.try_clone()?;
                    let mut r = BufReader::new(stream);
                    w.write_all(b"220 test\r\n")?;
                    let mut line = String::new();
                    let mut good_rcpts = 0;
                    let mut in_transaction = false;
                    loop {
                        line.clear();
                        if r.read_line(&mut line)? == 0 {
                            return Ok(());
                        }
                        let cmd = line.trim_end().to_ascii_uppercase();
                        if cmd.starts_with("EHLO") && pipelining {
                            w.write_all(b"250-test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")?;
                        } else if cmd.starts_with("EHLO") {
                            w.write_all(b"250-test\r\n250 8BITMIME\r\n")?;
                        } else if cmd.starts_with("MAIL") && in_transaction {
                            // As Postfix: a MAIL inside an open transaction is refused.
                            w.write_all(b"503 5.5.1 nested MAIL command\r\n")?;
                        } else if cmd.starts_with("MAIL") {
                            good_rcpts = 0;
                            in_transaction = true;
                            w.write_all(b"250 2.1.0 ok\r\n")?;
                        } else if cmd == "RSET" {
                            in_transaction = false;
                            w.write_all(b"250 2.0.0 ok\r\n")?;
                        } else if cmd.starts_with("RCPT TO:<NOBODY@") {
                            w.write_all(b"550 5.1.1 no such user\r\n")?;
                        } else if cmd.starts_with("RCPT") {
                            good_rcpts += 1;
                            w.write_all(b"250 2.1.5 ok\r\n")?;
                        } else if cmd == "DATA" {
                            if good_rcpts == 0 {
                                w.write_all(b"554 5.5.1 no valid recipients\r\n")?;
                                continue;
                            }
                            w.write_all(b"354 go\r\n")?;
                            let mut body = String::new();
                            loop {
                                line.clear();
                                if r.read_line(&mut line)? == 0 {
                                    // Aborted: nothing is delivered.
                                    return Ok(());
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                body.push_str(&line);
                            }
                            in_transaction = false;
                            seen.lock().expect("lock").messages.push(body);
                            w.write_all(b"250 2.0.0 queued\r\n")?;
                            if close_after_each {
                                return Ok(());
                            }
                        } else if cmd == "QUIT" {
                            w.write_all(b"221 bye\r\n")?;
                            return Ok(());
                        } else {
                            w.write_all(b"250 ok\r\n")?;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// A relay for tests: loopback allowed, `timeout` per step.
    fn test_relay(timeout: Duration, per_destination: usize) -> Relay {
        Relay::new(
            RelaySettings {
                helo: "moat.test".into(),
                timeout,
                per_destination,
                min_rate: 16 * 1024,
                guard: TargetGuard::new(&["127.0.0.0/8".into()]).expect("guard"),
                tls: TlsClients::new(None).expect("tls clients"),
            },
            4,
        )
    }

    fn route(addr: &str) -> Route {
        Route {
            hostport: addr.to_string(),
            tls: RelayTls::Opportunistic,
            allow_internal: false,
            tls_name: None,
        }
    }

    async fn send(relay: &Relay, addr: &str, rcpts: &[&str]) -> RelayOutcome {
        send_route(relay, &route(addr), rcpts).await
    }

    async fn send_route(relay: &Relay, route: &Route, rcpts: &[&str]) -> RelayOutcome {
        let rcpts: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
        relay
            .deliver(
                route,
                Envelope {
                    mail_from: "a@sender.test",
                    rcpts: &rcpts,
                    body: b"Subject: t\r\n\r\nhello\r\n",
                    options: MailOptions::default(),
                },
            )
            .await
    }

    #[test]
    fn pipelined_messages_share_one_session() {
        let (addr, seen) = scripted_server(false);
        let pool = test_relay(Duration::from_secs(10), 8);
        rt().block_on(async {
            for _ in 0..3 {
                let out = send(&pool, &addr, &["b@acme.test", "c@acme.test"]).await;
                assert!(out.is_delivered(), "{out:?}");
            }
        });
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.connections, 1);
        assert_eq!(seen.messages.len(), 3);
        assert!(seen.messages[0].contains("hello"));
    }

    #[test]
    fn a_refused_recipient_fails_the_message_and_delivers_nothing() {
        let (addr, seen) = scripted_server(false);
        let pool = test_relay(Duration::from_secs(10), 8);
        rt().block_on(async {
            let out = send(&pool, &addr, &["b@acme.test", "nobody@acme.test"]).await;
            match out {
                RelayOutcome::PermFail { code, status, .. } => {
                    assert_eq!((code, status.as_str()), (550, "5.1.1"));
                }
                other => panic!("expected a permanent failure, got {other:?}"),
            }
            // The DATA opened for the accepted recipient was abandoned, not ended with a dot,
            // and that session is not reused: the next message goes on a new one.
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(seen.lock().expect("lock").messages.is_empty());
            let out = send(&pool, &addr, &["b@acme.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
            // Every recipient refused: DATA is refused too, the session stays (after RSET)
            // and takes the next message.
            let out = send(&pool, &addr, &["nobody@acme.test"]).await;
            assert!(
                matches!(out, RelayOutcome::PermFail { code: 550, .. }),
                "{out:?}"
            );
            let out = send(&pool, &addr, &["c@acme.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
        });
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.messages.len(), 2);
        assert_eq!(seen.connections, 2);
    }

    #[test]
    fn without_pipelining_commands_go_one_by_one_with_the_same_outcomes() {
        let (addr, seen) = scripted_server_with(false, false);
        let pool = test_relay(Duration::from_secs(10), 8);
        rt().block_on(async {
            let out = send(&pool, &addr, &["b@acme.test", "c@acme.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
            let out = send(&pool, &addr, &["b@acme.test", "nobody@acme.test"]).await;
            assert!(
                matches!(&out, RelayOutcome::PermFail { code: 550, status, .. } if status == "5.1.1"),
                "{out:?}"
            );
            // The refused transaction was closed with RSET: the session takes the next one.
            let out = send(&pool, &addr, &["c@acme.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
        });
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.messages.len(), 2);
        assert_eq!(seen.connections, 1);
    }

    #[test]
    fn a_session_closed_while_idle_is_replaced_without_losing_the_message() {
        let (addr, seen) = scripted_server(true);
        let pool = test_relay(Duration::from_secs(10), 8);
        rt().block_on(async {
            for _ in 0..3 {
                let out = send(&pool, &addr, &["b@acme.test"]).await;
                assert!(out.is_delivered(), "{out:?}");
                // Let the server's hang-up arrive before the session is reused.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.messages.len(), 3);
        assert_eq!(seen.connections, 3);
    }

    #[test]
    fn host_port_split() {
        assert_eq!(
            split_host_port("mx.example:2526"),
            ("mx.example".into(), 2526)
        );
        assert_eq!(split_host_port("mx.example"), ("mx.example".into(), 25));
        assert_eq!(split_host_port("[::1]:25"), ("::1".into(), 25));
    }

    /// A listener that accepts connections and never says anything (a tarpit).
    fn tarpit() -> (String, Arc<StdMutex<Vec<std::net::TcpStream>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let held = Arc::new(StdMutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                keep.lock().expect("lock").push(s);
            }
        });
        (addr, held)
    }

    #[test]
    fn a_silent_server_gives_up_at_the_deadline_and_others_keep_flowing() {
        let (tarpit, _held) = tarpit();
        let (good, seen) = scripted_server(false);
        let relay = Arc::new(test_relay(Duration::from_millis(600), 2));
        rt().block_on(async {
            let started = Instant::now();
            // Five deliveries to the tarpit at once: two hold its slots, three wait for them.
            let stuck: Vec<_> = (0..5)
                .map(|_| {
                    let (relay, tarpit) = (relay.clone(), tarpit.clone());
                    tokio::spawn(async move { send(&relay, &tarpit, &["b@acme.test"]).await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(relay.in_flight(&tarpit), 2);
            // Another destination is not held up by them.
            let other = Instant::now();
            let out = send(&relay, &good, &["b@acme.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
            assert!(
                other.elapsed() < Duration::from_millis(500),
                "{:?}",
                other.elapsed()
            );
            for s in stuck {
                let out = s.await.expect("task");
                assert!(matches!(out, RelayOutcome::TempFail(_)), "{out:?}");
            }
            // Each gave up at its deadline: a greeting that never came, or a slot that
            // never freed in time; nothing waited much longer than a few timeouts.
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "{:?}",
                started.elapsed()
            );
        });
        assert_eq!(seen.lock().expect("lock").messages.len(), 1);
    }

    #[test]
    fn internal_targets_are_refused_unless_the_operator_allows_them() {
        let (addr, seen) = scripted_server(false);
        let mut relay = test_relay(Duration::from_secs(5), 4);
        Arc::get_mut(&mut relay.settings).expect("unshared").guard = TargetGuard::default();
        rt().block_on(async {
            let out = send(&relay, &addr, &["b@acme.test"]).await;
            match &out {
                RelayOutcome::TempFail(why) => assert!(why.contains("internal"), "{why}"),
                other => panic!("expected a refusal, got {other:?}"),
            }
            // `localhost` is loopback too.
            let port = addr.rsplit_once(':').expect("port").1;
            let out = send(&relay, &format!("localhost:{port}"), &["b@acme.test"]).await;
            assert!(matches!(out, RelayOutcome::TempFail(_)), "{out:?}");
            // The per-domain exception.
            let allowed = Route {
                allow_internal: true,
                ..route(&addr)
            };
            let out = send_route(&relay, &allowed, &["b@acme.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
        });
        assert_eq!(seen.lock().expect("lock").messages.len(), 1);
    }

    /// A test CA and a server certificate for `names`, as PEM files in `dir`.
    fn test_pki(
        dir: &std::path::Path,
        names: &[&str],
    ) -> (std::path::PathBuf, rustls::ServerConfig) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .expect("leaf params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca_cert.pem()).expect("ca written");
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der");
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server config");
        (ca_path, server)
    }

    /// What a TLS-capable scripted server saw.
    #[derive(Default)]
    struct TlsSeen {
        /// Each delivered message and whether it came over TLS.
        messages: Vec<(String, bool)>,
    }

    /// A loopback SMTP server that offers STARTTLS when `config` is given.
    fn starttls_server(config: Option<rustls::ServerConfig>) -> (u16, Arc<StdMutex<TlsSeen>>) {
        use std::io::Read;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(StdMutex::new(TlsSeen::default()));
        let seen2 = seen.clone();
        let config = config.map(Arc::new);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, config) = (seen2.clone(), config.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    trait Rw: Read + Write {}
                    impl<T: Read + Write> Rw for T {}
                    let mut conn: Box<dyn Rw> = Box::new(stream);
                    let mut tls = false;
                    conn.write_all(b"220 tls.test\r\n")?;
                    let mut pending = Vec::new();
                    let read_line = |conn: &mut Box<dyn Rw>,
                                     pending: &mut Vec<u8>|
                     -> std::io::Result<Option<String>> {
                        loop {
                            if let Some(i) = pending.iter().position(|b| *b == b'\n') {
                                let line: Vec<u8> = pending.drain(..=i).collect();
                                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
                            }
                            let mut buf = [0u8; 4096];
                            let n = conn.read(&mut buf)?;
                            if n == 0 {
                                return Ok(None);
                            }
                            pending.extend_from_slice(&buf[..n]);
                        }
                    };
                    while let Some(line) = read_line(&mut conn, &mut pending)? {
                        let cmd = line.trim_end().to_ascii_uppercase();
                        if cmd.starts_with("EHLO") {
                            if config.is_some() && !tls {
                                conn.write_all(
                                    b"250-tls.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                                )?;
                            } else {
                                conn.write_all(b"250-tls.test\r\n250 8BITMIME\r\n")?;
                            }
                        } else if cmd == "STARTTLS" {
                            let Some(cfg) = config.clone() else {
                                conn.write_all(b"502 no\r\n")?;
                                continue;
                            };
                            conn.write_all(b"220 go ahead\r\n")?;
                            let server = rustls::ServerConnection::new(cfg)
                                .map_err(std::io::Error::other)?;
                            // The plain stream moves into the TLS stream.
                            let plain = std::mem::replace(
                                &mut conn,
                                Box::new(std::io::Cursor::new(Vec::new())),
                            );
                            conn = Box::new(rustls::StreamOwned::new(server, plain));
                            tls = true;
                        } else if cmd == "DATA" {
                            conn.write_all(b"354 go\r\n")?;
                            let mut body = String::new();
                            loop {
                                let Some(l) = read_line(&mut conn, &mut pending)? else {
                                    return Ok(());
                                };
                                if l == ".\r\n" {
                                    break;
                                }
                                body.push_str(&l);
                            }
                            seen.lock().expect("lock").messages.push((body, tls));
                            conn.write_all(b"250 2.0.0 queued\r\n")?;
                        } else if cmd == "QUIT" {
                            conn.write_all(b"221 bye\r\n")?;
                            return Ok(());
                        } else {
                            conn.write_all(b"250 ok\r\n")?;
                        }
                        conn.flush()?;
                    }
                    Ok(())
                });
            }
        });
        (port, seen)
    }

    fn tls_relay(ca: Option<&std::path::Path>) -> Relay {
        Relay::new(
            RelaySettings {
                helo: "moat.test".into(),
                timeout: Duration::from_secs(5),
                per_destination: 4,
                min_rate: 16 * 1024,
                guard: TargetGuard::new(&["127.0.0.0/8".into(), "::1".into()]).expect("guard"),
                tls: TlsClients::new(ca).expect("tls clients"),
            },
            4,
        )
    }

    /// A loopback HTTPS server answering every request with `status`, `content_type` and
    /// `body`, over `config`.
    fn https_server(
        config: rustls::ServerConfig,
        status: &'static str,
        content_type: &'static str,
        body: String,
    ) -> u16 {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let config = Arc::new(config);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut buf = [0u8; 4096];
                let mut req = Vec::new();
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    tls,
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nLocation: https://elsewhere.example/\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
            }
        });
        port
    }

    /// MTA-STS: the policy is fetched over HTTPS with the relay's trust anchors and address
    /// guard (no redirect, text/plain only), and an enforced route checks the MX host's name
    /// although it connects to an address.
    #[test]
    fn mta_sts_policies_are_fetched_verified_and_enforced() {
        use super::mta_sts::Mode;
        let dir = tempfile::tempdir().expect("dir");
        let (ca, config) = test_pki(dir.path(), &["localhost"]);
        let policy = "version: STSv1\r\nmode: enforce\r\nmx: localhost\r\nmax_age: 600\r\n";
        let good = https_server(config.clone(), "200 OK", "text/plain", policy.into());
        let redirect = https_server(
            config.clone(),
            "301 Moved Permanently",
            "text/plain",
            String::new(),
        );
        let html = https_server(config.clone(), "200 OK", "text/html", policy.into());
        let relay = tls_relay(Some(&ca));
        let fetcher = relay.mta_sts_fetcher();
        let url = |port: u16| format!("https://localhost:{port}/.well-known/mta-sts.txt");
        let p = fetcher.fetch(&url(good)).expect("policy fetched");
        assert_eq!(
            (p.mode, p.mx.clone(), p.max_age),
            (Mode::Enforce, vec!["localhost".to_string()], 600)
        );
        assert!(
            fetcher.fetch(&url(redirect)).is_err(),
            "no redirect is followed"
        );
        assert!(fetcher.fetch(&url(html)).is_err(), "text/plain only");
        // Without the pinned CA the certificate is not trusted.
        assert!(tls_relay(None).mta_sts_fetcher().fetch(&url(good)).is_err());
        // The address guard applies: loopback is refused unless the operator allows it.
        let guarded = Relay::new(
            RelaySettings {
                guard: TargetGuard::new(&[]).expect("guard"),
                ..(*tls_relay(Some(&ca)).settings).clone()
            },
            1,
        );
        let e = guarded
            .mta_sts_fetcher()
            .fetch(&url(good))
            .expect_err("internal");
        assert!(e.contains("internal"), "{e}");

        // Enforced: the route connects to 127.0.0.1 and verifies the certificate for the MX
        // host's name.
        let (ok_port, ok_seen) = starttls_server(Some(config));
        let routes = super::mta_sts::routes(
            "example.test",
            vec![("localhost".into(), format!("127.0.0.1:{ok_port}"))],
            Some(&p),
        )
        .expect("the MX host is named");
        let wrong = Route::to_mx_enforced(format!("127.0.0.1:{ok_port}"), "mx.other.example");
        rt().block_on(async {
            let out = send_route(&relay, &routes[0], &["b@a.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
            let out = send_route(&relay, &wrong, &["b@a.test"]).await;
            assert!(
                matches!(&out, RelayOutcome::TempFail(why) if why.contains("TLS")),
                "{out:?}"
            );
        });
        assert_eq!(ok_seen.lock().expect("lock").messages.len(), 1);
    }

    #[test]
    fn starttls_modes_encrypt_require_and_verify() {
        let dir = tempfile::tempdir().expect("dir");
        // Two CAs: the relay pins the first; the second signs a certificate for another name.
        let (ca, good_config) = test_pki(dir.path(), &["localhost"]);
        let other = dir.path().join("other");
        std::fs::create_dir(&other).expect("dir");
        let (_, wrong_config) = test_pki(&other, &["other.example"]);
        let (tls_port, tls_seen) = starttls_server(Some(good_config));
        let (wrong_port, wrong_seen) = starttls_server(Some(wrong_config));
        let (plain_port, plain_seen) = starttls_server(None);
        let relay = tls_relay(Some(&ca));
        let at = |port: u16, tls: RelayTls| Route {
            hostport: format!("localhost:{port}"),
            tls,
            allow_internal: false,
            tls_name: None,
        };
        rt().block_on(async {
            // Opportunistic: encrypted when offered, clear text when not.
            let out = send_route(
                &relay,
                &at(tls_port, RelayTls::Opportunistic),
                &["b@a.test"],
            )
            .await;
            match &out {
                RelayOutcome::Delivered { tls, .. } => assert!(
                    tls.as_deref().is_some_and(|v| v.starts_with("TLSv1.")),
                    "{out:?}"
                ),
                other => panic!("{other:?}"),
            }
            let out = send_route(
                &relay,
                &at(plain_port, RelayTls::Opportunistic),
                &["b@a.test"],
            )
            .await;
            assert!(
                matches!(&out, RelayOutcome::Delivered { tls: None, .. }),
                "{out:?}"
            );
            // Required: a server without STARTTLS gets nothing (a temporary failure, retried).
            let out = send_route(&relay, &at(plain_port, RelayTls::Required), &["b@a.test"]).await;
            assert!(
                matches!(&out, RelayOutcome::TempFail(why) if why.contains("STARTTLS")),
                "{out:?}"
            );
            // Required takes any certificate.
            let out = send_route(&relay, &at(wrong_port, RelayTls::Required), &["b@a.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
            // Verify: the pinned CA and the right name deliver; a wrong name does not.
            let out = send_route(&relay, &at(tls_port, RelayTls::Verify), &["b@a.test"]).await;
            assert!(out.is_delivered(), "{out:?}");
            let out = send_route(&relay, &at(wrong_port, RelayTls::Verify), &["b@a.test"]).await;
            assert!(
                matches!(&out, RelayOutcome::TempFail(why) if why.contains("TLS")),
                "{out:?}"
            );
        });
        let tls = tls_seen.lock().expect("lock");
        assert_eq!(tls.messages.len(), 2);
        assert!(
            tls.messages
                .iter()
                .all(|(body, enc)| *enc && body.contains("hello"))
        );
        let plain = plain_seen.lock().expect("lock");
        assert_eq!(plain.messages.len(), 1);
        assert!(!plain.messages[0].1);
        let wrong = wrong_seen.lock().expect("lock");
        assert_eq!(wrong.messages.len(), 1);
        assert!(wrong.messages[0].1);
    }
}
