//! `moat-loadtest`: drives a mail scanner with many connections and prints throughput, latency
//! percentiles (HdrHistogram) and errors.
//!
//! - Protocols: SMTP (pipelined MAIL/RCPT/DATA, as Moat and any MTA take mail), Rspamd's HTTP
//!   `/checkv2` and SpamAssassin's spamc, so one tool loads every engine of `bench/compare.sh`.
//! - Closed loop (each connection sends as soon as it is answered: the peak) or open loop
//!   (`--rate`: a fixed schedule; latency counts from the scheduled time, so a slow server
//!   cannot hide queueing).
//! - Messages from a `moat-corpus` directory (envelopes from its manifest) or one generated
//!   message; `--results` writes what the engine answered for each corpus message.
//! - `--sink`: a counting downstream server; every message that got `250` but never arrived
//!   there is reported as lost (exit 2).
//! - `--idle N`: opens N SMTP connections that only say EHLO and holds them (memory per
//!   connection), and `--protocol api`: an API client for the quarantine listing and the rate
//!   limiter.
//!
//! Example: moat-loadtest --target 127.0.0.1:2525 --rcpt bob@acme.example \
//!            --connections 20 --messages 10000 --sink 127.0.0.1:2526

mod api;
mod clients;
mod corpus;
mod sink;

use std::{
    collections::BTreeMap,
    path::PathBuf,
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
use serde_json::json;

use clients::{Class, Client, Protocol};
use corpus::Corpus;
use sink::IdSet;

#[derive(Parser, Clone)]
#[command(
    name = "moat-loadtest",
    about = "Load generator for SMTP, Rspamd and spamd, with a loss check and an API mode"
)]
struct Args {
    /// Server to load (host:port).
    #[arg(long, default_value = "127.0.0.1:2525")]
    target: String,
    /// How messages reach the server; `api` loads the REST API instead (see --api-path).
    #[arg(long, value_enum, default_value = "smtp")]
    protocol: Mode,
    /// A directory written by `moat-corpus` (manifest.tsv + msgs/); otherwise one generated
    /// message of --size bytes from --from to --rcpt.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Recipient of every message (its domain must be protected by the target); with --corpus
    /// it replaces the manifest's.
    #[arg(long, default_value = "")]
    rcpt: String,
    /// Envelope sender of the generated message.
    #[arg(long, default_value = "load@loadtest.test")]
    from: String,
    /// Approximate size of the generated message in bytes.
    #[arg(long, default_value_t = 2000)]
    size: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 20)]
    connections: usize,
    /// Messages (or API requests) in total, spread over the connections.
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Run for this many seconds instead of a message count.
    #[arg(long)]
    duration: Option<f64>,
    /// Open loop: offer this many messages per second in all (needs --duration or
    /// --messages); 0 = closed loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// The client address Rspamd is told the message came from (its `IP:` header).
    #[arg(long, default_value = "192.0.2.10")]
    client_ip: String,
    /// Write each corpus message's first answer here: `name<TAB>reply or symbols`.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Write the run's figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
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
    /// Open this many idle SMTP connections (EHLO, then nothing) and hold them for --hold
    /// seconds, then close them.
    #[arg(long)]
    idle: Option<usize>,
    #[arg(long, default_value_t = 10.0)]
    hold: f64,
    /// API mode: the path to request.
    #[arg(long, default_value = "/v1/quarantine?limit=50")]
    api_path: String,
    /// API mode: the bearer token.
    #[arg(long, env = "MOAT_TOKEN", default_value = "")]
    token: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum Mode {
    Smtp,
    Rspamd,
    Spamc,
    Api,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    tempfail: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

/// What the connection threads share.
struct Shared {
    args: Args,
    protocol: Protocol,
    corpus: Corpus,
    counters: Counters,
    hist: Mutex<Histogram<u64>>,
    accepted_ids: IdSet,
    results: Mutex<BTreeMap<String, String>>,
    /// Next message number (closed loop).
    next: AtomicU64,
    start: Instant,
    deadline: Option<Instant>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if args.rate < 0.0 || !args.rate.is_finite() {
        bail!("--rate must be a positive number of messages per second");
    }
    if let Some(n) = args.idle {
        return idle(&args, n);
    }
    if args.protocol == Mode::Api {
        return api_mode(&args);
    }
    let sink = match &args.sink {
        Some(addr) => Some(sink::start(addr)?),
        None => None,
    };
    if args.sink_only {
        let Some(sink) = sink else {
            bail!("--sink-only needs --sink ADDR");
        };
        return sink_only(&args, &sink);
    }
    let protocol = match args.protocol {
        Mode::Smtp => Protocol::Smtp,
        Mode::Rspamd => Protocol::Rspamd,
        Mode::Spamc => Protocol::Spamc,
        Mode::Api => unreachable!("handled above"),
    };
    let corpus = match &args.corpus {
        Some(dir) => Corpus::load(dir, (!args.rcpt.is_empty()).then_some(args.rcpt.as_str()))?,
        None => Corpus::generated(args.size, &args.from, &args.rcpt),
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        deadline: args.duration.map(|d| start + Duration::from_secs_f64(d)),
        args: args.clone(),
        protocol,
        corpus,
        counters: Counters::default(),
        hist: Mutex::new(Histogram::<u64>::new(3)?),
        accepted_ids: IdSet::default(),
        results: Mutex::default(),
        next: AtomicU64::new(0),
        start,
    });
    let mut threads = Vec::new();
    for c in 0..args.connections as u64 {
        let shared = shared.clone();
        threads.push(thread::spawn(move || connection_thread(&shared, c)));
    }
    for t in threads {
        let _ = t.join();
    }
    let secs = start.elapsed().as_secs_f64();
    report(&shared, secs, sink.as_ref())
}

/// Message numbers for connection `c`: from the shared counter (closed loop) or every
/// `connections`-th slot of the schedule (open loop), until the count or the time runs out.
fn next_message(shared: &Shared, c: u64, sent_here: u64) -> Option<(u64, Instant)> {
    let args = &shared.args;
    let (n, due) = if args.rate > 0.0 {
        let n = c + sent_here * args.connections as u64;
        let due = shared.start + Duration::from_secs_f64(n as f64 / args.rate);
        (n, due)
    } else {
        (shared.next.fetch_add(1, Ordering::Relaxed), Instant::now())
    };
    let by_count = args.duration.is_none() && n >= args.messages;
    let by_time = shared.deadline.is_some_and(|d| due >= d);
    (!(by_count || by_time)).then_some((n, due))
}

fn connection_thread(shared: &Shared, c: u64) {
    let mut local = match Histogram::<u64>::new(3) {
        Ok(h) => h,
        Err(_) => return,
    };
    let mut client: Option<Client> = None;
    let mut sent_here = 0u64;
    while let Some((n, due)) = next_message(shared, c, sent_here) {
        sent_here += 1;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let item = &shared.corpus.items[(n % shared.corpus.items.len() as u64) as usize];
        if client.is_none() {
            match Client::open(shared.protocol, &shared.args.target, &shared.args.client_ip) {
                Ok(cl) => client = Some(cl),
                Err(e) => {
                    eprintln!("connection {c}: {e:#}");
                    shared.counters.errors.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
        }
        let Some(cl) = client.as_mut() else { continue };
        let id = format!("{c}-{n}");
        let answer = match cl.send(item, &id) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("connection {c}, message {}: {e:#}", item.name);
                shared.counters.errors.fetch_add(1, Ordering::Relaxed);
                client = None;
                continue;
            }
        };
        // Open loop: from the scheduled time, so queueing in the server counts.
        let us = due.elapsed().as_micros() as u64;
        let counters = &shared.counters;
        match answer.class {
            Class::Accepted => {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(item.raw.len() as u64, Ordering::Relaxed);
                let _ = local.record(us.max(1));
                if let Ok(mut ids) = shared.accepted_ids.lock() {
                    ids.insert(id);
                }
            }
            Class::Tempfail => {
                counters.tempfail.fetch_add(1, Ordering::Relaxed);
            }
            Class::Rejected => {
                // A rejection is an answer too: the server did its work.
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                let _ = local.record(us.max(1));
            }
        }
        if shared.args.results.is_some()
            && let Ok(mut results) = shared.results.lock()
        {
            results
                .entry(item.name.clone())
                .or_insert_with(|| answer.detail.clone());
        }
    }
    if let Some(cl) = client {
        cl.close();
    }
    if let Ok(mut h) = shared.hist.lock() {
        let _ = h.add(&local);
    }
}

fn report(shared: &Shared, secs: f64, sink: Option<&sink::Sink>) -> anyhow::Result<()> {
    let args = &shared.args;
    let c = &shared.counters;
    let accepted = c.accepted.load(Ordering::Relaxed);
    let rejected = c.rejected.load(Ordering::Relaxed);
    let answered = accepted + rejected;
    let h = shared
        .hist
        .lock()
        .map_err(|_| anyhow::anyhow!("histogram lock"))?
        .clone();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("target            {} ({:?})", args.target, shared.protocol);
    println!("connections       {}", args.connections);
    if args.rate > 0.0 {
        println!("offered rate      {:.0} msg/s (open loop)", args.rate);
    }
    println!("accepted (2xx)    {accepted}");
    println!("tempfail (4xx)    {}", c.tempfail.load(Ordering::Relaxed));
    println!("rejected (5xx)    {rejected}");
    println!("errors            {}", c.errors.load(Ordering::Relaxed));
    println!("elapsed           {secs:.2} s");
    println!(
        "throughput        {:.0} msg/s, {:.1} MB/s",
        answered as f64 / secs,
        c.bytes.load(Ordering::Relaxed) as f64 / secs / 1e6
    );
    println!(
        "latency (ms)      p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0
    );
    if let Some(path) = &args.results {
        let results = shared
            .results
            .lock()
            .map_err(|_| anyhow::anyhow!("results lock"))?;
        let text: String = results
            .iter()
            .map(|(name, detail)| format!("{name}\t{detail}\n"))
            .collect();
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut lost = 0usize;
    if let Some(sink) = sink {
        // Lost = accepted by the target (got 250) but never seen by the sink, by id.
        let missing = || -> usize {
            let accepted = shared
                .accepted_ids
                .lock()
                .map(|a| a.clone())
                .unwrap_or_default();
            let seen = sink.seen.lock().map(|s| s.clone()).unwrap_or_default();
            accepted.difference(&seen).count()
        };
        let deadline = Instant::now() + Duration::from_secs(args.sink_wait);
        while missing() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let got = sink.received.load(Ordering::Relaxed);
        let unique = sink.seen.lock().map(|s| s.len()).unwrap_or(0);
        println!(
            "sink received     {got} ({unique} distinct, {} duplicates)",
            got as usize - unique.min(got as usize)
        );
        lost = missing();
        println!("lost              {lost}");
    }
    if let Some(path) = &args.json {
        let summary = json!({
            "target": args.target,
            "protocol": format!("{:?}", shared.protocol).to_lowercase(),
            "connections": args.connections,
            "offered_rate": args.rate,
            "accepted": accepted,
            "tempfail": c.tempfail.load(Ordering::Relaxed),
            "rejected": rejected,
            "errors": c.errors.load(Ordering::Relaxed),
            "bytes": c.bytes.load(Ordering::Relaxed),
            "elapsed_s": secs,
            "msgs_per_s": answered as f64 / secs,
            "p50_ms": ms(0.5),
            "p99_ms": ms(0.99),
            "p999_ms": ms(0.999),
            "max_ms": h.max() as f64 / 1000.0,
            "lost": lost,
        });
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if lost > 0 {
        println!("LOST              {lost}");
        std::process::exit(2);
    }
    Ok(())
}

fn sink_only(args: &Args, sink: &sink::Sink) -> anyhow::Result<()> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.sink_wait);
    // With --json, the count so far is rewritten there every 200 ms (for a long-lived sink
    // that another program reads).
    let write_status = |n: u64| {
        if let Some(path) = &args.json {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, json!({ "received": n }).to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    };
    while sink.received.load(Ordering::Relaxed) < args.messages && Instant::now() < deadline {
        write_status(sink.received.load(Ordering::Relaxed));
        thread::sleep(Duration::from_millis(200));
    }
    write_status(sink.received.load(Ordering::Relaxed));
    let got = sink.received.load(Ordering::Relaxed);
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
    Ok(())
}

fn idle(args: &Args, n: usize) -> anyhow::Result<()> {
    let mut open = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        match clients::idle_smtp(&args.target) {
            Ok(s) => open.push(s),
            Err(e) => bail!("idle connection {i} of {n}: {e:#}"),
        }
    }
    println!(
        "idle connections  {} open after {:.2} s; holding {:.0} s",
        open.len(),
        start.elapsed().as_secs_f64(),
        args.hold
    );
    thread::sleep(Duration::from_secs_f64(args.hold));
    drop(open);
    Ok(())
}

fn api_mode(args: &Args) -> anyhow::Result<()> {
    if args.token.is_empty() {
        bail!("--protocol api needs --token (or MOAT_TOKEN)");
    }
    let totals = Arc::new(Mutex::new(api::ApiTotals::default()));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let start = Instant::now();
    let mut threads = Vec::new();
    for c in 0..args.connections as u64 {
        let per = args.messages / args.connections as u64
            + u64::from(c < args.messages % args.connections as u64);
        let (args, totals, hist) = (args.clone(), totals.clone(), hist.clone());
        threads.push(thread::spawn(move || -> anyhow::Result<()> {
            let mut local = Histogram::<u64>::new(3)?;
            let r = api::run_connection(
                &args.target,
                &args.api_path,
                &args.token,
                per,
                &totals,
                &mut local,
            );
            hist.lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .add(&local)?;
            r
        }));
    }
    for t in threads {
        if let Ok(Err(e)) = t.join() {
            eprintln!("api connection: {e:#}");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let t = totals.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let h = hist.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let total: u64 = t.by_status.values().sum();
    println!("target            http://{}{}", args.target, args.api_path);
    println!(
        "requests          {total} in {secs:.2} s ({:.0}/s)",
        total as f64 / secs
    );
    for (status, n) in &t.by_status {
        println!("status {status}        {n}");
    }
    println!("errors            {}", t.errors);
    println!(
        "latency (ms)      p50 {:.2}  p99 {:.2}  p99.9 {:.2}",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0
    );
    println!(
        "rate-limit headers missing on {} responses; Retry-After missing on {} 429s",
        t.missing_ratelimit_headers, t.missing_retry_after
    );
    if t.missing_ratelimit_headers > 0 || t.missing_retry_after > 0 {
        bail!("the rate limiter's headers are missing");
    }
    Ok(())
}
