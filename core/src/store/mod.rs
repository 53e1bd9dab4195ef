//! The store: one trait for everything Moat persists, implemented by each backend.
//!
//! Every method returns a boxed future that does not depend on any runtime: backends do their
//! blocking or runtime-bound work on their own threads and answer through a oneshot channel, so
//! the same store object serves glommio shards and actix-web handlers alike. Boxing costs one
//! allocation per call, which is noise next to the thread hop; in exchange the trait is
//! dyn-compatible and the binaries hold an `Arc<dyn Store>` that never names its backend.

pub mod coordination;
#[cfg(feature = "scylla")]
pub mod scylla;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::{future::Future, pin::Pin, sync::Arc};

pub use coordination::{IdempotencyBegin, JobRecord, KeptAnswer, RateBudget, RateTake, SpoolRow};

use crate::{
    auth::dmarc_report::DmarcRow,
    config::{Config, StoreConfig},
    error::StoreError,
    model::{
        Action, Customer, Domain, DomainPatch, Policy, QuarantineFilter, QuarantineItem,
        SenderHistory, SenderRule, SpamReportRecord, TokenInfo, VerdictFilter, VerdictRecord,
        Webhook, WebhookDelivery,
    },
};

/// The future every store method returns.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Everything Moat persists. Methods taking a `customer_id` never see other customers' rows.
pub trait Store: Send + Sync {
    /// Returns the customer with this name, creating it if needed.
    fn ensure_customer(&self, name: &str) -> StoreFuture<Customer>;
    fn customer(&self, id: &str) -> StoreFuture<Option<Customer>>;
    /// The customer of this name, without creating one.
    fn customer_by_name(&self, name: &str) -> StoreFuture<Option<Customer>>;
    /// Makes the customer's sandbox tenant (`<id>:test`, see `tenancy::tenant_of`) exist, so test
    /// tokens and sandbox objects have an owner row. Idempotent.
    fn ensure_sandbox(&self, customer: &Customer) -> StoreFuture<()>;

    /// Stores a token by its SHA-256 hash.
    fn insert_token(&self, token: TokenInfo, hash: String) -> StoreFuture<()>;
    /// The live (not revoked) token with this hash.
    fn token_by_hash(&self, hash: &str) -> StoreFuture<Option<TokenInfo>>;
    /// A customer's live tokens.
    fn tokens(&self, customer_id: &str) -> StoreFuture<Vec<TokenInfo>>;
    /// Revokes a token; false when the customer has no such live token.
    fn revoke_token(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<bool>;

    /// Adds a domain; `StoreError::Conflict` when its name is already protected.
    /// Adds a domain (any status). `Conflict` when this customer already has the name, or
    /// when the domain is `active` and another live domain of the name is.
    fn insert_domain(&self, domain: Domain) -> StoreFuture<()>;
    /// Marks a domain verified and active, claiming its name: `Conflict` when another live
    /// domain of that name is active; `None` when the customer has no such domain. Sandbox
    /// domains become active without claiming anything (the scanner never serves them).
    fn activate_domain(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<Option<Domain>>;
    /// The operator's exception letting a domain's real server be an internal address.
    fn set_domain_internal_target(
        &self,
        customer_id: &str,
        id: &str,
        allowed: bool,
    ) -> StoreFuture<bool>;
    fn domains(&self, customer_id: &str) -> StoreFuture<Vec<Domain>>;
    fn domain(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Domain>>;
    fn delete_domain(&self, customer_id: &str, id: &str) -> StoreFuture<bool>;
    /// Applies `patch` (already validated); the updated domain, or `None` when not found.
    fn update_domain(
        &self,
        customer_id: &str,
        id: &str,
        patch: DomainPatch,
    ) -> StoreFuture<Option<Domain>>;
    fn all_domains(&self) -> StoreFuture<Vec<Domain>>;

    fn insert_policy(&self, policy: Policy) -> StoreFuture<()>;
    fn policies(&self, customer_id: &str) -> StoreFuture<Vec<Policy>>;
    fn policy(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Policy>>;
    /// Replaces a policy's name, condition, action and flags; false when not found.
    fn update_policy(&self, policy: Policy) -> StoreFuture<bool>;
    fn delete_policy(&self, customer_id: &str, id: &str) -> StoreFuture<bool>;
    fn all_policies(&self) -> StoreFuture<Vec<Policy>>;

    /// Adds a sender rule (changes the configuration version).
    fn insert_sender_rule(&self, rule: SenderRule) -> StoreFuture<()>;
    /// A domain's sender rules, oldest first, with their hit counts.
    fn sender_rules(&self, customer_id: &str, domain_id: &str) -> StoreFuture<Vec<SenderRule>>;
    fn delete_sender_rule(&self, customer_id: &str, domain_id: &str, id: &str)
    -> StoreFuture<bool>;
    /// Every sender rule (the scanner's snapshot).
    fn all_sender_rules(&self) -> StoreFuture<Vec<SenderRule>>;
    /// Adds to rules' hit counters (does not change the configuration version); callers on
    /// the SMTP path need not await it.
    fn count_sender_rule_hits(&self, rule_ids: Vec<String>) -> StoreFuture<()>;

    /// A number that changes whenever domains, policies or sender rules change (the scanner's
    /// reload trigger).
    fn config_version(&self) -> StoreFuture<i64>;

    /// Resolves once every write queued before it is durable (used at shutdown).
    fn flush(&self) -> StoreFuture<()>;

    /// Records verdicts. Writes are grouped into batched transactions; callers on the SMTP path
    /// need not await the result.
    fn record_verdicts(&self, verdicts: Vec<VerdictRecord>) -> StoreFuture<()>;
    /// What the domain's delivered mail says about `sender` (lower case): recorded from
    /// verdicts of clean delivered mail as they are written (BEC first-contact detection).
    fn sender_history(&self, domain_id: &str, sender: &str) -> StoreFuture<SenderHistory>;
    /// The customer's release-link epoch: links minted under an older epoch no longer work.
    fn link_epoch(&self, customer_id: &str) -> StoreFuture<i64>;
    /// Moves the customer's release-link epoch on (every link minted before stops working);
    /// returns the new epoch.
    fn bump_link_epoch(&self, customer_id: &str) -> StoreFuture<i64>;
    /// Stores a customer's spam report (one per quarantined message: a new label replaces the
    /// old). True when it changed anything (a repeated identical report does not).
    fn put_spam_report(&self, report: SpamReportRecord) -> StoreFuture<bool>;
    /// A customer's newest reports, at most `limit`.
    fn spam_reports(&self, customer_id: &str, limit: u32) -> StoreFuture<Vec<SpamReportRecord>>;
    /// Every customer with reports and when its reports last changed (ms), so a reloader
    /// rebuilds only the models that changed.
    fn spam_report_heads(&self) -> StoreFuture<Vec<(String, i64)>>;
    /// Adds counted DMARC report observations (each row's count to its key's).
    fn add_dmarc_rows(&self, rows: Vec<DmarcRow>) -> StoreFuture<()>;
    /// The (period, policy domain) pairs holding rows of periods that began before
    /// `before_ms`: reports due.
    fn dmarc_due(&self, before_ms: i64) -> StoreFuture<Vec<(i64, String)>>;
    /// Takes one period's rows for a policy domain: returns and removes them at once, so of
    /// two reporters (a cluster) only one gets them.
    fn take_dmarc_rows(&self, period: i64, domain: &str) -> StoreFuture<Vec<DmarcRow>>;
    /// Verdicts matching `filter`, newest first.
    fn verdicts(&self, customer_id: &str, filter: VerdictFilter)
    -> StoreFuture<Vec<VerdictRecord>>;
    fn verdict(&self, customer_id: &str, id: &str) -> StoreFuture<Option<VerdictRecord>>;
    /// Verdicts per action received at or after `since_ms`.
    fn verdict_counts(&self, customer_id: &str, since_ms: i64) -> StoreFuture<Vec<(Action, u64)>>;

    /// Durably stores a quarantined message and its verdict; resolves only once both are on
    /// disk, so the SMTP session may answer `250` after it.
    fn quarantine(
        &self,
        item: QuarantineItem,
        raw: Vec<u8>,
        verdict: VerdictRecord,
    ) -> StoreFuture<()>;
    fn quarantine_list(
        &self,
        customer_id: &str,
        filter: QuarantineFilter,
    ) -> StoreFuture<Vec<QuarantineItem>>;
    fn quarantine_get(&self, customer_id: &str, id: &str) -> StoreFuture<Option<QuarantineItem>>;
    fn quarantine_raw(&self, customer_id: &str, id: &str) -> StoreFuture<Option<Vec<u8>>>;
    /// Claims a message for release, atomically: `quarantined` → `releasing` with the claim
    /// time `claim_at` (or a `releasing` claim older than `RELEASE_CLAIM_MS` taken over); true
    /// when this caller now holds the claim. Of concurrent releases exactly one wins.
    fn quarantine_claim_release(
        &self,
        customer_id: &str,
        id: &str,
        claim_at: i64,
    ) -> StoreFuture<bool>;
    /// Ends the claim made at `claim_at`: `released` at `at` when delivered, else back to
    /// `quarantined`; false when the claim is no longer this caller's.
    fn quarantine_finish_release(
        &self,
        customer_id: &str,
        id: &str,
        claim_at: i64,
        delivered: bool,
        at: i64,
    ) -> StoreFuture<bool>;
    /// Deletes a message (drops its bytes), unless a release holds it; true when it is deleted
    /// now (or already was), false when not found or being released.
    fn quarantine_delete(&self, customer_id: &str, id: &str, at: i64) -> StoreFuture<bool>;

    fn insert_webhook(&self, webhook: Webhook) -> StoreFuture<()>;
    /// Replaces a stored webhook (the dispatcher moves its watermark); false, and nothing
    /// written, when it was deleted meanwhile.
    fn update_webhook(&self, webhook: Webhook) -> StoreFuture<bool>;
    fn webhooks(&self, customer_id: &str) -> StoreFuture<Vec<Webhook>>;
    /// Every customer's webhooks (the dispatcher).
    fn all_webhooks(&self) -> StoreFuture<Vec<Webhook>>;
    /// Deletes a webhook and its deliveries; false when not found.
    fn delete_webhook(&self, customer_id: &str, id: &str) -> StoreFuture<bool>;
    /// Queues a delivery unless one with its id exists; true when queued.
    fn add_delivery(&self, delivery: WebhookDelivery) -> StoreFuture<bool>;
    /// Stores a delivery's new state; `was_due` is its `next_attempt_at` before the change.
    fn put_delivery(&self, delivery: WebhookDelivery, was_due: Option<i64>) -> StoreFuture<()>;
    /// A webhook's deliveries, newest first.
    fn deliveries(
        &self,
        customer_id: &str,
        webhook_id: &str,
        limit: u32,
    ) -> StoreFuture<Vec<WebhookDelivery>>;
    fn delivery(
        &self,
        customer_id: &str,
        webhook_id: &str,
        id: &str,
    ) -> StoreFuture<Option<WebhookDelivery>>;
    /// Pending deliveries due at `now`, oldest first.
    fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<Vec<WebhookDelivery>>;

    // Coordination between hosts (see [`coordination`]).

    /// Draws one request from every budget, all or none, for the whole cluster.
    fn rate_take(&self, budgets: Vec<RateBudget>) -> StoreFuture<RateTake>;
    /// Takes or renews lease `name` for `holder` until `now + ttl_ms`. Answers the lease's
    /// epoch while `holder` holds it (the epoch rises whenever the lease is taken anew, so a
    /// former holder's epoch never matches again), `None` while another holder's lease runs.
    fn lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> StoreFuture<Option<i64>>;
    /// Whether `holder` still holds lease `name` at `epoch` at `now`: asked before every
    /// effect outside the store (a webhook POST), so a paused former holder does nothing.
    fn lease_held(&self, name: &str, holder: &str, epoch: i64, now: i64) -> StoreFuture<bool>;
    /// Gives a held lease up (a clean shutdown), so another host takes it at once.
    fn release_lease(&self, name: &str, holder: &str) -> StoreFuture<()>;
    /// Claims `key` for the whole cluster until `expires_at`: true for the one claimer that
    /// got it (an expired claim can be claimed again).
    fn claim_once(&self, key: &str, now: i64, expires_at: i64) -> StoreFuture<bool>;
    /// Forgets a claim, so the work it guarded can be tried again.
    fn unclaim(&self, key: &str) -> StoreFuture<()>;
    /// Marks idempotency slot `slot` running for a request of this `fingerprint` until
    /// `running_until` (a host that dies mid-request frees the slot then), unless a live
    /// record is there: then says what it holds.
    fn idempotency_begin(
        &self,
        slot: &str,
        fingerprint: Vec<u8>,
        now: i64,
        running_until: i64,
    ) -> StoreFuture<IdempotencyBegin>;
    /// Ends this fingerprint's running mark on `slot`: keeps `answer` until `expires_at`, or
    /// (with `None`) frees the slot so a retry runs again.
    fn idempotency_finish(
        &self,
        slot: &str,
        fingerprint: Vec<u8>,
        answer: Option<KeptAnswer>,
        expires_at: i64,
    ) -> StoreFuture<()>;
    /// Records a new running job unless its customer already has `max_running` running jobs
    /// with a heartbeat at or after `live_after`; true when recorded.
    fn job_start(&self, job: JobRecord, max_running: u32, live_after: i64) -> StoreFuture<bool>;
    /// Writes a job's progress (or end).
    fn job_put(&self, job: JobRecord) -> StoreFuture<()>;
    /// A customer's job, unless expired at `now`.
    fn job_get(&self, customer_id: &str, id: &str, now: i64) -> StoreFuture<Option<JobRecord>>;
    /// The cluster's secret `name`: the first `candidate` ever offered for it, whichever host
    /// offered it (keys that every host must share, such as the API's signing key).
    fn shared_secret(&self, name: &str, candidate: Vec<u8>) -> StoreFuture<Vec<u8>>;
    /// Writes node `rows`' spool report (all rows of one node), kept until `expires_at`: a
    /// node that stops reporting drops out then.
    fn put_spool_report(&self, rows: Vec<SpoolRow>, expires_at: i64) -> StoreFuture<()>;
    /// The live reports of every node for a customer (rows with depth 0 included).
    fn spool_reports(&self, customer_id: &str, now: i64) -> StoreFuture<Vec<SpoolRow>>;
}

/// The store a binary uses, whatever its backend.
pub type SharedStore = Arc<dyn Store>;

/// Opens the store the configuration names, creating and migrating it as needed.
pub fn open(config: &Config) -> Result<SharedStore, StoreError> {
    config.prepare_data_dir().map_err(|e| StoreError::Open {
        path: config.data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    match &config.store {
        #[cfg(feature = "sqlite")]
        StoreConfig::Sqlite { readers, .. } => {
            let path = config.sqlite_path().ok_or_else(|| StoreError::Open {
                path: String::new(),
                reason: "no sqlite path".into(),
            })?;
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            Ok(Arc::new(sqlite::SqliteStore::open(&path, *readers)?))
        }
        #[cfg(not(feature = "sqlite"))]
        StoreConfig::Sqlite { .. } => Err(StoreError::Open {
            path: String::new(),
            reason: "binary was not compiled with feature `sqlite`".into(),
        }),
        #[cfg(feature = "scylla")]
        StoreConfig::Scylla { .. } => Ok(Arc::new(scylla::ScyllaStore::open(&config.store)?)),
        #[cfg(not(feature = "scylla"))]
        StoreConfig::Scylla { .. } => Err(StoreError::Open {
            path: String::new(),
            reason: "binary was not compiled with feature `scylla`".into(),
        }),
    }
}
