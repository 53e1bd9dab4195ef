//! Real SMTP clients for tests: Python's smtplib (through `python3`), swaks, and a raw TCP
//! conversation for exact protocol checks.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    time::Duration,
};

const SMTPLIB: &str = r#"
import smtplib, sys
host, port, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
data = sys.stdin.buffer.read()
s = smtplib.SMTP(host, port, timeout=60)
s.ehlo("client.test")
try:
    refused = s.sendmail(sender, rcpts, data)
    print("250", " ".join(sorted(refused.keys())))
except smtplib.SMTPRecipientsRefused as e:
    codes = sorted(str(v[0]) for v in e.recipients.values())
    print("RCPT", " ".join(codes))
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
finally:
    try:
        s.quit()
    except Exception:
        pass
"#;

/// Sends `data` with Python's smtplib; returns the first line it printed
/// (`250 …`, `451 …`, `550 …`, or `RCPT <codes>` when every recipient was refused).
pub fn smtplib_send(addr: SocketAddr, from: &str, rcpts: &[&str], data: &[u8]) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SMTPLIB)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(from)
        .arg(rcpts.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write message");
    let out = child.wait_with_output().expect("python3 finishes");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !stdout.is_empty(),
        "smtplib printed nothing; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs swaks against `addr`; returns its transcript and exit status.
pub fn swaks(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks")
        .arg("--server")
        .arg(addr.to_string())
        .args(args)
        .output()
        .expect("swaks is installed (apt-get install swaks)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A raw SMTP conversation for checking exact replies.
pub struct Conversation {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conversation {
    pub fn connect(addr: SocketAddr) -> Conversation {
        Conversation::from_stream(TcpStream::connect(addr).expect("connects to Moat"))
    }

    pub fn from_stream(stream: TcpStream) -> Conversation {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Conversation {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    /// Sends without failing when the server has already closed; returns whether it went.
    pub fn try_send(&mut self, text: &str) -> bool {
        self.writer.write_all(text.as_bytes()).is_ok()
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to Moat");
    }

    /// Reads one complete (possibly multi-line) reply; empty when the server closed.
    pub fn read_reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return reply,
                Ok(_) => {}
            }
            reply.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return reply;
            }
        }
    }

    /// Reads a reply and asserts its code.
    pub fn expect(&mut self, code: &str) -> String {
        let reply = self.read_reply();
        assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
        reply
    }

    /// True once the server has closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut buf = String::new();
        matches!(self.reader.read_line(&mut buf), Ok(0) | Err(_))
    }
}

/// Runs a Python script with the SMTP server's host and port as arguments; returns its stdout.
/// Used where the standard library's `ssl` module is the simplest real TLS client.
pub fn python(script: &str, addr: SocketAddr) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}
