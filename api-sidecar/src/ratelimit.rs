//! Per-token rate limits: a budget per hour and a burst budget per minute, each a fixed window
//! that starts with the token's first request in it. Every authenticated response carries
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds); a request
//! over either budget gets `429` with `Retry-After`.
//!
//! Request budgets (per token and per customer) live in the store ([`shared`]), so every API
//! host of a cluster draws on the same count: N hosts allow the budget once, not N times. Their
//! windows are aligned to the clock (a minute starts at :00), so every host computes the same
//! window without asking anyone. Token creations per customer per hour ([`token_creation`])
//! are a budget in the store too: a customer cannot mint N times the limit by spreading its
//! requests over N API hosts.

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

/// The budgets' windows (ms).
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// Milliseconds to whole seconds, rounded up.
fn secs_ceil(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
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

/// Draws one token creation of `customer` from its hourly budget in the store (the window
/// aligned to the clock, as every shared budget). Refused: the seconds until the window ends.
pub async fn token_creation(
    store: &moat_core::store::SharedStore,
    per_hour: u32,
    customer: &str,
    now_ms: i64,
) -> Result<Result<(), i64>, moat_core::StoreError> {
    use moat_core::store::{RateBudget, RateTake};
    let budget = RateBudget::at(format!("tc:{customer}"), now_ms, HOUR, per_hour);
    let reset = budget.resets_at();
    Ok(match store.rate_take(vec![budget]).await? {
        RateTake::Allowed(_) => Ok(()),
        RateTake::Refused(_) => Err(secs_ceil(reset - now_ms).max(1)),
    })
}
