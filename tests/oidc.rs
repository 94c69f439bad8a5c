//! Generic OpenID Connect against a loopback stand-in shaped like Keycloak:
//! realms under one base URL, each with its discovery document, a JWKS
//! holding a P-256 key (ES256) and an RSA key (RS256) made here, a token
//! endpoint and a userinfo endpoint — recording what restauth sent.

mod common;
#[path = "common/idp.rs"]
mod idp;
#[path = "common/provider_mock.rs"]
mod provider_mock;

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use common::*;
use idp::{key, now, rand_u64, signed};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use provider_mock::Mock;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const WEB: &str = "restauth-web";
const MOBILE: &str = "restauth-mobile";
/// With characters that Basic credentials must form-encode (RFC 6749 §2.3.1).
const SECRET: &str = "kc:secret/+&";
const CALLBACK: &str = "http://localhost:3000/sso-callback";

/// The realm's P-256 key: (signing key, public JWK).
fn ec_key() -> &'static (EncodingKey, Value) {
    static KEY: OnceLock<(EncodingKey, Value)> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = p256::SecretKey::generate()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        let signing = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        let mut public =
            serde_json::to_value(Jwk::from_encoding_key(&signing, Algorithm::ES256).unwrap())
                .unwrap();
        public["kid"] = json!("ec-1");
        public["use"] = json!("sig");
        (signing, public)
    })
}

/// An ES256 token signed by the realm's P-256 key.
fn es256(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    jsonwebtoken::encode(&header, claims, &ec_key().0).unwrap()
}

/// The left half of SHA-256, base64url: an `at_hash`.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The stand-in; realm `app` authenticates clients with Basic, realm `post`
/// with `client_secret_post`, realm `liar` names another issuer.
struct Keycloak {
    mock: Mock,
}

impl Keycloak {
    fn start() -> Keycloak {
        // Made here, not on the mock's first request: making keys takes
        // longer than restauth waits for an answer.
        idp::keys();
        ec_key();
        let base: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let b = base.clone();
        let mock = Mock::start(move |seen| {
            let base = b.get().unwrap();
            let path = seen.path();
            let Some((realm, rest)) = path
                .strip_prefix("/realms/")
                .and_then(|p| p.split_once('/'))
            else {
                return (404, "{}".into());
            };
            let issuer = format!("{base}/realms/{realm}");
            match rest {
                ".well-known/openid-configuration" => {
                    let methods = if realm == "post" {
                        json!(["client_secret_post", "private_key_jwt"])
                    } else {
                        json!(["private_key_jwt", "client_secret_basic", "client_secret_post"])
                    };
                    let named = if realm == "liar" {
                        format!("{base}/realms/other")
                    } else {
                        issuer.clone()
                    };
                    let doc = json!({
                        "issuer": named,
                        "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
                        "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
                        "userinfo_endpoint": format!("{issuer}/protocol/openid-connect/userinfo"),
                        "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
                        "id_token_signing_alg_values_supported": ["PS256", "ES256", "RS256", "HS256"],
                        "token_endpoint_auth_methods_supported": methods,
                    });
                    (200, doc.to_string())
                }
                "protocol/openid-connect/certs" => (
                    200,
                    json!({"keys": [ec_key().1, key("a").public]}).to_string(),
                ),
                "protocol/openid-connect/token" => token_answer(seen, realm, &issuer),
                "protocol/openid-connect/userinfo" => match seen.header("Authorization") {
                    Some("Bearer at-lean") => (
                        200,
                        json!({"sub": "kc-lean", "email": "lena@example.com", "email_verified": false, "given_name": "Lena"}).to_string(),
                    ),
                    Some("Bearer at-someone-else") => {
                        (200, json!({"sub": "kc-other", "email": "mallory@example.com"}).to_string())
                    }
                    // Verified, but about its own address, not the ID token's.
                    Some("Bearer at-vouching") => (
                        200,
                        json!({"sub": "kc-vouch", "email": "vera.other@example.com", "email_verified": true, "given_name": "Vera"}).to_string(),
                    ),
                    // A provider set to sign userinfo answers (application/jwt).
                    Some("Bearer at-signed") => (200, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln".into()),
                    _ => (401, json!({"error": "invalid_token"}).to_string()),
                },
                _ => (404, "{}".into()),
            }
        });
        base.set(mock.url()).unwrap();
        Keycloak { mock }
    }

    fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.mock.url())
    }

    /// How many requests went to `path_end` so far.
    fn calls(&self, path_end: &str) -> usize {
        self.mock
            .seen()
            .iter()
            .filter(|s| s.path().ends_with(path_end))
            .count()
    }
}

/// The token endpoint: the client must authenticate as its realm wants.
fn token_answer(seen: &provider_mock::Seen, realm: &str, issuer: &str) -> (u16, String) {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{WEB}:{}",
            form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>()
        ))
    );
    let authenticated = match realm {
        "post" => {
            seen.header("Authorization").is_none()
                && seen.form("client_id").as_deref() == Some(WEB)
                && seen.form("client_secret").as_deref() == Some(SECRET)
        }
        _ => {
            seen.header("Authorization") == Some(basic.as_str())
                && seen.form("client_secret").is_none()
        }
    };
    if !authenticated {
        return (401, json!({"error": "unauthorized_client"}).to_string());
    }
    let pkce_ok =
        seen.form("code_verifier").as_deref() == Some("verifier-0123456789-0123456789-0123456789");
    if seen.form("code").as_deref() != Some("good-code")
        || seen.form("redirect_uri").as_deref() != Some(CALLBACK)
        || seen.form("grant_type").as_deref() != Some("authorization_code")
        || !pkce_ok
    {
        return (400, json!({"error": "invalid_grant"}).to_string());
    }
    if realm == "post" {
        let full = json!({
            "iss": issuer, "aud": WEB, "sub": "ak-pat", "email": "pat@example.com",
            "email_verified": true, "given_name": "Pat", "iat": now(), "exp": now() + 300,
        });
        let answer = json!({"access_token": "at-post", "id_token": es256(&full)});
        return (200, answer.to_string());
    }
    // A lean ID token, as Entra's: no address, no names; userinfo has them.
    let lean = json!({
        "iss": issuer, "aud": WEB, "azp": WEB, "sub": "kc-lean",
        "iat": now(), "exp": now() + 300, "at_hash": at_hash("at-lean"),
        "jti": format!("{:x}", rand_u64()),
    });
    let answer =
        json!({"access_token": "at-lean", "id_token": es256(&lean), "token_type": "Bearer"});
    (200, answer.to_string())
}

/// Olga's claims in realm `app`, with `extra` replacing or adding some.
fn claims(kc: &Keycloak, extra: Value) -> Value {
    let now = now();
    let mut c = json!({
        "iss": kc.issuer("app"), "aud": WEB, "azp": WEB, "sub": "kc-olga",
        "preferred_username": "olga.k", "given_name": "Olga", "family_name": "Kay",
        "email": "olga@example.com", "email_verified": true,
        "iat": now, "exp": now + 300, "jti": format!("{:x}", rand_u64()),
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// restauth with `keycloak` (realm `app`, from the file's section names'
/// variables alone) and `authentik` (realm `post`), and `extra`.
fn server_with(kc: &Keycloak, extra: &[(&str, &str)]) -> Server {
    let (app, post) = (kc.issuer("app"), kc.issuer("post"));
    let ids = format!("{WEB},{MOBILE}");
    let mut env: Vec<(&str, &str)> = vec![
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_ISSUER", &app),
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_CLIENT_IDS", &ids),
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_CLIENT_SECRET", SECRET),
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_CALLBACK_URL", CALLBACK),
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_TIMEOUT", "2s"),
        ("RESTAUTH_SOCIAL_OIDC_MY_AUTHENTIK_ISSUER", &post),
        ("RESTAUTH_SOCIAL_OIDC_MY_AUTHENTIK_CLIENT_IDS", WEB),
        ("RESTAUTH_SOCIAL_OIDC_MY_AUTHENTIK_CLIENT_SECRET", SECRET),
        ("RESTAUTH_SOCIAL_OIDC_MY_AUTHENTIK_CALLBACK_URL", CALLBACK),
        ("RESTAUTH_SOCIAL_OIDC_MY_AUTHENTIK_TIMEOUT", "2s"),
    ];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn sso(s: &Server, name: &str, body: Value) -> Resp {
    s.post_json(&format!("/rest-auth/{name}/"), &body, None)
}

fn incorrect() -> Value {
    json!({"non_field_errors": ["Incorrect value"]})
}

const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789";

backend_tests! {
#[test]
fn an_id_token_is_verified_through_discovery_and_accepted_once() {
    let kc = Keycloak::start();
    let s = server_with(&kc, &[]);
    let token = es256(&claims(&kc, json!({"nonce": "n-1"})));
    let r = sso(&s, "keycloak", json!({"id_token": token, "nonce": "n-1"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["key"].is_string());
    assert_eq!(s.count("SELECT count(*) FROM social_accounts WHERE provider = 'keycloak' AND uid = 'kc-olga'"), 1);
    // The provider vouched for the address; the username is the preferred one.
    assert_eq!(s.count("SELECT count(*) FROM users WHERE username = 'olga.k' AND email_verified = 1"), 1);
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);
    sso(&s, "keycloak", json!({"id_token": token, "nonce": "n-1"})).assert(400, incorrect());
    // The mobile client's RS256 token (the realm's other key) is the same person.
    let rs = signed("a", &claims(&kc, json!({"aud": MOBILE, "azp": MOBILE})));
    assert_eq!(sso(&s, "keycloak", json!({"id_token": rs})).status, 200);
    for (case, token, nonce) in [
        ("another realm", es256(&claims(&kc, json!({"iss": kc.issuer("post")}))), None),
        ("another client", es256(&claims(&kc, json!({"aud": "someone-else", "azp": "someone-else"}))), None),
        ("expired", es256(&claims(&kc, json!({"iat": now() - 900, "exp": now() - 600}))), None),
        ("a key the realm never published", signed("rogue", &claims(&kc, json!({}))), None),
        ("nonce mismatch", es256(&claims(&kc, json!({"nonce": "n-2"}))), Some("n-3")),
        ("no nonce in the token", es256(&claims(&kc, json!({}))), Some("n-3")),
    ] {
        let mut body = json!({"id_token": token});
        if let Some(nonce) = nonce {
            body["nonce"] = json!(nonce);
        }
        let r = sso(&s, "keycloak", body);
        assert_eq!((r.status, r.json()), (400, incorrect()), "{case}");
    }
    // HS256 is in the realm's list, but never verified with a public key.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("ec-1".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims(&kc, json!({})),
        &EncodingKey::from_secret(ec_key().1.to_string().as_bytes()).unwrap(),
    )
    .unwrap();
    sso(&s, "keycloak", json!({"id_token": confused})).assert(400, incorrect());
    // One discovery for all of it; the key set twice: the rogue key's
    // unknown kid forced one refetch (later ones wait a minute).
    assert_eq!((kc.calls("/openid-configuration"), kc.calls("/certs")), (1, 2));
    assert_eq!(s.count("SELECT count(*) FROM users"), 1);
}

#[test]
fn the_code_flow_authenticates_the_client_as_discovered_and_fills_in_from_userinfo() {
    let kc = Keycloak::start();
    let s = server_with(&kc, &[]);
    let code = json!({"code": "good-code", "code_verifier": VERIFIER});
    // Basic for realm app, whose document lists client_secret_basic.
    let r = sso(&s, "keycloak", code.clone());
    assert_eq!(r.status, 200, "{}", r.text());
    // The lean ID token's address came from userinfo, which does not vouch for it.
    assert_eq!(s.count("SELECT count(*) FROM social_accounts WHERE provider = 'keycloak' AND uid = 'kc-lean'"), 1);
    assert_eq!(s.count("SELECT count(*) FROM users WHERE email = 'lena@example.com' AND username = 'lena' AND email_verified = 0"), 1);
    assert_eq!(s.wait_for_mails(1).len(), 1);
    // client_secret_post for realm post (a provider named only by variables).
    let r = sso(&s, "my-authentik", code.clone());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.count("SELECT count(*) FROM social_accounts WHERE provider = 'my-authentik' AND uid = 'ak-pat'"), 1);
    assert_eq!(kc.calls("/userinfo"), 1, "the full ID token needed no userinfo");
    let bad = [
        json!({"code": "stale-code", "code_verifier": VERIFIER}),
        json!({"code": "good-code"}),
    ];
    for body in bad {
        sso(&s, "keycloak", body).assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
    }
    // A wrong secret is refused by the provider: the same answer.
    let s2 = server_with(&kc, &[("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_CLIENT_SECRET", "wrong")]);
    sso(&s2, "keycloak", code).assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
}

#[test]
fn an_access_token_needs_an_id_token_that_matches_it() {
    let kc = Keycloak::start();
    let s = server_with(&kc, &[]);
    let needs = json!({"non_field_errors": ["Incorrect input. An id_token is required with access_token."]});
    sso(&s, "keycloak", json!({"access_token": "at-lean"})).assert(400, needs);
    sso(&s, "keycloak", json!({})).assert(400, json!({"non_field_errors": ["Incorrect input. access_token or code is required."]}));
    let lean = |extra: Value| {
        let mut c = claims(&kc, json!({"sub": "kc-lean"}));
        for k in ["email", "email_verified", "given_name", "family_name", "preferred_username"] {
            c.as_object_mut().unwrap().remove(k);
        }
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        es256(&c)
    };
    // at_hash names another access token: refused before userinfo is read.
    let token = lean(json!({"at_hash": at_hash("at-other")}));
    sso(&s, "keycloak", json!({"id_token": token, "access_token": "at-lean"})).assert(400, incorrect());
    assert_eq!(kc.calls("/userinfo"), 0);
    // Userinfo about someone else is not merged.
    let token = lean(json!({}));
    sso(&s, "keycloak", json!({"id_token": token, "access_token": "at-someone-else"})).assert(400, incorrect());
    let token = lean(json!({"at_hash": at_hash("at-lean")}));
    let r = sso(&s, "keycloak", json!({"id_token": token, "access_token": "at-lean"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.count("SELECT count(*) FROM users WHERE email = 'lena@example.com'"), 1);
    // Userinfo's email_verified is about its own address: it does not vouch
    // for the ID token's, which stays unverified (and gets its mail).
    let token = lean(json!({"sub": "kc-vouch", "email": "vera@example.com"}));
    let r = sso(&s, "keycloak", json!({"id_token": token, "access_token": "at-vouching"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        s.count("SELECT count(*) FROM users WHERE email = 'vera@example.com' AND email_verified = 0 AND first_name = 'Vera'"),
        1
    );
    assert_eq!(s.count("SELECT count(*) FROM users WHERE email = 'vera.other@example.com'"), 0);
    // A signed (non-JSON) userinfo answer: the verified ID token suffices.
    let token = lean(json!({"sub": "kc-signed"}));
    let r = sso(&s, "keycloak", json!({"id_token": token, "access_token": "at-signed"}));
    assert_eq!(r.status, 200, "{}", r.text());
    // An access token no Bearer header can carry is the client's fault: 400, not 502.
    let calls = kc.calls("/userinfo");
    let token = lean(json!({"sub": "kc-crlf"}));
    sso(&s, "keycloak", json!({"id_token": token, "access_token": "at\r\nX-Injected: 1"})).assert(400, incorrect());
    assert_eq!(kc.calls("/userinfo"), calls);
    // Without email or profile in the scopes, userinfo is not read.
    let s = server_with(&kc, &[("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_SCOPES", "openid")]);
    let before = kc.calls("/userinfo");
    let token = lean(json!({"sub": "kc-scopeless", "at_hash": at_hash("at-lean")}));
    let r = sso(&s, "keycloak", json!({"id_token": token, "access_token": "at-lean"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(kc.calls("/userinfo"), before);
    assert_eq!(s.count("SELECT count(*) FROM users WHERE email = ''"), 1);
}

#[test]
fn only_configured_names_are_served_whatever_the_method() {
    let kc = Keycloak::start();
    let s = server_with(&kc, &[("RESTAUTH_SOCIAL_OIDC_HALF_ISSUER", "https://sso.example/realms/half")]);
    let not_found = json!({"detail": "Not found."});
    for (method, path) in [
        ("GET", "/rest-auth/nope/"),
        ("POST", "/rest-auth/nope/"),
        ("POST", "/rest-auth/nope/connect/"),
        ("GET", "/rest-auth/nope/connect/"),
        // Issuer without client ids: disabled.
        ("POST", "/rest-auth/half/"),
        ("POST", "/rest-auth/keycloak/x/"),
    ] {
        let r = s.request(method, path, &[("Content-Type", "application/json")], b"{}");
        assert_eq!((r.status, r.json()), (404, not_found.clone()), "{method} {path}");
    }
    let r = s.request("GET", "/rest-auth/keycloak/", &[], b"");
    assert_eq!(r.status, 405, "{}", r.text());
    let r = s.request("POST", "/rest-auth/keycloak/connect/", &[("Content-Type", "application/json")], b"{}");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = s.request("OPTIONS", "/rest-auth/keycloak/", &[], b"");
    assert_eq!((r.status, r.json()["name"].clone()), (200, json!("OpenID Connect Login")));
}

#[test]
fn email_clash_connect_and_disconnect() {
    let kc = Keycloak::start();
    let s = server_with(&kc, &[]);
    s.create_user("olga", "olga@example.com", PASSWORD);
    sso(&s, "keycloak", json!({"id_token": es256(&claims(&kc, json!({})))}))
        .assert(400, json!({"non_field_errors": ["User is already registered with this e-mail address."]}));
    let key = s.login("olga", PASSWORD);
    let r = s.post_json("/rest-auth/keycloak/connect/", &json!({"id_token": es256(&claims(&kc, json!({})))}), Some(&key));
    r.assert(200, json!({"key": key}));
    let r = sso(&s, "keycloak", json!({"id_token": es256(&claims(&kc, json!({})))}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.count("SELECT count(*) FROM users"), 1);
    let auth = format!("Token {key}");
    let accounts = s.request("GET", "/rest-auth/socialaccounts/", &[("Authorization", &auth)], b"").json();
    assert_eq!(accounts[0]["provider"], "keycloak");
    let id = accounts[0]["id"].as_i64().unwrap();
    let r = s.post_json(&format!("/rest-auth/socialaccounts/{id}/disconnect/"), &json!({}), Some(&key));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_provider_that_cannot_be_discovered_is_a_fast_502() {
    let kc = Keycloak::start();
    let liar = kc.issuer("liar");
    let s = server_with(&kc, &[
        ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_ISSUER", &liar),
        ("RESTAUTH_SOCIAL_OIDC_MY_AUTHENTIK_ISSUER", "http://127.0.0.1:1/realms/down"),
    ]);
    let token = es256(&claims(&kc, json!({"iss": liar.clone()})));
    // A document naming another issuer is not this provider's.
    for _ in 0..3 {
        sso(&s, "keycloak", json!({"id_token": token}))
            .assert(502, json!({"detail": "keycloak could not be reached. Try again later."}));
    }
    // The failure is remembered: one fetch for three requests.
    assert_eq!(kc.calls("/openid-configuration"), 1);
    sso(&s, "my-authentik", json!({"code": "good-code"}))
        .assert(502, json!({"detail": "my-authentik could not be reached. Try again later."}));
}
}
