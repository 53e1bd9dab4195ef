//! Hyperscan scratch spaces kept beside the database they were allocated for. A scan needs
//! one scratch of its own; shards scan concurrently, so each compiled set keeps a small pool
//! (about one scratch per shard) instead of allocating one per message.

use std::sync::Mutex;

use hyperscan::prelude::{BlockDatabase, Matching, Scratch};

/// A pool of scratch spaces for one database.
pub(crate) struct ScratchPool {
    pool: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    /// A pool holding one scratch for `db` (allocating it proves the database usable).
    pub fn for_database(db: &BlockDatabase) -> Result<ScratchPool, String> {
        let first = db.alloc_scratch().map_err(|e| e.to_string())?;
        Ok(ScratchPool {
            pool: Mutex::new(vec![first]),
        })
    }

    /// Scans `text` with `db` (the database this pool was made for), calling `on_match` with
    /// each report's pattern id, start (when the database tracks it) and end offsets.
    pub fn scan(
        &self,
        db: &BlockDatabase,
        text: &[u8],
        mut on_match: impl FnMut(u32, u64, u64) -> Matching,
    ) {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some(scratch) = pooled.or_else(|| db.alloc_scratch().ok()) else {
            tracing::error!("cannot allocate Hyperscan scratch space; field not scanned");
            return;
        };
        if let Err(e) = db.scan(text, &scratch, |id, from, to, _flags| {
            on_match(id, from, to)
        }) {
            tracing::error!(error = %e, "Hyperscan scan failed");
        }
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(scratch);
    }
}
