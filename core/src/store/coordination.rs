//! What several Moat hosts on one store coordinate through it: request budgets (rate limits
//! that hold for the whole cluster, not per process), leases (exactly one host runs a job such
//! as the webhook dispatcher, with an epoch that fences a paused former holder) and once-only
//! claims (a day's digest is mailed by one host, once).

/// One budget a request draws on: `budget` requests per window of `len_ms` for `key`, in the
/// window that starts at `window_start` (Unix ms, a multiple of `len_ms`: every host computes
/// the same window from the clock alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBudget {
    pub key: String,
    pub window_start: i64,
    pub len_ms: i64,
    pub budget: u32,
}

impl RateBudget {
    /// The budget of `key` for the window of `len_ms` that holds `now_ms`.
    pub fn at(key: impl Into<String>, now_ms: i64, len_ms: i64, budget: u32) -> RateBudget {
        let len_ms = len_ms.max(1);
        RateBudget {
            key: key.into(),
            window_start: now_ms.div_euclid(len_ms) * len_ms,
            len_ms,
            budget: budget.max(1),
        }
    }

    /// When this window ends (Unix ms).
    pub fn resets_at(&self) -> i64 {
        self.window_start + self.len_ms
    }
}

/// What drawing on several budgets did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateTake {
    /// Every budget allowed the request; the count of each after it, in order.
    Allowed(Vec<u32>),
    /// The budget at this index was spent; no budget was drawn on.
    Refused(usize),
}
