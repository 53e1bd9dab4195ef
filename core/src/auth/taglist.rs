//! RFC 6376 3.2 tag-lists, read strictly: DKIM-Signature, DKIM key records, ARC-Seal and
//! ARC-Message-Signature share the syntax, and a list that breaks it must not count.

use std::collections::{BTreeMap, HashSet};

/// An RFC 6376 3.2 tag-list: `name=value` specs separated by `;` (one final `;` allowed),
/// names `ALPHA *(ALPHA / DIGIT / "_")` (case-sensitive), each at most once.
pub(super) fn tag_list(value: &str) -> Result<BTreeMap<&str, &str>, String> {
    let mut tags = BTreeMap::new();
    let mut seen = HashSet::new();
    let specs: Vec<&str> = value.split(';').collect();
    for (n, spec) in specs.iter().enumerate() {
        if spec.trim().is_empty() {
            if n + 1 == specs.len() {
                break; // the optional final `;`
            }
            return Err("an empty tag (stray `;`)".to_string());
        }
        let (name, tag_value) = spec
            .split_once('=')
            .ok_or_else(|| format!("{:?} is not name=value", spec.trim()))?;
        let name = name.trim();
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("{name:?} is not a tag name"));
        }
        if !seen.insert(name) {
            return Err(format!("tag {name}= appears twice"));
        }
        tags.insert(name, tag_value.trim());
    }
    Ok(tags)
}
