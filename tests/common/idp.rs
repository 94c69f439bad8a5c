//! Keys and tokens of mock identity providers: RSA keys made in the test
//! (once per test binary: making them is the slow part), their public
//! halves as JWKs, and RS256 tokens signed by them.
#![allow(dead_code)]

use std::sync::OnceLock;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::Generate;
use serde_json::{json, Value};

/// An RSA key pair: the private half signs, the public half is served.
pub struct Key {
    pub kid: &'static str,
    pub signing: EncodingKey,
    pub der: Vec<u8>,
    pub public: Value,
}

/// The keys `a` and `b` (published by the mocks) and `rogue` (never published).
pub fn keys() -> &'static [Key; 3] {
    static KEYS: OnceLock<[Key; 3]> = OnceLock::new();
    KEYS.get_or_init(|| ["a", "b", "rogue"].map(make_key))
}

pub fn make_key(kid: &'static str) -> Key {
    let private = rsa::PrivateKey::generate();
    let der = private.to_pkcs1_der().unwrap().as_bytes().to_vec();
    let signing = EncodingKey::from_rsa_der(&der);
    let mut public =
        serde_json::to_value(Jwk::from_encoding_key(&signing, Algorithm::RS256).unwrap()).unwrap();
    public["kid"] = json!(kid);
    public["use"] = json!("sig");
    Key {
        kid,
        signing,
        der,
        public,
    }
}

pub fn key(kid: &str) -> &'static Key {
    keys().iter().find(|k| k.kid == kid).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// 64 random bits.
pub fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

/// An RS256 token signed by key `kid`.
pub fn signed(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key(kid).signing).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
