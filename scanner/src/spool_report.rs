//! Each scanner's spool report: every few seconds, how many messages of each customer wait in
//! this node's spool and since when, written to the store (`Store::put_spool_report`), so
//! `GET /v1/stats` on any API host of a cluster counts every node's spool, not only its own.
//! A node that stops reporting drops out of the figures a minute later.

use std::{collections::HashSet, sync::Arc, time::Duration};

use moat_core::{
    spoolfile,
    store::{SharedStore, SpoolRow},
    time::now_ms,
};

use crate::{ScannerContext, ticker::Ticker};

/// How often a scanner reports.
pub const EVERY: Duration = Duration::from_secs(5);
/// How long a report counts without being renewed (ms).
pub const KEEP_MS: i64 = 60_000;

/// Starts reporting this node's spool (until the handle is dropped).
pub fn start(ctx: Arc<ScannerContext>) -> std::io::Result<Ticker> {
    let node = spoolfile::node_id(&ctx.config);
    let queue = ctx.config.data_dir.join("spool").join("queue");
    Ticker::start("moat-spool-report", EVERY, move |ticks| {
        // Customers reported last time: one whose mail all left is reported at 0 once, so
        // its figure drops at once rather than when the report expires.
        let mut last: HashSet<String> = HashSet::new();
        loop {
            last = report(&ctx.store, &node, &queue, last);
            if ticks.wait() {
                return;
            }
        }
    })
}

/// One report; answers the customers it reported with messages waiting.
fn report(
    store: &SharedStore,
    node: &str,
    queue: &std::path::Path,
    last: HashSet<String>,
) -> HashSet<String> {
    let by_customer = match spoolfile::stats_by_customer(queue) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "spool not scanned for the spool report");
            return last;
        }
    };
    let now: HashSet<String> = by_customer.keys().cloned().collect();
    let mut rows: Vec<SpoolRow> = by_customer
        .into_iter()
        .map(|(customer_id, s)| SpoolRow {
            node: node.to_string(),
            customer_id,
            depth: s.depth,
            oldest_ms: s.oldest_ms,
        })
        .collect();
    rows.extend(last.difference(&now).map(|customer_id| SpoolRow {
        node: node.to_string(),
        customer_id: customer_id.clone(),
        depth: 0,
        oldest_ms: None,
    }));
    if rows.is_empty() {
        return now;
    }
    match futures::executor::block_on(store.put_spool_report(rows, now_ms() + KEEP_MS)) {
        Ok(()) => now,
        Err(e) => {
            tracing::warn!(error = %e, "spool report not stored");
            // Report the gone customers again next time.
            now.union(&last).cloned().collect()
        }
    }
}
