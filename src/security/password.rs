//! Django-compatible password hashes: `pbkdf2_sha256$<iterations>$<salt>$<base64>`.
//!
//! The format is Django's, byte for byte, so hashes move between a Django
//! project and restauth in both directions. Any iteration count verifies;
//! a hash with fewer iterations than configured is flagged for an upgrade on
//! the next successful login. A value starting with `!` is Django's
//! "unusable password" and never verifies.

use base64::Engine as _;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const ALGORITHM: &str = "pbkdf2_sha256";
/// Django's salt: 22 characters of `[a-zA-Z0-9]` (≈128 bits).
const SALT_LEN: usize = 22;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub ok: bool,
    /// The match used weaker parameters than configured: store a new hash.
    pub needs_rehash: bool,
}

impl Verified {
    /// No match.
    pub const NO: Verified = Verified {
        ok: false,
        needs_rehash: false,
    };
}

/// Hashes `password` with a new random salt.
pub fn hash_password(password: &str, iterations: u32) -> std::io::Result<String> {
    let salt = super::random::alphanumeric(SALT_LEN)?;
    Ok(hash_with_salt(password, &salt, iterations))
}

/// Hashes `password` with the given salt (Django's `make_password(password, salt)`).
pub fn hash_with_salt(password: &str, salt: &str, iterations: u32) -> String {
    let dk = derive(password, salt, iterations);
    format!(
        "{ALGORITHM}${iterations}${salt}${}",
        base64::engine::general_purpose::STANDARD.encode(dk)
    )
}

fn derive(password: &str, salt: &str, iterations: u32) -> [u8; 32] {
    let mut dk = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut dk);
    dk
}

/// Checks `password` against `encoded`; `iterations` is the configured count.
pub fn verify_password(password: &str, encoded: &str, iterations: u32) -> Verified {
    let no = Verified::NO;
    if is_unusable(encoded) {
        return no;
    }
    let mut parts = encoded.splitn(4, '$');
    let (Some(algorithm), Some(iters), Some(salt), Some(hash)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return no;
    };
    if algorithm != ALGORITHM {
        return no;
    }
    let Ok(stored_iterations) = iters.parse::<u32>() else {
        return no;
    };
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(hash) else {
        return no;
    };
    if stored_iterations == 0 || expected.len() != 32 {
        return no;
    }
    let dk = derive(password, salt, stored_iterations);
    let ok: bool = dk.ct_eq(expected.as_slice()).into();
    Verified {
        ok,
        needs_rehash: ok && stored_iterations < iterations,
    }
}

/// Runs one derivation with the configured cost and throws it away, so that
/// "no such user" takes as long as "wrong password" (Django does the same).
pub fn spend_equal_time(password: &str, iterations: u32) {
    std::hint::black_box(derive(password, "restauthtimingsalt0000", iterations));
}

/// Django's unusable password: `!` followed by random characters.
pub fn unusable_password() -> std::io::Result<String> {
    Ok(format!("!{}", super::random::alphanumeric(40)?))
}

/// Whether `encoded` is an unusable password (it never verifies).
pub fn is_unusable(encoded: &str) -> bool {
    encoded.starts_with('!')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by Django 5.2.19's `make_password("correct horse battery staple", "seasalt0123456789ABCDE")`.
    const DJANGO_VECTOR: &str =
        "pbkdf2_sha256$1000000$seasalt0123456789ABCDE$YGmH53aIHzj455HFOCHdZDKkT3VWQitwh0eT6sNjr+c=";

    #[test]
    fn matches_django_byte_for_byte() {
        assert_eq!(
            hash_with_salt(
                "correct horse battery staple",
                "seasalt0123456789ABCDE",
                1_000_000
            ),
            DJANGO_VECTOR
        );
    }

    #[test]
    fn verifies_django_hash_and_rejects_others() {
        let v = verify_password("correct horse battery staple", DJANGO_VECTOR, 1_000_000);
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify_password("correct horse battery stapler", DJANGO_VECTOR, 1_000_000).ok);
    }

    #[test]
    fn weaker_hash_is_flagged_for_rehash() {
        let h = hash_with_salt("pw", "abc", 1000);
        let v = verify_password("pw", &h, 2000);
        assert!(v.ok && v.needs_rehash);
        assert!(!verify_password("pw", &h, 1000).needs_rehash);
    }

    #[test]
    fn unusable_and_malformed_never_verify() {
        let u = unusable_password().unwrap();
        assert!(is_unusable(&u));
        for bad in [
            u.as_str(),
            "",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$x$salt$hash",
            "pbkdf2_sha256$0$salt$YGmH53aIHzj455HFOCHdZDKkT3VWQitwh0eT6sNjr+c=",
            "md5$1$salt$hash",
            "pbkdf2_sha256$10$salt$not base64",
        ] {
            assert!(!verify_password("", bad, 10).ok, "{bad}");
        }
    }

    #[test]
    fn salts_are_random_and_django_shaped() {
        let a = hash_password("pw", 10).unwrap();
        let b = hash_password("pw", 10).unwrap();
        assert_ne!(a, b);
        let salt = a.split('$').nth(2).unwrap();
        assert_eq!(salt.len(), 22);
        assert!(verify_password("pw", &a, 10).ok);
    }
}
