//! The shards' handle to archive inspection. Inflating a message's zip, tar and gzip
//! attachments is the one part of content scanning whose cost an attacker chooses (hundreds of
//! small archives, each within its own limits), so it runs on a few threads of its own
//! ("moat-inspect") under one budget per message, and the shard awaits the findings through a
//! oneshot: while one message's archives are opened, the shard keeps greeting and serving
//! other clients.

use std::time::Duration;

use anyhow::Context;
use futures::channel::oneshot;
use moat_core::{
    config::Config,
    detect::{
        archive::Limits,
        malware::{self, ArchiveJob},
    },
    model::{Finding, Severity, ThreatType},
};

struct Job {
    archives: Vec<ArchiveJob>,
    reply: oneshot::Sender<Vec<Finding>>,
}

pub struct InspectHandle {
    jobs: flume::Sender<Job>,
}

impl InspectHandle {
    /// Starts `malware.inspect_threads` threads.
    pub fn start(config: &Config) -> anyhow::Result<InspectHandle> {
        let limits = Limits {
            max_time: Duration::from_millis(config.malware.inspect_budget_ms.max(1)),
            max_total: config.malware.inspect_max_bytes.max(1),
            ..Limits::default()
        };
        // Bounded: when every thread is busy and the queue is full, shards wait their turn
        // (their other sessions go on) instead of piling up work without limit.
        let (jobs, queue) = flume::bounded::<Job>(256);
        for i in 0..config.malware.inspect_threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("moat-inspect-{i}"))
                .spawn(move || {
                    for job in queue.iter() {
                        let findings = malware::inspect_archives(&job.archives, limits);
                        let _ = job.reply.send(findings);
                    }
                })
                .context("starting an archive inspection thread")?;
        }
        Ok(InspectHandle { jobs })
    }

    /// The findings of a message's archives. If the threads are gone the message is
    /// unscannable (quarantined), never clean.
    pub async fn inspect(&self, archives: Vec<ArchiveJob>) -> Vec<Finding> {
        if archives.is_empty() {
            return Vec::new();
        }
        let (tx, rx) = oneshot::channel();
        let lost = || {
            vec![Finding {
                rule: "malware.archive_over_budget".into(),
                threat_type: ThreatType::Malware,
                field: "message".into(),
                part: None,
                range: None,
                matched: "archive inspection unavailable".into(),
                severity: Severity::High,
                score: None,
            }]
        };
        if self
            .jobs
            .send_async(Job {
                archives,
                reply: tx,
            })
            .await
            .is_err()
        {
            return lost();
        }
        rx.await.unwrap_or_else(|_| lost())
    }
}
