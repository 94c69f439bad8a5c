//! A provider's signing keys (its JWKS: Google's certs, Apple's keys, a
//! discovered `jwks_uri`), fetched from the configured URL and cached for
//! the `Cache-Control: max-age` the provider sends. A token naming a key the
//! cache lacks (the provider rotated) triggers one refetch, at most once a
//! minute, so a flood of made-up `kid`s cannot hammer the provider.
//!
//! Only RSA keys (for RS256) and P-256 keys (for ES256) that are for
//! signatures are kept: an `oct` key in a key set never becomes an HMAC key.
//! A provider that is down costs one timeout per 30 s, not one per request.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::fetched::{Fetch, Fetched};
use super::http::{self, Call, ProviderError};

/// Shortest time between two fetches forced by an unknown `kid`.
const MIN_REFETCH: Duration = Duration::from_secs(60);
/// How long a key set is kept when the provider sends no `max-age`.
const DEFAULT_MAX_AGE: u64 = 300;
/// Bounds on the provider's `max-age`.
const MAX_AGE_BOUNDS: (u64, u64) = (60, 86_400);

/// Why no key could be had.
#[derive(Debug)]
pub enum KeyError {
    /// No key of the set has this `kid` and algorithm.
    Unknown,
    /// The set could not be fetched (and none was cached).
    Fetch(ProviderError),
}

struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// One provider's key set.
pub struct KeySet {
    url: String,
    timeout: Duration,
    keys: Fetched<Vec<Key>>,
    /// The last fetch an unknown `kid` caused.
    forced_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("url", &self.url).finish()
    }
}

impl KeySet {
    /// The key set at `url`, fetched when first needed.
    pub fn new(url: &str, timeout: Duration) -> KeySet {
        KeySet {
            url: url.to_string(),
            timeout,
            keys: Fetched::new(&format!("the keys at {url}")),
            forced_at: Mutex::new(None),
        }
    }

    /// The key named `kid` (any key of the right type when the token names
    /// none and the set has one only) for verifying `alg`.
    pub fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, KeyError> {
        self.key_at(kid, alg, Instant::now())
    }

    /// [`KeySet::key`] at the instant `now`.
    fn key_at(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        now: Instant,
    ) -> Result<DecodingKey, KeyError> {
        let keys = self
            .keys
            .get(now, false, |_| self.fetch())
            .map_err(KeyError::Fetch)?;
        if let Some(key) = find(&keys, kid, alg) {
            return Ok(key);
        }
        if self.may_force(now) {
            let keys = self
                .keys
                .get(now, true, |_| self.fetch())
                .map_err(KeyError::Fetch)?;
            if let Some(key) = find(&keys, kid, alg) {
                return Ok(key);
            }
        }
        Err(KeyError::Unknown)
    }

    /// Whether an unknown `kid` may fetch the set again now (once a minute).
    fn may_force(&self, now: Instant) -> bool {
        let mut at = self.forced_at.lock().unwrap_or_else(|e| e.into_inner());
        let may = at.is_none_or(|t| now.saturating_duration_since(t) >= MIN_REFETCH);
        if may {
            *at = Some(now);
        }
        may
    }

    /// Fetches the set: a set without one usable key is a failure, so that
    /// a portal's page or a broken answer never replaces good keys.
    fn fetch(&self) -> Fetch<Vec<Key>> {
        let answer = http::send(
            Call::Get {
                url: &self.url,
                bearer: None,
            },
            self.timeout,
        )?;
        let keys = parse(&answer.json("key set")?);
        if keys.is_empty() {
            return Err(ProviderError::BadResponse("no usable signing key".into()));
        }
        let max_age = answer.cache_seconds(DEFAULT_MAX_AGE, MAX_AGE_BOUNDS);
        Ok((keys, Duration::from_secs(max_age)))
    }
}

fn find(keys: &[Key], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let mut usable = keys.iter().filter(|k| k.alg == alg);
    match kid {
        Some(kid) => usable
            .find(|k| k.kid.as_deref() == Some(kid))
            .map(|k| k.key.clone()),
        None => {
            let only = usable.next()?;
            usable.next().is_none().then(|| only.key.clone())
        }
    }
}

/// The signing keys of a JWKS document; keys of other types, uses or
/// algorithms are skipped (one odd key does not spoil the set).
fn parse(set: &Value) -> Vec<Key> {
    let Some(items) = set.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| serde_json::from_value::<Jwk>(item.clone()).ok())
        .filter_map(|jwk| {
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != PublicKeyUse::Signature)
            {
                return None;
            }
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => return None,
            };
            let declared = jwk.common.key_algorithm;
            let expected = match alg {
                Algorithm::RS256 => KeyAlgorithm::RS256,
                _ => KeyAlgorithm::ES256,
            };
            if declared.is_some_and(|d| d != expected) {
                return None;
            }
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(Key {
                kid: jwk.common.key_id.clone(),
                alg,
                key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fetched::FAILURE_MEMORY;
    use super::*;
    use serde_json::json;

    /// A key set server on loopback answering each request with the next of
    /// `answers` (status, body), then 503s; and how many requests it got.
    fn serve(
        answers: Vec<(u16, String)>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/keys", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let (status, body) = answers.get(n).cloned().unwrap_or((503, "{}".into()));
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, count)
    }

    fn ec_set(kid: &str) -> String {
        json!({"keys": [{"kty": "EC", "kid": kid, "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}).to_string()
    }

    #[test]
    fn cached_keys_outlive_a_failed_refresh_and_unknown_kids_refetch_once_a_minute() {
        use std::sync::atomic::Ordering;
        let (url, fetches) = serve(vec![(200, ec_set("e1")), (200, ec_set("e2"))]);
        let set = KeySet::new(&url, Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(set.key_at(Some("e1"), Algorithm::ES256, t0).is_ok());
        // An unknown kid: one forced fetch (the provider rotated to e2)…
        let t1 = t0 + Duration::from_secs(1);
        assert!(set.key_at(Some("e2"), Algorithm::ES256, t1).is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // …and the next unknown kid within the minute fetches nothing.
        let t2 = t1 + Duration::from_secs(10);
        assert!(matches!(
            set.key_at(Some("e3"), Algorithm::ES256, t2),
            Err(KeyError::Unknown)
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // Stale keys whose refresh fails (a 503) stay in use, retried a minute later.
        let t3 = t0 + Duration::from_secs(DEFAULT_MAX_AGE + 5);
        assert!(set.key_at(Some("e2"), Algorithm::ES256, t3).is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        assert!(set
            .key_at(Some("e2"), Algorithm::ES256, t3 + Duration::from_secs(30))
            .is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        assert!(set
            .key_at(Some("e2"), Algorithm::ES256, t3 + MIN_REFETCH)
            .is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn without_cached_keys_a_failure_is_remembered_and_an_empty_set_is_one() {
        use std::sync::atomic::Ordering;
        let (url, fetches) = serve(vec![(200, json!({"keys": []}).to_string())]);
        let set = KeySet::new(&url, Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(matches!(
            set.key_at(Some("e1"), Algorithm::ES256, t0),
            Err(KeyError::Fetch(_))
        ));
        // Within the failure memory, no new fetch; after it, one (a 503 now).
        let later = t0 + Duration::from_secs(5);
        assert!(matches!(
            set.key_at(Some("e1"), Algorithm::ES256, later),
            Err(KeyError::Fetch(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let after = t0 + FAILURE_MEMORY;
        assert!(matches!(
            set.key_at(Some("e1"), Algorithm::ES256, after),
            Err(KeyError::Fetch(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn only_signing_rsa_and_p256_keys_are_kept() {
        let rsa = json!({"kty": "RSA", "kid": "r", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB", "alg": "RS256", "use": "sig"});
        let ec = json!({"kty": "EC", "kid": "e", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let set = json!({"keys": [
            rsa.clone(),
            ec,
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "n": rsa["n"], "e": "AQAB", "use": "enc"},
            {"kty": "RSA", "kid": "ps", "n": rsa["n"], "e": "AQAB", "alg": "PS256"},
            {"garbage": true},
        ]});
        let keys = parse(&set);
        let kept: Vec<(Option<&str>, Algorithm)> =
            keys.iter().map(|k| (k.kid.as_deref(), k.alg)).collect();
        assert_eq!(
            kept,
            vec![(Some("r"), Algorithm::RS256), (Some("e"), Algorithm::ES256)]
        );
        assert!(find(&keys, Some("r"), Algorithm::RS256).is_some());
        assert!(find(&keys, Some("r"), Algorithm::ES256).is_none());
        assert!(
            find(&keys, None, Algorithm::ES256).is_some(),
            "the only one"
        );
        assert!(find(&keys, Some("h"), Algorithm::HS256).is_none());
    }
}
