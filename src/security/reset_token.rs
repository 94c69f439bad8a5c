//! Password-reset links: `uid` (the user id in base36) and `token` (`<timestamp base36>-<hmac>`).
//!
//! The token follows Django's `PasswordResetTokenGenerator`: the timestamp is
//! whole seconds since 2001-01-01 UTC, and the hash is every other hex digit
//! of `HMAC-SHA256(key = SHA-256(salt + secret), msg = state)`, where the state
//! binds the user id, the current password hash, the last login and the email
//! address. The token therefore dies when any of them changes — after a
//! successful reset, after any login, after an email change — and after
//! `password_reset_timeout`. Nothing is stored.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";
/// 2001-01-01T00:00:00Z as a Unix time: Django's token epoch.
const EPOCH_2001: i64 = 978_307_200;

/// The parts of a user a reset token is bound to.
pub struct TokenState<'a> {
    /// User id.
    pub user_id: i64,
    /// The stored password hash.
    pub password_hash: &'a str,
    /// Last login (Unix seconds), if any.
    pub last_login: Option<i64>,
    /// The user's email address.
    pub email: &'a str,
}

/// A token for `state`, made at `now` (Unix seconds).
pub fn make_token(secret: &str, state: &TokenState<'_>, now: i64) -> String {
    let ts = (now - EPOCH_2001).max(0);
    format!("{}-{}", to_base36(ts as u64), token_hash(secret, state, ts))
}

/// Whether `token` is valid for `state` at `now`, no older than `timeout_secs`.
pub fn check_token(
    secret: &str,
    state: &TokenState<'_>,
    token: &str,
    now: i64,
    timeout_secs: i64,
) -> bool {
    let Some((ts_b36, hash)) = token.split_once('-') else {
        return false;
    };
    let Some(ts) = from_base36(ts_b36) else {
        return false;
    };
    let Ok(ts) = i64::try_from(ts) else {
        return false;
    };
    let expected = token_hash(secret, state, ts);
    if !bool::from(expected.as_bytes().ct_eq(hash.as_bytes())) {
        return false;
    }
    let age = now - EPOCH_2001 - ts;
    (0..=timeout_secs).contains(&age)
}

fn token_hash(secret: &str, state: &TokenState<'_>, ts: i64) -> String {
    let key = Sha256::digest(format!("{KEY_SALT}{secret}").as_bytes());
    let value = format!(
        "{}{}{}{}{}",
        state.user_id,
        state.password_hash,
        state.last_login.map(|t| t.to_string()).unwrap_or_default(),
        ts,
        state.email
    );
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    let hex = super::random::to_hex(&mac.finalize().into_bytes());
    hex.chars().step_by(2).collect()
}

/// `n` in base 36 (`0-9a-z`), as Django's `int_to_base36`.
pub fn to_base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Parses base 36 as Django's `base36_to_int` (at most 13 digits, any case).
pub fn from_base36(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 13 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(&s.to_ascii_lowercase(), 36).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(hash: &str) -> TokenState<'_> {
        TokenState {
            user_id: 7,
            password_hash: hash,
            last_login: Some(1_700_000_000),
            email: "a@example.com",
        }
    }

    #[test]
    fn base36_round_trip() {
        assert_eq!(to_base36(123_456), "2n9c");
        assert_eq!(from_base36("2N9C"), Some(123_456));
        assert_eq!(to_base36(0), "0");
        for bad in ["", "-1", "a b", "zzzzzzzzzzzzzz", "é"] {
            assert_eq!(from_base36(bad), None, "{bad}");
        }
    }

    #[test]
    fn token_is_django_shaped_and_checks() {
        let now = 1_800_000_000;
        let t = make_token("s3cret", &state("h1"), now);
        let (ts, hash) = t.split_once('-').unwrap();
        assert_eq!(from_base36(ts), Some((now - EPOCH_2001) as u64));
        assert_eq!(hash.len(), 32);
        assert!(check_token("s3cret", &state("h1"), &t, now + 10, 3600));
    }

    #[test]
    fn token_dies_with_state_secret_or_time() {
        let now = 1_800_000_000;
        let t = make_token("s3cret", &state("h1"), now);
        assert!(
            !check_token("s3cret", &state("h2"), &t, now, 3600),
            "password changed"
        );
        assert!(
            !check_token("other", &state("h1"), &t, now, 3600),
            "secret changed"
        );
        assert!(
            !check_token("s3cret", &state("h1"), &t, now + 3601, 3600),
            "expired"
        );
        let mut s = state("h1");
        s.last_login = Some(1_700_000_001);
        assert!(!check_token("s3cret", &s, &t, now, 3600), "logged in since");
        let mut s = state("h1");
        s.email = "b@example.com";
        assert!(!check_token("s3cret", &s, &t, now, 3600), "email changed");
        for bad in ["", "-", "abc", "zz-", &t[..t.len() - 1]] {
            assert!(
                !check_token("s3cret", &state("h1"), bad, now, 3600),
                "{bad}"
            );
        }
    }
}
