//! The embedded default backend: one SQLite file in WAL mode.
//!
//! One writer thread owns the only read-write connection. It drains every queued write, runs
//! each in its own savepoint inside one transaction, commits once (`synchronous=FULL`: the WAL
//! is fsynced) and only then answers the waiters. That is group commit: under load, hundreds of
//! verdicts and quarantined messages share one fsync, and a quarantined message's waiter learns
//! of success only when its bytes are durable. Reads run on a small pool of read-only
//! connections, which WAL lets proceed while the writer commits.
//!
//! # Layout
//! - this module: the store's threads and connections (settings, the writer's group commit,
//!   the reader pool);
//! - `migrations`: the schema, one migration per change; `rows`: column lists, row mapping
//!   and JSON columns; `statements`: the `Store` methods, each one statement or transaction;
//!   `coordination`: rate counts, leases and claims shared by every host on the file.

mod coordination;
mod migrations;
mod rows;
mod statements;

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::Path,
    thread,
};

use futures::channel::oneshot;
use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;
use crate::store::StoreFuture;

/// Writes per group commit at most; more wait for the next transaction.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type WriteJob = Box<dyn FnOnce(&Connection) -> Completion + Send>;
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// The SQLite store. Cheap to share: it only holds channel ends.
pub struct SqliteStore {
    writer: flume::Sender<WriteJob>,
    readers: flume::Sender<ReadJob>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn run_guarded<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(StoreError::Backend("store operation panicked".into())))
}

fn writer_loop(conn: Connection, jobs: flume::Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let m = crate::metrics::metrics();
        m.store_queue_depth.set(jobs.len() as i64);
        let started = std::time::Instant::now();
        let began = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(&conn)).collect();
        let commit = if began {
            conn.execute_batch("COMMIT").map_err(backend)
        } else {
            Ok(())
        };
        if let Err(e) = &commit {
            tracing::error!(error = %e, "store commit failed; rolling back the batch");
            let _ = conn.execute_batch("ROLLBACK");
        }
        m.store_write_duration
            .with_label_values(&[if commit.is_ok() { "ok" } else { "error" }])
            .observe(started.elapsed().as_secs_f64());
        for done in completions {
            done(commit.clone());
        }
    }
}

fn reader_loop(conn: Connection, jobs: flume::Receiver<ReadJob>) {
    while let Ok(job) = jobs.recv() {
        job(&conn);
    }
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path` with `readers` read threads.
    pub fn open(path: &Path, readers: usize) -> Result<SqliteStore, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(open_err)?;
        migrations::migrate(&mut conn)?;
        let (wtx, wrx) = flume::unbounded::<WriteJob>();
        thread::Builder::new()
            .name("moat-sqlite-writer".into())
            .spawn(move || writer_loop(conn, wrx))
            .map_err(backend)?;
        let (rtx, rrx) = flume::unbounded::<ReadJob>();
        for i in 0..readers.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(open_err)?;
            conn.execute_batch("PRAGMA busy_timeout = 5000;")
                .map_err(open_err)?;
            let rx = rrx.clone();
            thread::Builder::new()
                .name(format!("moat-sqlite-reader-{i}"))
                .spawn(move || reader_loop(conn, rx))
                .map_err(backend)?;
        }
        Ok(SqliteStore {
            writer: wtx,
            readers: rtx,
        })
    }

    /// Runs `f` in its own savepoint inside the writer's next group commit.
    fn write<T, F>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn: &Connection| {
            let result = run_guarded(|| {
                conn.execute_batch("SAVEPOINT job")?;
                match f(conn) {
                    Ok(v) => {
                        conn.execute_batch("RELEASE job")?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                        Err(e)
                    }
                }
            });
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(result.and_then(|v| commit.map(|()| v)));
            })
        });
        let sent = self.writer.send(job).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }

    /// Runs `f` on a read connection.
    fn read<T, F>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn: &Connection| {
            let _ = tx.send(run_guarded(|| f(conn)));
        });
        let sent = self.readers.send(job).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }
}
