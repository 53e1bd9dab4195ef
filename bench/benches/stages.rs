//! The stages of Moat's path that the other benches do not cover, on the same realistic
//! messages: SMTP command parsing, DATA framing (dot-unstuffing and end-of-data search),
//! verdict encoding, and batched verdict writes to SQLite (WAL, one transaction per batch).
//! Run: `cargo bench -p moat-bench --bench stages`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use moat_bench::{html_newsletter, small_plain, with_attachment};
use moat_core::{
    model::{
        Action, AuthCheck, AuthResult, AuthSummary, DmarcCheck, Finding, Severity, ThreatType,
        VerdictRecord,
    },
    store::{Store, sqlite::SqliteStore},
};
use moat_scanner::data::DataReader;
use smtp_proto::{Error as SmtpError, request::receiver::RequestReceiver};

/// One transaction's commands as a pipelining client sends them.
const COMMANDS: &[u8] =
    b"EHLO mail.sender.test\r\nMAIL FROM:<alice@sender.test> SIZE=2048 BODY=8BITMIME\r\n\
RCPT TO:<bob@acme.example>\r\nRCPT TO:<carol@acme.example>\r\nDATA\r\n";

fn smtp_commands(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp_commands");
    g.throughput(Throughput::Elements(5));
    g.bench_function("ehlo_mail_2rcpt_data", |b| {
        b.iter(|| {
            let mut rx = RequestReceiver::default();
            let mut iter = COMMANDS.iter();
            let mut n = 0;
            loop {
                match rx.ingest(&mut iter) {
                    Ok(_) => n += 1,
                    Err(SmtpError::NeedsMoreData { .. }) => break,
                    Err(_) => n += 1,
                }
            }
            n
        })
    });
    g.finish();
}

/// The message as it arrives on the wire: dot-stuffed, ending in CRLF.CRLF.
fn wire(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut line_start = true;
    for &b in raw {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn data_framing(c: &mut Criterion) {
    let mut g = c.benchmark_group("data_framing");
    for (name, raw) in [
        ("small_plain", small_plain()),
        ("html_4k", html_newsletter()),
        ("attach_60k", with_attachment()),
    ] {
        let input = wire(&raw);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, input| {
            let mut out = Vec::with_capacity(input.len());
            b.iter(|| {
                out.clear();
                let mut reader = DataReader::new();
                // Fed in 16 KiB reads, as the session does.
                let mut done = None;
                for chunk in input.chunks(16 * 1024) {
                    done = reader.feed(chunk, &mut out);
                }
                (done, out.len())
            })
        });
    }
    g.finish();
}

fn verdict(i: usize) -> VerdictRecord {
    let pass = |domain: &str| AuthCheck {
        result: AuthResult::Pass,
        domain: domain.into(),
        ..Default::default()
    };
    VerdictRecord {
        id: format!("01937c2e-0000-7000-8000-{i:012}"),
        queue_id: format!("01937c2e-0000-7000-9000-{i:012}"),
        received_at: 1_795_420_800_000 + i as i64,
        customer_id: "c-bench".into(),
        domain_id: "d-bench".into(),
        client_ip: "203.0.113.7".into(),
        mail_from: "bounce@sender.test".into(),
        rcpt_to: vec!["bob@acme.example".into()],
        from_header: "Alice Example <alice@sender.test>".into(),
        subject: "Lunch on Thursday?".into(),
        size: 2_048,
        action: Action::Quarantine,
        threat_type: Some(ThreatType::Spam),
        notify_admin: false,
        findings: vec![Finding {
            rule: "block crypto offers".into(),
            threat_type: ThreatType::Spam,
            field: "body".into(),
            part: Some(0),
            range: Some((120, 134)),
            matched: "crypto wallet".into(),
            severity: Severity::Medium,
            score: None,
        }],
        auth: Some(AuthSummary {
            spf: pass("sender.test"),
            dkim: vec![pass("sender.test")],
            arc: AuthCheck::default(),
            dmarc: DmarcCheck {
                result: AuthResult::Pass,
                domain: "sender.test".into(),
                policy: "reject".into(),
                reason: None,
            },
        }),
        transport: Some(moat_core::model::Transport {
            inbound_tls: Some("TLSv1.3".into()),
            outbound_tls: None,
        }),
    }
}

fn verdict_encode(c: &mut Criterion) {
    let v = verdict(1);
    let mut g = c.benchmark_group("verdict_encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("json", |b| {
        b.iter(|| serde_json::to_vec(&v).map(|x| x.len()))
    });
    g.finish();
}

/// Verdicts in batches of 64 through the SQLite store's writer thread: one transaction per
/// batch, WAL, synchronous=NORMAL, as the shards' batched writes arrive.
fn sqlite_batched_write(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("bench.db"), 1).expect("store opens");
    let mut next = 0usize;
    let mut g = c.benchmark_group("sqlite_verdict_write");
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch_64", |b| {
        b.iter(|| {
            let batch: Vec<VerdictRecord> = (0..64).map(|k| verdict(next + k)).collect();
            next += 64;
            futures::executor::block_on(store.record_verdicts(batch)).expect("write")
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    smtp_commands,
    data_framing,
    verdict_encode,
    sqlite_batched_write
);
criterion_main!(benches);
