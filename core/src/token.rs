//! API tokens: `moat_live_` or `moat_test_`, 43 random base62 characters, then a 6-character
//! base62 CRC-32 checksum so secret scanners can recognise a real token without calling us.
//! Only the SHA-256 of a token is ever stored.

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::model::TokenKind;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;

fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Live => "moat_live_",
        TokenKind::Test => "moat_test_",
    }
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A fresh secret token of the given kind.
pub fn generate(kind: TokenKind) -> String {
    let mut rng = rand::rng();
    let mut body = String::with_capacity(prefix(kind).len() + RANDOM_LEN + CHECKSUM_LEN);
    body.push_str(prefix(kind));
    for _ in 0..RANDOM_LEN {
        body.push(ALPHABET[rng.random_range(0..62)] as char);
    }
    let sum = checksum(&body);
    body.push_str(&sum);
    body
}

/// Checks the shape and checksum of a presented token; returns its kind when well-formed.
pub fn parse(token: &str) -> Option<TokenKind> {
    let kind = if token.starts_with("moat_live_") {
        TokenKind::Live
    } else if token.starts_with("moat_test_") {
        TokenKind::Test
    } else {
        return None;
    };
    let rest = &token[prefix(kind).len()..];
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (body, sum) = token.split_at(token.len() - CHECKSUM_LEN);
    (checksum(body) == sum).then_some(kind)
}

/// A new domain's ownership token (128 random bits, hex): the owner publishes it in DNS to
/// prove control of the domain.
pub fn domain_verification_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What lists show: the prefix and the first four random characters.
pub fn display_prefix(token: &str) -> String {
    token.chars().take(14).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_tampering_fails() {
        for kind in [TokenKind::Live, TokenKind::Test] {
            let t = generate(kind);
            assert_eq!(t.len(), 10 + 43 + 6);
            assert_eq!(parse(&t), Some(kind));
            let mut bad = t.clone().into_bytes();
            bad[20] = if bad[20] == b'a' { b'b' } else { b'a' };
            assert_eq!(parse(&String::from_utf8(bad).expect("ascii")), None);
        }
        assert_eq!(parse("moat_live_short"), None);
        assert_eq!(parse(""), None);
        assert_ne!(hash("a"), hash("b"));
    }
}
