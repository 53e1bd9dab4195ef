//! What Moat accepts of a DKIM signature beyond mail-auth's cryptographic check (RFC 6376
//! 3.6.1 and 6.1, RFC 8301, RFC 8601's `policy` result). mail-auth passes rsa-sha1 signatures
//! and short RSA keys, does not read a key record's `h=` or `s=`, reports a malformed
//! signature as neutral and an AUID against `t=s` as fail. Here:
//! - rsa-sha1, or an RSA key under 1024 bits: `policy` (signed, but not acceptably);
//! - a key record that does not parse as a tag-list, whose `h=` excludes the signature's hash,
//!   whose `s=` excludes email, whose `k=` is not the signature's key type; a signature whose
//!   `q=` is not `dns/txt`, or whose AUID (`i=`) is outside `d=` or against `t=s`: `permerror`;
//! - a signature field mail-auth could not parse: `permerror`, never "not signed".
//!
//! A rewritten result can only move away from `pass`; nothing here makes a signature pass.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine;
use hickory_resolver::{TokioResolver, proto::rr::RData};
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, Error,
    common::crypto::Algorithm,
    dkim::{DkimError, Signature},
};

use super::taglist::tag_list;
use crate::dns::cache::TtlCache;

/// DKIM key records as these rules read them, kept for their answer's TTL: a repeat sender's
/// key is not asked for or parsed again. A DNS failure is not kept.
pub(super) struct KeyCache(TtlCache<Box<str>, Arc<Result<KeyRecord, String>>>);

impl KeyCache {
    pub(super) fn new(capacity: usize) -> KeyCache {
        KeyCache(TtlCache::new(capacity))
    }
}

/// RFC 8301 3.2: RSA keys must be at least 1024 bits.
const MIN_RSA_BITS: usize = 1024;

/// Why Moat changed a signature's result, for `Authentication-Results` and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rewrite {
    /// RFC 8601 `policy`: signed, but not in a way Moat accepts.
    Policy(String),
    Permerror(String),
}

impl Rewrite {
    pub(super) fn result(&self) -> crate::model::AuthResult {
        match self {
            Rewrite::Policy(_) => crate::model::AuthResult::Policy,
            Rewrite::Permerror(_) => crate::model::AuthResult::Permerror,
        }
    }

    pub(super) fn reason(&self) -> &str {
        match self {
            Rewrite::Policy(r) | Rewrite::Permerror(r) => r,
        }
    }

    /// The `Authentication-Results` text for this result (a comment without parentheses).
    pub(super) fn clause(&self) -> String {
        let reason: String = self
            .reason()
            .chars()
            .filter(|c| !matches!(c, '(' | ')' | '\r' | '\n' | '\\'))
            .collect();
        match self {
            Rewrite::Policy(_) => format!("dkim=policy ({reason})"),
            Rewrite::Permerror(_) => format!("dkim=permerror ({reason})"),
        }
    }

    /// The placeholder mail-auth writes for the output carrying this rewrite.
    pub(super) const PLACEHOLDER: &'static str = "dkim=permerror (i/o error)";
}

/// Applies Moat's rules to mail-auth's outputs; returns the outputs (rewritten ones as a
/// permerror carrying the reason) and, per output, the rewrite made to it.
pub(super) async fn enforce<'x>(
    resolver: &TokioResolver,
    cache: &KeyCache,
    messages: &[&'x AuthenticatedMessage<'x>],
    outputs: Vec<DkimOutput<'x>>,
    wait: Duration,
) -> (Vec<DkimOutput<'x>>, Vec<Option<Rewrite>>) {
    // Reading every DKIM-Signature field again is needed only when one has a q= tag or
    // mail-auth evaluated fewer signatures than there are fields (some did not parse).
    let headers = messages.first().map_or(&[][..], |m| m.headers.as_slice());
    let values: Vec<&[u8]> = headers
        .iter()
        .filter(|(name, _)| name.trim_ascii().eq_ignore_ascii_case(b"dkim-signature"))
        .map(|(_, value)| *value)
        .collect();
    let evaluated = outputs.iter().filter(|o| o.signature().is_some()).count();
    let has_q = |v: &[u8]| {
        v.split(|b| *b == b';')
            .any(|spec| spec.trim_ascii_start().starts_with(b"q="))
    };
    let fields = if values.len() != evaluated || values.iter().any(|v| has_q(v) || repeats_a_tag(v))
    {
        signature_fields(headers)
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(outputs.len());
    let mut rewrites = Vec::with_capacity(outputs.len());
    for o in outputs {
        let rewrite = match (o.result(), o.signature()) {
            (DkimResult::Pass, Some(sig)) => {
                let key = tokio::time::timeout(wait, key_record(resolver, cache, sig)).await;
                match key.as_ref().map(|k| k.as_ref().map(|entry| entry.as_ref())) {
                    Ok(Ok(Ok(key))) => judge_pass(sig, &fields, key),
                    Ok(Ok(Err(why))) => Some(Rewrite::Permerror(why.clone())),
                    // The look-up failed now (mail-auth's succeeded a moment ago): left as is.
                    Ok(Err(_)) => None,
                    // Looked up a moment ago by mail-auth: a time-out now is a DNS failure.
                    Err(_) => None,
                }
            }
            (DkimResult::Fail(Error::Dkim(DkimError::FailedAuidMatch)), Some(_)) => Some(
                Rewrite::Permerror("the AUID (i=) is not allowed by the key's t=s".into()),
            ),
            // A failed verification with a short RSA key is the key's fault: policy.
            (DkimResult::Fail(Error::Crypto(_)), Some(sig))
                if sig.a != Algorithm::Ed25519Sha256 =>
            {
                match tokio::time::timeout(wait, key_record(resolver, cache, sig)).await {
                    Ok(Ok(entry)) => entry.as_ref().as_ref().ok().and_then(short_key),
                    _ => None,
                }
            }
            // mail-auth's reading of a field it could not parse; Moat reports every such field
            // itself below, with its reason.
            (DkimResult::Neutral(_), None) => continue,
            _ => None,
        };
        match rewrite {
            Some(r) => {
                let replaced = DkimOutput::perm_err(Error::Io(r.reason().to_string()));
                // The signature as borrowed from the message (it outlives this output).
                let sig = o
                    .signature()
                    .and_then(|s| super::dkim::message_signature(messages, s));
                let replaced = match sig {
                    Some(sig) => replaced.with_signature(sig),
                    None => replaced,
                };
                out.push(replaced);
                rewrites.push(Some(r));
            }
            None => {
                out.push(o);
                rewrites.push(None);
            }
        }
    }
    // Every DKIM-Signature field mail-auth did not evaluate (it did not parse) is a
    // permerror for that signature, never "not signed".
    let evaluated: Vec<Vec<u8>> = out
        .iter()
        .filter_map(|o| o.signature().map(|s| s.b.clone()))
        .collect();
    for field in &fields {
        if field.b.as_ref().is_some_and(|b| evaluated.contains(b)) {
            continue;
        }
        let why = format!(
            "the DKIM-Signature field{} does not parse: {}",
            field
                .d
                .as_ref()
                .map_or(String::new(), |d| format!(" of d={d}")),
            field.problem.as_deref().unwrap_or("it was not evaluated")
        );
        out.push(DkimOutput::perm_err(Error::Io(why.clone())));
        rewrites.push(Some(Rewrite::Permerror(why)));
    }
    (out, rewrites)
}

/// `policy` for an RSA key under 1024 bits.
fn short_key(key: &KeyRecord) -> Option<Rewrite> {
    match key.rsa_bits {
        Some(bits) if key.kind == "rsa" && bits < MIN_RSA_BITS => Some(Rewrite::Policy(format!(
            "RSA key of {bits} bits; at least {MIN_RSA_BITS} are required (RFC 8301)"
        ))),
        _ => None,
    }
}

/// A pass that Moat's rules may still refuse.
fn judge_pass(sig: &Signature, fields: &[SignatureField], key: &KeyRecord) -> Option<Rewrite> {
    // RFC 6376 3.2: a tag-list that repeats a tag (or breaks the syntax) is not a valid
    // signature, whatever a lenient parser made of it.
    if let Some(problem) = fields
        .iter()
        .find(|f| f.b.as_ref() == Some(&sig.b))
        .and_then(|f| f.problem.as_ref())
    {
        return Some(Rewrite::Permerror(format!(
            "the DKIM-Signature field is invalid: {problem}"
        )));
    }
    if sig.a == Algorithm::RsaSha1 {
        return Some(Rewrite::Policy(
            "rsa-sha1 signatures are not accepted (RFC 8301)".into(),
        ));
    }
    let field = fields.iter().find(|f| f.b.as_ref() == Some(&sig.b));
    if let Some(q) = field.and_then(|f| f.q.as_deref())
        && !q
            .split(':')
            .any(|m| m.trim().eq_ignore_ascii_case("dns/txt"))
    {
        return Some(Rewrite::Permerror(format!("q={q} is not dns/txt")));
    }
    if !sig.i.is_empty() {
        let auid_domain = sig
            .i
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .to_ascii_lowercase();
        let d = sig.d.to_ascii_lowercase();
        if auid_domain != d && !auid_domain.ends_with(&format!(".{d}")) {
            return Some(Rewrite::Permerror(format!(
                "the AUID i={} is outside d={}",
                sig.i, sig.d
            )));
        }
        if key.strict_subdomains && auid_domain != d {
            return Some(Rewrite::Permerror(
                "the AUID (i=) is a subdomain of d= but the key says t=s".into(),
            ));
        }
    }
    if let Some(hashes) = &key.hashes
        && !hashes.iter().any(|h| h == "sha256")
    {
        return Some(Rewrite::Permerror(format!(
            "the key allows only h={} (the signature uses sha256)",
            hashes.join(":")
        )));
    }
    if let Some(services) = &key.services
        && !services.iter().any(|s| s == "email" || s == "*")
    {
        return Some(Rewrite::Permerror(format!(
            "the key is for s={}, not email",
            services.join(":")
        )));
    }
    let want = match sig.a {
        Algorithm::Ed25519Sha256 => "ed25519",
        _ => "rsa",
    };
    if key.kind != want {
        return Some(Rewrite::Permerror(format!(
            "the key is k={} for an {want} signature",
            key.kind
        )));
    }
    short_key(key)
}

/// What Moat reads of a DKIM-Signature field itself (the tags mail-auth does not keep).
struct SignatureField {
    /// The decoded `b=`, when the field has one.
    b: Option<Vec<u8>>,
    d: Option<String>,
    q: Option<String>,
    /// Why the field is not a valid signature, as far as Moat checks (RFC 6376 3.5).
    problem: Option<String>,
}

/// Whether a tag-list names some tag twice (a cheap scan of the names only).
fn repeats_a_tag(value: &[u8]) -> bool {
    let mut names: Vec<&[u8]> = Vec::with_capacity(16);
    for spec in value.split(|b| *b == b';') {
        let name = spec
            .split(|b| *b == b'=')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        if name.is_empty() {
            continue;
        }
        if names.contains(&name) {
            return true;
        }
        names.push(name);
    }
    false
}

/// The last value of tag `name` in a tag-list that does not parse strictly.
fn lenient_tag(value: &str, name: &str) -> Option<String> {
    value
        .split(';')
        .filter_map(|spec| spec.split_once('='))
        .filter(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().to_string())
        .next_back()
}

fn decode_b(b: &str) -> Option<Vec<u8>> {
    let b: String = b.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b).ok()
}

/// Tags every DKIM-Signature must have (RFC 6376 3.5).
const REQUIRED: [&str; 7] = ["v", "a", "b", "bh", "d", "h", "s"];

fn signature_fields(headers: &[(&[u8], &[u8])]) -> Vec<SignatureField> {
    headers
        .iter()
        .filter(|(name, _)| name.trim_ascii().eq_ignore_ascii_case(b"dkim-signature"))
        .map(|(_, value)| {
            let value = String::from_utf8_lossy(value).into_owned();
            let tags = match tag_list(&value) {
                Ok(t) => t,
                Err(e) => {
                    return SignatureField {
                        // Still matched to mail-auth's reading of it by its b= value.
                        b: lenient_tag(&value, "b").and_then(|b| decode_b(&b)),
                        d: lenient_tag(&value, "d"),
                        q: None,
                        problem: Some(e),
                    };
                }
            };
            let b = tags.get("b").and_then(|b| decode_b(b));
            let missing: Vec<&str> = REQUIRED
                .iter()
                .copied()
                .filter(|t| !tags.contains_key(t))
                .collect();
            SignatureField {
                b,
                d: tags.get("d").map(|d| d.to_string()),
                q: tags.get("q").map(|q| q.to_string()),
                problem: (!missing.is_empty())
                    .then(|| format!("no {} tag", missing.join("=, ") + "=")),
            }
        })
        .collect()
}

/// A DKIM key record (RFC 6376 3.6.1), as far as Moat's rules need it.
#[derive(Debug, Default)]
pub(super) struct KeyRecord {
    kind: String,
    hashes: Option<Vec<String>>,
    services: Option<Vec<String>>,
    strict_subdomains: bool,
    rsa_bits: Option<usize>,
}

/// The key record of `sig`: `Ok` with the record or why it is unacceptable (kept for the
/// answer's TTL), `Err` when DNS failed (not kept).
async fn key_record(
    resolver: &TokioResolver,
    cache: &KeyCache,
    sig: &Signature,
) -> Result<Arc<Result<KeyRecord, String>>, String> {
    let name =
        format!("{}._domainkey.{}.", sig.s, sig.d.trim_end_matches('.')).to_ascii_lowercase();
    if let Some(hit) = cache.0.lookup(name.as_str()) {
        return Ok(hit);
    }
    let answer = resolver
        .txt_lookup(name.as_str())
        .await
        .map_err(|e| format!("the key record {name} cannot be read: {e}"))?;
    let texts: Vec<String> = answer
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    let parsed = match texts.as_slice() {
        [text] => parse_key(text),
        _ => Err(format!("{name} holds {} TXT records, not one", texts.len())),
    };
    let entry = Arc::new(parsed);
    let until = answer.valid_until().max(Instant::now());
    cache.0.store(name.into(), entry.clone(), until);
    Ok(entry)
}

fn parse_key(text: &str) -> Result<KeyRecord, String> {
    let tags = tag_list(text).map_err(|e| format!("the key record does not parse: {e}"))?;
    let list = |tag: &str| {
        tags.get(tag).map(|v| {
            v.split(':')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
    };
    let p: String = tags
        .get("p")
        .ok_or("the key record has no p= tag")?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let kind = tags
        .get("k")
        .map_or("rsa", |k| k.trim())
        .to_ascii_lowercase();
    let rsa_bits = if kind == "rsa" && !p.is_empty() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(&p)
            .map_err(|_| "the key's p= is not base64")?;
        rsa_modulus_bits(&der)
    } else {
        None
    };
    Ok(KeyRecord {
        kind,
        hashes: list("h"),
        services: list("s"),
        strict_subdomains: list("t").is_some_and(|t| t.iter().any(|f| f == "s")),
        rsa_bits,
    })
}

/// One DER element: (tag, content, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The size of an RSA public key's modulus, from a SubjectPublicKeyInfo or a PKCS#1
/// RSAPublicKey (both occur in DKIM records).
fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let (tag, body, _) = der(key)?;
    if tag != 0x30 {
        return None;
    }
    let (first_tag, first, rest) = der(body)?;
    let modulus = match first_tag {
        // PKCS#1: SEQUENCE { INTEGER n, INTEGER e }
        0x02 => first,
        // SPKI: SEQUENCE { SEQUENCE alg, BIT STRING { SEQUENCE { INTEGER n, INTEGER e } } }
        0x30 => {
            let (bit_tag, bits, _) = der(rest)?;
            if bit_tag != 0x03 || bits.first() != Some(&0) {
                return None;
            }
            let (seq_tag, seq, _) = der(&bits[1..])?;
            let (int_tag, n, _) = der(seq)?;
            if seq_tag != 0x30 || int_tag != 0x02 {
                return None;
            }
            n
        }
        _ => return None,
    };
    let n: &[u8] = {
        let start = modulus.iter().position(|b| *b != 0)?;
        &modulus[start..]
    };
    Some(n.len() * 8 - n[0].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_records_are_read_strictly_and_rsa_sizes_measured() {
        // A 1024-bit SPKI key (RFC 6376's example, reflowed).
        let p1024 = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
        let k = parse_key(&format!("v=DKIM1; k=rsa; p={p1024}")).expect("parses");
        assert_eq!(k.rsa_bits, Some(1024));
        assert_eq!(k.kind, "rsa");
        let k = parse_key("v=DKIM1; h=sha1; s=other; t=y:s; p=").expect("revoked key parses");
        assert_eq!(k.hashes, Some(vec!["sha1".to_string()]));
        assert_eq!(k.services, Some(vec!["other".to_string()]));
        assert!(k.strict_subdomains);
        assert!(parse_key("v=DKIM1; k=rsa; k=rsa; p=").is_err());
        assert!(parse_key("v=DKIM1; k=rsa").is_err());
        // A 512-bit PKCS#1 key: 0x30 len { 0x02 0x41 00 <64 bytes> , 0x02 0x03 010001 }.
        let mut pkcs1 = vec![0x30, 0x48, 0x02, 0x41, 0x00, 0xc1];
        pkcs1.extend(std::iter::repeat_n(0x55, 63));
        pkcs1.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(rsa_modulus_bits(&pkcs1), Some(512));
    }

    #[test]
    fn a_repeated_tag_makes_the_field_invalid_and_still_matchable() {
        let field =
            b"v=1; a=rsa-sha256; d=good.example; s=s1; d=evil.example; h=from; bh=YQ==; b=Ym9i";
        assert!(repeats_a_tag(field));
        assert!(!repeats_a_tag(
            b"v=1; a=rsa-sha256; d=good.example; s=s1; h=from; b=Ym9i"
        ));
        let fields = signature_fields(&[(&b"DKIM-Signature"[..], &field[..])]);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].b.as_deref(), Some(&b"bob"[..]));
        assert!(
            fields[0]
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("twice")),
            "{:?}",
            fields[0].problem
        );
        // A signature a lenient parser verified is a permerror when its field repeats a tag.
        let sig = Signature {
            a: Algorithm::RsaSha256,
            d: "good.example".into(),
            b: b"bob".to_vec(),
            ..Signature::default()
        };
        let key = KeyRecord {
            kind: "rsa".into(),
            rsa_bits: Some(2048),
            ..KeyRecord::default()
        };
        assert!(matches!(
            judge_pass(&sig, &fields, &key),
            Some(Rewrite::Permerror(p)) if p.contains("twice")
        ));
        assert_eq!(judge_pass(&sig, &[], &key), None);
    }

    #[test]
    fn rewrites_read_well_in_authentication_results() {
        let r = Rewrite::Policy("rsa-sha1 (old) signatures".into());
        assert_eq!(r.clause(), "dkim=policy (rsa-sha1 old signatures)");
    }
}
