//! One delivery attempt: the signed POST, the SSRF guard that refuses internal addresses on
//! every connection, and the back-off that schedules the next attempt.

use std::{
    net::{IpAddr, SocketAddr, ToSocketAddrs},
    time::Duration,
};

use futures::executor::block_on;
use hmac::{Hmac, Mac};
use moat_core::{
    model::{DeliveryStatus, Webhook, WebhookDelivery},
    store::SharedStore,
    time::now_ms,
};
use sha2::Sha256;

/// Time-out of one delivery attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The delay before attempt `n + 1` after `n` failed attempts.
pub fn backoff_ms(failed_attempts: u32) -> i64 {
    let exp = failed_attempts.saturating_sub(1).min(7);
    (30_000i64 << exp).min(3_600_000)
}

/// The `Moat-Signature` header value for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether an address may be called: public unicast by the special-purpose registries
/// ([`moat_core::netguard`], the same check as relay targets and DSN MX hosts) unless private
/// targets are allowed.
pub fn allowed_target(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || !moat_core::netguard::is_internal(ip)
}

/// Checks a webhook URL's form (http or https, a host, at most 2 000 characters).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > 2000 {
        return Err("url is longer than 2000 characters".into());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("url must start with https:// or http://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') || url.chars().any(|c| c.is_whitespace()) {
        return Err("url has no host".into());
    }
    Ok(())
}

/// An HTTP client whose resolver refuses internal addresses (checked on every connection, so
/// a name that later resolves inward is refused too).
pub fn client(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(ATTEMPT_TIMEOUT)
        .redirects(0)
        .resolver(move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
            let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allowed_target(a.ip(), allow_private))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{netloc} resolves only to internal addresses, which webhooks may not call"
                )));
            }
            Ok(allowed)
        })
        .build()
}

/// The outcome of one attempt.
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// POSTs a delivery's body to `url`, signed with `secret`.
pub fn attempt(agent: &ureq::Agent, url: &str, secret: &str, d: &WebhookDelivery) -> Attempt {
    let t = now_ms() / 1000;
    let result = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("User-Agent", "Moat-Webhooks/1")
        .set("Moat-Event", &d.event)
        .set("Moat-Delivery", &d.id)
        .set("Moat-Signature", &signature(secret, t, &d.payload))
        .send_string(&d.payload);
    match result {
        Ok(resp) => Attempt {
            status: Some(resp.status()),
            error: None,
        },
        Err(ureq::Error::Status(code, _)) => Attempt {
            status: Some(code),
            error: Some(format!("the endpoint answered {code}")),
        },
        Err(e) => Attempt {
            status: None,
            error: Some(e.to_string()),
        },
    }
}

/// Records an attempt made at `now` on the delivery: succeeded, rescheduled, or failed for
/// good.
pub fn record(d: &mut WebhookDelivery, a: &Attempt, now: i64) {
    d.attempts += 1;
    d.last_status = a.status;
    d.last_error = a.error.clone();
    if a.error.is_none() && a.status.is_some_and(|s| (200..300).contains(&s)) {
        d.status = DeliveryStatus::Succeeded;
        d.delivered_at = Some(now);
        d.next_attempt_at = None;
        return;
    }
    let next = now + backoff_ms(d.attempts);
    if next > d.give_up_at {
        d.status = DeliveryStatus::Failed;
        d.next_attempt_at = None;
    } else {
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(next);
    }
}

/// Sends one attempt of `d` to `w` now and stores the outcome.
pub fn deliver_now(
    store: &SharedStore,
    agent: &ureq::Agent,
    w: &Webhook,
    mut d: WebhookDelivery,
) -> WebhookDelivery {
    let was_due = d.next_attempt_at;
    let a = attempt(agent, &w.url, &w.secret, &d);
    record(&mut d, &a, now_ms());
    if let Err(e) = block_on(store.put_delivery(d.clone(), was_due)) {
        tracing::warn!(error = %e, delivery = %d.id, "delivery outcome not stored");
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{delivery_id, new_delivery};
    use moat_core::model::WebhookEvent;
    use serde_json::json;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // Checked against an independent implementation: Python's hmac module.
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import hmac,hashlib;print(hmac.new(b'whsec_test',b'1700000000.{\\\"a\\\":1}',hashlib.sha256).hexdigest())",
            ])
            .output()
            .expect("python3 runs");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(expected.len(), 64, "{expected}");
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{\"a\":1}"),
            format!("t=1700000000,v1={expected}")
        );
    }

    #[test]
    fn backoff_doubles_to_an_hour_and_stops_after_a_day() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(8), 3_600_000);
        assert_eq!(backoff_ms(30), 3_600_000);
        let w = Webhook {
            id: "w".into(),
            customer_id: "c".into(),
            url: "https://example.com/hook".into(),
            events: vec![WebhookEvent::ThreatDetected],
            secret: "s".into(),
            created_at: 0,
            watermark: None,
            last_report_day: None,
        };
        let mut d = new_delivery(&w, "threat.detected", "v1", json!({}));
        let fail = Attempt {
            status: Some(500),
            error: Some("the endpoint answered 500".into()),
        };
        let mut attempts = 0;
        while let Some(at) = d.next_attempt_at {
            record(&mut d, &fail, at);
            attempts += 1;
            assert!(attempts < 100, "retries never end");
        }
        assert_eq!(d.status, DeliveryStatus::Failed);
        // 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 28 attempts fit in 24 hours.
        assert!((20..=30).contains(&attempts), "{attempts}");
        assert_eq!(
            delivery_id("w", "threat.detected", "v1"),
            delivery_id("w", "threat.detected", "v1")
        );
        assert_ne!(
            delivery_id("w", "threat.detected", "v1"),
            delivery_id("w", "threat.quarantined", "v1")
        );
    }

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
            "2002:7f00:1::1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!allowed_target(ip, false), "{ip}");
            assert!(allowed_target(ip, true), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(allowed_target(ip.parse().expect("ip"), false), "{ip}");
        }
        assert!(check_url("https://hooks.example.com/moat").is_ok());
        for bad in ["ftp://x", "https://", "https:// x", "javascript:alert(1)"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
