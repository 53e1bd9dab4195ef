//! Compiled Hyperscan databases, kept so a policy set is not compiled twice: in memory across
//! snapshot reloads (a change to one customer's policies leaves every other compiled database
//! as it was) and on disk across restarts, as rkyv archives under `<data_dir>/policy-cache/`.
//!
//! Hyperscan compilation is the expensive part of building a [`super::PolicySet`] (tens of
//! milliseconds to seconds for thousands of patterns); condition trees and aho-corasick
//! automata are rebuilt from the policies, which takes a small fraction of that. A database is
//! keyed by the SHA-256 of what determines it: the archive format, the Hyperscan version and
//! the pattern list in order. The archive is validated (rkyv's checks, the key, the pattern
//! list and a SHA-256 of the database bytes) before Hyperscan sees a byte of it, so a damaged
//! or foreign file is recompiled, never loaded. The cache is an optimisation: any failure to
//! read or write it is logged and the set compiled as if it were absent.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, Weak},
};

use hyperscan::{Serialized, prelude::BlockDatabase};
use sha2::{Digest, Sha256};

/// Bumped whenever the archive layout or the way databases are compiled changes.
const FORMAT: u32 = 1;

/// One compiled database as stored on disk.
#[derive(Debug, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct DatabaseArchive {
    format: u32,
    key: [u8; 32],
    patterns: Vec<String>,
    /// Compiled with leftmost start-of-match reporting.
    som: bool,
    /// `hs_serialize_database` output.
    database: Vec<u8>,
    database_sha256: [u8; 32],
}

/// What a regex set needs back from the cache.
pub(crate) struct Compiled {
    pub db: BlockDatabase,
    pub som: bool,
}

/// Where compiled databases are kept; shared by every snapshot a process builds.
#[derive(Debug, Default)]
pub struct PolicyCache {
    dir: Option<PathBuf>,
    /// Regex databases of live snapshots: a reload reuses them without touching the disk.
    pub(crate) regexes: Live<super::regexes::RegexSet>,
    /// The same for long literal lists.
    pub(crate) literals: Live<super::literals::LiteralDb>,
}

/// Compiled databases that live snapshots of this process hold, by cache key (weakly: a
/// database goes when the last snapshot using it does).
#[derive(Debug)]
pub(crate) struct Live<T>(Mutex<HashMap<[u8; 32], Weak<T>>>);

impl<T> Default for Live<T> {
    fn default() -> Self {
        Live(Mutex::default())
    }
}

impl<T> Live<T> {
    /// The database compiled for `key`, while a live snapshot holds it.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Arc<T>> {
        let live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        live.get(key).and_then(Weak::upgrade)
    }

    /// Remembers `db` for later snapshots (and forgets the dropped ones).
    pub(crate) fn keep(&self, key: [u8; 32], db: &Arc<T>) {
        let mut live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|_, w| w.strong_count() > 0);
        live.insert(key, Arc::downgrade(db));
    }

    /// The archive file names of the databases still held.
    fn file_names(&self) -> Vec<String> {
        let live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        live.iter()
            .filter(|(_, w)| w.strong_count() > 0)
            .map(|(k, _)| format!("{}.rkyv", hex::encode(k)))
            .collect()
    }
}

/// The cache key of a regex pattern list.
pub(crate) fn key_of(patterns: &[String]) -> [u8; 32] {
    keyed(b"", patterns)
}

/// The cache key of a literal list (never equal to a regex list's: `a.b` differs as either).
pub(crate) fn literal_key_of(patterns: &[String]) -> [u8; 32] {
    keyed(b"literals", patterns)
}

fn keyed(kind: &[u8], patterns: &[String]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(FORMAT.to_le_bytes());
    h.update(hyperscan::version_str().to_bytes());
    h.update([0]);
    h.update(kind);
    for p in patterns {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

impl PolicyCache {
    /// A cache in memory only.
    pub fn in_memory() -> PolicyCache {
        PolicyCache::default()
    }

    /// A cache in memory and under `dir` (created when first written).
    pub fn at(dir: impl Into<PathBuf>) -> PolicyCache {
        PolicyCache {
            dir: Some(dir.into()),
            ..PolicyCache::default()
        }
    }

    /// The directory a data directory's cache lives in.
    pub fn dir_for(data_dir: &Path) -> PathBuf {
        data_dir.join("policy-cache")
    }

    fn path(&self, key: &[u8; 32]) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}.rkyv", hex::encode(key))))
    }

    /// The database archived for `patterns`, when a valid archive is on disk.
    pub(crate) fn load(&self, key: &[u8; 32], patterns: &[String]) -> Option<Compiled> {
        let path = self.path(key)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "policy cache unreadable");
                return None;
            }
        };
        match Self::validate(&bytes, key, patterns) {
            Ok(compiled) => Some(compiled),
            Err(why) => {
                tracing::warn!(path = %path.display(), %why, "policy cache entry refused; recompiling");
                None
            }
        }
    }

    fn validate(bytes: &[u8], key: &[u8; 32], patterns: &[String]) -> Result<Compiled, String> {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        let archived = rkyv::access::<ArchivedDatabaseArchive, rkyv::rancor::Error>(&aligned)
            .map_err(|e| format!("not a valid archive: {e}"))?;
        if archived.format.to_native() != FORMAT {
            return Err(format!("format {}", archived.format.to_native()));
        }
        if archived.key != *key {
            return Err("key does not match the file name".into());
        }
        if archived.patterns.len() != patterns.len()
            || archived
                .patterns
                .iter()
                .zip(patterns)
                .any(|(a, p)| a.as_str() != p)
        {
            return Err("pattern list differs".into());
        }
        let database: &[u8] = archived.database.as_slice();
        let digest: [u8; 32] = Sha256::digest(database).into();
        if digest != archived.database_sha256 {
            return Err("database checksum mismatch".into());
        }
        let db: BlockDatabase = database
            .deserialize()
            .map_err(|e| format!("Hyperscan refused the database: {e}"))?;
        Ok(Compiled {
            db,
            som: archived.som,
        })
    }

    /// Archives a freshly compiled database (temporary file, then rename).
    pub(crate) fn store(&self, key: &[u8; 32], patterns: &[String], db: &BlockDatabase, som: bool) {
        let Some(path) = self.path(key) else {
            return;
        };
        let result = (|| -> Result<(), String> {
            let serialized = db.serialize().map_err(|e| e.to_string())?;
            let database: Vec<u8> = serialized.to_vec();
            let archive = DatabaseArchive {
                format: FORMAT,
                key: *key,
                patterns: patterns.to_vec(),
                som,
                database_sha256: Sha256::digest(&database).into(),
                database,
            };
            let bytes =
                rkyv::to_bytes::<rkyv::rancor::Error>(&archive).map_err(|e| e.to_string())?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "policy cache not written");
        }
    }

    /// Removes archives no live set uses that were last written over an hour ago (policies
    /// that changed or went away); another process may still be about to read a newer one.
    pub fn prune(&self) {
        let Some(dir) = &self.dir else {
            return;
        };
        let live: std::collections::HashSet<String> = self
            .regexes
            .file_names()
            .into_iter()
            .chain(self.literals.file_names())
            .collect();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if old && !live.contains(&name) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Archives on disk (for tests and `moat` status output).
    pub fn entries(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "rkyv"))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{literals::Hits, regexes::RegexSetBuilder};

    fn builder() -> RegexSetBuilder {
        let mut b = RegexSetBuilder::default();
        b.add(r"b[i1]tc[o0]in", 0);
        b.add(r"wire\s+transfer", 1);
        b
    }

    fn hits(set: &crate::policy::regexes::RegexSet) -> Vec<(u32, u32)> {
        let mut hits = Hits::default();
        set.scan(b"Send BITC0IN by wire  transfer", None, &mut hits);
        let mut out: Vec<(u32, u32)> = (0..2)
            .filter_map(|l| hits.get(l).map(|h| (h.start, h.end)))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_restarted_process_loads_the_archive_instead_of_compiling() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = PolicyCache::at(dir.path());
        let set = builder()
            .build_cached(&first)
            .expect("compiles")
            .expect("set");
        assert_eq!(hits(&set), [(5, 12), (16, 30)]);
        assert_eq!(first.entries().len(), 1, "one archive written");
        // Same process, next snapshot: the very same compiled set.
        let again = builder().build_cached(&first).expect("ok").expect("set");
        assert!(Arc::ptr_eq(&set, &again));
        // A new process: the archive validates and Hyperscan takes it as it is.
        let second = PolicyCache::at(dir.path());
        let patterns = [r"b[i1]tc[o0]in".to_string(), r"wire\s+transfer".to_string()];
        let key = key_of(&patterns);
        assert!(second.load(&key, &patterns).is_some(), "archive loads");
        let loaded = builder().build_cached(&second).expect("ok").expect("set");
        assert_eq!(hits(&loaded), [(5, 12), (16, 30)]);
        // Another pattern list never takes this archive, even under its name.
        assert!(second.load(&key, &patterns[..1]).is_none());
    }

    #[test]
    fn damaged_archives_are_recompiled_never_loaded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = PolicyCache::at(dir.path());
        drop(builder().build_cached(&cache).expect("compiles"));
        let path = cache.entries().pop().expect("archive");
        let good = std::fs::read(&path).expect("read");
        let patterns = [r"b[i1]tc[o0]in".to_string(), r"wire\s+transfer".to_string()];
        let key = key_of(&patterns);
        let mut flipped = good.clone();
        // A byte inside the database (the archive's largest field, in its middle).
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x5a;
        for bad in [
            flipped,
            good[..good.len() / 3].to_vec(),
            b"junk".to_vec(),
            vec![],
        ] {
            std::fs::write(&path, &bad).expect("write");
            let fresh = PolicyCache::at(dir.path());
            assert!(fresh.load(&key, &patterns).is_none(), "{} bytes", bad.len());
            // Building still works (compiled again) and repairs the archive.
            let set = builder().build_cached(&fresh).expect("ok").expect("set");
            assert_eq!(hits(&set), [(5, 12), (16, 30)]);
            assert!(PolicyCache::at(dir.path()).load(&key, &patterns).is_some());
        }
    }

    #[test]
    fn long_literal_lists_are_archived_apart_from_regexes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let literals: Vec<String> = (0..crate::policy::literals::HYPERSCAN_FROM)
            .map(|i| format!("gift card {i:03}"))
            .collect();
        let build = |cache: &PolicyCache| {
            let mut b = crate::policy::literals::LiteralSetBuilder::default();
            for (i, l) in literals.iter().enumerate() {
                b.add(l, i as u32);
            }
            b.build_cached(cache).expect("builds").expect("set")
        };
        let first = PolicyCache::at(dir.path());
        let set = build(&first);
        assert!(set.uses_hyperscan());
        assert_eq!(first.entries().len(), 1, "one archive written");
        let second = PolicyCache::at(dir.path());
        assert!(second.load(&literal_key_of(&literals), &literals).is_some());
        // The same strings as regexes have their own key: the literal database is not theirs.
        assert!(second.load(&key_of(&literals), &literals).is_none());
        let loaded = build(&second);
        let mut hits = Hits::default();
        loaded.scan(b"two GIFT CARD 017 codes", None, &mut hits);
        assert_eq!(hits.get(17).map(|h| (h.start, h.end)), Some((4, 17)));
        assert_eq!(hits.leaves().count(), 1);
    }
}
