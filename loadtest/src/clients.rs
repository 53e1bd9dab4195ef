//! The three ways a message reaches a scanner in the side-by-side benchmark: SMTP (Moat,
//! smtp-sink, any MTA), Rspamd's HTTP `/checkv2`, and SpamAssassin's spamc protocol. Each
//! client sends one message and returns how it was answered and, for the correctness gate,
//! what the engine said about it (SMTP reply or the rule symbols that fired).

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    time::Duration,
};

use anyhow::{Context, bail};

use crate::corpus::Item;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protocol {
    Smtp,
    Rspamd,
    Spamc,
}

/// How the server answered one message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Accepted,
    Tempfail,
    Rejected,
}

pub struct Answer {
    pub class: Class,
    /// SMTP reply line, or the comma-separated symbols of a scan.
    pub detail: String,
}

const IO_TIMEOUT: Duration = Duration::from_secs(120);

fn connect(target: &str) -> anyhow::Result<TcpStream> {
    let s = TcpStream::connect(target).with_context(|| format!("connecting to {target}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

pub fn read_reply(r: &mut BufReader<TcpStream>) -> anyhow::Result<String> {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            bail!("server closed the connection");
        }
        reply.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return Ok(reply);
        }
    }
}

/// One client connection of the chosen protocol.
pub enum Client {
    Smtp {
        w: TcpStream,
        r: BufReader<TcpStream>,
    },
    Rspamd {
        target: String,
        conn: Option<BufReader<TcpStream>>,
        client_ip: String,
    },
    Spamc {
        target: String,
    },
}

impl Client {
    pub fn open(protocol: Protocol, target: &str, client_ip: &str) -> anyhow::Result<Client> {
        Ok(match protocol {
            Protocol::Smtp => {
                let stream = connect(target)?;
                let mut w = stream.try_clone()?;
                let mut r = BufReader::new(stream);
                let greeting = read_reply(&mut r)?;
                if !greeting.starts_with("220") {
                    bail!("greeting: {}", greeting.trim_end());
                }
                w.write_all(b"EHLO loadtest.test\r\n")?;
                read_reply(&mut r)?;
                Client::Smtp { w, r }
            }
            Protocol::Rspamd => Client::Rspamd {
                target: target.to_string(),
                conn: None,
                client_ip: client_ip.to_string(),
            },
            Protocol::Spamc => Client::Spamc {
                target: target.to_string(),
            },
        })
    }

    /// Sends one message; `load_id` (SMTP only) is prepended as `X-Load-Id` so a downstream
    /// sink can tell which accepted message arrived.
    pub fn send(&mut self, item: &Item, load_id: &str) -> anyhow::Result<Answer> {
        match self {
            Client::Smtp { w, r } => smtp_send(w, r, item, load_id),
            Client::Rspamd {
                target,
                conn,
                client_ip,
            } => rspamd_send(target, conn, client_ip, item),
            Client::Spamc { target } => spamc_send(target, item),
        }
    }

    pub fn close(self) {
        if let Client::Smtp { mut w, .. } = self {
            let _ = w.write_all(b"QUIT\r\n");
        }
    }
}

fn smtp_send(
    w: &mut TcpStream,
    r: &mut BufReader<TcpStream>,
    item: &Item,
    load_id: &str,
) -> anyhow::Result<Answer> {
    // MAIL, RCPT and DATA in one write (PIPELINING).
    let envelope = format!(
        "MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
        item.mail_from, item.rcpt
    );
    w.write_all(envelope.as_bytes())?;
    let mail = read_reply(r)?;
    let rcpt = read_reply(r)?;
    let data = read_reply(r)?;
    if !(mail.starts_with('2') && rcpt.starts_with('2') && data.starts_with("354")) {
        if data.starts_with("354") {
            // A server that accepted DATA without a recipient: end the empty transfer.
            w.write_all(b".\r\n")?;
            read_reply(r)?;
        }
        w.write_all(b"RSET\r\n")?;
        read_reply(r)?;
        let first = if mail.starts_with('2') { rcpt } else { mail };
        return Ok(Answer {
            class: class_of(&first),
            detail: first.lines().next().unwrap_or_default().to_string(),
        });
    }
    let mut data = Vec::with_capacity(item.stuffed.len() + 64);
    data.extend_from_slice(format!("X-Load-Id: {load_id}\r\n").as_bytes());
    data.extend_from_slice(&item.stuffed);
    data.extend_from_slice(b".\r\n");
    w.write_all(&data)?;
    let done = read_reply(r)?;
    Ok(Answer {
        class: class_of(&done),
        detail: done.lines().last().unwrap_or_default().to_string(),
    })
}

fn class_of(reply: &str) -> Class {
    match reply.as_bytes().first() {
        Some(b'2') => Class::Accepted,
        Some(b'4') => Class::Tempfail,
        _ => Class::Rejected,
    }
}

/// Status, headers (lower-cased names) and body of an HTTP response.
pub type HttpResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// Reads an HTTP/1.x response: status, headers (lower-cased names) and the body by
/// Content-Length, or to the end of the stream without one.
pub fn read_http_response(r: &mut impl BufRead) -> anyhow::Result<HttpResponse> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        bail!("server closed the connection");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {:?}", line.trim_end()))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            bail!("server closed the connection in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok((status, headers, body))
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn rspamd_send(
    target: &str,
    conn: &mut Option<BufReader<TcpStream>>,
    client_ip: &str,
    item: &Item,
) -> anyhow::Result<Answer> {
    let request = format!(
        "POST /checkv2 HTTP/1.1\r\nHost: {target}\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\
IP: {client_ip}\r\nFrom: {}\r\nRcpt: {}\r\nHelo: {}\r\nHostname: {}\r\n\r\n",
        item.raw.len(),
        item.mail_from,
        item.rcpt,
        item.helo,
        item.helo
    );
    let mut r = match conn.take() {
        Some(r) => r,
        None => BufReader::new(connect(target)?),
    };
    {
        let w = r.get_mut();
        w.write_all(request.as_bytes())?;
        w.write_all(&item.raw)?;
    }
    let (status, headers, body) = read_http_response(&mut r)?;
    if header(&headers, "connection").is_none_or(|v| !v.eq_ignore_ascii_case("close")) {
        *conn = Some(r);
    }
    if status != 200 {
        return Ok(Answer {
            class: if status >= 500 {
                Class::Tempfail
            } else {
                Class::Rejected
            },
            detail: format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
        });
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).context("rspamd answered with invalid JSON")?;
    let mut symbols: Vec<String> = json
        .get("symbols")
        .and_then(|s| s.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    symbols.sort();
    Ok(Answer {
        class: Class::Accepted,
        detail: symbols.join(","),
    })
}

fn spamc_send(target: &str, item: &Item) -> anyhow::Result<Answer> {
    let stream = connect(target)?;
    let mut w = stream.try_clone()?;
    let request = format!(
        "SYMBOLS SPAMC/1.5\r\nContent-length: {}\r\nUser: nobody\r\n\r\n",
        item.raw.len()
    );
    w.write_all(request.as_bytes())?;
    w.write_all(&item.raw)?;
    w.shutdown(std::net::Shutdown::Write)?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    // "SPAMD/1.1 0 EX_OK"
    if line.split_whitespace().nth(1) != Some("0") {
        return Ok(Answer {
            class: Class::Tempfail,
            detail: line.trim_end().to_string(),
        });
    }
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let mut body = String::new();
    r.read_to_string(&mut body)?;
    let mut symbols: Vec<&str> = body.trim().split(',').filter(|s| !s.is_empty()).collect();
    symbols.sort_unstable();
    Ok(Answer {
        class: Class::Accepted,
        detail: symbols.join(","),
    })
}

/// An SMTP connection that only says EHLO and then waits (for memory per connection).
pub fn idle_smtp(target: &str) -> anyhow::Result<TcpStream> {
    let stream = connect(target)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream.try_clone()?);
    read_reply(&mut r)?;
    w.write_all(b"EHLO idle.loadtest.test\r\n")?;
    read_reply(&mut r)?;
    Ok(stream)
}
