//! A bounded, TTL-respecting cache of parsed DNS answers (SPF and DMARC records, DKIM public
//! keys, address sets) shared by every shard through the auth thread. Entries expire when the
//! record's TTL says so (never later than [`MAX_TTL`]); when a shard of the map is full, expired
//! entries go first, then an arbitrary one. Parsing a DKIM key once and keeping it is what makes
//! a repeat sender cheap.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::{BuildHasher, Hash, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

/// No answer is kept longer than a day, whatever its TTL.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
const SHARDS: usize = 16;

pub struct TtlCache<K, V> {
    shards: Vec<Mutex<HashMap<K, (V, Instant)>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// A cache holding at most about `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<HashMap<K, (V, Instant)>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        &self.shards[i]
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn lookup<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn store(&self, key: K, value: V, valid_until: Instant) {
        let now = Instant::now();
        let until = valid_until.min(now + MAX_TTL);
        if until <= now {
            return;
        }
        let mut map = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            map.retain(|_, (_, t)| *t > now);
            if map.len() >= self.per_shard
                && let Some(victim) = map.keys().next().map(|k| self.hasher.hash_one(k))
            {
                // Remove the first entry found (HashMap order is random per process).
                map.retain(|k, _| self.hasher.hash_one(k) != victim);
            }
        }
        map.insert(key, (value, until));
    }

    pub fn take<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
            .map(|(v, _)| v)
    }
}

impl<K: Hash + Eq, V: Clone> mail_auth::ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lookup(name)
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.take(name)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        self.store(key, value, valid_until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let cache: TtlCache<String, u32> = TtlCache::new(32);
        let later = Instant::now() + Duration::from_secs(60);
        cache.store("a".into(), 1, later);
        assert_eq!(cache.lookup("a"), Some(1));
        cache.store("gone".into(), 2, Instant::now());
        assert_eq!(cache.lookup("gone"), None);
        cache.store(
            "short".into(),
            3,
            Instant::now() + Duration::from_millis(20),
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.lookup("short"), None);
        for i in 0..10_000 {
            cache.store(format!("k{i}"), i, later);
        }
        assert!(cache.len() <= 32, "len {}", cache.len());
        assert_eq!(cache.take("k9999"), Some(9999));
        assert_eq!(cache.lookup("k9999"), None);
    }
}
