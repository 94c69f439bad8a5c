//! Values sealed with a key derived from the server secret
//! (XChaCha20-Poly1305, a random 24-byte nonce per value): what the database
//! holds of a TOTP secret, and MFA activation tokens. A copy of the database
//! alone opens nothing; a value moved to another row (another context) does
//! not open either.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::random;

const NONCE_LEN: usize = 24;

/// A sealing key for one purpose.
pub struct SealKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// The key for `purpose`, derived from the server secret by HMAC-SHA256
    /// (never stored).
    pub fn derive(server_secret: &str, purpose: &[u8]) -> SealKey {
        let key = super::derive_key(server_secret, purpose);
        SealKey(XChaCha20Poly1305::new_from_slice(&key).expect("a 32-byte key"))
    }

    /// `plaintext` sealed for `context`: nonce, then ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        random::fill(&mut nonce)?;
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        let sealed = self
            .0
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| std::io::Error::other("sealing failed"))?;
        Ok([&nonce[..], &sealed].concat())
    }

    /// The plaintext of `sealed` if it was sealed with this key for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = XNonce::try_from(nonce).ok()?;
        let payload = Payload {
            msg: body,
            aad: context,
        };
        self.0.decrypt(&nonce, payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_its_key_and_context() {
        let key = SealKey::derive("secret", b"purpose a");
        let sealed = key.seal(b"totp secret", b"user 1").unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"totp secret"));
        assert_eq!(
            key.open(&sealed, b"user 1").as_deref(),
            Some(&b"totp secret"[..])
        );
        assert_eq!(key.open(&sealed, b"user 2"), None, "another row");
        let other = SealKey::derive("secret", b"purpose b");
        assert_eq!(other.open(&sealed, b"user 1"), None, "another purpose");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&tampered, b"user 1"), None);
        assert_eq!(key.open(&sealed[..10], b"user 1"), None);
        assert_ne!(
            key.seal(b"totp secret", b"user 1").unwrap(),
            sealed,
            "a new nonce each time"
        );
    }
}
