//! Google sign-in against a loopback stand-in for Google that signs real
//! RS256 ID tokens with keys made here, serves their public halves as its
//! JWKS, exchanges codes and answers tokeninfo and userinfo — and records
//! what restauth sent it.

mod common;
#[path = "common/idp.rs"]
mod idp;
#[path = "common/provider_mock.rs"]
mod provider_mock;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use idp::{b64, key, now, rand_u64, signed};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provider_mock::Mock;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const WEB: &str = "web-client.apps.googleusercontent.com";
const IOS: &str = "ios-client.apps.googleusercontent.com";
const SECRET: &str = "google-client-secret";
const CALLBACK: &str = "http://localhost:3000/google-callback";

/// Gina's claims, as Google writes them, with `extra` replacing or adding some.
fn claims(extra: Value) -> Value {
    let now = now();
    let mut c = json!({
        "iss": "https://accounts.google.com", "azp": WEB, "aud": WEB, "sub": "g-123",
        "email": "gina@example.com", "email_verified": true,
        "given_name": "Gina", "family_name": "Gauss", "name": "Gina Gauss",
        "iat": now, "exp": now + 3600,
        "jti": format!("{:x}", rand_u64()),
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// The stand-in for Google.
struct FakeGoogle {
    mock: Mock,
    /// The kids the JWKS serves.
    served: Arc<Mutex<Vec<&'static str>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl FakeGoogle {
    fn start() -> FakeGoogle {
        // Made here, not on the mock's first request: making RSA keys takes
        // longer than restauth waits for an answer.
        idp::keys();
        let served = Arc::new(Mutex::new(vec!["a"]));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let (s, f) = (served.clone(), jwks_fetches.clone());
        let mock = Mock::start(move |seen| match seen.path() {
            "/certs" => {
                f.fetch_add(1, Ordering::SeqCst);
                let keys: Vec<Value> = s
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|k| key(k).public.clone())
                    .collect();
                (200, json!({"keys": keys}).to_string())
            }
            "/token"
                if seen.form("code").as_deref() == Some("good-code")
                    && seen.form("client_secret").as_deref() == Some(SECRET) =>
            {
                let id_token = signed("a", &claims(json!({"sub": "g-code"})));
                (200, json!({"access_token": "ours-token", "id_token": id_token, "token_type": "Bearer"}).to_string())
            }
            "/token" => (400, json!({"error": "invalid_grant"}).to_string()),
            "/tokeninfo" => match seen.form("access_token").as_deref() {
                Some("ours-token") => (
                    200,
                    json!({"aud": WEB, "azp": WEB, "sub": "g-userinfo"}).to_string(),
                ),
                Some("foreign-token") => (
                    200,
                    json!({"aud": "someone-else", "azp": "someone-else", "sub": "g-userinfo"})
                        .to_string(),
                ),
                _ => (400, json!({"error": "invalid_token"}).to_string()),
            },
            "/userinfo" => match seen.header("Authorization") {
                Some("Bearer ours-token") | Some("Bearer foreign-token") => (
                    200,
                    json!({
                        "sub": "g-userinfo", "email": "una@example.com", "email_verified": true,
                        "given_name": "Una", "family_name": "Info",
                    })
                    .to_string(),
                ),
                _ => (401, json!({"error": "invalid_token"}).to_string()),
            },
            _ => (404, "{}".into()),
        });
        FakeGoogle {
            mock,
            served,
            jwks_fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

fn server_with(g: &FakeGoogle, extra: &[(&str, &str)]) -> Server {
    let base = g.mock.url();
    let urls = [
        ("RESTAUTH_SOCIAL_GOOGLE_CERTS_URL", format!("{base}/certs")),
        ("RESTAUTH_SOCIAL_GOOGLE_TOKEN_URL", format!("{base}/token")),
        (
            "RESTAUTH_SOCIAL_GOOGLE_USERINFO_URL",
            format!("{base}/userinfo"),
        ),
        (
            "RESTAUTH_SOCIAL_GOOGLE_TOKENINFO_URL",
            format!("{base}/tokeninfo"),
        ),
    ];
    let ids = format!("{WEB},{IOS}");
    let mut env: Vec<(&str, &str)> = vec![
        ("RESTAUTH_SOCIAL_GOOGLE_CLIENT_IDS", &ids),
        ("RESTAUTH_SOCIAL_GOOGLE_CLIENT_SECRET", SECRET),
        ("RESTAUTH_SOCIAL_GOOGLE_CALLBACK_URL", CALLBACK),
        ("RESTAUTH_SOCIAL_GOOGLE_TIMEOUT", "2s"),
    ];
    env.extend(urls.iter().map(|(k, v)| (*k, v.as_str())));
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn google(s: &Server, body: Value) -> Resp {
    s.post_json("/rest-auth/google/", &body, None)
}

fn incorrect() -> Value {
    json!({"non_field_errors": ["Incorrect value"]})
}

fn user_count(s: &Server) -> i64 {
    s.db()
        .one("SELECT count(*) FROM users", restauth::db::params![])
}

backend_tests! {
#[test]
fn a_native_id_token_logs_in_once_and_every_client_id_is_an_audience() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[]);
    let token = signed("a", &claims(json!({})));
    let r = google(&s, json!({"id_token": token}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["key"].is_string());
    // Google vouched for the address: stored verified, no confirmation mail.
    let db = s.db();
    let (username, verified): (String, bool) = (
        db.one("SELECT username FROM users", restauth::db::params![]),
        db.one("SELECT email_verified FROM users", restauth::db::params![]),
    );
    assert_eq!((username.as_str(), verified), ("gina", true));
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);
    assert_eq!(s.count("SELECT count(*) FROM social_accounts WHERE provider = 'google' AND uid = 'g-123'"), 1);
    // The same token again: a replay (dj-rest-auth: logs in again).
    google(&s, json!({"id_token": token})).assert(400, incorrect());
    // The iOS app's token (another configured client id) finds the same user.
    let ios = signed("a", &claims(json!({"aud": IOS, "azp": IOS})));
    assert_eq!(google(&s, json!({"id_token": ios, "access_token": "ignored"})).status, 200);
    assert_eq!(user_count(&s), 1);
    // An address Google does not vouch for is stored unverified and confirmed by mail.
    let unverified = signed("a", &claims(json!({"sub": "g-456", "email": "uma@example.com", "email_verified": "false"})));
    assert_eq!(google(&s, json!({"id_token": unverified})).status, 200);
    let verified: bool = s.db().one("SELECT email_verified FROM users WHERE email = 'uma@example.com'", restauth::db::params![]);
    assert!(!verified);
    assert_eq!(s.wait_for_mails(1).len(), 1);
    assert_eq!(g.fetches(), 1, "the key set is cached");
}

#[test]
fn every_bad_id_token_is_a_400_json() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[]);
    let now = now();
    let a = key("a");
    // alg none, and HS256 keyed with the public key (key confusion).
    let payload = b64(claims(json!({})).to_string().as_bytes());
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"a"}"#));
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("a".into());
    let public_der = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(
        &rsa::pkcs1::DecodeRsaPrivateKey::from_pkcs1_der(&a.der).map(|k: rsa::PrivateKey| k.to_public_key()).unwrap(),
    ).unwrap();
    let confused = [
        jsonwebtoken::encode(&hs, &claims(json!({})), &EncodingKey::from_secret(public_der.as_bytes()).unwrap()).unwrap(),
        jsonwebtoken::encode(&hs, &claims(json!({})), &EncodingKey::from_secret(a.public["n"].as_str().unwrap().as_bytes()).unwrap()).unwrap(),
    ];
    // Signed by a key Google does not publish, under a kid it does.
    let mut rogue = Header::new(Algorithm::RS256);
    rogue.kid = Some("a".into());
    let forged = jsonwebtoken::encode(&rogue, &claims(json!({})), &key("rogue").signing).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("garbage", "not-a-jwt".into()),
        ("alg none", none),
        ("HS256 with the DER public key", confused[0].clone()),
        ("HS256 with the modulus", confused[1].clone()),
        ("bad signature", forged),
        ("wrong aud", signed("a", &claims(json!({"aud": "another-app", "azp": "another-app"})))),
        ("wrong iss", signed("a", &claims(json!({"iss": "https://accounts.google.com.evil.example"})))),
        ("expired", signed("a", &claims(json!({"iat": now - 7200, "exp": now - 120})))),
        ("issued in the future", signed("a", &claims(json!({"iat": now + 600})))),
    ];
    for (case, token) in cases {
        let r = google(&s, json!({"id_token": token}));
        assert_eq!((r.status, r.json()), (400, incorrect()), "{case}");
    }
    // The nonce: as sent or as its SHA-256 (what the iOS SDK is given), never another.
    let hashed: String = Sha256::digest(b"raw-nonce").iter().map(|b| format!("{b:02x}")).collect();
    let with_nonce = |n: &str| signed("a", &claims(json!({"nonce": n})));
    google(&s, json!({"id_token": with_nonce("other"), "nonce": "raw-nonce"})).assert(400, incorrect());
    google(&s, json!({"id_token": signed("a", &claims(json!({}))), "nonce": "raw-nonce"})).assert(400, incorrect());
    assert_eq!(google(&s, json!({"id_token": with_nonce(&hashed), "nonce": "raw-nonce"})).status, 200);
    assert_eq!(google(&s, json!({"id_token": with_nonce("raw-2"), "nonce": "raw-2"})).status, 200);
    assert_eq!(user_count(&s), 1);
    // Nothing at all, and a field too long.
    google(&s, json!({})).assert(400, json!({"non_field_errors": ["Incorrect input. access_token or code is required."]}));
    google(&s, json!({"nonce": "n".repeat(513), "id_token": "x"}))
        .assert(400, json!({"nonce": ["Ensure this field has no more than 512 characters."]}));
}

#[test]
fn an_unknown_kid_refetches_the_keys_once_so_a_rotation_just_works() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[]);
    assert_eq!(google(&s, json!({"id_token": signed("a", &claims(json!({})))})).status, 200);
    assert_eq!(g.fetches(), 1);
    // Google rotates: key b appears, then tokens signed by it.
    g.served.lock().unwrap().push("b");
    let r = google(&s, json!({"id_token": signed("b", &claims(json!({})))}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(g.fetches(), 2);
    // A kid nobody publishes: refused, and no new fetch within the minute.
    let mut made_up = Header::new(Algorithm::RS256);
    made_up.kid = Some("zzz".into());
    let token = jsonwebtoken::encode(&made_up, &claims(json!({})), &key("a").signing).unwrap();
    for _ in 0..3 {
        google(&s, json!({"id_token": token})).assert(400, incorrect());
    }
    assert_eq!(g.fetches(), 2);
}

#[test]
fn the_code_flow_sends_the_secret_and_the_pkce_verifier() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[]);
    let r = google(&s, json!({"code": "good-code", "code_verifier": "verifier-123"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = g.mock.seen().into_iter().find(|r| r.path() == "/token").unwrap();
    assert_eq!(sent.method, "POST");
    for (field, value) in [
        ("grant_type", "authorization_code"), ("code", "good-code"), ("client_id", WEB),
        ("client_secret", SECRET), ("redirect_uri", CALLBACK), ("code_verifier", "verifier-123"),
    ] {
        assert_eq!(sent.form(field).as_deref(), Some(value), "{field}");
    }
    assert_eq!(s.count("SELECT count(*) FROM social_accounts WHERE uid = 'g-code'"), 1);
    google(&s, json!({"code": "bad-code"}))
        .assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
    // Without a secret configured there is no code flow (ID tokens still work).
    let s = server_with(&g, &[("RESTAUTH_SOCIAL_GOOGLE_CLIENT_SECRET", "")]);
    google(&s, json!({"code": "good-code"}))
        .assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
    assert_eq!(google(&s, json!({"id_token": signed("a", &claims(json!({})))})).status, 200);
}

#[test]
fn an_access_token_must_be_ours() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[]);
    let r = google(&s, json!({"access_token": "ours-token"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.count("SELECT count(*) FROM users WHERE email = 'una@example.com' AND email_verified = 1"), 1);
    // Issued to another app for the same person (token substitution): refused.
    google(&s, json!({"access_token": "foreign-token"})).assert(400, incorrect());
    google(&s, json!({"access_token": "dead-token"})).assert(400, incorrect());
}

#[test]
fn email_clash_connect_and_disconnect() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[]);
    s.create_user("gina2", "gina@example.com", PASSWORD);
    // No silent linking to the existing account.
    google(&s, json!({"id_token": signed("a", &claims(json!({})))}))
        .assert(400, json!({"non_field_errors": ["User is already registered with this e-mail address."]}));
    let key = s.login("gina2", PASSWORD);
    let auth = format!("Token {key}");
    let token = signed("a", &claims(json!({})));
    let r = s.post_json("/rest-auth/google/connect/", &json!({"id_token": token}), Some(&key));
    r.assert(200, json!({"key": key}));
    let r = google(&s, json!({"id_token": signed("a", &claims(json!({})))}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(user_count(&s), 1);
    let accounts = s.request("GET", "/rest-auth/socialaccounts/", &[("Authorization", &auth)], b"").json();
    let id = accounts[0]["id"].as_i64().unwrap();
    assert_eq!(accounts[0]["provider"], "google");
    let r = s.post_json(&format!("/rest-auth/socialaccounts/{id}/disconnect/"), &json!({}), Some(&key));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn google_down_or_failing_is_a_fast_502_and_unconfigured_is_a_404() {
    let g = FakeGoogle::start();
    let s = server_with(&g, &[("RESTAUTH_SOCIAL_GOOGLE_CERTS_URL", "http://127.0.0.1:1/certs")]);
    google(&s, json!({"id_token": signed("a", &claims(json!({})))}))
        .assert(502, json!({"detail": "Google could not be reached. Try again later."}));
    // Keys that cannot be had are Google's fault: a 502 too, and while it lasts
    // requests fail at once instead of each waiting for Google again.
    let broken = format!("{}/broken-certs", g.mock.url());
    let s = server_with(&g, &[("RESTAUTH_SOCIAL_GOOGLE_CERTS_URL", &broken)]);
    for _ in 0..3 {
        google(&s, json!({"id_token": signed("a", &claims(json!({})))}))
            .assert(502, json!({"detail": "Google could not be reached. Try again later."}));
    }
    assert_eq!(g.mock.seen().iter().filter(|r| r.path() == "/broken-certs").count(), 1);
    let s = Server::start();
    assert_eq!(google(&s, json!({"id_token": "x"})).status, 404);
}
}
