//! The SMTP client that hands mail to a customer's real server (mail-send, on tokio). Used by the
//! scanner's relay thread and by the API's quarantine release. Outcomes distinguish temporary
//! from permanent refusals so the scanner can answer `451` or `550` truthfully.

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use mail_send::{
    SmtpClient,
    smtp::{
        AssertReply,
        message::{Address, Message, Parameters},
    },
};
use tokio::net::TcpStream;

/// How a relay attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayOutcome {
    /// The downstream server accepted the message (its reply text).
    Delivered(String),
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
            RelayOutcome::Delivered(_) => "delivered",
            RelayOutcome::TempFail(_) => "tempfail",
            RelayOutcome::PermFail { .. } => "permfail",
        }
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

/// Delivers `body` (a complete message, not dot-stuffed) to `hostport` for `rcpts` over a new
/// session. Must run inside a tokio runtime.
pub async fn deliver(
    hostport: &str,
    helo: &str,
    mail_from: &str,
    rcpts: &[String],
    body: &[u8],
    options: MailOptions,
    timeout: Duration,
) -> RelayOutcome {
    let mut client = match connect(hostport, helo, timeout).await {
        Ok(c) => c,
        Err(e) => return classify(e, hostport),
    };
    let outcome = send_on(&mut client, hostport, mail_from, rcpts, body, options).await;
    let _ = client.quit().await;
    outcome
}

/// One transaction on an open session.
async fn send_on(
    client: &mut SmtpClient<TcpStream>,
    hostport: &str,
    mail_from: &str,
    rcpts: &[String],
    body: &[u8],
    options: MailOptions,
) -> RelayOutcome {
    // mail-send always ends DATA with CRLF.CRLF; a message that already ends with CRLF would
    // gain an empty line, so hand it the body without its final line break.
    let body = body.strip_suffix(b"\r\n").unwrap_or(body);
    let mut params = Parameters::default();
    if options.eight_bit {
        params.add(("BODY", "8BITMIME"));
    }
    if options.smtputf8 {
        params.add("SMTPUTF8");
    }
    let message = Message {
        mail_from: Address::new(mail_from, params),
        rcpt_to: rcpts
            .iter()
            .map(|r| Address::new(r.as_str(), Parameters::default()))
            .collect(),
        body: Cow::Borrowed(body),
    };
    match client.send(message).await {
        Ok(reply) => RelayOutcome::Delivered(reply.message().to_string()),
        Err(e) => classify(e, hostport),
    }
}

/// Idle SMTP sessions to real servers, reused across deliveries: a spool draining to one host
/// pays the TCP and EHLO round trips once, not per message. A session is checked with RSET
/// before reuse, dropped after a temporary failure, and closed after `idle_ttl` unused.
/// An idle session and when it was last used.
type IdleSession = (SmtpClient<TcpStream>, Instant);

pub struct RelayPool {
    idle: Mutex<HashMap<String, Vec<IdleSession>>>,
    max_idle_per_host: usize,
    idle_ttl: Duration,
}

impl RelayPool {
    pub fn new(max_idle_per_host: usize, idle_ttl: Duration) -> Self {
        RelayPool {
            idle: Mutex::new(HashMap::new()),
            max_idle_per_host,
            idle_ttl,
        }
    }

    fn take(&self, hostport: &str) -> Option<SmtpClient<TcpStream>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(hostport)?;
        while let Some((client, since)) = list.pop() {
            if since.elapsed() < self.idle_ttl {
                return Some(client);
            }
        }
        None
    }

    fn put(&self, hostport: &str, client: SmtpClient<TcpStream>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(hostport.to_string()).or_default();
        list.retain(|(_, since)| since.elapsed() < self.idle_ttl);
        if list.len() < self.max_idle_per_host {
            list.push((client, Instant::now()));
        }
    }

    /// Idle sessions held for `hostport`.
    pub fn idle_count(&self, hostport: &str) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get(hostport).map_or(0, Vec::len)
    }

    /// Like [`deliver`], on a pooled session when one is idle and still answers RSET.
    #[allow(clippy::too_many_arguments)]
    pub async fn deliver(
        &self,
        hostport: &str,
        helo: &str,
        mail_from: &str,
        rcpts: &[String],
        body: &[u8],
        options: MailOptions,
        timeout: Duration,
    ) -> RelayOutcome {
        let mut client = loop {
            match self.take(hostport) {
                Some(mut c) => {
                    if c.rset().await.is_ok() {
                        break c;
                    }
                }
                None => match connect(hostport, helo, timeout).await {
                    Ok(c) => break c,
                    Err(e) => return classify(e, hostport),
                },
            }
        };
        let outcome = send_on(&mut client, hostport, mail_from, rcpts, body, options).await;
        match outcome {
            // The session is still in step after a reply, good or bad.
            RelayOutcome::Delivered(_) | RelayOutcome::PermFail { .. } => {
                self.put(hostport, client)
            }
            // Possibly a broken connection: do not reuse it.
            RelayOutcome::TempFail(_) => {}
        }
        outcome
    }
}

/// Opens an SMTP session: TCP with Nagle off (every SMTP step is a small write that waits for
/// a reply; with Nagle and delayed ACKs each step can stall for tens of milliseconds), then the
/// greeting and EHLO.
async fn connect(
    hostport: &str,
    helo: &str,
    timeout: Duration,
) -> mail_send::Result<SmtpClient<TcpStream>> {
    let (host, port) = split_host_port(hostport);
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| mail_send::Error::Timeout)??;
    stream.set_nodelay(true)?;
    let mut client = SmtpClient { stream, timeout };
    client.read().await?.assert_positive_completion()?;
    client.ehlo(helo).await?;
    Ok(client)
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

    #[test]
    fn host_port_split() {
        assert_eq!(
            split_host_port("mx.example:2526"),
            ("mx.example".into(), 2526)
        );
        assert_eq!(split_host_port("mx.example"), ("mx.example".into(), 25));
        assert_eq!(split_host_port("[::1]:25"), ("::1".into(), 25));
    }
}
