//! Secrets and their checks: password hashing, validators, API tokens, JWTs, random values.

pub mod hash_limiter;
pub mod jwt;
pub mod mfa;
pub mod password;
pub mod random;
pub mod reset_token;
pub mod sealed;
pub mod shared_throttle;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod validators;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A 32-byte key for one `purpose`, derived from the server secret by
/// HMAC-SHA256 (so that a key leaked from one use forges nothing in another).
pub fn derive_key(server_secret: &str, purpose: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(server_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}
