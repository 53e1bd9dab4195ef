//! The shards' handle to ClamAV. clamd is spoken to with blocking sockets, so scans run on a
//! few threads of their own ("moat-clamd"); a shard sends the message buffer there and awaits
//! it back with clamd's verdict through a oneshot, never blocking its event loop.

use anyhow::Context;
use futures::channel::oneshot;
use moat_core::{
    config::Config,
    detect::clamd::{self, ClamdAddr, ClamdVerdict},
};

type Reply = (Result<ClamdVerdict, String>, Vec<u8>);

struct Job {
    raw: Vec<u8>,
    reply: oneshot::Sender<Reply>,
}

pub struct ClamdHandle {
    jobs: flume::Sender<Job>,
}

impl ClamdHandle {
    /// Starts the scanning threads when `malware.clamd` is set.
    pub fn start(config: &Config) -> anyhow::Result<Option<ClamdHandle>> {
        let Some(addr) = &config.malware.clamd else {
            return Ok(None);
        };
        let addr = ClamdAddr::parse(addr).context("malware.clamd")?;
        let timeout = std::time::Duration::from_millis(config.malware.clamd_timeout_ms.max(1));
        let (jobs, queue) = flume::bounded::<Job>(1024);
        for i in 0..config.malware.clamd_threads.max(1) {
            let (queue, addr) = (queue.clone(), addr.clone());
            std::thread::Builder::new()
                .name(format!("moat-clamd-{i}"))
                .spawn(move || {
                    for job in queue.iter() {
                        let verdict =
                            clamd::scan(&addr, &job.raw, timeout).map_err(|e| e.to_string());
                        let _ = job.reply.send((verdict, job.raw));
                    }
                })
                .context("starting a clamd thread")?;
        }
        tracing::info!(clamd = ?addr, "messages are also scanned by ClamAV");
        Ok(Some(ClamdHandle { jobs }))
    }

    /// Scans a message; gives back clamd's verdict (or why there is none) and the buffer.
    pub fn scan(&self, raw: Vec<u8>) -> impl Future<Output = Reply> + use<> {
        let (tx, rx) = oneshot::channel();
        let sent = self.jobs.send(Job { raw, reply: tx });
        async move {
            match sent {
                Err(flume::SendError(job)) => (Err("clamd threads stopped".into()), job.raw),
                Ok(()) => rx
                    .await
                    .unwrap_or_else(|_| (Err("clamd thread stopped".into()), Vec::new())),
            }
        }
    }
}
