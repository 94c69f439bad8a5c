//! OpenID Connect ID tokens, verified as they must be: the signature by
//! the provider's published keys (RS256 or ES256 only, as providers publish
//! them; `alg: none` and HMAC are refused before any key is looked at), then
//! `iss` exactly one of the provider's issuers, `aud` configured client ids
//! only (and `azp`, when present, too), `exp`, `iat` and `nbf` within
//! [`LEEWAY`] of restauth's clock, `sub` present, and `nonce` when the
//! client sent one.

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::http::ProviderError;
use super::jwks::{KeyError, KeySet};

/// Clock difference tolerated between restauth and the provider, in seconds.
pub const LEEWAY: i64 = 60;

/// The algorithms Google and Apple sign with, as far as their keys allow.
pub const RS256_OR_ES256: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// What the token must say.
pub struct Expected<'a> {
    /// The signing algorithms the provider publishes (RS256 and ES256 at most).
    pub algorithms: &'a [Algorithm],
    /// The provider's issuers, exactly as it writes them.
    pub issuers: &'a [&'a str],
    /// The configured client ids.
    pub audiences: &'a [String],
    /// The nonce the client sent, if any: the claim must be it or its SHA-256 in hex.
    pub nonce: Option<&'a str>,
}

/// A verified token's claims.
#[derive(Debug, Clone)]
pub struct IdClaims {
    /// The provider's id for the person.
    pub sub: String,
    /// The address, if the token carries one.
    pub email: Option<String>,
    /// Whether the provider vouches for the address (`true` or `"true"`).
    pub email_verified: bool,
    /// Expiry (Unix seconds): the token cannot be replayed until then.
    pub exp: i64,
    /// Every claim, kept as the account's profile.
    pub raw: Value,
}

impl IdClaims {
    /// A string claim, or `""`.
    pub fn text(&self, name: &str) -> &str {
        self.raw.get(name).and_then(Value::as_str).unwrap_or("")
    }
}

/// Why a token was refused.
#[derive(Debug)]
pub enum IdTokenError {
    /// Not a valid token for us; the reason is for the log only.
    Invalid(&'static str),
    /// The key set could not be fetched.
    Unreachable(ProviderError),
}

/// Verifies `token` against `keys` and `expected` at `now` (Unix seconds).
pub fn verify(
    token: &str,
    keys: &KeySet,
    expected: &Expected<'_>,
    now: i64,
) -> Result<IdClaims, IdTokenError> {
    use IdTokenError::Invalid;
    // `none` is no algorithm jsonwebtoken knows: the header itself fails.
    let header = jsonwebtoken::decode_header(token).map_err(|_| Invalid("malformed"))?;
    let allowed = matches!(header.alg, Algorithm::RS256 | Algorithm::ES256);
    if !allowed || !expected.algorithms.contains(&header.alg) {
        return Err(Invalid("algorithm not allowed"));
    }
    let key = keys
        .key(header.kid.as_deref(), header.alg)
        .map_err(|e| match e {
            KeyError::Unknown => Invalid("unknown key"),
            KeyError::Fetch(e) => IdTokenError::Unreachable(e),
        })?;
    // The signature only: every claim is checked below, against our clock.
    let mut signature_only = Validation::new(header.alg);
    signature_only.validate_exp = false;
    signature_only.validate_nbf = false;
    signature_only.validate_aud = false;
    signature_only.required_spec_claims.clear();
    let raw = jsonwebtoken::decode::<Value>(token, &key, &signature_only)
        .map_err(|_| Invalid("bad signature"))?
        .claims;
    check_claims(raw, expected, now)
}

/// The checks of every claim, once the signature holds.
fn check_claims(raw: Value, expected: &Expected<'_>, now: i64) -> Result<IdClaims, IdTokenError> {
    use IdTokenError::Invalid;
    let text = |name: &str| raw.get(name).and_then(Value::as_str);
    let number = |name: &str| raw.get(name).and_then(Value::as_i64);
    if !text("iss").is_some_and(|iss| expected.issuers.contains(&iss)) {
        return Err(Invalid("wrong issuer"));
    }
    let ours = |aud: &str| expected.audiences.iter().any(|a| a == aud);
    // OpenID Connect Core 3.1.3.7: refused when any audience is not ours.
    let aud_ok = match raw.get("aud") {
        Some(Value::String(aud)) => ours(aud),
        Some(Value::Array(auds)) => {
            !auds.is_empty() && auds.iter().all(|a| a.as_str().is_some_and(ours))
        }
        _ => false,
    };
    if !aud_ok || text("azp").is_some_and(|azp| !ours(azp)) {
        return Err(Invalid("wrong audience"));
    }
    let exp = number("exp").ok_or(Invalid("no expiry"))?;
    if exp.saturating_add(LEEWAY) <= now {
        return Err(Invalid("expired"));
    }
    let iat = number("iat").ok_or(Invalid("no issue time"))?;
    if iat.saturating_sub(LEEWAY) > now {
        return Err(Invalid("issued in the future"));
    }
    if number("nbf").is_some_and(|nbf| nbf.saturating_sub(LEEWAY) > now) {
        return Err(Invalid("not valid yet"));
    }
    let sub = text("sub")
        .filter(|s| !s.is_empty())
        .ok_or(Invalid("no subject"))?
        .to_string();
    if let Some(nonce) = expected.nonce {
        if !text("nonce").is_some_and(|claim| nonce_matches(claim, nonce)) {
            return Err(Invalid("nonce mismatch"));
        }
    }
    let email = text("email").filter(|e| !e.is_empty()).map(str::to_string);
    let email_verified = email_verified(&raw);
    Ok(IdClaims {
        sub,
        email,
        email_verified,
        exp,
        raw,
    })
}

/// Whether claims (or a userinfo answer) vouch for the address:
/// `email_verified` is `true`, or the string `"true"` as Apple writes it.
pub fn email_verified(raw: &Value) -> bool {
    match raw.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// The claim is the nonce as sent, or its SHA-256 in lower-case hex (what
/// Apple's and Google's native SDKs put in the token when the app passes
/// them the hash and sends us the raw value).
fn nonce_matches(claim: &str, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    let hashed = crate::security::random::to_hex(&Sha256::digest(sent.as_bytes()));
    bool::from(claim.as_bytes().ct_eq(sent.as_bytes()))
        || bool::from(claim.as_bytes().ct_eq(hashed.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected<'a>(audiences: &'a [String], nonce: Option<&'a str>) -> Expected<'a> {
        Expected {
            algorithms: &RS256_OR_ES256,
            issuers: &["https://accounts.google.com", "accounts.google.com"],
            audiences,
            nonce,
        }
    }

    fn claims(extra: Value) -> Value {
        let mut c = json!({
            "iss": "accounts.google.com", "aud": "web", "sub": "1", "iat": 1000, "exp": 2000,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    fn refusal(raw: Value, nonce: Option<&str>, now: i64) -> Option<&'static str> {
        let auds = ["web".to_string(), "ios".to_string()];
        match check_claims(raw, &expected(&auds, nonce), now) {
            Ok(_) => None,
            Err(IdTokenError::Invalid(why)) => Some(why),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn each_claim_is_checked() {
        assert_eq!(refusal(claims(json!({})), None, 1500), None);
        let cases = [
            (json!({"iss": "https://evil.example"}), "wrong issuer"),
            (
                json!({"iss": "https://accounts.google.com/"}),
                "wrong issuer",
            ),
            (json!({"aud": "android-of-someone-else"}), "wrong audience"),
            (
                json!({"aud": ["web", "ios"], "azp": "other"}),
                "wrong audience",
            ),
            (json!({"exp": "2000"}), "no expiry"),
            (json!({"iat": 1600}), "issued in the future"),
            (json!({"nbf": 1600}), "not valid yet"),
            (json!({"sub": ""}), "no subject"),
        ];
        for (extra, why) in cases {
            assert_eq!(
                refusal(claims(extra.clone()), None, 1500),
                Some(why),
                "{extra}"
            );
        }
        assert_eq!(
            refusal(claims(json!({"aud": ["web", "ios"]})), None, 1500),
            None
        );
        // OpenID Connect: an audience we do not trust spoils the token.
        for aud in [json!(["other", "ios"]), json!([])] {
            assert_eq!(
                refusal(claims(json!({ "aud": aud })), None, 1500),
                Some("wrong audience")
            );
        }
        // The leeway, both ways.
        assert_eq!(refusal(claims(json!({})), None, 2059), None);
        assert_eq!(refusal(claims(json!({})), None, 2060), Some("expired"));
        assert_eq!(refusal(claims(json!({"iat": 1560})), None, 1500), None);
    }

    #[test]
    fn nonce_as_sent_or_hashed_and_email_verified_as_bool_or_string() {
        let hashed = crate::security::random::to_hex(&Sha256::digest(b"n-0S6_WzA2Mj"));
        assert_eq!(
            refusal(
                claims(json!({"nonce": "n-0S6_WzA2Mj"})),
                Some("n-0S6_WzA2Mj"),
                1500
            ),
            None
        );
        assert_eq!(
            refusal(claims(json!({"nonce": hashed})), Some("n-0S6_WzA2Mj"), 1500),
            None
        );
        assert_eq!(
            refusal(
                claims(json!({"nonce": "other"})),
                Some("n-0S6_WzA2Mj"),
                1500
            ),
            Some("nonce mismatch")
        );
        assert_eq!(
            refusal(claims(json!({})), Some("n"), 1500),
            Some("nonce mismatch")
        );
        let auds = ["web".to_string()];
        let verified = |v: Value| {
            check_claims(
                claims(json!({"email": "a@b.c", "email_verified": v})),
                &expected(&auds, None),
                1500,
            )
            .unwrap()
            .email_verified
        };
        assert!(verified(json!(true)) && verified(json!("true")));
        assert!(!verified(json!(false)) && !verified(json!("false")) && !verified(json!(1)));
    }
}
