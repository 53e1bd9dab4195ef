//! Compiling customers' policies off the HTTP workers. A policy's regular expressions are
//! compiled with Hyperscan before it is stored (so what the scanner loads always compiles),
//! and a hostile pattern can take seconds of CPU: on an actix worker that stalls every other
//! tenant's requests. Here compilation runs on a few threads of its own ("moat-compile"), each
//! customer has at most one compilation in flight (a second answers 429 at once), and a caller
//! waits at most `COMPILE_WAIT`. Sizes are bounded before anything is compiled.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::channel::oneshot;
use moat_core::{
    model::Policy,
    policy::{PolicySet, regexes::MAX_PATTERN_LEN},
};

use crate::error::ApiError;

/// Regular-expression bytes one policy may hold.
pub const MAX_POLICY_REGEX_BYTES: usize = 4 * MAX_PATTERN_LEN;
/// Regular-expression bytes all of one customer's policies may hold together.
pub const MAX_CUSTOMER_REGEX_BYTES: usize = 64 * 1024;
/// Policies one customer may have.
pub const MAX_POLICIES_PER_CUSTOMER: usize = 500;
/// The longest a request waits for its compilation.
pub const COMPILE_WAIT: Duration = Duration::from_secs(15);

struct Job {
    policy: Policy,
    reply: oneshot::Sender<Result<(), moat_core::PolicyError>>,
    /// Held until the compilation ends (not when the caller stops waiting), so a customer
    /// whose request timed out cannot start another beside the one still running.
    _slot: Slot,
}

/// The compile threads and who is compiling now.
pub struct PolicyCompiler {
    jobs: flume::Sender<Job>,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Frees a customer's compile slot when its compilation is done.
struct Slot {
    busy: Arc<Mutex<HashSet<String>>>,
    customer: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.customer);
    }
}

impl PolicyCompiler {
    /// Starts `threads` compile threads.
    pub fn start(threads: usize) -> std::io::Result<PolicyCompiler> {
        let (jobs, queue) = flume::bounded::<Job>(64);
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("moat-compile-{i}"))
                .spawn(move || {
                    for job in queue.iter() {
                        let result = job
                            .policy
                            .condition
                            .validate_structure()
                            .and_then(|()| PolicySet::compile(std::slice::from_ref(&job.policy)))
                            .map(|_| ());
                        let _ = job.reply.send(result);
                        drop(job._slot);
                    }
                })?;
        }
        Ok(PolicyCompiler {
            jobs,
            busy: Arc::default(),
        })
    }

    /// Compiles `policy` as the scanner will; `others` are the customer's other policies
    /// (for the per-customer bounds).
    pub async fn check(&self, policy: &Policy, others: &[Policy]) -> Result<(), ApiError> {
        let bytes = policy.condition.regex_bytes();
        if bytes > MAX_POLICY_REGEX_BYTES {
            return Err(ApiError::Unprocessable(format!(
                "a policy holds at most {MAX_POLICY_REGEX_BYTES} bytes of regular expressions ({bytes} given)"
            )));
        }
        if others.len() >= MAX_POLICIES_PER_CUSTOMER {
            return Err(ApiError::Unprocessable(format!(
                "a customer has at most {MAX_POLICIES_PER_CUSTOMER} policies"
            )));
        }
        let total: usize = others
            .iter()
            .map(|p| p.condition.regex_bytes())
            .sum::<usize>()
            + bytes;
        if total > MAX_CUSTOMER_REGEX_BYTES {
            return Err(ApiError::Unprocessable(format!(
                "a customer's policies hold at most {MAX_CUSTOMER_REGEX_BYTES} bytes of regular expressions together"
            )));
        }
        let slot = {
            let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            if !busy.insert(policy.customer_id.clone()) {
                return Err(ApiError::RateLimited { retry_after: 5 });
            }
            Slot {
                busy: self.busy.clone(),
                customer: policy.customer_id.clone(),
            }
        };
        let (tx, rx) = oneshot::channel();
        let job = Job {
            policy: policy.clone(),
            reply: tx,
            _slot: slot,
        };
        if self.jobs.try_send(job).is_err() {
            return Err(ApiError::Unavailable(
                "policy compilation is busy; retry shortly".into(),
            ));
        }
        match tokio::time::timeout(COMPILE_WAIT, rx).await {
            Ok(Ok(result)) => result.map_err(ApiError::from),
            Ok(Err(_)) => Err(ApiError::Unavailable("policy compiler stopped".into())),
            Err(_) => Err(ApiError::Unprocessable(format!(
                "the policy's regular expressions did not compile within {} s; simplify them",
                COMPILE_WAIT.as_secs()
            ))),
        }
    }
}
