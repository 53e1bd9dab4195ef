//! One SMTP session on a shard: reads into a session-owned buffer, parses commands with
//! smtp-proto's sans-IO receivers, answers pipelined commands in one write, and hands the DATA
//! bytes (dot-unstuffed by smtp-proto as they arrive) to [`crate::transaction::finish`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use moat_core::{message::domain_of, model::Domain, time::rfc5322_now};
use smtp_proto::{
    Error as SmtpError, Request,
    request::receiver::{DataReceiver, RequestReceiver},
};

use crate::{
    ScannerContext,
    transaction::{Envelope, finish},
};

const READ_CHUNK: usize = 16 * 1024;

/// Longest command line accepted, CRLF included (RFC 5321 4.5.3.1.4 says 512 octets; SMTP
/// extensions add parameters, so allow what Postfix and Stalwart allow).
pub const MAX_COMMAND_LINE: usize = 2048;

/// Where the session is in the protocol.
enum Phase {
    Command,
    Data {
        receiver: DataReceiver,
        /// Set once the message outgrew the size limit; the rest is read and discarded.
        too_big: bool,
    },
}

/// Protocol state of one connection, independent of IO (unit-testable).
pub struct Session {
    ctx: Arc<ScannerContext>,
    peer: SocketAddr,
    helo: Option<String>,
    esmtp: bool,
    mail_from: Option<String>,
    rcpts: Vec<(String, Arc<Domain>)>,
    errors: u32,
    /// Bytes of the current message (our Received header, then the unstuffed data).
    message: Vec<u8>,
    queue_id: String,
}

/// What the IO loop should do after a command.
pub enum Next {
    Continue,
    Close,
}

fn new_queue_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_ascii_uppercase()
}

impl Session {
    pub fn new(ctx: Arc<ScannerContext>, peer: SocketAddr) -> Self {
        Session {
            ctx,
            peer,
            helo: None,
            esmtp: false,
            mail_from: None,
            rcpts: Vec::new(),
            errors: 0,
            message: Vec::new(),
            queue_id: new_queue_id(),
        }
    }

    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP Moat\r\n", self.ctx.config.hostname)
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
        self.message = Vec::new();
        self.queue_id = new_queue_id();
    }

    /// Counts a client error; past the limit the session ends with 421.
    fn error(&mut self, reply: &str, out: &mut Vec<u8>) -> Next {
        self.errors += 1;
        if self.errors > self.ctx.config.smtp.max_errors {
            out.extend_from_slice(b"421 4.7.0 Too many errors, closing connection\r\n");
            return Next::Close;
        }
        out.extend_from_slice(reply.as_bytes());
        Next::Continue
    }

    /// Answers a parse failure.
    pub fn parse_error(&mut self, e: SmtpError, out: &mut Vec<u8>) -> Next {
        let reply = match e {
            SmtpError::UnknownCommand => "500 5.5.1 Command unrecognized\r\n".to_string(),
            SmtpError::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax\r\n".into(),
            SmtpError::InvalidRecipientAddress => {
                "501 5.1.3 Bad recipient address syntax\r\n".into()
            }
            SmtpError::SyntaxError { syntax } => format!("501 5.5.4 Syntax: {syntax}\r\n"),
            SmtpError::InvalidParameter { param } => {
                format!("501 5.5.4 Invalid parameter {param}\r\n")
            }
            SmtpError::UnsupportedParameter { param } => {
                format!("555 5.5.4 Unsupported parameter {param}\r\n")
            }
            SmtpError::ResponseTooLong => "500 5.5.2 Line too long\r\n".into(),
            SmtpError::NeedsMoreData { .. } | SmtpError::InvalidResponse { .. } => {
                "500 5.5.2 Syntax error\r\n".into()
            }
        };
        self.error(&reply, out)
    }

    /// Answers one command. Returns `Some(Phase::Data)` through `data` when DATA was accepted.
    fn command(&mut self, req: Request<String>, out: &mut Vec<u8>, data: &mut bool) -> Next {
        let ctx = self.ctx.clone();
        let smtp = &ctx.config.smtp;
        match req {
            Request::Ehlo { host } => {
                self.reset();
                self.helo = Some(host);
                self.esmtp = true;
                out.extend_from_slice(
                    format!(
                        "250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
                        ctx.config.hostname, smtp.max_message_size
                    )
                    .as_bytes(),
                );
            }
            Request::Helo { host } => {
                self.reset();
                self.helo = Some(host);
                self.esmtp = false;
                out.extend_from_slice(format!("250 {}\r\n", self.ctx.config.hostname).as_bytes());
            }
            Request::Lhlo { .. } => {
                return self.error("500 5.5.1 LHLO is for LMTP; use EHLO\r\n", out);
            }
            Request::Mail { from } => {
                if self.helo.is_none() {
                    return self.error("503 5.5.1 Send EHLO or HELO first\r\n", out);
                }
                if self.mail_from.is_some() {
                    return self.error("503 5.5.1 Nested MAIL command\r\n", out);
                }
                if from.size > smtp.max_message_size {
                    out.extend_from_slice(
                        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n",
                    );
                    return Next::Continue;
                }
                self.mail_from = Some(from.address);
                out.extend_from_slice(b"250 2.1.0 Ok\r\n");
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    return self.error("503 5.5.1 Need MAIL before RCPT\r\n", out);
                }
                if self.rcpts.len() >= smtp.max_recipients {
                    out.extend_from_slice(b"452 4.5.3 Too many recipients\r\n");
                    return Next::Continue;
                }
                let domain = domain_of(&to.address);
                let snapshot = self.ctx.snapshot.load();
                match snapshot.domain(&domain) {
                    Some(d) => {
                        self.rcpts.push((to.address, d.clone()));
                        out.extend_from_slice(b"250 2.1.5 Ok\r\n");
                    }
                    None => {
                        return self.error(
                            "550 5.7.1 Relaying denied: recipient domain is not protected here\r\n",
                            out,
                        );
                    }
                }
            }
            Request::Data => {
                if self.mail_from.is_none() {
                    return self.error("503 5.5.1 Need MAIL command\r\n", out);
                }
                if self.rcpts.is_empty() {
                    return self.error("554 5.5.1 No valid recipients\r\n", out);
                }
                self.message = Vec::with_capacity(8 * 1024);
                self.message
                    .extend_from_slice(self.received_header().as_bytes());
                *data = true;
                out.extend_from_slice(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
            }
            Request::Rset => {
                self.reset();
                out.extend_from_slice(b"250 2.0.0 Ok\r\n");
            }
            Request::Noop { .. } => out.extend_from_slice(b"250 2.0.0 Ok\r\n"),
            Request::Quit => {
                out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                return Next::Close;
            }
            Request::Vrfy { .. } => {
                out.extend_from_slice(b"252 2.5.0 Cannot VRFY user, but will accept message\r\n")
            }
            Request::Help { .. } => out.extend_from_slice(
                b"214 2.0.0 See RFC 5321; Moat supports the EHLO extensions\r\n",
            ),
            Request::StartTls
            | Request::Auth { .. }
            | Request::Bdat { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => {
                return self.error("502 5.5.1 Command not implemented\r\n", out);
            }
        }
        Next::Continue
    }

    /// The trace header Moat puts on top of every message it accepts (RFC 5321 4.4).
    fn received_header(&self) -> String {
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let helo: String = helo.chars().filter(|c| !c.is_control()).take(255).collect();
        let with = if self.esmtp { "ESMTP" } else { "SMTP" };
        let rcpt = match self.rcpts.as_slice() {
            [(one, _)] => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        format!(
            "Received: from {helo} ({ip})\r\n\tby {host} (Moat) with {with} id {id}{rcpt};\r\n\t{date}\r\n",
            ip = self.peer.ip(),
            host = self.ctx.config.hostname,
            id = self.queue_id,
            date = rfc5322_now()
        )
    }

    fn envelope(&self) -> Envelope {
        Envelope {
            queue_id: self.queue_id.clone(),
            client_ip: self.peer.ip().to_string(),
            mail_from: self.mail_from.clone().unwrap_or_default(),
            rcpts: self.rcpts.clone(),
        }
    }
}

/// Serves one connection until QUIT, an error limit, a timeout or the client going away.
pub async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<ScannerContext>) {
    let idle = Duration::from_secs(ctx.config.smtp.idle_timeout_secs.max(1));
    let _ = stream.set_read_timeout(Some(idle));
    let _ = stream.set_write_timeout(Some(idle));
    let mut stream = stream;
    let mut session = Session::new(ctx, peer);
    if stream
        .write_all(session.greeting().as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let max_size = session.ctx.config.smtp.max_message_size;
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut commands = RequestReceiver::default();
    let mut phase = Phase::Command;
    // Set while discarding the rest of an overlong command line.
    let mut skipping_line = false;

    loop {
        // Read straight into the session's input buffer: the only copy of DATA bytes is the
        // dot-unstuffing one into the message buffer.
        let start = input.len();
        input.resize(start + READ_CHUNK, 0);
        let n = match stream.read(&mut input[start..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        input.truncate(start + n);
        let mut consumed = 0;
        let mut close = false;
        while consumed < input.len() && !close {
            let slice = &input[consumed..];
            let mut iter = slice.iter();
            match &mut phase {
                Phase::Command => {
                    // Only complete lines go to the parser, so the line limit is checked here
                    // on the bytes as they stand, however the client split them.
                    let newline = slice.iter().position(|&b| b == b'\n');
                    match newline {
                        Some(pos) if skipping_line || pos + 1 > MAX_COMMAND_LINE => {
                            consumed += pos + 1;
                            skipping_line = false;
                            if let Next::Close =
                                session.parse_error(SmtpError::ResponseTooLong, &mut out)
                            {
                                close = true;
                            }
                            continue;
                        }
                        None => {
                            if skipping_line || slice.len() > MAX_COMMAND_LINE {
                                consumed += slice.len();
                                skipping_line = true;
                            }
                            break;
                        }
                        Some(_) => {}
                    }
                    let result = commands.ingest(&mut iter).map(Request::into_owned);
                    consumed += slice.len() - iter.as_slice().len();
                    match result {
                        Ok(req) => {
                            let mut start_data = false;
                            if let Next::Close = session.command(req, &mut out, &mut start_data) {
                                close = true;
                            }
                            if start_data {
                                phase = Phase::Data {
                                    receiver: DataReceiver::new(),
                                    too_big: false,
                                };
                            }
                        }
                        Err(SmtpError::NeedsMoreData { .. }) => break,
                        Err(e) => {
                            if let Next::Close = session.parse_error(e, &mut out) {
                                close = true;
                            }
                        }
                    }
                }
                Phase::Data { receiver, too_big } => {
                    let done = receiver.ingest(&mut iter, &mut session.message);
                    consumed += slice.len() - iter.as_slice().len();
                    if session.message.len() > max_size {
                        *too_big = true;
                        session.message.clear();
                    }
                    if !done {
                        break;
                    }
                    let reply = if *too_big {
                        "552 5.3.4 Message size exceeds fixed maximum message size\r\n".to_string()
                    } else {
                        // Answer everything pipelined before DATA first, then judge the message.
                        if !out.is_empty() {
                            if stream.write_all(&out).await.is_err() {
                                return;
                            }
                            out.clear();
                        }
                        let env = session.envelope();
                        let raw = std::mem::take(&mut session.message);
                        finish(&session.ctx, &env, raw).await
                    };
                    out.extend_from_slice(reply.as_bytes());
                    session.reset();
                    phase = Phase::Command;
                }
            }
        }
        input.drain(..consumed);
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = stream.close().await;
            return;
        }
    }
}
