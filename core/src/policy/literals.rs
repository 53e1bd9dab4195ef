//! Literal lists: one matcher per inspected field holds the literals of every policy of a
//! customer, so a field is scanned once however many policies look at it.
//!
//! Two engines, chosen by the list's size. A short list is an aho-corasick automaton: small,
//! built in microseconds, and fast while its SIMD prefilter (Teddy, up to 64 literals) covers
//! it. A long list (an MSP's block list of thousands of words) is a Hyperscan literal database
//! (its FDR engine keeps its speed with thousands of literals, where the automaton falls back
//! to a plain state walk at about a third of the speed); it is compiled once and shared
//! through the [`PolicyCache`] like the regex databases. Both match ASCII case-insensitively
//! and report, per literal, its first occurrence.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use hyperscan::prelude::{BlockDatabase, Builder, Matching};
use hyperscan::{Literal, LiteralFlags, Literals};

use super::cache::{PolicyCache, literal_key_of};
use super::scratch::ScratchPool;
use crate::error::PolicyError;

/// From this many distinct literals on, a field's list is a Hyperscan database.
pub const HYPERSCAN_FROM: usize = 64;

/// Where a literal hit was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub part: Option<u32>,
    pub start: u32,
    pub end: u32,
    pub pattern: u32,
}

/// The first hit of each condition leaf that was hit in one message. Sparse: a message hits a
/// handful of leaves however many thousands a customer's policies have, so nothing here grows
/// with the policy count.
#[derive(Debug, Default)]
pub struct Hits {
    map: std::collections::HashMap<u32, Hit>,
}

impl Hits {
    /// Records `hit` for `leaf` unless the leaf already has one.
    pub fn record(&mut self, leaf: u32, hit: impl FnOnce() -> Hit) {
        self.map.entry(leaf).or_insert_with(hit);
    }

    pub fn get(&self, leaf: u32) -> Option<&Hit> {
        self.map.get(&leaf)
    }

    /// The leaves that were hit, in no particular order.
    pub fn leaves(&self) -> impl Iterator<Item = u32> + '_ {
        self.map.keys().copied()
    }
}

/// Builder: literals and the condition leaves each one satisfies.
#[derive(Debug, Default)]
pub struct LiteralSetBuilder {
    patterns: Vec<String>,
    leaves: Vec<Vec<u32>>,
    index: std::collections::HashMap<String, usize>,
}

impl LiteralSetBuilder {
    /// Registers `literal` as satisfying `leaf`; duplicates share one automaton pattern.
    pub fn add(&mut self, literal: &str, leaf: u32) {
        let lower = literal.to_ascii_lowercase();
        match self.index.get(&lower) {
            Some(&i) => self.leaves[i].push(leaf),
            None => {
                self.index.insert(lower.clone(), self.patterns.len());
                self.patterns.push(lower);
                self.leaves.push(vec![leaf]);
            }
        }
    }

    pub fn build(self) -> Result<Option<LiteralSet>, PolicyError> {
        self.build_cached(&PolicyCache::default())
    }

    /// Builds the set; a long list takes its Hyperscan database from `cache` when it holds
    /// one for these literals and fills the cache otherwise.
    pub fn build_cached(self, cache: &PolicyCache) -> Result<Option<LiteralSet>, PolicyError> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        // Hyperscan refuses empty literals; an empty literal matches everywhere, which the
        // automaton does too.
        let engine = if self.patterns.len() >= HYPERSCAN_FROM
            && self.patterns.iter().all(|p| !p.is_empty())
        {
            Engine::Hyperscan(LiteralDb::build(&self.patterns, cache)?)
        } else {
            Engine::Automaton(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&self.patterns)
                    .map_err(|e| PolicyError::Matcher(e.to_string()))?,
            )
        };
        Ok(Some(LiteralSet {
            engine,
            patterns: self.patterns,
            leaves: self.leaves,
        }))
    }
}

/// A long literal list compiled by Hyperscan (case-less, one report per literal).
pub(crate) struct LiteralDb {
    db: BlockDatabase,
    scratch: ScratchPool,
}

impl std::fmt::Debug for LiteralDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiteralDb")
    }
}

impl LiteralDb {
    fn build(patterns: &[String], cache: &PolicyCache) -> Result<Arc<LiteralDb>, PolicyError> {
        let key = literal_key_of(patterns);
        if let Some(db) = cache.literals.get(&key) {
            return Ok(db);
        }
        let db = match cache.load(&key, patterns) {
            Some(c) => c.db,
            None => {
                let list: Literals = patterns
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Literal {
                        expression: p.clone(),
                        flags: LiteralFlags::CASELESS | LiteralFlags::SINGLEMATCH,
                        id: Some(i),
                        som: None,
                    })
                    .collect();
                let db: BlockDatabase = list
                    .build()
                    .map_err(|e| PolicyError::Matcher(e.to_string()))?;
                cache.store(&key, patterns, &db, false);
                db
            }
        };
        let scratch = ScratchPool::for_database(&db).map_err(PolicyError::Matcher)?;
        let db = Arc::new(LiteralDb { db, scratch });
        cache.literals.keep(key, &db);
        Ok(db)
    }
}

#[derive(Clone)]
enum Engine {
    Automaton(AhoCorasick),
    Hyperscan(Arc<LiteralDb>),
}

/// A compiled literal set for one field.
#[derive(Clone)]
pub struct LiteralSet {
    engine: Engine,
    patterns: Vec<String>,
    leaves: Vec<Vec<u32>>,
}

impl std::fmt::Debug for LiteralSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteralSet")
            .field("patterns", &self.patterns.len())
            .field("hyperscan", &self.uses_hyperscan())
            .finish()
    }
}

impl LiteralSet {
    /// Scans `text` and records, for every leaf not yet hit, the first hit that satisfies it.
    pub fn scan(&self, text: &[u8], part: Option<u32>, hits: &mut Hits) {
        let mut record = |pattern: u32, start: usize, end: usize| {
            for &leaf in &self.leaves[pattern as usize] {
                hits.record(leaf, || Hit {
                    part,
                    start: start as u32,
                    end: end as u32,
                    pattern,
                });
            }
        };
        match &self.engine {
            Engine::Automaton(ac) => {
                for m in ac.find_overlapping_iter(text) {
                    record(m.pattern().as_u32(), m.start(), m.end());
                }
            }
            Engine::Hyperscan(lit) => lit.scratch.scan(&lit.db, text, |id, _, to| {
                // A literal's start is its end less its length.
                if let Some(p) = self.patterns.get(id as usize) {
                    let end = usize::try_from(to).unwrap_or(usize::MAX);
                    record(id, end.saturating_sub(p.len()), end);
                }
                Matching::Continue
            }),
        }
    }

    /// Whether the list is long enough to be a Hyperscan database.
    pub fn uses_hyperscan(&self) -> bool {
        matches!(self.engine, Engine::Hyperscan(_))
    }

    pub fn pattern(&self, id: u32) -> &str {
        self.patterns.get(id as usize).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_literals_each_hit_their_leaves() {
        let mut b = LiteralSetBuilder::default();
        b.add("crypto", 0);
        b.add("Crypto Wallet", 1);
        b.add("CRYPTO", 2);
        let set = b.build().expect("builds").expect("non-empty");
        assert_eq!(set.len(), 2);
        let mut hits = Hits::default();
        set.scan(b"Your crypto wallet", None, &mut hits);
        assert!((0..3).all(|l| hits.get(l).is_some()));
        let h1 = hits.get(1).cloned().expect("hit");
        assert_eq!((h1.start, h1.end), (5, 18));
        assert_eq!(set.pattern(h1.pattern), "crypto wallet");
    }

    /// A long list (Hyperscan) reports what the automaton reports: each leaf's first hit with
    /// its range, case-insensitively, overlapping literals included.
    #[test]
    fn long_lists_use_hyperscan_and_hit_like_the_automaton() {
        let text = b"Verify your WALLET-00042-seed now; zq00007scam and wallet-00042-seed again";
        let build = |n: usize| {
            let mut b = LiteralSetBuilder::default();
            for i in 0..n {
                b.add(&format!("zq{i:05}scam"), i as u32);
                b.add(&format!("wallet-{i:05}-seed"), i as u32);
            }
            // Overlapping: a literal inside another.
            b.add("00042-se", n as u32);
            b.build().expect("builds").expect("non-empty")
        };
        let long = build(HYPERSCAN_FROM);
        assert!(long.uses_hyperscan());
        let mut short_builder = LiteralSetBuilder::default();
        short_builder.add("zq00007scam", 7);
        short_builder.add("wallet-00042-seed", 42);
        short_builder.add("00042-se", HYPERSCAN_FROM as u32);
        let short = short_builder.build().expect("builds").expect("set");
        assert!(!short.uses_hyperscan());
        let (mut a, mut b) = (Hits::default(), Hits::default());
        long.scan(text, Some(1), &mut a);
        short.scan(text, Some(1), &mut b);
        for leaf in [7, 42, HYPERSCAN_FROM as u32] {
            let (x, y) = (a.get(leaf).cloned(), b.get(leaf).cloned());
            let (x, y) = (x.expect("long hit"), y.expect("short hit"));
            assert_eq!(
                (x.start, x.end, x.part),
                (y.start, y.end, y.part),
                "leaf {leaf}"
            );
            assert_eq!(long.pattern(x.pattern), short.pattern(y.pattern));
        }
        assert_eq!(a.get(42).map(|h| (h.start, h.end)), Some((12, 29)));
        assert_eq!(a.leaves().count(), 3, "nothing else hit");
    }
}
