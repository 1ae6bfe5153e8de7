//! Encryption of personal columns (contact phones, card notes), so that a database dump alone
//! does not reveal them. AES-256-GCM with a random nonce per value; stored as
//! `v1:<base64(nonce || ciphertext)>`.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

const PREFIX: &str = "v1:";
pub const NONCE_LEN: usize = 12;

pub struct FieldCipher {
    cipher: Aes256Gcm,
}

impl FieldCipher {
    /// Any secret of enough entropy; it is stretched to a 256-bit key with SHA-256.
    pub fn new(secret: &[u8]) -> Self {
        let key = Sha256::digest(secret);
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    pub fn encrypt(&self, plain: &str) -> AppResult<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| AppError::internal(anyhow::anyhow!("field encryption failed")))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Encrypts with a caller-chosen nonce, for generated data that must come out byte-identical
    /// on every run. GCM stays safe only while a nonce never seals two different texts under one
    /// key, so derive the nonce from the plain text itself (and its row), never from a counter.
    pub fn encrypt_with_nonce(&self, plain: &str, nonce: [u8; NONCE_LEN]) -> AppResult<String> {
        let nonce = Nonce::from(nonce);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| AppError::internal(anyhow::anyhow!("field encryption failed")))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn decrypt(&self, stored: &str) -> AppResult<String> {
        let fail = || {
            AppError::internal(anyhow::anyhow!(
                "a stored field could not be decrypted (wrong DATA_KEY?)"
            ))
        };
        let bytes = stored
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(fail)?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }
}

impl entity::context::Decrypt for FieldCipher {
    fn decrypt(&self, stored: &str) -> Option<String> {
        match FieldCipher::decrypt(self, stored) {
            Ok(plain) => Some(plain),
            Err(err) => {
                tracing::error!(error = %err, "an encrypted field could not be opened");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FieldCipher;

    #[test]
    fn round_trips_and_hides_the_plain_text() {
        let cipher = FieldCipher::new(b"a test key");
        let stored = cipher.encrypt("独居老人，患糖尿病").unwrap();
        assert!(!stored.contains("糖尿病"));
        assert_ne!(
            stored,
            cipher.encrypt("独居老人，患糖尿病").unwrap(),
            "fresh nonce each time"
        );
        assert_eq!(cipher.decrypt(&stored).unwrap(), "独居老人，患糖尿病");
        assert!(FieldCipher::new(b"another key").decrypt(&stored).is_err());
    }
}
