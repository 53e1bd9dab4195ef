//! What several Moat hosts on one store coordinate through it: request budgets (rate limits
//! that hold for the whole cluster, not per process), leases (exactly one host runs a job such
//! as the webhook dispatcher, with an epoch that fences a paused former holder), once-only
//! claims (a day's digest is mailed by one host, once), the answers kept for `Idempotency-Key`
//! retries and the API's background jobs, so whichever host a request reaches answers alike.

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

/// An answer kept for retries of a request with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAnswer {
    /// The HTTP status (never 0: 0 marks a request still running).
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What the store says to a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The slot is this request's until it finishes (or its running mark expires): run it.
    Run,
    /// A request with the same key and body finished: its kept answer.
    Replay(KeptAnswer),
    /// A request with the same key and body is running on some host.
    Running,
    /// The key was used with a different request (its fingerprint differs).
    Mismatch,
}

/// A background job of the API (a bulk quarantine action) as every host sees it: the API
/// owns `doc` (its JSON), the store keeps it with the fields it needs to count and expire jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub customer_id: String,
    pub id: String,
    /// Still working (as far as its last heartbeat says).
    pub running: bool,
    /// When the host running it last wrote its progress (Unix ms): a running job whose
    /// heartbeat is old lost its host.
    pub heartbeat_at: i64,
    /// When the record may be forgotten (Unix ms).
    pub expires_at: i64,
    pub doc: String,
}

/// One node's spool as it reported it: messages of a customer waiting to be relayed there.
/// Each scanner reports every few seconds, so an API host on another machine can say what the
/// cluster's spools hold for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRow {
    pub node: String,
    pub customer_id: String,
    pub depth: u64,
    /// Accepted-at time (Unix ms) of the oldest waiting message.
    pub oldest_ms: Option<i64>,
}
