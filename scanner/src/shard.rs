//! Thread-per-core shards: each is a glommio executor (io_uring) with its own listener on the
//! shared SMTP address (glommio binds with SO_REUSEPORT, so the kernel spreads connections).

use std::{
    cell::Cell,
    net::SocketAddr,
    rc::Rc,
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use futures::{
    channel::oneshot,
    future::{Either, select},
};

use futures_lite::AsyncWriteExt;

use anyhow::{Context, anyhow};
use glommio::{
    LocalExecutorBuilder, Placement,
    net::{TcpListener, TcpStream},
};

use moat_core::metrics::metrics;

use crate::{ScannerContext, session::serve};

/// Running shards.
pub struct Shards {
    /// The address the listeners are bound to (resolves port 0 to the real port).
    pub addr: SocketAddr,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
    stops: Vec<oneshot::Sender<Duration>>,
}

impl Shards {
    /// Blocks until every shard has stopped.
    pub fn join(self) {
        for h in self.handles {
            let _ = h.join();
        }
    }

    /// Graceful stop: every shard closes its listener at once, lets open sessions finish for up
    /// to `grace`, then ends (sessions still open are cut; their clients never got a 250 for
    /// what they were sending, so they retry). Blocks until all shards have ended.
    pub fn stop(mut self, grace: Duration) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(grace);
        }
        self.join();
    }
}

fn spawn_shard(
    index: usize,
    addr: SocketAddr,
    ctx: Arc<ScannerContext>,
    bound: mpsc::Sender<Result<SocketAddr, String>>,
    mut stop: oneshot::Receiver<Duration>,
) -> anyhow::Result<glommio::ExecutorJoinHandle<()>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let placement = if ctx.config.smtp.pin_shards && ctx.config.shard_count() <= cores {
        Placement::Fixed(index)
    } else {
        Placement::Unbound
    };
    LocalExecutorBuilder::new(placement)
        .name(&format!("moat-shard-{index}"))
        .spawn(move || async move {
            let listener = match TcpListener::bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    let _ = bound.send(Err(format!("shard {index} cannot bind {addr}: {e}")));
                    return;
                }
            };
            let _ = bound.send(listener.local_addr().map_err(|e| e.to_string()));
            drop(bound);
            // Sessions open on this shard (single-threaded, so a Cell suffices).
            let open = Rc::new(Cell::new(0usize));
            let grace = loop {
                let accepted = match select(Box::pin(listener.accept()), &mut stop).await {
                    Either::Left((accepted, _)) => accepted,
                    Either::Right((grace, _)) => break grace.unwrap_or_default(),
                };
                match accepted {
                    Ok(stream) => {
                        let peer = stream
                            .peer_addr()
                            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                        let ctx = ctx.clone();
                        let open = open.clone();
                        glommio::spawn_local(async move {
                            let m = metrics();
                            let shard = index.to_string();
                            m.smtp_connections.with_label_values(&[&shard]).inc();
                            let slot = ctx.acquire_ip_slot(peer.ip());
                            let reason = if slot.is_none() {
                                Some("per_ip")
                            } else if open.get() >= ctx.config.smtp.max_connections_per_shard {
                                Some("per_shard")
                            } else {
                                None
                            };
                            if let Some(reason) = reason {
                                m.smtp_connections_refused
                                    .with_label_values(&[reason])
                                    .inc();
                                refuse(stream, &ctx.config.hostname).await;
                                return;
                            }
                            let gauge = m.smtp_sessions_open.with_label_values(&[&shard]);
                            open.set(open.get() + 1);
                            gauge.inc();
                            serve(stream, peer, ctx).await;
                            gauge.dec();
                            open.set(open.get() - 1);
                            drop(slot);
                        })
                        .detach();
                    }
                    Err(e) => {
                        tracing::warn!(shard = index, error = %e, "accept failed");
                        glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            };
            drop(listener);
            let deadline = Instant::now() + grace;
            while open.get() > 0 && Instant::now() < deadline {
                glommio::timer::sleep(Duration::from_millis(20)).await;
            }
            if open.get() > 0 {
                tracing::warn!(
                    shard = index,
                    sessions = open.get(),
                    "shutdown grace over; closing open sessions"
                );
            }
        })
        .map_err(|e| anyhow!("cannot start shard {index}: {e}"))
}

/// Answers a connection over a limit with 421 and closes it (RFC 5321 3.8).
async fn refuse(mut stream: TcpStream, hostname: &str) {
    let reply = format!("421 4.7.0 {hostname} Too many connections, try again later\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.close().await;
}

/// Starts the configured number of shards. Shard 0 binds first so that port 0 (tests) resolves
/// to one real port that the other shards then share.
pub fn start(ctx: Arc<ScannerContext>) -> anyhow::Result<Shards> {
    let count = ctx.config.shard_count();
    let mut handles = Vec::with_capacity(count);
    let mut stops = Vec::with_capacity(count);
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    stops.push(stop_tx);
    handles.push(spawn_shard(
        0,
        ctx.config.smtp.listen,
        ctx.clone(),
        tx,
        stop_rx,
    )?);
    let addr = rx
        .recv()
        .context("shard 0 stopped before binding")?
        .map_err(|e| anyhow!(e))?;
    for i in 1..count {
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        stops.push(stop_tx);
        handles.push(spawn_shard(i, addr, ctx.clone(), tx, stop_rx)?);
        rx.recv()
            .with_context(|| format!("shard {i} stopped before binding"))?
            .map_err(|e| anyhow!(e))?;
    }
    tracing::info!(%addr, shards = count, "SMTP listening");
    Ok(Shards {
        addr,
        handles,
        stops,
    })
}
