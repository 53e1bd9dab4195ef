//! A small downstream SMTP server standing in for a customer's real mail server. It records
//! every message it accepts (dot-unstuffed) and can be told to refuse temporarily or for good.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

/// How the sink answers at end of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    Accept,
    TempFail,
    Reject,
}

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<SinkMode>>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

/// The address inside `<…>`, without ESMTP parameters.
fn path_of(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("sink binds loopback");
        let sink = Sink {
            addr: listener.local_addr().expect("sink addr"),
            messages: Arc::default(),
            mode: Arc::new(Mutex::new(SinkMode::Accept)),
            connections: Arc::default(),
        };
        let s = sink.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                s.connections
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let s = s.clone();
                thread::spawn(move || {
                    let _ = s.serve(stream);
                });
            }
        });
        sink
    }

    pub fn set_mode(&self, mode: SinkMode) {
        *lock(&self.mode) = mode;
    }

    /// SMTP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn messages(&self) -> Vec<Received> {
        lock(&self.messages).clone()
    }

    /// Waits up to `secs` for at least `n` messages.
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n || std::time::Instant::now() > deadline {
                return m;
            }
            thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        let mut out = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        out.write_all(b"220 sink.test ESMTP\r\n")?;
        let (mut from, mut rcpts) = (String::new(), Vec::new());
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            let upper = text.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                out.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 PIPELINING\r\n")?;
            } else if upper.starts_with("HELO") {
                out.write_all(b"250 sink.test\r\n")?;
            } else if upper.starts_with("MAIL FROM:") {
                from = path_of(&text[10..]);
                rcpts.clear();
                out.write_all(b"250 2.1.0 ok\r\n")?;
            } else if upper.starts_with("RCPT TO:") {
                rcpts.push(path_of(&text[8..]));
                out.write_all(b"250 2.1.5 ok\r\n")?;
            } else if upper == "DATA" {
                out.write_all(b"354 go ahead\r\n")?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line)? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    let l = if line.starts_with(b"..") {
                        &line[1..]
                    } else {
                        &line[..]
                    };
                    data.extend_from_slice(l);
                }
                let mode = *lock(&self.mode);
                match mode {
                    SinkMode::Accept => {
                        lock(&self.messages).push(Received {
                            mail_from: from.clone(),
                            rcpts: rcpts.clone(),
                            data,
                        });
                        out.write_all(b"250 2.0.0 queued by sink\r\n")?;
                    }
                    SinkMode::TempFail => out.write_all(b"451 4.3.0 sink busy, try later\r\n")?,
                    SinkMode::Reject => out.write_all(b"550 5.7.1 sink says no\r\n")?,
                }
            } else if upper == "QUIT" {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            } else if upper == "RSET" || upper == "NOOP" {
                out.write_all(b"250 ok\r\n")?;
            } else {
                out.write_all(b"502 unknown\r\n")?;
            }
        }
    }
}
