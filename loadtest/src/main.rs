//! `moat-loadtest`: drives an SMTP server with many connections, each sending messages in
//! pipelined transactions (MAIL, RCPT, DATA in one write), and prints throughput, latency
//! percentiles and errors. With `--sink`, it also runs a counting downstream server and reports
//! every message that got `250` but never arrived there, so losses are counted, not hidden.
//!
//! Example: moat-loadtest --target 127.0.0.1:2525 --rcpt bob@acme.example \
//!            --connections 20 --messages 10000 --sink 127.0.0.1:2526

use std::{
    collections::HashSet,
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;

#[derive(Parser, Clone)]
#[command(
    name = "moat-loadtest",
    about = "SMTP load generator with a loss check"
)]
struct Args {
    /// SMTP server to load (host:port).
    #[arg(long, default_value = "127.0.0.1:2525")]
    target: String,
    /// Recipient of every message (its domain must be protected by the target).
    #[arg(long, default_value = "")]
    rcpt: String,
    /// Envelope sender.
    #[arg(long, default_value = "load@loadtest.test")]
    from: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 20)]
    connections: usize,
    /// Messages in total, spread over the connections.
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Approximate body size in bytes.
    #[arg(long, default_value_t = 2000)]
    size: usize,
    /// Run a counting SMTP sink on this address (the target's downstream) and check for losses.
    #[arg(long)]
    sink: Option<String>,
    /// Seconds to wait for the sink to receive every accepted message.
    #[arg(long, default_value_t = 60)]
    sink_wait: u64,
    /// Send nothing: only run the `--sink` until it has counted `--messages` messages (for
    /// another load generator such as Postfix's smtp-source).
    #[arg(long)]
    sink_only: bool,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    tempfail: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
}

/// Message `id` (unique across connections; the sink finds it in the Subject).
fn message(id: &str, size: usize) -> String {
    let mut body = String::with_capacity(size + 200);
    body.push_str(&format!(
        "From: Load <load@loadtest.test>\r\nTo: <bench@loadtest.test>\r\nSubject: load message {id}\r\nMessage-ID: <{id}@loadtest.test>\r\n\r\n"
    ));
    while body.len() < size {
        body.push_str("The quick brown fox jumps over the lazy dog 0123456789.\r\n");
    }
    body.push_str(".\r\n");
    body
}

fn read_reply(r: &mut BufReader<TcpStream>) -> anyhow::Result<String> {
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

/// Ids of messages: accepted by the target, and seen by the sink.
type IdSet = Mutex<HashSet<String>>;

fn connection(
    args: &Args,
    conn: u64,
    count: u64,
    counters: &Counters,
    hist: &Mutex<Histogram<u64>>,
    accepted_ids: &IdSet,
) -> anyhow::Result<()> {
    let mut local = Histogram::<u64>::new(3)?;
    let result = run_connection(args, conn, count, counters, &mut local, accepted_ids);
    // Merge what was measured even when the connection failed part-way.
    hist.lock()
        .map_err(|_| anyhow::anyhow!("histogram lock"))?
        .add(&local)?;
    result
}

fn run_connection(
    args: &Args,
    conn: u64,
    count: u64,
    counters: &Counters,
    local: &mut Histogram<u64>,
    accepted_ids: &IdSet,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect(&args.target)
        .with_context(|| format!("connecting to {}", args.target))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.set_nodelay(true)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    read_reply(&mut r)?;
    w.write_all(b"EHLO loadtest.test\r\n")?;
    read_reply(&mut r)?;
    for i in 0..count {
        let id = format!("{conn}-{i}");
        let start = Instant::now();
        let envelope = format!(
            "MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
            args.from, args.rcpt
        );
        w.write_all(envelope.as_bytes())?;
        let mail = read_reply(&mut r)?;
        let rcpt = read_reply(&mut r)?;
        let data = read_reply(&mut r)?;
        if !(mail.starts_with('2') && rcpt.starts_with('2') && data.starts_with("354")) {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            w.write_all(b"RSET\r\n")?;
            read_reply(&mut r)?;
            continue;
        }
        w.write_all(message(&id, args.size).as_bytes())?;
        let done = read_reply(&mut r)?;
        let us = start.elapsed().as_micros() as u64;
        match done.as_bytes().first() {
            Some(b'2') => {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                local.record(us.max(1))?;
                accepted_ids
                    .lock()
                    .map_err(|_| anyhow::anyhow!("id lock"))?
                    .insert(id);
            }
            Some(b'4') => {
                counters.tempfail.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = w.write_all(b"QUIT\r\n");
    Ok(())
}

/// A downstream SMTP server that only counts the messages it accepts.
fn counting_sink(addr: &str, received: Arc<AtomicU64>, seen: Arc<IdSet>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).with_context(|| format!("sink cannot bind {addr}"))?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let received = received.clone();
            let seen = seen.clone();
            thread::spawn(move || -> anyhow::Result<()> {
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
                        loop {
                            line.clear();
                            if r.read_line(&mut line)? == 0 {
                                return Ok(());
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            if id.is_none()
                                && let Some(rest) = line.strip_prefix("Subject: load message ")
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
                        w.write_all(b"250-sink\r\n250 PIPELINING\r\n")?;
                    } else {
                        w.write_all(b"250 ok\r\n")?;
                    }
                }
            });
        }
    });
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let received = Arc::new(AtomicU64::new(0));
    let seen: Arc<IdSet> = Arc::default();
    if let Some(addr) = &args.sink {
        counting_sink(addr, received.clone(), seen.clone())?;
    }
    if args.sink_only {
        if args.sink.is_none() {
            bail!("--sink-only needs --sink ADDR");
        }
        let start = Instant::now();
        let deadline = start + Duration::from_secs(args.sink_wait);
        while received.load(Ordering::Relaxed) < args.messages && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let got = received.load(Ordering::Relaxed);
        println!(
            "sink received     {got} of {} expected in {:.1} s",
            args.messages,
            start.elapsed().as_secs_f64()
        );
        if got < args.messages {
            println!("LOST              {}", args.messages - got);
            std::process::exit(2);
        }
        println!("lost              0");
        return Ok(());
    }
    let counters = Arc::new(Counters::default());
    let accepted_ids: Arc<IdSet> = Arc::default();
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let start = Instant::now();
    let mut threads = Vec::new();
    for c in 0..args.connections as u64 {
        let per = args.messages / args.connections as u64
            + u64::from(c < args.messages % args.connections as u64);
        let (args, counters, hist) = (args.clone(), counters.clone(), hist.clone());
        let accepted_ids = accepted_ids.clone();
        threads.push(thread::spawn(move || {
            if let Err(e) = connection(&args, c, per, &counters, &hist, &accepted_ids) {
                eprintln!("connection {c}: {e:#}");
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let accepted = counters.accepted.load(Ordering::Relaxed);
    let h = hist.lock().map_err(|_| anyhow::anyhow!("histogram lock"))?;
    println!("target            {}", args.target);
    println!("connections       {}", args.connections);
    println!("messages sent     {}", args.messages);
    println!("accepted (2xx)    {accepted}");
    println!(
        "tempfail (4xx)    {}",
        counters.tempfail.load(Ordering::Relaxed)
    );
    println!(
        "rejected (5xx)    {}",
        counters.rejected.load(Ordering::Relaxed)
    );
    println!(
        "connection errors {}",
        counters.errors.load(Ordering::Relaxed)
    );
    println!("elapsed           {secs:.2} s");
    println!("throughput        {:.0} msg/s", accepted as f64 / secs);
    println!(
        "latency (ms)      p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    );
    drop(h);
    if args.sink.is_some() {
        // Lost = accepted by the target (got 250) but never seen by the sink, by message id.
        let missing = || -> usize {
            let accepted = accepted_ids.lock().map(|a| a.clone()).unwrap_or_default();
            let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
            accepted.difference(&seen).count()
        };
        let deadline = Instant::now() + Duration::from_secs(args.sink_wait);
        while missing() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let got = received.load(Ordering::Relaxed);
        let unique = seen.lock().map(|s| s.len()).unwrap_or(0);
        println!(
            "sink received     {got} ({unique} distinct, {} duplicates)",
            got as usize - unique.min(got as usize)
        );
        let lost = missing();
        if lost > 0 {
            println!("LOST              {lost}");
            std::process::exit(2);
        }
        println!("lost              0");
    }
    Ok(())
}
