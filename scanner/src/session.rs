//! One SMTP session on a shard: reads into a session-owned buffer, parses commands with
//! smtp-proto's sans-IO receivers, answers pipelined commands in one write, and hands the DATA
//! or BDAT bytes (dot-unstuffed by smtp-proto as they arrive) to [`crate::transaction::finish`].
//!
//! Hostile-input rules enforced here: command lines over [`MAX_COMMAND_LINE`] are refused
//! whatever their split; a message holding a bare CR or LF is refused (SMTP smuggling: only
//! CRLF.CRLF ends DATA, and nothing relayed may carry a lone line break); bytes pipelined after
//! DATA before the 354 end the session (protocol synchronization); bytes pipelined after
//! STARTTLS are discarded (CVE-2011-0411); idle clients and slow DATA transfers get 421.

use std::{
    io,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use moat_core::{message::domain_of, metrics::metrics, model::Domain, time::rfc5322_now};
use smtp_proto::{
    Error as SmtpError, MAIL_BODY_8BITMIME, MAIL_SMTPUTF8, Request,
    request::receiver::{BdatReceiver, DummyDataReceiver, RequestReceiver},
};

use crate::{
    ScannerContext,
    data::DataReader,
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
        receiver: DataReader,
        /// Set once the message outgrew the size limit; the rest is read and discarded.
        too_big: bool,
    },
    Bdat {
        receiver: BdatReceiver,
        size: usize,
        last: bool,
    },
    /// A BDAT chunk that cannot be accepted: read it whole (RFC 3030), then answer `reply`.
    BdatDiscard {
        receiver: DummyDataReceiver,
        size: usize,
        reply: String,
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
    /// ESMTP MAIL parameters to pass downstream (8BITMIME, SMTPUTF8).
    mail_flags: u64,
    errors: u32,
    /// Bytes of the current message (our Received header, then the unstuffed data).
    message: Vec<u8>,
    /// Where the client's bytes start in `message` (after our Received header).
    body_start: usize,
    /// BDAT was used in this transaction (DATA is then refused).
    bdat: bool,
    /// The DATA reader saw a bare CR, LF or NUL in this message.
    tainted: bool,
    /// The session's TLS, once STARTTLS completed.
    tls: Option<TlsSession>,
    /// The client's confirmed reverse DNS name, once asked: `Some(None)` when it has none.
    pub(crate) rdns: Option<Option<String>>,
    queue_id: String,
}

/// What the STARTTLS handshake negotiated (for the Received header and the verdict).
#[derive(Debug, Clone)]
pub struct TlsSession {
    /// `TLSv1.3`
    pub version: String,
    /// `TLS13_AES_256_GCM_SHA384`
    pub cipher: String,
}

/// What the IO loop should do after a command.
pub enum Next {
    Continue,
    Close,
    /// DATA was accepted: read the message.
    Data,
    /// BDAT was accepted: read `size` bytes into the message.
    Bdat {
        size: usize,
        last: bool,
    },
    /// BDAT cannot be accepted: read and drop `size` bytes, then send `reply`.
    BdatDiscard {
        size: usize,
        reply: String,
    },
    /// STARTTLS was accepted: discard buffered input and start the handshake.
    StartTls,
}

/// True when `bytes` hold a CR not followed by LF, an LF not preceded by CR, or a NUL (which
/// some downstream servers strip, turning `CRLF NUL . CRLF` into an end of data).
pub fn has_bare_line_break(bytes: &[u8]) -> bool {
    memchr::memchr3_iter(b'\r', b'\n', 0, bytes).any(|pos| match bytes[pos] {
        b'\r' => bytes.get(pos + 1) != Some(&b'\n'),
        b'\n' => pos == 0 || bytes[pos - 1] != b'\r',
        _ => true,
    })
}

/// Addresses that ask for sender-specified routing (`a%b@c`, `b!a@c`, `"a@b"@c`): Postfix's
/// `allow_untrusted_routing = no`. A backup MX must not be tricked into relaying them.
fn sender_routed(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(local, _)| local.contains(['@', '%', '!']))
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
            mail_flags: 0,
            errors: 0,
            message: Vec::new(),
            body_start: 0,
            bdat: false,
            tainted: false,
            tls: None,
            rdns: None,
            queue_id: new_queue_id(),
        }
    }

    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP Moat\r\n", self.ctx.config.hostname)
    }

    pub(crate) fn reset(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
        self.mail_flags = 0;
        self.message = Vec::new();
        self.body_start = 0;
        self.bdat = false;
        self.tainted = false;
        self.queue_id = new_queue_id();
    }

    /// Starts the message buffer with Moat's Received header.
    fn begin_message(&mut self, capacity: usize) {
        let header = self.received_header();
        self.message = Vec::with_capacity(header.len() + capacity);
        self.message.extend_from_slice(header.as_bytes());
        self.body_start = self.message.len();
    }

    /// The reply to a complete message: refuse lone line breaks, else judge and route it.
    async fn end_of_message(&mut self) -> String {
        let tainted = if self.bdat {
            has_bare_line_break(&self.message[self.body_start..])
        } else {
            self.tainted
        };
        let reply = if tainted {
            tracing::info!(queue_id = %self.queue_id, client_ip = %self.peer.ip(), "refused a message with a bare CR or LF");
            format!(
                "550 5.6.0 Message contains a bare CR, LF or NUL; lines must end with CRLF [{}]\r\n",
                self.queue_id
            )
        } else {
            let env = self.envelope();
            let raw = std::mem::take(&mut self.message);
            finish(&self.ctx, &env, raw).await
        };
        let class = match reply.as_bytes().first() {
            Some(b'2') => "2xx",
            Some(b'4') => "4xx",
            _ => "5xx",
        };
        metrics()
            .smtp_message_replies
            .with_label_values(&[class])
            .inc();
        self.reset();
        reply
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

    /// Takes the next command line from `input` (bytes not yet consumed): checks the line
    /// limit, parses it, answers it into `out`. Returns the bytes consumed and, unless more
    /// input is needed first, what the IO loop does next. Only complete lines reach the
    /// parser, so the limit holds however the client splits its writes.
    pub fn next_command(
        &mut self,
        input: &[u8],
        commands: &mut RequestReceiver,
        skipping_line: &mut bool,
        out: &mut Vec<u8>,
    ) -> (usize, Option<Next>) {
        match memchr::memchr(b'\n', input) {
            Some(pos) if *skipping_line || pos + 1 > MAX_COMMAND_LINE => {
                *skipping_line = false;
                return (
                    pos + 1,
                    Some(self.parse_error(SmtpError::ResponseTooLong, out)),
                );
            }
            None => {
                if *skipping_line || input.len() > MAX_COMMAND_LINE {
                    *skipping_line = true;
                    return (input.len(), None);
                }
                return (0, None);
            }
            Some(_) => {}
        }
        let is_bdat = input.len() >= 4 && input[..4].eq_ignore_ascii_case(b"BDAT");
        if let Some(pos) = memchr::memchr(b'\n', input) {
            // smtp-proto saturates a number too large for usize and then starts again from the
            // next digit, so `SIZE=` or a BDAT chunk size past 2^64 would come out small: an
            // overflowing size is refused here, before the parser sees it.
            match overflowing_size(&input[..pos]) {
                Some(SizeOverflow::Mail) => {
                    out.extend_from_slice(
                        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n",
                    );
                    return (pos + 1, Some(Next::Continue));
                }
                Some(SizeOverflow::Bdat) => {
                    out.extend_from_slice(
                        b"501 5.5.4 Syntax: BDAT chunk-size [LAST]; closing connection\r\n",
                    );
                    return (pos + 1, Some(Next::Close));
                }
                None => {}
            }
        }
        let mut iter = input.iter();
        let result = commands.ingest(&mut iter).map(Request::into_owned);
        let consumed = input.len() - iter.as_slice().len();
        let next = match result {
            Ok(req) => self.command(req, out),
            Err(SmtpError::NeedsMoreData { .. }) => return (consumed, None),
            Err(_) if is_bdat => {
                // The chunk that follows a bad BDAT has no known length: reading it as
                // commands would let its bytes pose as commands.
                out.extend_from_slice(
                    b"501 5.5.4 Syntax: BDAT chunk-size [LAST]; closing connection\r\n",
                );
                Next::Close
            }
            Err(e) => self.parse_error(e, out),
        };
        (consumed, Some(next))
    }

    /// Answers one command and says what the IO loop does next.
    pub fn command(&mut self, req: Request<String>, out: &mut Vec<u8>) -> Next {
        let ctx = self.ctx.clone();
        let smtp = &ctx.config.smtp;
        match req {
            Request::Ehlo { host } => {
                self.reset();
                self.helo = Some(host);
                self.esmtp = true;
                let starttls = if ctx.tls.load().is_some() && self.tls.is_none() {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                out.extend_from_slice(
                    format!(
                        "250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n{starttls}250 ENHANCEDSTATUSCODES\r\n",
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
                if from.address.contains(|c: char| c.is_control()) {
                    return self.error("501 5.1.7 Bad sender address syntax\r\n", out);
                }
                self.mail_flags = from.flags & (MAIL_BODY_8BITMIME | MAIL_SMTPUTF8);
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
                if to.address.contains(|c: char| c.is_control()) {
                    return self.error("501 5.1.3 Bad recipient address syntax\r\n", out);
                }
                if sender_routed(&to.address) {
                    return self
                        .error("550 5.7.1 Sender-specified routing is not allowed\r\n", out);
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
                if self.bdat {
                    return self.error("503 5.5.1 DATA cannot follow BDAT\r\n", out);
                }
                if self.mail_from.is_none() {
                    return self.error("503 5.5.1 Need MAIL command\r\n", out);
                }
                if self.rcpts.is_empty() {
                    return self.error("554 5.5.1 No valid recipients\r\n", out);
                }
                self.begin_message(8 * 1024);
                out.extend_from_slice(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                return Next::Data;
            }
            Request::Bdat {
                chunk_size,
                is_last,
            } => {
                if self.mail_from.is_none() || self.rcpts.is_empty() {
                    self.errors += 1;
                    return Next::BdatDiscard {
                        size: chunk_size,
                        reply: "503 5.5.1 Need MAIL and a valid RCPT before BDAT\r\n".into(),
                    };
                }
                let held = self.message.len().saturating_sub(self.body_start);
                if held.saturating_add(chunk_size) > smtp.max_message_size {
                    self.reset();
                    return Next::BdatDiscard {
                        size: chunk_size,
                        reply: "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
                            .into(),
                    };
                }
                if !self.bdat {
                    self.bdat = true;
                    self.begin_message(chunk_size.min(smtp.max_message_size));
                }
                return Next::Bdat {
                    size: chunk_size,
                    last: is_last,
                };
            }
            Request::StartTls => {
                if ctx.tls.load().is_none() {
                    return self.error("502 5.5.1 STARTTLS not offered\r\n", out);
                }
                if self.tls.is_some() {
                    return self.error("503 5.5.1 TLS already active\r\n", out);
                }
                if self.mail_from.is_some() {
                    return self.error("503 5.5.1 STARTTLS not allowed in a transaction\r\n", out);
                }
                out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
                return Next::StartTls;
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
            Request::Auth { .. }
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
        // "name [ip]" as MTAs write it, "unknown [ip]" when the address has no confirmed
        // name; just "ip" when no DNS was asked (authentication off).
        let client = match &self.rdns {
            Some(Some(name)) => format!("{name} [{}]", self.peer.ip()),
            Some(None) => format!("unknown [{}]", self.peer.ip()),
            None => self.peer.ip().to_string(),
        };
        let helo: String = helo.chars().filter(|c| !c.is_control()).take(255).collect();
        // RFC 3848: ESMTPS for a session under TLS; the version and cipher as MTAs write them.
        let (with, tls) = match (&self.tls, self.esmtp) {
            (Some(t), true) => (
                "ESMTPS",
                format!("\r\n\t(using {} with cipher {})", t.version, t.cipher),
            ),
            (Some(t), false) => ("SMTPS", format!("\r\n\t(using {})", t.version)),
            (None, true) => ("ESMTP", String::new()),
            (None, false) => ("SMTP", String::new()),
        };
        let rcpt = match self.rcpts.as_slice() {
            [(one, _)] => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        format!(
            "Received: from {helo} ({client}){tls}\r\n\tby {host} (Moat) with {with} id {id}{rcpt};\r\n\t{date}\r\n",
            host = self.ctx.config.hostname,
            id = self.queue_id,
            date = rfc5322_now()
        )
    }

    fn envelope(&self) -> Envelope {
        Envelope {
            queue_id: self.queue_id.clone(),
            client_ip: self.peer.ip().to_string(),
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: self.mail_from.clone().unwrap_or_default(),
            trace_len: self.body_start,
            rcpts: self.rcpts.clone(),
            smtputf8: self.mail_flags & MAIL_SMTPUTF8 != 0,
            eight_bit: self.mail_flags & MAIL_BODY_8BITMIME != 0,
            tls: self.tls.as_ref().map(|t| t.version.clone()),
        }
    }

    /// After the TLS handshake: everything learnt before it is forgotten (RFC 3207 4.2).
    fn tls_started(&mut self, tls: TlsSession) {
        self.reset();
        self.helo = None;
        self.esmtp = false;
        self.tls = Some(tls);
    }
}

/// The connection, before or after STARTTLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<futures_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(buf).await,
            Conn::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
        }
    }

    async fn close(&mut self) {
        let _ = match self {
            Conn::Plain(s) => s.close().await,
            Conn::Tls(s) => s.close().await,
        };
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Serves one connection until QUIT, an error limit, a timeout or the client going away.
pub async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<ScannerContext>) {
    let idle = Duration::from_secs(ctx.config.smtp.idle_timeout_secs.max(1));
    let data_timeout = Duration::from_secs(ctx.config.smtp.data_timeout_secs.max(1));
    let _ = stream.set_write_timeout(Some(idle));
    let mut conn = Conn::Plain(stream);
    let mut session = Session::new(ctx, peer);
    let timeout_reply = format!(
        "421 4.4.2 {} Error: timeout exceeded\r\n",
        session.ctx.config.hostname
    );
    // The client's name is looked up at connect, as MTAs do, and awaited once (cached by the
    // resolver, bounded by the authentication deadline) before the first command is read: the
    // Received field and SpamAssassin's relay rules need it.
    let lookup = session
        .ctx
        .auth
        .as_ref()
        .map(|a| a.confirmed_name(peer.ip()));
    if conn.write_all(session.greeting().as_bytes()).await.is_err() {
        return;
    }
    if let Some(lookup) = lookup {
        session.rdns = Some(lookup.await);
    }
    let max_size = session.ctx.config.smtp.max_message_size;
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut commands = RequestReceiver::default();
    let mut phase = Phase::Command;
    // Set while discarding the rest of an overlong command line.
    let mut skipping_line = false;
    // When a DATA or BDAT transfer must be complete (slow-loris senders are cut off).
    let mut data_deadline: Option<Instant> = None;

    loop {
        let wait = match data_deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(idle),
            None => idle,
        };
        if wait.is_zero() {
            let _ = conn.write_all(timeout_reply.as_bytes()).await;
            conn.close().await;
            return;
        }
        let _ = conn.tcp().set_read_timeout(Some(wait));
        // Read straight into the session's input buffer: the only copy of DATA bytes is the
        // dot-unstuffing one into the message buffer.
        let start = input.len();
        input.resize(start + READ_CHUNK, 0);
        let n = match conn.read(&mut input[start..]).await {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if is_timeout(&e) => {
                let _ = conn.write_all(timeout_reply.as_bytes()).await;
                conn.close().await;
                return;
            }
            Err(_) => return,
        };
        input.truncate(start + n);
        let mut consumed = 0;
        let mut close = false;
        let mut start_tls = false;
        while !close && !start_tls && (consumed < input.len() || zero_chunk(&phase)) {
            let slice = &input[consumed..];
            let mut iter = slice.iter();
            match &mut phase {
                Phase::Command => {
                    let answered = out.len();
                    let (n, next) =
                        session.next_command(slice, &mut commands, &mut skipping_line, &mut out);
                    consumed += n;
                    let Some(next) = next else {
                        break;
                    };
                    match next {
                        Next::Continue => {}
                        Next::Close => close = true,
                        Next::StartTls => start_tls = true,
                        Next::Data => {
                            if consumed < input.len() {
                                // Message bytes sent before our 354: a smuggling vector
                                // (RFC 2920 makes DATA the last command of a group).
                                out.truncate(answered);
                                session.reset();
                                out.extend_from_slice(
                                    b"554 5.5.0 Error: SMTP protocol synchronization\r\n",
                                );
                                close = true;
                                continue;
                            }
                            data_deadline = Some(Instant::now() + data_timeout);
                            phase = Phase::Data {
                                receiver: DataReader::new(),
                                too_big: false,
                            };
                        }
                        Next::Bdat { size, last } => {
                            data_deadline = Some(Instant::now() + data_timeout);
                            phase = Phase::Bdat {
                                receiver: BdatReceiver::new(size, last),
                                size,
                                last,
                            };
                        }
                        Next::BdatDiscard { size, reply } => {
                            data_deadline = Some(Instant::now() + data_timeout);
                            phase = Phase::BdatDiscard {
                                receiver: DummyDataReceiver::new_bdat(size),
                                size,
                                reply,
                            };
                        }
                    }
                }
                Phase::Data { receiver, too_big } => {
                    let end = receiver.feed(slice, &mut session.message);
                    consumed += end.unwrap_or(slice.len());
                    if session.message.len() > max_size {
                        *too_big = true;
                        session.message.clear();
                    }
                    if end.is_none() {
                        break;
                    }
                    session.tainted = receiver.tainted();
                    let too_big = *too_big;
                    phase = Phase::Command;
                    data_deadline = None;
                    // Answer everything pipelined before DATA first, then judge the message.
                    if !out.is_empty() {
                        if conn.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                    let reply = if too_big {
                        session.reset();
                        "552 5.3.4 Message size exceeds fixed maximum message size\r\n".to_string()
                    } else {
                        session.end_of_message().await
                    };
                    out.extend_from_slice(reply.as_bytes());
                }
                Phase::Bdat {
                    receiver,
                    size,
                    last,
                } => {
                    let done = receiver.ingest(&mut iter, &mut session.message);
                    consumed += slice.len() - iter.as_slice().len();
                    if !done {
                        break;
                    }
                    let (size, last) = (*size, *last);
                    phase = Phase::Command;
                    data_deadline = None;
                    if !last {
                        out.extend_from_slice(
                            format!("250 2.0.0 {size} octets received\r\n").as_bytes(),
                        );
                        continue;
                    }
                    if !out.is_empty() {
                        if conn.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                    let reply = session.end_of_message().await;
                    out.extend_from_slice(reply.as_bytes());
                }
                Phase::BdatDiscard {
                    receiver, reply, ..
                } => {
                    let done = receiver.ingest(&mut iter);
                    consumed += slice.len() - iter.as_slice().len();
                    if !done {
                        break;
                    }
                    let reply = std::mem::take(reply);
                    phase = Phase::Command;
                    data_deadline = None;
                    if let Next::Close = session.error(&reply, &mut out) {
                        close = true;
                    }
                }
            }
        }
        input.drain(..consumed);
        if !out.is_empty() {
            if conn.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            conn.close().await;
            return;
        }
        if start_tls {
            // Anything the client pipelined after STARTTLS arrived in the clear: drop it.
            input.clear();
            commands = RequestReceiver::default();
            let Some(config) = session.ctx.tls.load_full() else {
                return;
            };
            let Conn::Plain(tcp) = conn else {
                return;
            };
            let _ = tcp.set_read_timeout(Some(idle));
            match futures_rustls::TlsAcceptor::from(config).accept(tcp).await {
                Ok(tls) => {
                    let (_, state) = tls.get_ref();
                    let negotiated = TlsSession {
                        version: state
                            .protocol_version()
                            .map_or_else(|| "TLS".into(), moat_core::relay::tls::version_name),
                        cipher: state
                            .negotiated_cipher_suite()
                            .map_or_else(String::new, |c| format!("{:?}", c.suite())),
                    };
                    conn = Conn::Tls(Box::new(tls));
                    session.tls_started(negotiated);
                }
                Err(e) => {
                    tracing::debug!(client_ip = %peer.ip(), error = %e, "TLS handshake failed");
                    return;
                }
            }
        }
    }
}

/// True when the current phase is a zero-length BDAT chunk, complete without more input.
fn zero_chunk(phase: &Phase) -> bool {
    matches!(
        phase,
        Phase::Bdat { size: 0, .. } | Phase::BdatDiscard { size: 0, .. }
    )
}

/// Which command carried a size that does not fit in 64 bits.
#[derive(Debug, PartialEq, Eq)]
enum SizeOverflow {
    Mail,
    Bdat,
}

/// Whether `line` (one command line without its LF) is a MAIL with a `SIZE=` or a BDAT with a
/// chunk size whose digits overflow a u64.
fn overflowing_size(line: &[u8]) -> Option<SizeOverflow> {
    let overflows = |digits: &[u8]| {
        let digits: Vec<u8> = digits
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        !digits.is_empty()
            && std::str::from_utf8(&digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
                .is_none()
    };
    let upper = line.to_ascii_uppercase();
    if upper.starts_with(b"MAIL") {
        let params = upper
            .iter()
            .rposition(|b| *b == b'>')
            .map_or(&upper[..], |at| &upper[at..]);
        let mut rest = params;
        while let Some(at) = memchr::memmem::find(rest, b"SIZE=") {
            if overflows(&rest[at + 5..]) {
                return Some(SizeOverflow::Mail);
            }
            rest = &rest[at + 5..];
        }
        return None;
    }
    if upper.starts_with(b"BDAT ") {
        let size = upper[5..].iter().skip_while(|b| **b == b' ');
        let size: Vec<u8> = size.copied().collect();
        if overflows(&size) {
            return Some(SizeOverflow::Bdat);
        }
    }
    None
}
