//! The secrets of two-factor login, all derived from the server secret and
//! never stored: the key sealing TOTP secrets, the key sealing activation
//! tokens, and the key of recovery codes' HMACs. Also the shapes of the
//! one-time values handed out.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::random;
use super::sealed::SealKey;

/// Keys for MFA, derived once at start.
pub struct MfaKeys {
    /// Seals TOTP secrets in `mfa_totp.secret_sealed` (context: the user id).
    pub totp: SealKey,
    /// Seals activation tokens (`GET mfa/totp/activate/`), which carry the
    /// pending secret so that nothing is stored before the code is checked.
    pub activation: SealKey,
    recovery: [u8; 32],
}

impl std::fmt::Debug for MfaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaKeys(..)")
    }
}

impl MfaKeys {
    /// The keys of `server_secret`.
    pub fn derive(server_secret: &str) -> MfaKeys {
        MfaKeys {
            totp: SealKey::derive(server_secret, b"restauth mfa totp secret v1"),
            activation: SealKey::derive(server_secret, b"restauth mfa activation token v1"),
            recovery: super::derive_key(server_secret, b"restauth mfa recovery codes v1"),
        }
    }

    /// What `mfa_recovery_codes.code_hmac` holds for `code` (as typed: trimmed,
    /// lower-cased first, as the reference matches them). Keyed, because a
    /// code has only 32 bits: a plain hash in a stolen database would be
    /// reversed in seconds.
    pub fn recovery_hmac(&self, code: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.recovery)
            .expect("HMAC takes any key length");
        mac.update(code.trim().to_lowercase().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// A new recovery code in the reference's format, `xxxx-xxxx` (hex).
pub fn new_recovery_code() -> std::io::Result<String> {
    let hex = random::hex(4)?;
    Ok(format!("{}-{}", &hex[..4], &hex[4..]))
}

/// A new ephemeral token: 256 random bits, hex (it names nobody, unlike the
/// reference's `<pk>:<timestamp>:<signature>`).
pub fn new_ephemeral_token() -> std::io::Result<String> {
    random::hex(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_look_like_the_references_and_match_as_typed() {
        let code = new_recovery_code().unwrap();
        assert_eq!(code.len(), 9);
        assert_eq!(code.as_bytes()[4], b'-');
        let keys = MfaKeys::derive("s");
        let upper = format!(" {} ", code.to_uppercase());
        assert_eq!(keys.recovery_hmac(&code), keys.recovery_hmac(&upper));
        assert_ne!(
            keys.recovery_hmac(&code),
            MfaKeys::derive("t").recovery_hmac(&code)
        );
    }
}
