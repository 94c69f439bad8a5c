//! Sign in with Apple against a loopback stand-in for appleid.apple.com that
//! serves RS256 keys made here, and checks the ES256 client secret restauth
//! signs for the code flow with a P-256 key also made here.

mod common;
#[path = "common/idp.rs"]
mod idp;
#[path = "common/provider_mock.rs"]
mod provider_mock;

use std::sync::OnceLock;

use common::*;
use idp::{key, now, rand_u64, signed};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use provider_mock::Mock;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SERVICES_ID: &str = "com.example.web";
const BUNDLE_ID: &str = "com.example.app";
const TEAM: &str = "TEAM123456";
const KEY_ID: &str = "KEY7654321";
const CALLBACK: &str = "https://app.example.com/apple-callback";

/// The team's Sign in with Apple key: (private PEM for restauth, public PEM for the mock).
fn team_key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let secret = p256::SecretKey::generate();
        let private = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (private, public)
    })
}

fn claims(extra: Value) -> Value {
    let now = now();
    let mut c = json!({
        "iss": "https://appleid.apple.com", "aud": SERVICES_ID, "sub": "001234.abcd.1234",
        "email": "x7y2@privaterelay.appleid.com", "email_verified": "true", "is_private_email": "true",
        "auth_time": now, "iat": now, "exp": now + 600, "c_hash": format!("{:x}", rand_u64()),
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// Checks a client secret as Apple does; its claims if good.
fn check_client_secret(secret: &str) -> Option<Value> {
    let header = jsonwebtoken::decode_header(secret).ok()?;
    if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(KEY_ID) {
        return None;
    }
    let key = DecodingKey::from_ec_pem(team_key().1.as_bytes()).ok()?;
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&["https://appleid.apple.com"]);
    v.set_issuer(&[TEAM]);
    v.sub = Some(SERVICES_ID.into());
    jsonwebtoken::decode::<Value>(secret, &key, &v)
        .ok()
        .map(|d| d.claims)
}

fn apple_mock() -> Mock {
    // Made here, not on the mock's first request: making keys takes longer
    // than restauth waits for an answer.
    idp::keys();
    team_key();
    Mock::start(|seen| match seen.path() {
        "/auth/keys" => (200, json!({"keys": [key("a").public]}).to_string()),
        "/auth/token" => {
            let secret_ok = seen
                .form("client_secret")
                .as_deref()
                .and_then(check_client_secret)
                .is_some();
            if !secret_ok {
                return (400, json!({"error": "invalid_client"}).to_string());
            }
            if seen.form("code").as_deref() != Some("good-code") {
                return (400, json!({"error": "invalid_grant"}).to_string());
            }
            let id_token = signed("a", &claims(json!({"sub": "001234.code.5678"})));
            (200, json!({"access_token": "a1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r1", "id_token": id_token}).to_string())
        }
        _ => (404, "{}".into()),
    })
}

fn server_with(m: &Mock, extra: &[(&str, &str)]) -> Server {
    let base = m.url();
    let (keys_url, token_url) = (format!("{base}/auth/keys"), format!("{base}/auth/token"));
    let ids = format!("{SERVICES_ID},{BUNDLE_ID}");
    let mut env = vec![
        ("RESTAUTH_SOCIAL_APPLE_CLIENT_IDS", ids.as_str()),
        ("RESTAUTH_SOCIAL_APPLE_TEAM_ID", TEAM),
        ("RESTAUTH_SOCIAL_APPLE_KEY_ID", KEY_ID),
        ("RESTAUTH_SOCIAL_APPLE_PRIVATE_KEY", team_key().0.as_str()),
        ("RESTAUTH_SOCIAL_APPLE_CALLBACK_URL", CALLBACK),
        ("RESTAUTH_SOCIAL_APPLE_KEYS_URL", &keys_url),
        ("RESTAUTH_SOCIAL_APPLE_TOKEN_URL", &token_url),
        ("RESTAUTH_SOCIAL_APPLE_TIMEOUT", "2s"),
    ];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn apple(s: &Server, body: Value) -> Resp {
    s.post_json("/rest-auth/apple/", &body, None)
}

fn incorrect() -> Value {
    json!({"non_field_errors": ["Incorrect value"]})
}

backend_tests! {
#[test]
fn an_id_token_from_the_ios_sdk_logs_in_once() {
    let m = apple_mock();
    let s = server_with(&m, &[]);
    // The SDK is given SHA-256(nonce); the app sends the raw nonce, and an access_token that is ignored.
    let hashed: String = Sha256::digest(b"raw-nonce").iter().map(|b| format!("{b:02x}")).collect();
    let token = signed("a", &claims(json!({"aud": BUNDLE_ID, "nonce": hashed, "nonce_supported": true})));
    let r = apple(&s, json!({"id_token": token, "nonce": "raw-nonce", "access_token": "whatever"}));
    assert_eq!(r.status, 200, "{}", r.text());
    // Apple's "true" is a verified address: no confirmation mail.
    assert_eq!(s.count("SELECT count(*) FROM users WHERE username = 'x7y2' AND email = 'x7y2@privaterelay.appleid.com' AND email_verified = 1"), 1);
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);
    apple(&s, json!({"id_token": token, "nonce": "raw-nonce"})).assert(400, incorrect());
    for (case, token) in [
        ("Google's issuer", signed("a", &claims(json!({"iss": "https://accounts.google.com"})))),
        ("another app", signed("a", &claims(json!({"aud": "com.other.app"})))),
        ("expired", signed("a", &claims(json!({"iat": now() - 7200, "exp": now() - 3600})))),
        ("unknown key", signed("b", &claims(json!({})))),
    ] {
        let r = apple(&s, json!({"id_token": token}));
        assert_eq!((r.status, r.json()), (400, incorrect()), "{case}");
    }
    apple(&s, json!({"access_token": "only"}))
        .assert(400, json!({"non_field_errors": ["Incorrect input. access_token or code is required."]}));
}

#[test]
fn the_code_flow_signs_an_es256_client_secret() {
    let m = apple_mock();
    let s = server_with(&m, &[]);
    let r = apple(&s, json!({"code": "good-code"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = m.seen().into_iter().find(|r| r.path() == "/auth/token").unwrap();
    for (field, value) in [("grant_type", "authorization_code"), ("code", "good-code"), ("client_id", SERVICES_ID), ("redirect_uri", CALLBACK)] {
        assert_eq!(sent.form(field).as_deref(), Some(value), "{field}");
    }
    let secret = check_client_secret(&sent.form("client_secret").unwrap()).expect("a client secret Apple accepts");
    let (iat, exp) = (secret["iat"].as_i64().unwrap(), secret["exp"].as_i64().unwrap());
    assert!((iat - now()).abs() < 60 && exp > iat && exp - iat <= 15_777_000, "{secret}");
    assert_eq!(s.count("SELECT count(*) FROM social_accounts WHERE provider = 'apple' AND uid = '001234.code.5678'"), 1);
    apple(&s, json!({"code": "stale"}))
        .assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
    // Without the team's key there is no code flow; ID tokens still work.
    let s = server_with(&m, &[("RESTAUTH_SOCIAL_APPLE_PRIVATE_KEY", "")]);
    apple(&s, json!({"code": "good-code"}))
        .assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
    assert_eq!(apple(&s, json!({"id_token": signed("a", &claims(json!({})))})).status, 200);
}

#[test]
fn unconfigured_is_a_404() {
    let s = Server::start();
    assert_eq!(apple(&s, json!({"id_token": "x"})).status, 404);
}
}
