//! The JWTs of JWT mode, as simplejwt makes them: HS256, claims
//! `token_type`, `exp`, `iat`, `jti`, `user_id` (the pk as a string), in that
//! order, plus `sid`, the login session the token belongs to (see
//! `accounts::sessions`), so that a revoked session's access tokens are
//! refused at once.
//!
//! Signing and checking the signature is `jsonwebtoken`'s; the times are
//! checked here against restauth's own clock, with simplejwt's rule (no
//! leeway: a token whose `exp` is now or earlier is expired).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What the signing key is derived for: another purpose (reset links) gets
/// another key from the same server secret.
const KEY_PURPOSE: &[u8] = b"restauth jwt signing key v1";

/// An access or a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Authenticates requests; short-lived.
    Access,
    /// Buys new access tokens at `token/refresh/`.
    Refresh,
}

impl Kind {
    /// The `token_type` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Refresh => "refresh",
        }
    }
}

/// The claims, in simplejwt's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `access` or `refresh`.
    pub token_type: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// 32 lowercase hex digits, unique per token.
    pub jti: String,
    /// The user's pk, as a string (simplejwt 5's `USER_ID_CLAIM`).
    pub user_id: String,
    /// The login session (32 hex digits); absent from tokens restauth did not make.
    #[serde(default)]
    pub sid: String,
}

impl Claims {
    /// `user_id` as the pk it names.
    pub fn user_pk(&self) -> Option<i64> {
        self.user_id.parse().ok()
    }
}

/// Why a token was refused, with simplejwt's message for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token of ours: malformed, tampered, another algorithm.
    Invalid,
    /// Signed by us, but past its `exp`.
    Expired,
    /// An access token where a refresh token was expected, or the reverse.
    WrongType,
}

impl Refusal {
    /// simplejwt's message.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Invalid => "Token is invalid",
            Refusal::Expired => "Token is expired",
            Refusal::WrongType => "Token has wrong type",
        }
    }
}

/// The keys tokens are signed and checked with.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// The HS256 key derived from the server secret (never stored).
    pub fn derive(server_secret: &str) -> Keys {
        let key = super::derive_key(server_secret, KEY_PURPOSE);
        let mut validation = Validation::new(Algorithm::HS256);
        // Times are checked in `check`, against the server's clock.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Keys {
            encoding: EncodingKey::from_secret(&key).expect("a 32-byte key"),
            decoding: DecodingKey::from_secret(&key).expect("a 32-byte key"),
            validation,
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of `token` if it is ours, unexpired at `now`, and of `kind`
    /// (simplejwt's order of checks: signature, expiry, type).
    pub fn check(&self, token: &str, kind: Kind, now: i64) -> Result<Claims, Refusal> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Refusal::Invalid)?
            .claims;
        if claims.exp <= now {
            return Err(Refusal::Expired);
        }
        if claims.token_type != kind.as_str() {
            return Err(Refusal::WrongType);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn claims(kind: Kind, exp: i64) -> Claims {
        Claims {
            token_type: kind.as_str().into(),
            exp,
            iat: exp - 300,
            jti: "e2774562d7514937aff4529b2ac647f2".into(),
            user_id: "1".into(),
            sid: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    fn part(token: &str, n: usize) -> serde_json::Value {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(n).unwrap())
            .unwrap();
        serde_json::from_slice(&b).unwrap()
    }

    #[test]
    fn tokens_look_like_simplejwts() {
        let keys = Keys::derive("secret");
        let token = keys.sign(&claims(Kind::Access, 2_000_000_000));
        let header = part(&token, 0);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "JWT");
        let payload = part(&token, 1);
        let keys_in_order: Vec<&str> = payload
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys_in_order,
            ["token_type", "exp", "iat", "jti", "user_id", "sid"]
        );
        assert_eq!(payload["user_id"], "1");
    }

    #[test]
    fn checks_signature_then_expiry_then_type() {
        let keys = Keys::derive("secret");
        let now = 1_900_000_000;
        let access = keys.sign(&claims(Kind::Access, now + 300));
        assert!(keys.check(&access, Kind::Access, now).is_ok());
        assert_eq!(
            keys.check(&access, Kind::Refresh, now),
            Err(Refusal::WrongType)
        );
        // Expired at exactly exp, as simplejwt.
        assert_eq!(
            keys.check(&access, Kind::Refresh, now + 300),
            Err(Refusal::Expired)
        );
        // Another server's secret, a tampered payload, garbage, alg none.
        let other = Keys::derive("another secret").sign(&claims(Kind::Access, now + 300));
        assert_eq!(keys.check(&other, Kind::Access, now), Err(Refusal::Invalid));
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"token_type":"access","exp":2000000000,"iat":1,"jti":"x","user_id":"2"}"#);
        let tampered = parts.join(".");
        assert_eq!(
            keys.check(&tampered, Kind::Access, now),
            Err(Refusal::Invalid)
        );
        for garbage in ["", "garbage", "a.b.c", "\u{ff}"] {
            assert_eq!(
                keys.check(garbage, Kind::Access, now),
                Err(Refusal::Invalid)
            );
        }
        let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            keys.check(&unsigned, Kind::Access, now),
            Err(Refusal::Invalid)
        );
    }

    #[test]
    fn the_key_is_not_the_server_secret() {
        // A token signed with the raw secret (what simplejwt does) is not ours.
        let raw = EncodingKey::from_secret(b"secret").unwrap();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(Kind::Access, 2_000_000_000),
            &raw,
        )
        .unwrap();
        assert_eq!(
            Keys::derive("secret").check(&token, Kind::Access, 1_900_000_000),
            Err(Refusal::Invalid)
        );
    }
}
