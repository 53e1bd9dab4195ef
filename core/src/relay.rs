//! The SMTP client that hands mail to a customer's real server (mail-send, on tokio). Used by the
//! scanner's relay thread and by the API's quarantine release. Outcomes distinguish temporary
//! from permanent refusals so the scanner can answer `451` or `550` truthfully.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use mail_send::{
    SmtpClient,
    smtp::{AssertReply, message::Parameters},
};
use tokio::{io::AsyncWriteExt, net::TcpStream};

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
    let mut session = match connect(hostport, helo, timeout).await {
        Ok(c) => c,
        Err(e) => return classify(e, hostport),
    };
    let attempt = send_on(&mut session, hostport, mail_from, rcpts, body, options).await;
    let _ = session.client.quit().await;
    attempt.outcome
}

/// One transaction on an open session. With PIPELINING, MAIL, every RCPT and DATA go in one
/// write and their replies are read together (one round trip instead of 2 + recipients).
async fn send_on(
    session: &mut Session,
    hostport: &str,
    mail_from: &str,
    rcpts: &[String],
    body: &[u8],
    options: MailOptions,
) -> Attempt {
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
    let client = &mut session.client;
    if !session.pipelining {
        // One command at a time. Only a failure of MAIL, the first command, can mean the
        // session was gone before the transaction began; a broken connection later (after the
        // body was sent, say) must not be retried, or the message could arrive twice.
        if let Err(e) = client.mail_from(mail_from, &params).await {
            return Attempt {
                stale: is_stale(&e),
                outcome: classify(e, hostport),
            };
        }
        let mut sent = Ok(());
        for r in rcpts {
            sent = client.rcpt_to(r, &Parameters::default()).await;
            if sent.is_err() {
                break;
            }
        }
        let result = match sent {
            Ok(()) => client.data(body).await,
            Err(e) => Err(e),
        };
        return Attempt {
            stale: false,
            outcome: match result {
                Ok(reply) => RelayOutcome::Delivered(reply.message().to_string()),
                Err(e) => classify(e, hostport),
            },
        };
    }
    let mut commands = Vec::with_capacity(rcpts.len() + 2);
    commands.push(format!("MAIL FROM:<{mail_from}>{params}\r\n"));
    commands.extend(rcpts.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));
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
    let (envelope, data) = replies.split_at(replies.len().saturating_sub(1));
    let refused = envelope.iter().position(|r| !r.is_positive_completion());
    let data_ok = data.first().is_some_and(|r| r.code() == 354);
    if let Some(i) = refused {
        let reply = envelope[i].clone();
        if data_ok {
            // The server opened DATA for the recipients it took; the only way to abort without
            // delivering an empty message to them is to drop the session.
            let _ = client.stream.shutdown().await;
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
    let sent = tokio::time::timeout(client.timeout, async {
        client.write_message(body).await?;
        client.read().await
    })
    .await;
    let outcome = match sent {
        Err(_) => RelayOutcome::TempFail(format!("{hostport}: timed out after DATA")),
        Ok(Err(e)) => classify(e, hostport),
        Ok(Ok(reply)) if reply.is_positive_completion() => {
            RelayOutcome::Delivered(reply.message().to_string())
        }
        Ok(Ok(reply)) => classify(mail_send::Error::UnexpectedReply(reply), hostport),
    };
    Attempt {
        outcome,
        stale: false,
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

/// Idle SMTP sessions to real servers, reused across deliveries: a spool draining to one host
/// pays the TCP and EHLO round trips once, not per message. A session is reused without a
/// probe (see [`RelayPool::deliver`]), dropped after a temporary failure, and closed after
/// `idle_ttl` unused.
/// An idle session and when it was last used.
type IdleSession = (Session, Instant);

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

    fn take(&self, hostport: &str) -> Option<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(hostport)?;
        while let Some((client, since)) = list.pop() {
            if since.elapsed() < self.idle_ttl {
                return Some(client);
            }
        }
        None
    }

    fn put(&self, hostport: &str, client: Session) {
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

    /// Like [`deliver`], on a pooled session when one is idle. A reused session is not
    /// probed with RSET first (a round trip per message); if it turns out to have been closed
    /// while idle, before any reply of this transaction, the message goes on a new session.
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
        loop {
            let (mut session, reused) = match self.take(hostport) {
                Some(s) => (s, true),
                None => match connect(hostport, helo, timeout).await {
                    Ok(s) => (s, false),
                    Err(e) => return classify(e, hostport),
                },
            };
            let attempt = send_on(&mut session, hostport, mail_from, rcpts, body, options).await;
            if reused && attempt.stale {
                continue;
            }
            match attempt.outcome {
                // A completed DATA ends the transaction: the session is ready for the next.
                RelayOutcome::Delivered(_) => self.put(hostport, session),
                // A refusal can leave MAIL open on the server (the next MAIL would be a
                // nested-MAIL error); RSET closes it, and a session that fails RSET (or that
                // was dropped to abandon DATA) is not reused.
                RelayOutcome::PermFail { .. } => {
                    if session.client.rset().await.is_ok() {
                        self.put(hostport, session);
                    }
                }
                // Possibly a broken connection: do not reuse it.
                RelayOutcome::TempFail(_) => {}
            }
            return attempt.outcome;
        }
    }
}

/// Opens an SMTP session: TCP with Nagle off (every SMTP step is a small write that waits for
/// a reply; with Nagle and delayed ACKs each step can stall for tens of milliseconds), then the
/// greeting and EHLO.
async fn connect(hostport: &str, helo: &str, timeout: Duration) -> mail_send::Result<Session> {
    let (host, port) = split_host_port(hostport);
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| mail_send::Error::Timeout)??;
    stream.set_nodelay(true)?;
    let mut client = SmtpClient { stream, timeout };
    client.read().await?.assert_positive_completion()?;
    let ehlo = client.ehlo(helo).await?;
    Ok(Session {
        client,
        pipelining: ehlo.has_capability(smtp_proto::EXT_PIPELINING),
    })
}

/// An open SMTP session and whether the server offered PIPELINING (RFC 2920).
struct Session {
    client: SmtpClient<TcpStream>,
    pipelining: bool,
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

    async fn send(pool: &RelayPool, addr: &str, rcpts: &[&str]) -> RelayOutcome {
        let rcpts: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
        pool.deliver(
            addr,
            "moat.test",
            "a@sender.test",
            &rcpts,
            b"Subject: t\r\n\r\nhello\r\n",
            MailOptions::default(),
            Duration::from_secs(10),
        )
        .await
    }

    #[test]
    fn pipelined_messages_share_one_session() {
        let (addr, seen) = scripted_server(false);
        let pool = RelayPool::new(4, Duration::from_secs(30));
        rt().block_on(async {
            for _ in 0..3 {
                let out = send(&pool, &addr, &["b@acme.test", "c@acme.test"]).await;
                assert!(matches!(out, RelayOutcome::Delivered(_)), "{out:?}");
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
        let pool = RelayPool::new(4, Duration::from_secs(30));
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
            assert!(matches!(out, RelayOutcome::Delivered(_)), "{out:?}");
            // Every recipient refused: DATA is refused too, the session stays (after RSET)
            // and takes the next message.
            let out = send(&pool, &addr, &["nobody@acme.test"]).await;
            assert!(
                matches!(out, RelayOutcome::PermFail { code: 550, .. }),
                "{out:?}"
            );
            let out = send(&pool, &addr, &["c@acme.test"]).await;
            assert!(matches!(out, RelayOutcome::Delivered(_)), "{out:?}");
        });
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.messages.len(), 2);
        assert_eq!(seen.connections, 2);
    }

    #[test]
    fn without_pipelining_commands_go_one_by_one_with_the_same_outcomes() {
        let (addr, seen) = scripted_server_with(false, false);
        let pool = RelayPool::new(4, Duration::from_secs(30));
        rt().block_on(async {
            let out = send(&pool, &addr, &["b@acme.test", "c@acme.test"]).await;
            assert!(matches!(out, RelayOutcome::Delivered(_)), "{out:?}");
            let out = send(&pool, &addr, &["b@acme.test", "nobody@acme.test"]).await;
            assert!(
                matches!(&out, RelayOutcome::PermFail { code: 550, status, .. } if status == "5.1.1"),
                "{out:?}"
            );
            // The refused transaction was closed with RSET: the session takes the next one.
            let out = send(&pool, &addr, &["c@acme.test"]).await;
            assert!(matches!(out, RelayOutcome::Delivered(_)), "{out:?}");
        });
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.messages.len(), 2);
        assert_eq!(seen.connections, 1);
    }

    #[test]
    fn a_session_closed_while_idle_is_replaced_without_losing_the_message() {
        let (addr, seen) = scripted_server(true);
        let pool = RelayPool::new(4, Duration::from_secs(30));
        rt().block_on(async {
            for _ in 0..3 {
                let out = send(&pool, &addr, &["b@acme.test"]).await;
                assert!(matches!(out, RelayOutcome::Delivered(_)), "{out:?}");
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
}
