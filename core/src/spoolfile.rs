//! The spool file format, shared by the scanner (which writes and delivers spool files) and
//! the API (which reports the spool's depth and age): a magic line, one line of JSON envelope,
//! then the message bytes exactly as accepted.

use std::{
    collections::HashMap,
    io::{self, BufRead, BufReader, Read},
    path::Path,
};

use serde::{Deserialize, Serialize};

const MAGIC: &[u8] = b"MOATSPOOL1\n";

/// What a spool file says about its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolEnvelope {
    /// File stem: unique per message and relay target.
    pub id: String,
    pub queue_id: String,
    pub created_at: i64,
    pub mail_from: String,
    pub rcpts: Vec<String>,
    /// The real server, `host:port`.
    pub host: String,
    pub smtputf8: bool,
    pub eight_bit: bool,
    /// Customers whose recipients this copy carries (for per-customer spool statistics).
    #[serde(default)]
    pub customers: Vec<String>,
    /// STARTTLS on the hop to `host` (the domain's setting when the message was accepted).
    #[serde(default)]
    pub tls: crate::model::RelayTls,
    /// The operator allowed `host` to be an internal address.
    #[serde(default)]
    pub allow_internal: bool,
}

impl SpoolEnvelope {
    /// Where this copy goes: `host`, or for `mx:<domain>` (a DSN) resolved by the caller.
    pub fn route(&self) -> crate::relay::Route {
        crate::relay::Route {
            hostport: self.host.clone(),
            tls: self.tls,
            allow_internal: self.allow_internal,
            tls_name: None,
        }
    }
}

/// Encodes a spool file: magic line, JSON envelope line, then the message bytes.
pub fn header(env: &SpoolEnvelope) -> io::Result<Vec<u8>> {
    let mut h = MAGIC.to_vec();
    serde_json::to_writer(&mut h, env).map_err(io::Error::other)?;
    h.push(b'\n');
    Ok(h)
}

/// Splits a spool file into envelope and message.
pub fn decode(bytes: &[u8]) -> io::Result<(SpoolEnvelope, &[u8])> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a Moat spool file"))?;
    let nl = memchr::memchr(b'\n', rest)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "spool header is cut"))?;
    let env = serde_json::from_slice(&rest[..nl])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((env, &rest[nl + 1..]))
}

/// Reads only the envelope of a spool file (the magic and JSON lines).
pub fn read_envelope(path: &Path) -> io::Result<SpoolEnvelope> {
    let mut r = BufReader::new(std::fs::File::open(path)?.take(64 * 1024));
    let mut magic = Vec::new();
    r.read_until(b'\n', &mut magic)?;
    if magic != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a Moat spool file",
        ));
    }
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(&line))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Depth and age of the spool queue for one customer (or all customers with `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpoolStats {
    pub depth: u64,
    /// Accepted-at time (Unix ms) of the oldest waiting message.
    pub oldest_ms: Option<i64>,
}

/// Calls `f` with the envelope of every message waiting in `queue_dir` (`data_dir/spool/queue`).
fn each_waiting(queue_dir: &Path, mut f: impl FnMut(&SpoolEnvelope)) -> io::Result<()> {
    let entries = match std::fs::read_dir(queue_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("msg") {
            continue;
        }
        // A file delivered and removed meanwhile is simply not counted.
        if let Ok(env) = read_envelope(&path) {
            f(&env);
        }
    }
    Ok(())
}

impl SpoolStats {
    fn add(&mut self, created_at: i64) {
        self.depth += 1;
        self.oldest_ms = Some(self.oldest_ms.map_or(created_at, |o| o.min(created_at)));
    }

    /// Both spools' messages together.
    pub fn merge(&mut self, other: SpoolStats) {
        self.depth += other.depth;
        self.oldest_ms = match (self.oldest_ms, other.oldest_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Scans `queue_dir` (`data_dir/spool/queue`).
pub fn stats(queue_dir: &Path, customer: Option<&str>) -> io::Result<SpoolStats> {
    let mut stats = SpoolStats::default();
    each_waiting(queue_dir, |env| {
        if customer.is_none_or(|c| env.customers.iter().any(|x| x == c)) {
            stats.add(env.created_at);
        }
    })?;
    Ok(stats)
}

/// Scans `queue_dir` once for every customer's figures.
pub fn stats_by_customer(queue_dir: &Path) -> io::Result<HashMap<String, SpoolStats>> {
    let mut by = HashMap::<String, SpoolStats>::new();
    each_waiting(queue_dir, |env| {
        for c in &env.customers {
            by.entry(c.clone()).or_default().add(env.created_at);
        }
    })?;
    Ok(by)
}

/// The name a node's spool reports carry: its hostname and `data_dir`, so a scanner and an API
/// in one process agree, and two hosts never do.
pub fn node_id(config: &crate::config::Config) -> String {
    let dir = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    format!("{}:{}", config.hostname, dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_files_round_trip() {
        let env = SpoolEnvelope {
            id: "Q1-0".into(),
            queue_id: "Q1".into(),
            created_at: 5,
            mail_from: "".into(),
            rcpts: vec!["a@b.example".into()],
            host: "127.0.0.1:25".into(),
            smtputf8: false,
            eight_bit: true,
            customers: vec!["c1".into()],
            tls: crate::model::RelayTls::Required,
            allow_internal: true,
        };
        let mut file = header(&env).expect("header");
        file.extend_from_slice(b"Subject: x\r\n\r\nbody\n\r\n");
        let (back, msg) = decode(&file).expect("decodes");
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("a.msg"), &file).expect("write");
        assert_eq!(
            read_envelope(&dir.path().join("a.msg")).expect("reads"),
            env
        );
        assert_eq!(
            stats(dir.path(), Some("c1")).expect("stats"),
            SpoolStats {
                depth: 1,
                oldest_ms: Some(5)
            }
        );
        assert_eq!(stats(dir.path(), Some("c2")).expect("stats").depth, 0);
        assert_eq!(back, env);
        assert_eq!(msg, b"Subject: x\r\n\r\nbody\n\r\n");
        assert!(decode(b"MOATSPOOL1\n{\"id\"").is_err());
        assert!(decode(b"garbage").is_err());
    }
}
