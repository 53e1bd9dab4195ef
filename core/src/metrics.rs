//! Prometheus metrics of the whole process (scanner shards, spool, store, API), in one registry
//! served at `/metrics`. Names follow Prometheus conventions; labels are bounded sets (verdicts,
//! threat types, outcomes, routes, shard numbers), never per-message values.
//! `docs/METRICS.md` lists every metric; a test checks the list against a live scrape.

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric Moat exports.
pub struct Metrics {
    registry: Registry,
    /// SMTP connections accepted, by shard.
    pub smtp_connections: IntCounterVec,
    /// Connections refused with 421 over a limit, by reason (`per_ip`, `per_shard`).
    pub smtp_connections_refused: IntCounterVec,
    /// Sessions open now, by shard.
    pub smtp_sessions_open: IntGaugeVec,
    /// Final replies to messages, by class (`2xx`, `4xx`, `5xx`).
    pub smtp_message_replies: IntCounterVec,
    /// Verdicts, by verdict and threat type (`none` for clean mail).
    pub messages: IntCounterVec,
    /// Time to parse and judge a message, seconds.
    pub scan_duration: Histogram,
    /// Time to authenticate a message (SPF, DKIM, ARC, DMARC with their DNS look-ups), seconds.
    pub auth_duration: Histogram,
    /// Authentication results, by check (`spf`, `dkim`, `arc`, `dmarc`) and result.
    pub auth_results: IntCounterVec,
    /// Relay attempts to real servers, by mode (`proxy`, `spool`) and outcome.
    pub relay: IntCounterVec,
    /// Messages waiting in the spool.
    pub spool_depth: IntGauge,
    /// Age of the oldest message in the spool, seconds.
    pub spool_oldest_age: IntGauge,
    /// Store writes (group commits), by outcome, and their latency.
    pub store_write_duration: HistogramVec,
    /// Store operations queued for the writer.
    pub store_queue_depth: IntGauge,
    /// API requests, by route pattern and status code.
    pub api_requests: IntCounterVec,
    /// API latency by route pattern, seconds.
    pub api_request_duration: HistogramVec,
    /// API requests refused with 429 by the per-token rate limit.
    pub api_rate_limited: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

impl Metrics {
    /// Creates the zero-valued series of every bounded label set, so dashboards and alerts see
    /// a 0 rather than nothing before the first event.
    fn init_known_series(&self) {
        for reason in ["per_ip", "per_shard"] {
            self.smtp_connections_refused.with_label_values(&[reason]);
        }
        for class in ["2xx", "4xx", "5xx"] {
            self.smtp_message_replies.with_label_values(&[class]);
        }
        for mode in ["proxy", "spool"] {
            for outcome in ["delivered", "tempfail", "permfail"] {
                self.relay.with_label_values(&[mode, outcome]);
            }
        }
        for check in ["spf", "dkim", "arc", "dmarc"] {
            for result in ["pass", "fail", "temperror"] {
                self.auth_results.with_label_values(&[check, result]);
            }
        }
        for outcome in ["ok", "error"] {
            self.store_write_duration.with_label_values(&[outcome]);
        }
        for window in ["hour", "minute"] {
            self.api_rate_limited.with_label_values(&[window]);
        }
    }

    fn new() -> Metrics {
        let r = Registry::new();
        let sessions = IntGaugeVec::new(
            Opts::new(
                "moat_smtp_sessions_open",
                "SMTP sessions open now, by shard",
            ),
            &["shard"],
        )
        .expect("valid metric");
        r.register(Box::new(sessions.clone()))
            .expect("unique metric");
        Metrics {
            smtp_connections: counter(
                &r,
                "moat_smtp_connections_total",
                "SMTP connections accepted, by shard",
                &["shard"],
            ),
            smtp_connections_refused: counter(
                &r,
                "moat_smtp_connections_refused_total",
                "SMTP connections refused with 421 over a connection limit",
                &["reason"],
            ),
            smtp_sessions_open: sessions,
            smtp_message_replies: counter(
                &r,
                "moat_smtp_message_replies_total",
                "Final replies to messages (after DATA or BDAT LAST), by class",
                &["class"],
            ),
            messages: counter(
                &r,
                "moat_messages_total",
                "Verdicts per recipient domain, by verdict and threat type",
                &["verdict", "threat_type"],
            ),
            scan_duration: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "moat_scan_duration_seconds",
                        "Time to parse a message and evaluate its domains' policies",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                )
                .expect("valid metric");
                r.register(Box::new(h.clone())).expect("unique metric");
                h
            },
            auth_duration: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "moat_auth_duration_seconds",
                        "Time to check SPF, DKIM, ARC and DMARC of a message, DNS included",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                )
                .expect("valid metric");
                r.register(Box::new(h.clone())).expect("unique metric");
                h
            },
            auth_results: counter(
                &r,
                "moat_auth_results_total",
                "Sender authentication results, by check and result (temperror: DNS failed)",
                &["check", "result"],
            ),
            relay: counter(
                &r,
                "moat_relay_total",
                "Relay attempts to real servers, by delivery mode and outcome",
                &["mode", "outcome"],
            ),
            spool_depth: gauge(&r, "moat_spool_depth", "Messages waiting in the spool"),
            spool_oldest_age: gauge(
                &r,
                "moat_spool_oldest_age_seconds",
                "Age of the oldest message waiting in the spool",
            ),
            store_write_duration: histogram(
                &r,
                "moat_store_write_duration_seconds",
                "Duration of the store writer's group commits, by outcome",
                &["outcome"],
            ),
            store_queue_depth: gauge(
                &r,
                "moat_store_queue_depth",
                "Store writes waiting for the writer thread",
            ),
            api_requests: counter(
                &r,
                "moat_api_requests_total",
                "API requests, by route pattern and status code",
                &["route", "status"],
            ),
            api_request_duration: histogram(
                &r,
                "moat_api_request_duration_seconds",
                "API request latency, by route pattern",
                &["route"],
            ),
            api_rate_limited: counter(
                &r,
                "moat_api_rate_limited_total",
                "API requests refused with 429 by the per-token rate limit, by window",
                &["window"],
            ),
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = Metrics::new();
        m.init_known_series();
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_help_and_type() {
        let m = metrics();
        m.messages.with_label_values(&["deliver", "none"]).inc();
        m.spool_depth.set(3);
        let text = m.render();
        assert!(text.contains("# TYPE moat_messages_total counter"));
        assert!(text.contains("moat_messages_total{threat_type=\"none\",verdict=\"deliver\"}"));
        assert!(text.contains("moat_spool_depth 3"));
    }
}
