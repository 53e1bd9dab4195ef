//! A downstream SMTP server that only counts what it accepts, by the `X-Load-Id` header the
//! generator put on every message, so a message that got `250` upstream and never arrived is
//! reported as lost rather than hidden in a total.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    thread,
};

use anyhow::Context;

/// Ids of messages (accepted by the target, or seen by the sink).
pub type IdSet = Mutex<HashSet<String>>;

pub struct Sink {
    pub received: Arc<AtomicU64>,
    pub seen: Arc<IdSet>,
}

/// Binds `addr` and serves every connection on its own thread until the process ends.
pub fn start(addr: &str) -> anyhow::Result<Sink> {
    let listener = TcpListener::bind(addr).with_context(|| format!("sink cannot bind {addr}"))?;
    let sink = Sink {
        received: Arc::default(),
        seen: Arc::default(),
    };
    let (received, seen) = (sink.received.clone(), sink.seen.clone());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (received, seen) = (received.clone(), seen.clone());
            thread::spawn(move || serve(stream, &received, &seen));
        }
    });
    Ok(sink)
}

fn serve(stream: std::net::TcpStream, received: &AtomicU64, seen: &IdSet) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 sink\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd == "DATA" {
            w.write_all(b"354 go\r\n")?;
            let mut id = None;
            let mut in_header = true;
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                if line == "\r\n" {
                    in_header = false;
                }
                if in_header
                    && id.is_none()
                    && let Some(rest) = line.strip_prefix("X-Load-Id: ")
                {
                    id = Some(rest.trim_end().to_string());
                }
            }
            if let Some(id) = id
                && let Ok(mut set) = seen.lock()
            {
                set.insert(id);
            }
            received.fetch_add(1, Ordering::Relaxed);
            w.write_all(b"250 ok\r\n")?;
        } else if cmd == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if cmd.starts_with("EHLO") {
            w.write_all(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")?;
        } else {
            w.write_all(b"250 ok\r\n")?;
        }
    }
}
