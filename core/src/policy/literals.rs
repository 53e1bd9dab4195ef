//! Literal lists compiled to aho-corasick: one automaton per inspected field holds the literals
//! of every policy of a customer, so a field is scanned once however many policies look at it.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::error::PolicyError;

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
        if self.patterns.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&self.patterns)
            .map_err(|e| PolicyError::Matcher(e.to_string()))?;
        Ok(Some(LiteralSet {
            automaton,
            patterns: self.patterns,
            leaves: self.leaves,
        }))
    }
}

/// A compiled literal set for one field.
#[derive(Debug, Clone)]
pub struct LiteralSet {
    automaton: AhoCorasick,
    patterns: Vec<String>,
    leaves: Vec<Vec<u32>>,
}

impl LiteralSet {
    /// Scans `text` and records, for every leaf not yet hit, the first hit that satisfies it.
    pub fn scan(&self, text: &[u8], part: Option<u32>, hits: &mut Hits) {
        for m in self.automaton.find_overlapping_iter(text) {
            let pattern = m.pattern().as_u32();
            for &leaf in &self.leaves[pattern as usize] {
                hits.record(leaf, || Hit {
                    part,
                    start: m.start() as u32,
                    end: m.end() as u32,
                    pattern,
                });
            }
        }
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
}
