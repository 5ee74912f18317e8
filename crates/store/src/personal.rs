//! Encryption at rest of personal fields (XChaCha20-Poly1305, a random 192-bit nonce per value).
//! The key comes from configuration (`DANTOC_DATA_KEY`, 64 hex digits) or, on a province's
//! embedded installation, from a key file created on first run in the data directory with
//! owner-only permissions. Stored form: `enc1:` + hex(nonce ‖ ciphertext).

use crate::error::StoreError;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::path::Path;

#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
    /// Where the key came from, for messages (never the key itself).
    pub origin: String,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cipher({})", self.origin)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

const PREFIX: &str = "enc1:";

impl Cipher {
    pub fn from_key_hex(hex: &str, origin: &str) -> Result<Cipher, StoreError> {
        let key = unhex(hex.trim()).filter(|k| k.len() == 32).ok_or_else(|| {
            StoreError::Io(format!(
                "the data key from {origin} must be 64 hexadecimal digits (32 bytes)"
            ))
        })?;
        Ok(Cipher {
            aead: XChaCha20Poly1305::new_from_slice(&key)
                .map_err(|e| StoreError::Io(e.to_string()))?,
            origin: origin.to_string(),
        })
    }

    /// The key given in configuration, or the key file in `data_dir` (created if missing).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Cipher, StoreError> {
        if let Some(k) = configured.filter(|k| !k.trim().is_empty()) {
            return Cipher::from_key_hex(k, "DANTOC_DATA_KEY");
        }
        let file = data_dir.join("data.key");
        if !file.exists() {
            std::fs::create_dir_all(data_dir)?;
            let key = crate::secret::random_hex(32);
            write_private(&file, &key)?;
            tracing::warn!(path = %file.display(), "created a new key for personal data: back it up apart from the database");
        }
        let k = std::fs::read_to_string(&file)?;
        Cipher::from_key_hex(&k, &file.display().to_string())
    }

    pub fn encrypt(&self, plain: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Io(format!("no randomness: {e}")))?;
        let ct = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| StoreError::Io("encryption failed".into()))?;
        let mut all = nonce.to_vec();
        all.extend(ct);
        Ok(format!("{PREFIX}{}", crate::secret::hex(&all)))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, StoreError> {
        let bad = || {
            StoreError::Io(
                "a personal field cannot be decrypted: wrong data key or damaged value".into(),
            )
        };
        let bytes = stored
            .strip_prefix(PREFIX)
            .and_then(unhex)
            .filter(|b| b.len() > 24)
            .ok_or_else(bad)?;
        let plain = self
            .aead
            .decrypt(XNonce::from_slice(&bytes[..24]), &bytes[24..])
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> Result<(), StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> Result<(), StoreError> {
    std::fs::write(path, content)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let c = Cipher::from_key_hex(&"ab".repeat(32), "test").unwrap();
        let e1 = c.encrypt("0912345678").unwrap();
        let e2 = c.encrypt("0912345678").unwrap();
        assert_ne!(e1, e2, "a fresh nonce each time");
        assert!(!e1.contains("0912345678"));
        assert_eq!(c.decrypt(&e1).unwrap(), "0912345678");
        let mut t = e1.clone();
        t.replace_range(t.len() - 2.., "00");
        assert!(c.decrypt(&t).is_err());
        let other = Cipher::from_key_hex(&"cd".repeat(32), "other").unwrap();
        assert!(other.decrypt(&e1).is_err());
        assert!(Cipher::from_key_hex("short", "x").is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("dantoc-key-{}", crate::secret::random_hex(4)));
        let a = Cipher::load(None, &dir).unwrap();
        let e = a.encrypt("x").unwrap();
        let b = Cipher::load(None, &dir).unwrap();
        assert_eq!(b.decrypt(&e).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("data.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
