//! How many sessions the relay opens to one destination at once. Without a bound per
//! destination, one server that accepts connections and never answers (a tarpit a tenant
//! points a domain at, or the MX of a sender whose bounces Moat must send) would hold every
//! delivery slot until its deadline and stop mail for everyone else.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Semaphores per destination (`host:port` as routed), made on first use and dropped when idle.
pub struct DestinationLimits {
    per_destination: usize,
    map: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl DestinationLimits {
    pub fn new(per_destination: usize) -> DestinationLimits {
        DestinationLimits {
            per_destination: per_destination.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn semaphore(&self, destination: &str) -> Arc<Semaphore> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 4096 {
            // Forget destinations nobody is using (every permit back).
            let full = self.per_destination;
            map.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < full);
        }
        map.entry(destination.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_destination)))
            .clone()
    }

    /// A slot for `destination`, waiting at most `wait`; `None` when every slot stayed busy.
    pub async fn acquire(&self, destination: &str, wait: Duration) -> Option<OwnedSemaphorePermit> {
        let sem = self.semaphore(destination);
        tokio::time::timeout(wait, sem.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Sessions open to `destination` now.
    pub fn in_use(&self, destination: &str) -> usize {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&destination.to_ascii_lowercase())
            .map_or(0, |s| self.per_destination - s.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_destination_cannot_take_another_ones_slots() {
        let limits = DestinationLimits::new(2);
        let a1 = limits.acquire("tarpit:25", Duration::from_millis(10)).await;
        let a2 = limits.acquire("TARPIT:25", Duration::from_millis(10)).await;
        assert!(a1.is_some() && a2.is_some());
        assert_eq!(limits.in_use("tarpit:25"), 2);
        assert!(
            limits
                .acquire("tarpit:25", Duration::from_millis(20))
                .await
                .is_none()
        );
        assert!(
            limits
                .acquire("good:25", Duration::from_millis(10))
                .await
                .is_some()
        );
        drop(a1);
        assert!(
            limits
                .acquire("tarpit:25", Duration::from_millis(10))
                .await
                .is_some()
        );
    }
}
