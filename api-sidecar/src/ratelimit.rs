//! Per-token rate limits: a budget per hour and a burst budget per minute, each a fixed window
//! that starts with the token's first request in it. Every authenticated response carries
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds); a request
//! over either budget gets `429` with `Retry-After`.
//!
//! Request budgets (per token and per customer) live in the store ([`shared`]), so every API
//! host of a cluster draws on the same count: N hosts allow the budget once, not N times. Their
//! windows are aligned to the clock (a minute starts at :00), so every host computes the same
//! window without asking anyone. [`RateLimiter`] is the in-process limiter for budgets that
//! only guard one process's own resources (token creations per customer per hour).

use std::{collections::HashMap, sync::Mutex};

/// The outcome of one request's check, also what the response headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// The hourly budget.
    pub limit: u32,
    /// Requests left before a limit applies (the smaller of the two windows).
    pub remaining: u32,
    /// Unix seconds when the binding window resets.
    pub reset_at: i64,
    /// Seconds to wait when refused.
    pub retry_after: i64,
    /// `hour` or `minute`: which window refused (for metrics).
    pub window: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    count: u32,
}

impl Window {
    /// Counts a request in a window of `len_ms`; returns (allowed, remaining, resets_at_ms).
    fn hit(&mut self, now_ms: i64, len_ms: i64, budget: u32) -> (bool, u32, i64) {
        if now_ms >= self.start_ms + len_ms {
            *self = Window {
                start_ms: now_ms,
                count: 0,
            };
        }
        let allowed = self.count < budget;
        if allowed {
            self.count += 1;
        }
        (allowed, budget - self.count, self.start_ms + len_ms)
    }
}

/// Milliseconds to whole seconds, rounded up.
fn secs_ceil(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

/// All tokens' windows.
pub struct RateLimiter {
    per_hour: u32,
    per_minute: u32,
    windows: Mutex<HashMap<String, (Window, Window)>>,
}

impl RateLimiter {
    pub fn new(per_hour: u32, per_minute: u32) -> Self {
        RateLimiter {
            per_hour: per_hour.max(1),
            per_minute: per_minute.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `token_id` at `now_ms`.
    pub fn check(&self, token_id: &str, now_ms: i64) -> RateDecision {
        let mut all = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = Window {
            start_ms: now_ms,
            count: 0,
        };
        let (hour, minute) = all.entry(token_id.to_string()).or_insert((fresh, fresh));
        // Check the minute first so a refused burst does not use up the hour.
        let (m_ok, m_left, m_reset) = {
            let mut probe = *minute;
            let r = probe.hit(now_ms, 60_000, self.per_minute);
            if r.0 {
                *minute = probe;
            }
            r
        };
        if !m_ok {
            return RateDecision {
                allowed: false,
                limit: self.per_hour,
                remaining: 0,
                reset_at: secs_ceil(m_reset),
                retry_after: secs_ceil(m_reset - now_ms),
                window: "minute",
            };
        }
        let (h_ok, h_left, h_reset) = hour.hit(now_ms, 3_600_000, self.per_hour);
        if !h_ok {
            // Give the minute slot back: the request was refused.
            minute.count = minute.count.saturating_sub(1);
            return RateDecision {
                allowed: false,
                limit: self.per_hour,
                remaining: 0,
                reset_at: secs_ceil(h_reset),
                retry_after: secs_ceil(h_reset - now_ms),
                window: "hour",
            };
        }
        let (remaining, reset) = if m_left < h_left {
            (m_left, m_reset)
        } else {
            (h_left, h_reset)
        };
        RateDecision {
            allowed: true,
            limit: self.per_hour,
            remaining,
            reset_at: secs_ceil(reset),
            retry_after: 0,
            window: "",
        }
    }
}

/// The request budgets the API enforces in the store, per token and per customer.
#[derive(Debug, Clone, Copy)]
pub struct SharedBudgets {
    pub token_per_hour: u32,
    pub token_per_minute: u32,
    pub customer_per_hour: u32,
    pub customer_per_minute: u32,
}

/// Draws one request of `token_id` (of `customer`) from the cluster-wide budgets at `now_ms`.
pub async fn shared(
    store: &moat_core::store::SharedStore,
    b: SharedBudgets,
    token_id: &str,
    customer: &str,
    now_ms: i64,
) -> Result<RateDecision, moat_core::StoreError> {
    use moat_core::store::{RateBudget, RateTake};
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    // Minutes first, so a refused burst does not use up an hour.
    let budgets = vec![
        RateBudget::at(format!("t:{token_id}"), now_ms, MINUTE, b.token_per_minute),
        RateBudget::at(
            format!("c:{customer}"),
            now_ms,
            MINUTE,
            b.customer_per_minute,
        ),
        RateBudget::at(format!("t:{token_id}"), now_ms, HOUR, b.token_per_hour),
        RateBudget::at(format!("c:{customer}"), now_ms, HOUR, b.customer_per_hour),
    ];
    // The hourly budget of the party (token or customer) whose budget binds.
    let limit_of = |i: usize| {
        if i.is_multiple_of(2) {
            b.token_per_hour
        } else {
            b.customer_per_hour
        }
    };
    let window = |i: usize| if i < 2 { "minute" } else { "hour" };
    match store.rate_take(budgets.clone()).await? {
        RateTake::Refused(i) => {
            let reset = budgets[i].resets_at();
            Ok(RateDecision {
                allowed: false,
                limit: limit_of(i),
                remaining: 0,
                reset_at: secs_ceil(reset),
                retry_after: secs_ceil(reset - now_ms).max(1),
                window: window(i),
            })
        }
        RateTake::Allowed(counts) => {
            let (i, remaining) = budgets
                .iter()
                .zip(&counts)
                .map(|(bu, c)| bu.budget.saturating_sub(*c))
                .enumerate()
                .min_by_key(|(i, left)| (*left, *i))
                .unwrap_or((0, 0));
            Ok(RateDecision {
                allowed: true,
                limit: limit_of(i),
                remaining,
                reset_at: secs_ceil(budgets[i].resets_at()),
                retry_after: 0,
                window: "",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_hour_limits_with_resets() {
        let l = RateLimiter::new(5, 3);
        let t0 = 1_000_000;
        for i in 0..3 {
            let d = l.check("t", t0 + i);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i as u32);
        }
        let refused = l.check("t", t0 + 10);
        assert!(!refused.allowed);
        assert_eq!(refused.window, "minute");
        assert_eq!(refused.retry_after, 60);
        assert!(l.check("other", t0).allowed, "tokens are independent");
        // Next minute: two more fit the hour, then the hour refuses.
        assert!(l.check("t", t0 + 60_000).allowed);
        assert!(l.check("t", t0 + 60_001).allowed);
        let hour = l.check("t", t0 + 60_002);
        assert!(!hour.allowed);
        assert_eq!(hour.window, "hour");
        assert!(hour.retry_after > 3000);
        assert!(l.check("t", t0 + 3_600_000).allowed, "a new hour");
    }
}
