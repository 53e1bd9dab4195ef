//! Regular expressions compiled with Hyperscan: all the `*_matches` patterns of a customer's
//! policies for one inspected field go into one block-mode database, so a field is scanned once
//! however many regexes look at it. Patterns are case-insensitive and report the leftmost start
//! of each match, so a finding names the exact byte range.
//!
//! Hyperscan rejects what it cannot run in bounded time and memory (back-references,
//! look-around, some bounded repeats); such a pattern is refused when the policy is saved,
//! with Hyperscan's reason.

use std::sync::Arc;

use hyperscan::prelude::{BlockDatabase, Builder, CompileFlags, Matching, Pattern, Patterns};

use super::cache::{PolicyCache, key_of};
use super::literals::{Hit, Hits};
use super::scratch::ScratchPool;
use crate::error::PolicyError;

/// The longest pattern accepted (Hyperscan copes with more; API users should not need it).
pub const MAX_PATTERN_LEN: usize = 1000;

fn reason(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    let detail = text
        .split_once("more detail, ")
        .map_or(text.as_str(), |(_, d)| d);
    detail.trim_end_matches('.').to_string() + "."
}

fn pattern(expr: &str, som: bool) -> Result<Pattern, PolicyError> {
    let mut flags = CompileFlags::CASELESS;
    if som {
        flags |= CompileFlags::SOM_LEFTMOST;
    }
    Pattern::with_flags(expr, flags).map_err(|e| PolicyError::BadRegex {
        pattern: expr.to_string(),
        reason: reason(e),
    })
}

/// Checks that one pattern compiles; the API calls it before storing a policy.
pub fn check(expr: &str) -> Result<(), PolicyError> {
    check_pattern(expr, true)
}

/// Checks a pattern's length and, with `compile`, that Hyperscan compiles it alone.
pub fn check_pattern(expr: &str, compile: bool) -> Result<(), PolicyError> {
    if expr.len() > MAX_PATTERN_LEN {
        return Err(PolicyError::BadRegex {
            pattern: expr.chars().take(40).collect::<String>() + "…",
            reason: format!("longer than {MAX_PATTERN_LEN} bytes."),
        });
    }
    if !compile {
        return Ok(());
    }
    let db: Result<BlockDatabase, _> = pattern(expr, false)?.build();
    db.map(|_| ()).map_err(|e| PolicyError::BadRegex {
        pattern: expr.to_string(),
        reason: reason(e),
    })
}

/// Builder: patterns and the condition leaves each one satisfies.
#[derive(Debug, Default)]
pub struct RegexSetBuilder {
    patterns: Vec<String>,
    leaves: Vec<Vec<u32>>,
    index: std::collections::HashMap<String, usize>,
}

impl RegexSetBuilder {
    pub fn add(&mut self, expr: &str, leaf: u32) {
        match self.index.get(expr) {
            Some(&i) => self.leaves[i].push(leaf),
            None => {
                self.index.insert(expr.to_string(), self.patterns.len());
                self.patterns.push(expr.to_string());
                self.leaves.push(vec![leaf]);
            }
        }
    }

    fn compile(&self, som: bool) -> Result<BlockDatabase, PolicyError> {
        let mut list = Vec::with_capacity(self.patterns.len());
        for (i, expr) in self.patterns.iter().enumerate() {
            let mut p = pattern(expr, som)?;
            p.id = Some(i);
            list.push(p);
        }
        let patterns: Patterns = list.into_iter().collect();
        patterns.build().map_err(|e| {
            // Name the pattern that failed when Hyperscan says which one.
            let culprit = self
                .patterns
                .iter()
                .find(|p| check(p).is_err())
                .cloned()
                .unwrap_or_default();
            PolicyError::BadRegex {
                pattern: culprit,
                reason: reason(e),
            }
        })
    }

    pub fn build(self) -> Result<Option<Arc<RegexSet>>, PolicyError> {
        self.build_cached(&PolicyCache::default())
    }

    /// Builds the set, taking its database from `cache` when it holds one for these patterns
    /// (a live set of this process, or an archive on disk) and filling the cache otherwise.
    pub fn build_cached(self, cache: &PolicyCache) -> Result<Option<Arc<RegexSet>>, PolicyError> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        let key = key_of(&self.patterns);
        if let Some(set) = cache.regexes.get(&key)
            && set.leaves == self.leaves
        {
            return Ok(Some(set));
        }
        let (db, som) = match cache.load(&key, &self.patterns) {
            Some(c) => (c.db, c.som),
            None => {
                // Leftmost start offsets cost Hyperscan more state; a set that cannot afford
                // them is compiled without, and its findings then give the end of the match
                // as its start.
                let (db, som) = match self.compile(true) {
                    Ok(db) => (db, true),
                    Err(_) => (self.compile(false)?, false),
                };
                cache.store(&key, &self.patterns, &db, som);
                (db, som)
            }
        };
        let scratch = ScratchPool::for_database(&db).map_err(PolicyError::Matcher)?;
        let set = Arc::new(RegexSet {
            db,
            som,
            patterns: self.patterns,
            leaves: self.leaves,
            scratch,
        });
        cache.regexes.keep(key, &set);
        Ok(Some(set))
    }
}

/// A compiled regex set for one field.
pub struct RegexSet {
    db: BlockDatabase,
    som: bool,
    patterns: Vec<String>,
    leaves: Vec<Vec<u32>>,
    scratch: ScratchPool,
}

impl std::fmt::Debug for RegexSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegexSet")
            .field("patterns", &self.patterns)
            .field("som", &self.som)
            .finish()
    }
}

impl RegexSet {
    /// Scans `text` and records, for every leaf not yet hit, the first hit that satisfies it.
    pub fn scan(&self, text: &[u8], part: Option<u32>, hits: &mut Hits) {
        let som = self.som;
        self.scratch.scan(&self.db, text, |id, from, to| {
            if let Some(leaves) = self.leaves.get(id as usize) {
                for &leaf in leaves {
                    let end = u32::try_from(to).unwrap_or(u32::MAX);
                    hits.record(leaf, || Hit {
                        part,
                        start: if som {
                            u32::try_from(from).unwrap_or(end)
                        } else {
                            end
                        },
                        end,
                        pattern: id,
                    });
                }
            }
            Matching::Continue
        });
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
    fn one_database_reports_each_leaf_with_its_range() {
        let mut b = RegexSetBuilder::default();
        b.add(r"b[i1]tc[o0]in", 0);
        b.add(r"wire\s+transfer", 1);
        b.add(r"b[i1]tc[o0]in", 2);
        let set = b.build().expect("compiles").expect("non-empty");
        assert_eq!(set.len(), 2);
        let mut hits = Hits::default();
        set.scan(b"Free BITC0IN and a wire   transfer", Some(4), &mut hits);
        let h0 = hits.get(0).cloned().expect("bitcoin");
        assert_eq!((h0.start, h0.end, h0.part), (5, 12, Some(4)));
        assert_eq!(hits.get(2).map(|h| h.start), Some(5));
        let h1 = hits.get(1).cloned().expect("wire transfer");
        assert_eq!((h1.start, h1.end), (19, 34));
        assert_eq!(set.pattern(h1.pattern), r"wire\s+transfer");
    }

    #[test]
    fn patterns_hyperscan_cannot_run_are_refused_with_a_reason() {
        let err = check("a(b").expect_err("unbalanced");
        assert!(
            err.to_string().contains("Missing close parenthesis"),
            "{err}"
        );
        let err = check(r"(a|b)\1").expect_err("back-reference");
        assert!(err.to_string().contains("Back-references"), "{err}");
        assert!(check(&"a".repeat(MAX_PATTERN_LEN + 1)).is_err());
        let mut b = RegexSetBuilder::default();
        b.add("fine", 0);
        b.add("(?<=x)y", 1);
        assert!(b.build().is_err(), "one bad pattern fails the whole set");
        assert!(check(r"\d{3}-\d{4}").is_ok());
    }
}
