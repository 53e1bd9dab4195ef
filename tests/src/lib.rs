//! Helpers for Moat's end-to-end tests: a real downstream SMTP sink, a Moat started in-process
//! on loopback ports over a temporary SQLite file, real SMTP clients (Python smtplib, swaks, raw
//! TCP) and real HTTP calls.

pub mod clamd;
pub mod client;
pub mod dns;
pub mod harness;
pub mod process;
pub mod receiver;
pub mod sink;

/// SpamAssassin's sample spam as Debian's `spamassassin` package installs it (the set-up does).
pub const SA_SAMPLE_SPAM: &str = "/usr/share/doc/spamassassin/examples/sample-spam.txt";

/// Polls `probe` every 50 ms until it returns `Ok`, for at most `secs` seconds; then fails the
/// test with `what` and the probe's last `Err` (what it saw). For state that changes
/// asynchronously: batched verdicts, spool files, snapshot reloads.
pub fn eventually<T>(secs: u64, what: &str, probe: impl FnMut() -> Result<T, String>) -> T {
    eventually_every(secs, std::time::Duration::from_millis(50), what, probe)
}

/// [`eventually`], probing every `every`: for probes that spend a request budget.
pub fn eventually_every<T>(
    secs: u64,
    every: std::time::Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match probe() {
            Ok(v) => return v,
            Err(seen) => assert!(std::time::Instant::now() < deadline, "{what}: {seen}"),
        }
        std::thread::sleep(every);
    }
}

/// Waits until at least `secs` seconds are left in the current UTC minute. The API's request
/// budgets use clock-aligned windows (every host of a cluster computes the same minute), so a
/// test that counts a minute's budget must not straddle a minute's end.
pub fn within_one_minute_window(secs: u64) {
    let now = moat_core::time::now_ms();
    let left = 60_000 - now.rem_euclid(60_000);
    let need = (secs.min(50) * 1000) as i64;
    if left < need {
        std::thread::sleep(std::time::Duration::from_millis((left + 50) as u64));
    }
}
