//! The DMARC aggregate reporter: a side thread that, every `dmarc_reports.flush_secs`, moves
//! the shards' counts from memory to the store and sends the reports of periods that ended.
//! Reports are spooled like any message (so they survive restarts and are retried), from the
//! configured report address to each authorised `rua=` address: through `spool.dsn_relay`
//! when set, else to the address's MX.

use std::{sync::Arc, time::Duration};

use moat_core::{
    auth::dmarc_report::{Collector, Destination, Report, Reporter, period_of},
    config::Config,
    spoolfile::SpoolEnvelope,
    store::SharedStore,
    time::{now_ms, rfc5322_now},
};

use crate::{ScannerContext, ticker::Ticker};

/// Who the reports say they are from, with the defaults filled in.
pub fn reporter(config: &Config) -> Reporter {
    let r = &config.dmarc_reports;
    let host = config.hostname.trim_end_matches('.').to_ascii_lowercase();
    Reporter {
        org_name: if r.org_name.is_empty() {
            host.clone()
        } else {
            r.org_name.clone()
        },
        email: if r.email.is_empty() {
            format!("dmarc-reports@{host}")
        } else {
            r.email.clone()
        },
        extra_contact_info: r.extra_contact_info.clone(),
        submitter: host,
    }
}

/// Starts the reporter when reports are enabled (`None` otherwise).
/// The reporter's thread flushes the counts one last time when its handle is dropped.
pub fn start(ctx: Arc<ScannerContext>) -> std::io::Result<Option<Ticker>> {
    let Some(collector) = ctx.dmarc_reports.clone() else {
        return Ok(None);
    };
    let every = Duration::from_secs(ctx.config.dmarc_reports.flush_secs.max(1));
    Ticker::start("moat-dmarc", every, move |ticks| {
        // Reports whose addresses could not be checked (DNS failed), with the attempts made;
        // tried again at each tick.
        let mut waiting: Vec<(Report, Vec<Destination>, u32)> = Vec::new();
        loop {
            let last = ticks.wait();
            flush(&ctx.store, &collector);
            if last {
                break;
            }
            for (report, destinations, tries) in std::mem::take(&mut waiting) {
                retry_later(&mut waiting, &ctx, report, destinations, tries);
            }
            for (report, destinations) in take_due(&ctx) {
                retry_later(&mut waiting, &ctx, report, destinations, 0);
            }
        }
    })
    .map(Some)
}

/// Moves the counts to the store; on failure they stay for the next flush.
fn flush(store: &SharedStore, collector: &Collector) {
    let rows = collector.drain();
    if rows.is_empty() {
        return;
    }
    if let Err(e) = futures::executor::block_on(store.add_dmarc_rows(rows.clone())) {
        tracing::warn!(error = %e, "DMARC report counts not stored; kept for the next flush");
        collector.restore(rows);
    }
}

/// How often a report whose addresses could not be checked is tried again.
const MAX_TRIES: u32 = 60;

/// Sends a report, or keeps it for the next tick when DNS failed (at most `MAX_TRIES`).
fn retry_later(
    waiting: &mut Vec<(Report, Vec<Destination>, u32)>,
    ctx: &ScannerContext,
    report: Report,
    destinations: Vec<Destination>,
    tries: u32,
) {
    if send(ctx, &report, &destinations) {
        return;
    }
    if tries + 1 >= MAX_TRIES {
        tracing::warn!(domain = %report.published.domain, tries = tries + 1, "DMARC report dropped: its addresses could not be checked in DNS");
    } else {
        waiting.push((report, destinations, tries + 1));
    }
}

/// Takes every report whose period ended out of the store.
fn take_due(ctx: &ScannerContext) -> Vec<(Report, Vec<Destination>)> {
    let period_secs = ctx.config.dmarc_reports.period_secs;
    let current = period_of(now_ms(), period_secs);
    let due = match futures::executor::block_on(ctx.store.dmarc_due(current)) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list due DMARC reports");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (period, domain) in due {
        let rows = match futures::executor::block_on(ctx.store.take_dmarc_rows(period, &domain)) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(%domain, error = %e, "cannot take DMARC report rows");
                continue;
            }
        };
        let report_id = format!("{}.{}", period / 1000, uuid::Uuid::now_v7().simple());
        out.extend(Report::from_rows(&rows, period_secs, report_id));
    }
    out
}

/// Mails one report to each of its authorised destinations within their size limits; false
/// when DNS failed checking the addresses (nothing was sent: try again later).
fn send(ctx: &ScannerContext, report: &Report, destinations: &[Destination]) -> bool {
    let by = reporter(&ctx.config);
    let domain = &report.published.domain;
    let Some(auth) = &ctx.auth else { return true };
    let addresses: Vec<String> = destinations.iter().map(|d| d.address.clone()).collect();
    let allowed = match futures::executor::block_on(
        auth.report_addresses(domain.clone(), addresses.clone()),
    ) {
        Some(allowed) => allowed,
        None => {
            tracing::warn!(%domain, "DNS failed checking DMARC report addresses; trying again later");
            return false;
        }
    };
    for d in destinations {
        if !allowed.contains(&d.address) {
            tracing::info!(%domain, address = %d.address, "DMARC report address outside the domain is not authorised (RFC 7489 7.1); not sent there");
            continue;
        }
        let body = match report.to_message(&by, &[d.address.as_str()], &rfc5322_now()) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(%domain, error = %e, "cannot build a DMARC report");
                return true;
            }
        };
        if d.max_size > 0 && body.len() as u64 > d.max_size {
            tracing::warn!(%domain, address = %d.address, size = body.len(), limit = d.max_size, "DMARC report over the address's size limit; not sent there");
            continue;
        }
        let rcpt_domain = d.address.rsplit_once('@').map_or("", |(_, h)| h);
        let env = SpoolEnvelope {
            id: format!(
                "dmarc-{}-{}",
                report.report_id,
                uuid::Uuid::now_v7().simple()
            ),
            queue_id: report.report_id.clone(),
            created_at: now_ms(),
            mail_from: by.email.clone(),
            rcpts: vec![d.address.clone()],
            host: ctx
                .config
                .spool
                .dsn_relay
                .clone()
                .unwrap_or_else(|| format!("mx:{rcpt_domain}")),
            smtputf8: false,
            eight_bit: false,
            customers: Vec::new(),
            tls: Default::default(),
            allow_internal: false,
        };
        let (written, body) = futures::executor::block_on(ctx.spool.write(env.clone(), body));
        match written {
            Ok(()) => {
                tracing::info!(%domain, address = %d.address, report_id = %report.report_id, records = report.rows.len(), "DMARC report queued");
                ctx.spool.submit(env, Some(body));
            }
            Err(e) => {
                tracing::error!(%domain, error = %e, "cannot spool a DMARC report; it is lost")
            }
        }
    }
    true
}
