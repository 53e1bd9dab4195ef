//! A client for ClamAV's daemon (`clamd`): the message goes over its socket with `INSTREAM`
//! (length-prefixed chunks, then a zero length) and clamd answers `stream: OK` or
//! `stream: <signature> FOUND`. Blocking I/O with time-outs: callers run it on a thread of
//! their own, never on a shard.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    time::Duration,
};

use thiserror::Error;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl ClamdAddr {
    /// `unix:/path` or `tcp:host:port`.
    pub fn parse(s: &str) -> Result<ClamdAddr, ClamdError> {
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(ClamdAddr::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            return addr
                .parse()
                .map(ClamdAddr::Tcp)
                .map_err(|_| ClamdError::Address(s.to_string()));
        }
        Err(ClamdError::Address(s.to_string()))
    }
}

/// What clamd said about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdVerdict {
    Clean,
    /// The signature name clamd reported.
    Found(String),
}

#[derive(Debug, Error)]
pub enum ClamdError {
    #[error("clamd address {0:?} is neither unix:/path nor tcp:host:port")]
    Address(String),
    #[error("cannot talk to clamd: {0}")]
    Io(#[from] std::io::Error),
    #[error("clamd could not scan the message: {0}")]
    Refused(String),
}

/// Anything with read, write and time-outs: a unix or TCP stream.
trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

fn connect(addr: &ClamdAddr, timeout: Duration) -> std::io::Result<Box<dyn Conn>> {
    match addr {
        ClamdAddr::Tcp(a) => {
            let s = TcpStream::connect_timeout(a, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
        #[cfg(unix)]
        ClamdAddr::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
        #[cfg(not(unix))]
        ClamdAddr::Unix(_) => Err(std::io::Error::other("unix sockets need a unix system")),
    }
}

/// Parses clamd's reply to one `INSTREAM`.
pub fn parse_reply(reply: &str) -> Result<ClamdVerdict, ClamdError> {
    let reply = reply.trim_end_matches(['\0', '\n', '\r']).trim();
    let body = reply.strip_prefix("stream:").unwrap_or(reply).trim();
    if body == "OK" {
        return Ok(ClamdVerdict::Clean);
    }
    if let Some(name) = body.strip_suffix(" FOUND") {
        return Ok(ClamdVerdict::Found(name.trim().to_string()));
    }
    Err(ClamdError::Refused(reply.to_string()))
}

/// Scans `data` with the clamd at `addr`.
pub fn scan(addr: &ClamdAddr, data: &[u8], timeout: Duration) -> Result<ClamdVerdict, ClamdError> {
    let mut conn = connect(addr, timeout)?;
    conn.write_all(b"zINSTREAM\0")?;
    for chunk in data.chunks(64 << 10) {
        conn.write_all(&(chunk.len() as u32).to_be_bytes())?;
        conn.write_all(chunk)?;
    }
    conn.write_all(&0u32.to_be_bytes())?;
    conn.flush()?;
    let mut reply = Vec::new();
    conn.take(4096).read_to_end(&mut reply)?;
    parse_reply(&String::from_utf8_lossy(&reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_replies_parse() {
        assert_eq!(
            ClamdAddr::parse("unix:/run/clamav/clamd.ctl").expect("unix"),
            ClamdAddr::Unix("/run/clamav/clamd.ctl".into())
        );
        assert!(matches!(
            ClamdAddr::parse("tcp:127.0.0.1:3310"),
            Ok(ClamdAddr::Tcp(_))
        ));
        assert!(ClamdAddr::parse("clamd.sock").is_err());
        assert_eq!(
            parse_reply("stream: OK\0").expect("ok"),
            ClamdVerdict::Clean
        );
        assert_eq!(
            parse_reply("stream: Eicar-Test-Signature FOUND\0").expect("found"),
            ClamdVerdict::Found("Eicar-Test-Signature".into())
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR\0").is_err());
    }

    #[test]
    fn a_dead_socket_is_an_error_not_a_verdict() {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = ClamdAddr::Unix(dir.path().join("none.sock"));
        assert!(matches!(
            scan(&addr, b"x", Duration::from_millis(200)),
            Err(ClamdError::Io(_))
        ));
    }
}
