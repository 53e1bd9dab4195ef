//! The structure of a message's ARC sets checked to the letter of RFC 8617 (with RFC 6376 3.2
//! tag-lists and RFC 8301 algorithms) before mail-auth's cryptographic validation is
//! believed. mail-auth ignores a set that lacks its ARC-Message-Signature (so a broken chain
//! reads as no chain), tolerates malformed tag-lists, assumes `a=rsa-sha256` when `a=` is
//! missing, accepts rsa-sha1 and does not look at the AMS `h=`; each of those lets a chain
//! someone tampered with count as intact. A structural problem makes the chain `fail`.

use std::collections::BTreeMap;

use super::taglist::tag_list;

/// RFC 8617 4.2.1: instances run from 1 to at most 50.
const MAX_INSTANCE: u32 = 50;

#[derive(Default)]
struct Instance {
    seals: u32,
    signatures: u32,
    results: u32,
}

/// Why the ARC sets of `raw` are malformed; `None` when they are well formed or absent.
#[cfg(test)]
fn structural_problem(raw: &[u8]) -> Option<String> {
    let scan = super::headers::scan(raw);
    let fields: Vec<(&[u8], &[u8])> = scan
        .fields
        .iter()
        .map(|f| (f.name(raw), f.value(raw)))
        .collect();
    structural_problem_of(&fields)
}

/// The same over a message's header fields as (name, value) pairs, in order.
pub fn structural_problem_of(fields: &[(&[u8], &[u8])]) -> Option<String> {
    let is_arc = |name: &[u8]| {
        let name = name.trim_ascii();
        name.len() > 4 && name[..4].eq_ignore_ascii_case(b"arc-")
    };
    if !fields.iter().any(|(name, _)| is_arc(name)) {
        return None;
    }
    let mut instances: BTreeMap<u32, Instance> = BTreeMap::new();
    let mut any = false;
    for (field_name, field_value) in fields {
        let name = String::from_utf8_lossy(field_name)
            .trim()
            .to_ascii_lowercase();
        let kind = match name.as_str() {
            "arc-seal" => "ARC-Seal",
            "arc-message-signature" => "ARC-Message-Signature",
            "arc-authentication-results" => "ARC-Authentication-Results",
            _ => continue,
        };
        any = true;
        let value = String::from_utf8_lossy(field_value);
        let instance = if kind == "ARC-Authentication-Results" {
            // `i=N;` then an Authentication-Results payload (not a tag-list).
            aar_instance(&value).ok_or_else(|| format!("{kind} without a valid i= tag"))
        } else {
            signature_instance(kind, &value)
        };
        let i = match instance {
            Ok(i) => i,
            Err(problem) => return Some(problem),
        };
        let slot = instances.entry(i).or_default();
        match kind {
            "ARC-Seal" => slot.seals += 1,
            "ARC-Message-Signature" => slot.signatures += 1,
            _ => slot.results += 1,
        }
    }
    if !any {
        return None;
    }
    // RFC 8617 5.1.1: exactly one of each header field per instance, instances 1..N.
    for (n, (i, set)) in instances.iter().enumerate() {
        if *i != n as u32 + 1 {
            return Some(format!("ARC instance {} is missing", n + 1));
        }
        if set.seals != 1 || set.signatures != 1 || set.results != 1 {
            return Some(format!(
                "ARC set {i} is incomplete or repeated ({} ARC-Seal, {} ARC-Message-Signature, \
                 {} ARC-Authentication-Results)",
                set.seals, set.signatures, set.results
            ));
        }
    }
    None
}

/// `i=N` at the start of an ARC-Authentication-Results value.
fn aar_instance(value: &str) -> Option<u32> {
    let first = value.split(';').next()?.trim();
    let n = first.strip_prefix("i=")?.trim();
    instance_number(n)
}

fn instance_number(n: &str) -> Option<u32> {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.len() > 2 {
        return None;
    }
    let i: u32 = n.parse().ok()?;
    (1..=MAX_INSTANCE).contains(&i).then_some(i)
}

/// Checks an ARC-Seal or ARC-Message-Signature tag-list; answers its instance.
fn signature_instance(kind: &str, value: &str) -> Result<u32, String> {
    let tags = tag_list(value).map_err(|e| format!("{kind}: {e}"))?;
    let required: &[&str] = if kind == "ARC-Seal" {
        &["i", "a", "b", "d", "s", "cv"]
    } else {
        &["i", "a", "b", "bh", "d", "h", "s"]
    };
    for tag in required {
        if !tags.contains_key(*tag) {
            return Err(format!("{kind} has no {tag}= tag"));
        }
    }
    let algorithm = tags["a"].to_ascii_lowercase();
    if algorithm != "rsa-sha256" && algorithm != "ed25519-sha256" {
        // RFC 8301: rsa-sha1 must not be used; anything else is unknown.
        return Err(format!("{kind} uses algorithm {algorithm:?}"));
    }
    if kind == "ARC-Message-Signature"
        && tags["h"]
            .split(':')
            .any(|h| h.trim().eq_ignore_ascii_case("arc-seal"))
    {
        // RFC 8617 4.1.2: the AMS must not sign ARC-Seal fields.
        return Err("ARC-Message-Signature signs ARC-Seal".to_string());
    }
    instance_number(tags["i"]).ok_or_else(|| format!("{kind} has a bad i= tag"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAR: &str = "ARC-Authentication-Results: i=1; mx.example.org; spf=pass\r\n";
    const AMS: &str = "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n s=s1; h=from:to:subject; bh=abc=; b=def=\r\n";
    const AS: &str = "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s1; b=ghi=\r\n";

    fn message(fields: &[String]) -> Vec<u8> {
        let mut m = fields.concat();
        m.push_str("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n");
        m.into_bytes()
    }

    #[test]
    fn well_formed_sets_pass_and_broken_ones_are_named() {
        let set = |seal: String, signature: String| vec![seal, signature, AAR.to_string()];
        let seal = |from: &str, to: &str| AS.replace(from, to);
        let sig = |from: &str, to: &str| AMS.replace(from, to);
        assert_eq!(structural_problem(&message(&[])), None);
        assert_eq!(
            structural_problem(&message(&set(seal("", ""), sig("", "")))),
            None
        );
        let broken = [
            (vec![AS.to_string(), AAR.to_string()], "incomplete"),
            (set(seal("i=1", "i=2"), sig("", "")), "set 1 is incomplete"),
            (
                set(seal("a=rsa-sha256", "a=rsa-sha1"), sig("", "")),
                "algorithm",
            ),
            (set(seal("a=rsa-sha256; ", ""), sig("", "")), "no a= tag"),
            (set(seal("cv=none;", "cv=none;;"), sig("", "")), "stray"),
            (set(seal("s=s1", "s=s1; d=x.org"), sig("", "")), "twice"),
            (set(seal("i=1", "I=1"), sig("", "")), "no i= tag"),
            (set(seal("s=s1", "s=s1; 9x=1"), sig("", "")), "tag name"),
            (
                set(seal("", ""), sig("h=from", "h=arc-seal:from")),
                "signs ARC-Seal",
            ),
        ];
        for (fields, says) in broken {
            let p = structural_problem(&message(&fields)).unwrap_or_default();
            assert!(p.contains(says), "{p:?} should say {says:?}");
        }
    }
}
