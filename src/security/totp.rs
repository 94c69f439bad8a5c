//! TOTP codes (RFC 6238 over RFC 4226, HMAC-SHA1) through `totp-rs`, with
//! what the library leaves to its caller: each time step is accepted at most
//! once per user (the caller stores the last accepted step).

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::config::MfaConfig;

/// Bytes of a new secret: 160 bits, RFC 4226's recommendation (32 base32 characters).
pub const SECRET_BYTES: usize = 20;

/// The code generator of one secret under the configured digits, period and skew.
pub struct Codes {
    totp: Totp,
}

impl Codes {
    /// For the raw `secret` (at least 128 bits).
    pub fn new(config: &MfaConfig, secret: &[u8]) -> Codes {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(config.digits)
            .with_skew(config.skew)
            .with_step_duration(config.period.as_secs().max(1))
            .with_secret(Secret::from(secret))
            .build_noncompliant();
        Codes { totp }
    }

    /// The code of the step `unix` falls in.
    pub fn at(&self, unix: u64) -> String {
        self.totp.generate(unix).to_string()
    }

    /// The step `code` belongs to, if it is valid at `unix` (within the skew)
    /// and its step is later than `last_step` (a step already used is refused:
    /// the reference refuses only the last code, so two codes valid at once
    /// could be used alternately).
    pub fn accept(&self, code: &str, unix: u64, last_step: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != usize::from(self.totp.digits())
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let step = self.totp.check(code, unix)?;
        // `check` finds the earliest matching step; a later one may match too
        // (codes repeat): look past the used ones.
        let origin = unix / self.totp.step();
        let skew = u64::from(self.totp.skew());
        let first = last_step.map_or(0, |s| s + 1).max(step);
        (first..=origin + skew)
            .find(|&s| self.totp.generate(s * self.totp.step()).to_string() == code)
    }
}

/// Base32 (RFC 4648, no padding) of a raw secret, as authenticator apps read it.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(digits: u8) -> MfaConfig {
        MfaConfig {
            digits,
            ..MfaConfig::default()
        }
    }

    /// RFC 6238 appendix B, SHA-1 column (8 digits, 30 s steps).
    #[test]
    fn rfc_6238_test_vectors() {
        let codes = Codes::new(&config(8), b"12345678901234567890");
        for (t, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(codes.at(t), code, "T = {t}");
        }
    }

    #[test]
    fn a_step_is_accepted_once_and_the_window_is_the_skew() {
        let codes = Codes::new(&config(6), b"12345678901234567890");
        let now = 1_234_567_890;
        let (prev, cur, next) = (codes.at(now - 30), codes.at(now), codes.at(now + 30));
        let step = now / 30;
        assert_eq!(codes.accept(&cur, now, None), Some(step));
        assert_eq!(codes.accept(&cur, now, Some(step)), None, "replay");
        assert_eq!(
            codes.accept(&prev, now, Some(step)),
            None,
            "an earlier step after a later one"
        );
        assert_eq!(codes.accept(&next, now, Some(step)), Some(step + 1));
        assert_eq!(codes.accept(&prev, now, None), Some(step - 1));
        assert_eq!(
            codes.accept(&codes.at(now + 60), now, None),
            None,
            "outside the skew"
        );
        assert_eq!(
            codes.accept(&format!(" {cur} "), now, None),
            Some(step),
            "trimmed"
        );
        for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"] {
            assert_eq!(codes.accept(bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_base32_for_apps() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let c = MfaConfig {
            period: Duration::from_secs(60),
            ..config(6)
        };
        let codes = Codes::new(&c, b"12345678901234567890");
        assert_eq!(codes.at(0), codes.at(59));
    }
}
