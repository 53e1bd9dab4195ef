//! API load mode: one token's requests against one path (the quarantine listing by default)
//! over keep-alive HTTP/1.1 connections, counting answers by status and checking the rate
//! limiter's contract on each: `X-RateLimit-*` on every response, `Retry-After` on every 429.

use std::{
    collections::BTreeMap,
    io::{BufReader, Write},
    net::TcpStream,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::clients::header;

#[derive(Default)]
pub struct ApiTotals {
    pub by_status: BTreeMap<u16, u64>,
    pub missing_ratelimit_headers: u64,
    pub missing_retry_after: u64,
    pub errors: u64,
}

/// Runs `requests` GETs of `path` on one connection, reconnecting when the server closes it.
pub fn run_connection(
    target: &str,
    path: &str,
    token: &str,
    requests: u64,
    totals: &Mutex<ApiTotals>,
    hist: &mut Histogram<u64>,
) -> anyhow::Result<()> {
    let mut conn: Option<BufReader<TcpStream>> = None;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nAuthorization: Bearer {token}\r\nConnection: keep-alive\r\n\r\n"
    );
    for _ in 0..requests {
        let mut r = match conn.take() {
            Some(r) => r,
            None => {
                let s = TcpStream::connect(target)
                    .with_context(|| format!("connecting to {target}"))?;
                s.set_read_timeout(Some(Duration::from_secs(30)))?;
                s.set_nodelay(true)?;
                BufReader::new(s)
            }
        };
        let start = Instant::now();
        r.get_mut().write_all(request.as_bytes())?;
        let (status, headers, _body) = match crate::clients::read_http_response(&mut r) {
            Ok(x) => x,
            Err(_) => {
                totals.lock().map_err(|_| anyhow::anyhow!("lock"))?.errors += 1;
                continue;
            }
        };
        hist.record((start.elapsed().as_micros() as u64).max(1))?;
        let mut t = totals.lock().map_err(|_| anyhow::anyhow!("lock"))?;
        *t.by_status.entry(status).or_default() += 1;
        if status != 401
            && [
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
            ]
            .iter()
            .any(|h| header(&headers, h).is_none())
        {
            t.missing_ratelimit_headers += 1;
        }
        if status == 429 && header(&headers, "retry-after").is_none() {
            t.missing_retry_after += 1;
        }
        if header(&headers, "connection").is_none_or(|v| !v.eq_ignore_ascii_case("close")) {
            conn = Some(r);
        }
    }
    Ok(())
}
