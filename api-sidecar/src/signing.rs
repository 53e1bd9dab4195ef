//! The API's signing key: HMAC-SHA256 over things the API hands out and must later trust again
//! without a store look-up: pagination cursors (bound to the customer that asked) and the
//! digest's one-click release links. Every API host of a cluster must hold the same key (a
//! cursor handed out by one host is followed on another), so the key lives in the store
//! (`Store::shared_secret`): the first host to start offers its `data_dir/api-signing.key`
//! (32 random bytes, created on first start, mode 0600) and every host uses the key the store
//! kept. A single host's key is thus its file's, and links minted before keys moved into the
//! store stay valid.

use std::{io::Write, path::Path};

use moat_core::store::Store;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The HMAC key.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// The cluster's key: the one the store keeps, seeded with this host's key file.
    pub async fn shared(store: &dyn Store, data_dir: &Path) -> std::io::Result<SigningKey> {
        let seed = Self::load_or_create(data_dir)?;
        let kept = store
            .shared_secret("api-signing-key", seed.0.to_vec())
            .await
            .map_err(std::io::Error::other)?;
        let key: [u8; 32] = kept.as_slice().try_into().map_err(|_| {
            std::io::Error::other("the API signing key in the store is not 32 bytes")
        })?;
        Ok(SigningKey(key))
    }

    /// Reads the key file under `data_dir`, creating it with a fresh random key if absent.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<SigningKey> {
        let path = data_dir.join("api-signing.key");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    std::io::Error::other(format!(
                        "{} must hold exactly 32 bytes (delete it to make a new key)",
                        path.display()
                    ))
                })?;
                Ok(SigningKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                std::fs::create_dir_all(data_dir)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut f) => {
                        f.write_all(&key)?;
                        f.sync_all()?;
                        Ok(SigningKey(key))
                    }
                    // Another API process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(data_dir)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A key for tests.
    pub fn from_bytes(key: [u8; 32]) -> SigningKey {
        SigningKey(key)
    }

    fn mac(&self, context: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// `base64url(payload).base64url(tag)`, where the tag covers `context` (what the token is
    /// for and whom it was given to) and the payload.
    pub fn seal(&self, context: &str, payload: &[u8]) -> String {
        let tag = self.mac(context, payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The payload of a sealed string, if it was sealed by this key for this `context`
    /// (compared in constant time).
    pub fn open(&self, context: &str, sealed: &str) -> Option<Vec<u8>> {
        let (payload, tag) = sealed.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(context, &payload).verify_slice(&tag).ok()?;
        Some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_strings_open_only_in_their_context_and_unaltered() {
        let key = SigningKey::from_bytes([7; 32]);
        let sealed = key.seal("cursor:quarantine:cust-a", b"payload");
        assert_eq!(
            key.open("cursor:quarantine:cust-a", &sealed).as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(key.open("cursor:quarantine:cust-b", &sealed), None);
        let (p, t) = sealed.split_once('.').expect("two parts");
        let forged = format!("{}.{t}", URL_SAFE_NO_PAD.encode(b"payloae"));
        assert_eq!(key.open("cursor:quarantine:cust-a", &forged), None);
        assert_eq!(key.open("cursor:quarantine:cust-a", p), None);
        assert_eq!(key.open("cursor:quarantine:cust-a", "garbage.."), None);
        let other = SigningKey::from_bytes([8; 32]);
        assert_eq!(other.open("cursor:quarantine:cust-a", &sealed), None);
    }

    #[test]
    fn the_key_file_is_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SigningKey::load_or_create(dir.path()).expect("created");
        let b = SigningKey::load_or_create(dir.path()).expect("read");
        assert_eq!(a.0, b.0);
        std::fs::write(dir.path().join("api-signing.key"), b"short").expect("write");
        assert!(SigningKey::load_or_create(dir.path()).is_err());
    }
}
