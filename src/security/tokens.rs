//! API tokens: the key a client holds, and the hash the database keeps.
//!
//! Keys are 40 lowercase hex characters (20 random bytes), exactly the format
//! of DRF's `authtoken`. Only `SHA-256(key)` is stored, so a copy of the
//! database does not let anyone act as a user. Lookup goes through the unique
//! index on the hash; an attacker who can time lookups learns about hashes of
//! their guesses, never about the stored key.

use sha2::{Digest, Sha256};

/// A new random API key.
pub fn new_key() -> std::io::Result<String> {
    super::random::hex(20)
}

/// The stored form of `key`.
pub fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_40_hex_and_distinct() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256() {
        // SHA-256("abc")
        assert_eq!(
            super::super::random::to_hex(&key_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
