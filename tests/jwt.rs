//! JWT mode (`auth.mode = "jwt"`) against the observed behaviour of
//! dj-rest-auth 7.2 + simplejwt 5.5 (`dj-rest-auth-jwt-mfa-behaviour.md`),
//! and where restauth does better: server-side sessions, reuse detection,
//! revocation reaching access tokens, stale credentials ignored.

mod common;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const JWT: (&str, &str) = ("RESTAUTH_AUTH_MODE", "jwt");

fn jwt_server(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![JWT];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The value `name` is set to by the answer's `Set-Cookie`, if any.
fn cookie(r: &Resp, name: &str) -> Option<String> {
    set_cookies(r).into_iter().find_map(|l| {
        let (pair, _) = l.split_once(';')?;
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| v.to_string())
    })
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Logs `alice` in; the answer, its access token and its refresh cookie.
fn login(s: &Server) -> (Resp, String, String) {
    let r = s.post_json(
        "/rest-auth/login/",
        &json!({"username": "alice", "password": PASSWORD}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let access = r.json()["access"].as_str().unwrap().to_string();
    let refresh = cookie(&r, "refresh").expect("refresh cookie");
    (r, access, refresh)
}

fn with_alice(extra: &[(&str, &str)]) -> Server {
    let s = jwt_server(extra);
    s.create_user("alice", "alice@example.com", PASSWORD);
    s
}

fn get_user(s: &Server, headers: &[(&str, &str)]) -> Resp {
    s.request("GET", "/rest-auth/user/", headers, b"")
}

fn post(s: &Server, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    s.request("POST", path, &h, body.to_string().as_bytes())
}

fn refresh_with(s: &Server, token: &str) -> Resp {
    post(
        s,
        "/rest-auth/token/refresh/",
        &json!({"refresh": token}),
        &[],
    )
}

fn patch_user(s: &Server, headers: &[(&str, &str)]) -> Resp {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    s.request("PATCH", "/rest-auth/user/", &h, br#"{"first_name": "X"}"#)
}

/// Django's `_mask_cipher_secret`: the 64-character form of a CSRF secret.
fn mask(secret: &str, mask: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let idx = |c: u8| CHARS.iter().position(|&x| x == c).unwrap();
    let masked: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| CHARS[(idx(s) + idx(m)) % CHARS.len()] as char)
        .collect();
    format!("{mask}{masked}")
}

/// `token` re-signed with the server's key, its `exp` moved `by` seconds.
fn with_exp_moved(s: &Server, token: &str, by: i64) -> String {
    use restauth::security::jwt::{Claims, Keys};
    let mut claims: Claims = serde_json::from_value(payload(token)).unwrap();
    claims.exp += by;
    Keys::derive(&s.secret_key()).sign(&claims)
}

/// An expired copy of `token` (same session, same jti).
fn expired(s: &Server, token: &str) -> String {
    let p = payload(token);
    let lived = p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap();
    with_exp_moved(s, token, -lived - 1)
}

const BEARER: &str = r#"Bearer realm="api""#;

backend_tests! {
#[test]
fn login_answers_and_sets_cookies_as_the_reference() {
    let s = with_alice(&[]);
    let (r, access, refresh) = login(&s);
    let body = r.json();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["access", "refresh", "user", "access_expiration", "refresh_expiration"]
    );
    assert_eq!(body["refresh"], "", "HttpOnly mode: the refresh token only in its cookie");
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(cookie(&r, "access").as_deref(), Some(access.as_str()));
    let exp = body["access_expiration"].as_str().unwrap();
    assert_eq!(exp.len(), "2026-12-01T19:55:29.066827Z".len(), "{exp}");
    assert!(exp.ends_with('Z') && exp.as_bytes()[19] == b'.', "{exp}");
    let lines = set_cookies(&r);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let attrs = |l: &str| l.split_once("; ").unwrap().1.to_string();
    let access_attrs = attrs(&lines[0]);
    assert!(access_attrs.starts_with("expires=") && access_attrs.contains(" GMT; "), "{access_attrs}");
    assert!(access_attrs.ends_with("; HttpOnly; Max-Age=300; Path=/; SameSite=Lax"), "{access_attrs}");
    assert!(attrs(&lines[1]).ends_with("; HttpOnly; Max-Age=86400; Path=/; SameSite=Lax"));
    // simplejwt's claims, in its order; user_id a string; the pair shares iat.
    let a = payload(&access);
    let r_claims = payload(&refresh);
    let names: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
    assert_eq!(a["token_type"], "access");
    assert_eq!(r_claims["token_type"], "refresh");
    assert!(a["user_id"].is_string());
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 300);
    assert_eq!(r_claims["exp"].as_i64().unwrap() - r_claims["iat"].as_i64().unwrap(), 86_400);
    assert_eq!(a["iat"], r_claims["iat"]);
    assert_ne!(a["jti"], r_claims["jti"]);
    assert_eq!(a["jti"].as_str().unwrap().len(), 32);
    // Only hashes are stored: SHA-256 of the session id and of the refresh jti.
    use sha2::{Digest, Sha256};
    let rows = s.db().all(
        "SELECT sid_sha256, refresh_sha256 FROM sessions",
        restauth::db::params![],
        |r| Ok((r.get::<Vec<u8>>(0)?, r.get::<Vec<u8>>(1)?)),
    );
    let hash = |v: &Value| Sha256::digest(v.as_str().unwrap().as_bytes()).to_vec();
    assert_eq!(rows, [(hash(&a["sid"]), hash(&r_claims["jti"]))]);
}

#[test]
fn bearer_header_or_access_cookie_authenticate_the_header_alone_decides() {
    let s = with_alice(&[]);
    let (_, access, _) = login(&s);
    let bearer = format!("Bearer {access}");
    let cookie_h = format!("access={access}");
    assert_eq!(get_user(&s, &[("Authorization", &bearer)]).status, 200);
    assert_eq!(get_user(&s, &[("Cookie", &cookie_h)]).status, 200);
    // Header beats cookie, both ways.
    let r = get_user(&s, &[("Authorization", &bearer), ("Cookie", "access=garbage")]);
    assert_eq!(r.status, 200);
    let r = get_user(&s, &[("Authorization", "Bearer garbage"), ("Cookie", &cookie_h)]);
    r.assert(401, json!({"detail": "Given token not valid for any token type", "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid"}]}));
    assert_eq!(r.header("WWW-Authenticate"), Some(BEARER));
    // Another scheme: no credential, and the cookie is not read either.
    let token_scheme = format!("Token {access}");
    let r = get_user(&s, &[("Authorization", &token_scheme), ("Cookie", &cookie_h)]);
    r.assert(401, json!({"detail": "Authentication credentials were not provided."}));
    assert_eq!(r.header("WWW-Authenticate"), Some(BEARER));
    get_user(&s, &[("Authorization", "Bearer")]).assert(
        401,
        json!({"detail": "Authorization header must contain two space-delimited values",
               "code": "bad_authorization_header"}),
    );
    // A refresh token is not an access token.
    let (_, _, refresh) = login(&s);
    let r = get_user(&s, &[("Authorization", &format!("Bearer {refresh}"))]);
    assert_eq!(r.json()["messages"][0]["message"], "Token has wrong type");
}

#[test]
fn refresh_rotates_and_a_reused_token_revokes_the_whole_session() {
    let s = with_alice(&[("RESTAUTH_JWT_REUSE_GRACE", "0")]);
    let (_, access0, r0) = login(&s);
    let r = refresh_with(&s, &r0);
    assert_eq!(r.status, 200, "{}", r.text());
    let keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access", "access_expiration"]);
    let r1 = cookie(&r, "refresh").expect("rotated refresh cookie");
    assert_ne!(r1, r0);
    assert_eq!(cookie(&r, "access").as_deref(), r.json()["access"].as_str());
    // The thief (or the victim) presents the replaced token: the family dies.
    refresh_with(&s, &r0).assert(401, json!({"detail": "Token is blacklisted", "code": "token_not_valid"}));
    refresh_with(&s, &r1).assert(401, json!({"detail": "Token is blacklisted", "code": "token_not_valid"}));
    // ... and so do its access tokens, at once.
    let r = get_user(&s, &[("Authorization", &format!("Bearer {access0}"))]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["messages"][0]["message"], "Token is blacklisted");
}

#[test]
fn a_replaced_token_within_the_grace_window_gets_an_access_token_and_revokes_nothing() {
    let s = with_alice(&[]);
    let (_, _, r0) = login(&s);
    let r1 = cookie(&refresh_with(&s, &r0), "refresh").expect("rotated");
    let second_tab = refresh_with(&s, &r0);
    assert_eq!(second_tab.status, 200, "{}", second_tab.text());
    assert!(second_tab.json()["access"].is_string());
    assert_eq!(cookie(&second_tab, "refresh"), None, "the first tab's rotation stands");
    assert_eq!(refresh_with(&s, &r1).status, 200, "the successor still works");
}

#[test]
fn concurrent_refreshes_of_one_token_never_fail_and_rotate_once() {
    let s = with_alice(&[]);
    let (_, _, r0) = login(&s);
    let answers: Vec<Resp> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| refresh_with(&s, &r0))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let rotated: Vec<String> = answers.iter().filter_map(|a| cookie(a, "refresh")).collect();
    assert_eq!(rotated.len(), 1, "exactly one refresh rotates");
    assert_eq!(refresh_with(&s, &rotated[0]).status, 200);
}

#[test]
fn verify_checks_signature_expiry_and_session() {
    let s = with_alice(&[("RESTAUTH_JWT_REUSE_GRACE", "0")]);
    let (_, access, r0) = login(&s);
    let verify = |body: Value, headers: &[(&str, &str)]| {
        post(&s, "/rest-auth/token/verify/", &body, headers)
    };
    verify(json!({"token": access}), &[]).assert(200, json!({}));
    verify(json!({"token": r0}), &[]).assert(200, json!({}));
    let r = verify(json!({"token": "garbage"}), &[]);
    r.assert(401, json!({"detail": "Token is invalid", "code": "token_not_valid"}));
    assert_eq!(r.header("WWW-Authenticate"), Some(BEARER));
    verify(json!({}), &[]).assert(400, json!({"token": ["This field is required."]}));
    verify(json!({"token": null}), &[]).assert(400, json!({"token": ["This field may not be null."]}));
    // Without a body token, the access cookie (the reference ignores it).
    let c = format!("access={access}");
    verify(json!({"token": ""}), &[("Cookie", &c)]).assert(200, json!({}));
    // A rotated refresh token is no longer good: one shape for every bad token.
    assert_eq!(refresh_with(&s, &r0).status, 200);
    verify(json!({"token": r0}), &[]).assert(401, json!({"detail": "Token is blacklisted", "code": "token_not_valid"}));
}

#[test]
fn logout_revokes_the_session_and_always_clears_the_cookies() {
    let s = with_alice(&[]);
    let (_, access, refresh) = login(&s);
    // A stale access cookie next to a good refresh cookie does not block the logout.
    let cookies = format!("access=garbage; refresh={refresh}");
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &cookies)]);
    r.assert(200, json!({"detail": "Successfully logged out."}));
    assert_eq!(
        set_cookies(&r),
        [
            r#"access=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#,
            r#"refresh=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#,
        ]
    );
    // Revoked at once: the refresh token and the session's access token.
    refresh_with(&s, &refresh).assert(401, json!({"detail": "Token is blacklisted", "code": "token_not_valid"}));
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {access}"))]).status, 401);
    // Logging out with the access token alone revokes its session too.
    let (_, access2, refresh2) = login(&s);
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Authorization", &format!("Bearer {access2}"))]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(refresh_with(&s, &refresh2).status, 401);
    // A bad refresh cookie does not stop a logout the access token can name.
    let (_, access3, refresh3) = login(&s);
    let r = post(&s, "/rest-auth/logout/", &json!({}),
        &[("Cookie", "refresh=garbage"), ("Authorization", &format!("Bearer {access3}"))]);
    r.assert(200, json!({"detail": "Successfully logged out."}));
    assert_eq!(refresh_with(&s, &refresh3).status, 401);
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", "refresh=garbage")]);
    r.assert(401, json!({"detail": "Token is invalid"}));
    // GET is never a logout in JWT mode: cookies travel with cross-site links.
    let s2 = with_alice(&[("RESTAUTH_ACCOUNTS_LOGOUT_ON_GET", "true")]);
    let (_, _, refresh4) = login(&s2);
    let r = s2.request("GET", "/rest-auth/logout/", &[("Cookie", &format!("refresh={refresh4}"))], b"");
    assert_eq!(r.status, 405);
    assert_eq!(refresh_with(&s2, &refresh4).status, 200);
    // Nothing to revoke: a 401 with its WWW-Authenticate, cookies cleared anyway.
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[]);
    r.assert(401, json!({"detail": "Refresh token was not included in cookie data."}));
    assert_eq!(r.header("WWW-Authenticate"), Some(BEARER));
    assert_eq!(set_cookies(&r).len(), 2);
    // A body that is not an object is a 400, not a 500.
    let r = s.request("POST", "/rest-auth/logout/", &[("Content-Type", "application/json")], b"[\"x\"]");
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn stale_credentials_never_block_the_way_in() {
    let s = with_alice(&[]);
    let body = json!({"username": "alice", "password": PASSWORD});
    for headers in [
        vec![("Cookie", "access=garbage")],
        vec![("Authorization", "Bearer garbage")],
        vec![("Authorization", "Bearer")],
    ] {
        let r = post(&s, "/rest-auth/login/", &body, &headers);
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
        let r = post(&s, "/rest-auth/password/reset/", &json!({"email": "alice@example.com"}), &headers);
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
    }
}

#[test]
fn a_password_reset_revokes_every_session() {
    let s = with_alice(&[]);
    let (_, access, refresh) = login(&s);
    let r = post(&s, "/rest-auth/password/reset/", &json!({"email": "alice@example.com"}), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let prefix = "http://localhost:8000/password-reset/confirm/";
    let link = s.wait_for_mails(1)[0].link(prefix).expect("reset link");
    let rest = link.trim_start_matches(prefix).trim_end_matches('/');
    let (uid, token) = rest.split_once('/').expect("uid/token");
    let new = "An0ther-g00d-one";
    let body = json!({"uid": uid, "token": token, "new_password1": new, "new_password2": new});
    let r = post(&s, "/rest-auth/password/reset/confirm/", &body, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    // The reference: both keep working (§8).
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {access}"))]).status, 401);
    refresh_with(&s, &refresh).assert(401, json!({"detail": "Token is blacklisted", "code": "token_not_valid"}));
}

#[test]
fn password_change_keeps_this_device_and_revokes_the_others() {
    let s = with_alice(&[]);
    let (_, access_a, refresh_a) = login(&s);
    let (_, access_b, refresh_b) = login(&s);
    let r = post(
        &s,
        "/rest-auth/password/change/",
        &json!({"old_password": PASSWORD, "new_password1": "An0ther-g00d-one", "new_password2": "An0ther-g00d-one"}),
        &[("Authorization", &format!("Bearer {access_a}"))],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {access_a}"))]).status, 200);
    assert_eq!(refresh_with(&s, &refresh_a).status, 200);
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {access_b}"))]).status, 401);
    assert_eq!(refresh_with(&s, &refresh_b).status, 401);
}

#[test]
fn registration_answers_like_login_when_no_verification_is_required() {
    let s = jwt_server(&[("RESTAUTH_ACCOUNTS_EMAIL_VERIFICATION", "optional")]);
    let r = s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "bob", "email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["refresh"], "");
    assert!(body["refresh_expiration"].is_string());
    let access = cookie(&r, "access").expect("access cookie");
    assert_eq!(body["access"], access.as_str());
    assert!(cookie(&r, "refresh").is_some());
    let me = get_user(&s, &[("Cookie", &format!("access={access}"))]);
    assert_eq!(me.json()["username"], "bob");
}

#[test]
fn the_body_variant_also_carries_the_refresh_token_and_cookies_stay_httponly() {
    let s = with_alice(&[("RESTAUTH_JWT_REFRESH_IN_BODY", "true")]);
    let (r, _, refresh) = login(&s);
    assert_eq!(r.json()["refresh"], refresh.as_str());
    assert!(set_cookies(&r).iter().all(|l| l.contains("; HttpOnly;")));
    let r = refresh_with(&s, &refresh);
    let keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access", "refresh", "access_expiration", "refresh_expiration"]);
}

#[test]
fn an_inactive_or_deleted_user_is_a_401_never_a_500() {
    // No grace window, so that a rotation the refusal left behind would show.
    let s = with_alice(&[("RESTAUTH_JWT_REUSE_GRACE", "0")]);
    let (_, access, refresh) = login(&s);
    let db = s.db();
    db.exec("UPDATE users SET is_active = 0 WHERE username = 'alice'", restauth::db::params![]);
    refresh_with(&s, &refresh).assert(
        401,
        json!({"detail": "No active account found for the given token.", "code": "no_active_account"}),
    );
    get_user(&s, &[("Authorization", &format!("Bearer {access}"))])
        .assert(401, json!({"detail": "User is inactive", "code": "user_inactive"}));
    // The refusal rotated nothing: reactivated, the same token still refreshes.
    db.exec("UPDATE users SET is_active = 1 WHERE username = 'alice'", restauth::db::params![]);
    assert_eq!(refresh_with(&s, &refresh).status, 200);
    let (_, access, refresh) = login(&s);
    // Deleted: its sessions go with it (the reference answers the refresh with a 500).
    db.exec("DELETE FROM users WHERE username = 'alice'", restauth::db::params![]);
    refresh_with(&s, &refresh).assert(401, json!({"detail": "Token is blacklisted", "code": "token_not_valid"}));
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {access}"))]).status, 401);
}

#[test]
fn csrf_off_needs_no_token_and_sets_no_csrf_cookie() {
    let s = with_alice(&[]);
    let (r, access, _) = login(&s);
    assert_eq!(cookie(&r, "csrftoken"), None);
    let cookies = format!("access={access}");
    let r = patch_user(&s, &[("Cookie", &cookies), ("Origin", "http://evil.example")]);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn csrf_on_checks_cookie_authenticated_unsafe_requests_as_the_reference() {
    let s = with_alice(&[("RESTAUTH_JWT_CSRF", "true")]);
    let (r, access, _) = login(&s);
    // The cookie the reference never sets (iMerica#338): readable, Django's attributes.
    let lines = set_cookies(&r);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let csrf = cookie(&r, "csrftoken").expect("csrftoken cookie");
    assert_eq!(csrf.len(), 32);
    assert!(csrf.bytes().all(|b| b.is_ascii_alphanumeric()), "{csrf}");
    let (_, attrs) = lines[2].split_once("; ").unwrap();
    assert!(attrs.starts_with("expires=") && !attrs.contains("HttpOnly"), "{attrs}");
    assert!(attrs.ends_with("; Max-Age=31449600; Path=/; SameSite=Lax"), "{attrs}");
    let failed = |reason: &str| json!({"detail": format!("CSRF Failed: {reason}")});
    let jar = |csrf: Option<&str>| match csrf {
        Some(c) => format!("access={access}; csrftoken={c}"),
        None => format!("access={access}"),
    };
    let with_pair = jar(Some(&csrf));
    // §6's table, row by row.
    let r = patch_user(&s, &[("Cookie", &jar(None))]);
    r.assert(403, failed("CSRF cookie not set."));
    assert_eq!(r.header("WWW-Authenticate"), None);
    patch_user(&s, &[("Cookie", &with_pair)]).assert(403, failed("CSRF token missing."));
    let other = "A".repeat(32);
    patch_user(&s, &[("Cookie", &with_pair), ("X-CSRFToken", &other)])
        .assert(403, failed("CSRF token from the 'X-Csrftoken' HTTP header incorrect."));
    patch_user(&s, &[("Cookie", &with_pair), ("X-CSRFToken", &csrf), ("Origin", "http://evil.example")])
        .assert(403, failed("Origin checking failed - http://evil.example does not match any trusted origins."));
    let unchanged = get_user(&s, &[("Authorization", &format!("Bearer {access}"))]);
    assert_eq!(unchanged.json()["first_name"], "", "a refused request changes nothing");
    let own = format!("http://{}", s.addr);
    for extra in [vec![], vec![("Origin", own.as_str())]] {
        let mut h = vec![("Cookie", with_pair.as_str()), ("X-CSRFToken", csrf.as_str())];
        h.extend(extra);
        let r = patch_user(&s, &h);
        assert_eq!(r.status, 200, "{h:?}: {}", r.text());
    }
    // A header authenticates without CSRF, cookie present or not; GET needs none.
    let bearer = format!("Bearer {access}");
    let no_pair = jar(None);
    // Nor Origin: no other site can make a browser send the header (a native
    // app's webview sends its own scheme's origin).
    for h in [
        vec![("Authorization", bearer.as_str())],
        vec![("Authorization", bearer.as_str()), ("Cookie", no_pair.as_str())],
        vec![("Authorization", bearer.as_str()), ("Origin", "capacitor://localhost")],
    ] {
        assert_eq!(patch_user(&s, &h).status, 200, "{h:?}");
    }
    assert_eq!(get_user(&s, &[("Cookie", &jar(None))]).status, 200);
    // Django's formats: a client-minted pair, a masked (64-character) header,
    // and malformed values named as Django names them.
    let minted = "abcdefghijABCDEFGHIJ0123456789zZ";
    let minted_jar = jar(Some(minted));
    assert_eq!(patch_user(&s, &[("Cookie", &minted_jar), ("X-CSRFToken", minted)]).status, 200);
    let masked = mask(minted, "9876543210ZYXWVUTSRQzyxwvutsrqQq");
    assert_eq!(patch_user(&s, &[("Cookie", &minted_jar), ("X-CSRFToken", &masked)]).status, 200);
    patch_user(&s, &[("Cookie", &minted_jar), ("X-CSRFToken", "short")])
        .assert(403, failed("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."));
    patch_user(&s, &[("Cookie", &jar(Some("short"))), ("X-CSRFToken", minted)])
        .assert(403, failed("CSRF cookie has incorrect length."));
    patch_user(&s, &[("Cookie", &jar(Some(&"-".repeat(32)))), ("X-CSRFToken", minted)])
        .assert(403, failed("CSRF cookie has invalid characters."));
}

#[test]
fn csrf_on_guards_logout_login_and_keeps_the_token_across_refreshes() {
    let s = with_alice(&[
        ("RESTAUTH_JWT_CSRF", "true"),
        ("RESTAUTH_SERVER_CORS_ALLOWED_ORIGINS", "https://app.example,capacitor://localhost"),
    ]);
    let (r, _, refresh) = login(&s);
    let csrf = cookie(&r, "csrftoken").unwrap();
    // A refresh needs no pair (as the reference) and renews the same csrftoken.
    let jar = format!("refresh={refresh}; csrftoken={csrf}");
    let r = post(&s, "/rest-auth/token/refresh/", &json!({}), &[("Cookie", &jar)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(cookie(&r, "csrftoken").as_deref(), Some(csrf.as_str()));
    let refresh = cookie(&r, "refresh").unwrap();
    // Logout by the refresh cookie alone needs the pair too (the reference
    // lets a forged cross-site logout through), and a refused one clears nothing.
    let jar = format!("refresh={refresh}; csrftoken={csrf}");
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &jar)]);
    r.assert(403, json!({"detail": "CSRF Failed: CSRF token missing."}));
    assert!(set_cookies(&r).is_empty(), "{:?}", set_cookies(&r));
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &jar), ("X-CSRFToken", &csrf)]);
    r.assert(200, json!({"detail": "Successfully logged out."}));
    // Login: a stale access cookie needs no pair (the reference answers 403),
    // but a page of an untrusted origin cannot log a browser in (login CSRF).
    let body = json!({"username": "alice", "password": PASSWORD});
    let r = post(&s, "/rest-auth/login/", &body, &[("Cookie", "access=garbage")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(cookie(&r, "csrftoken").as_deref(), Some(csrf.as_str()), "a login makes a new one");
    post(&s, "/rest-auth/login/", &body, &[("Origin", "https://evil.example")]).assert(
        403,
        json!({"detail": "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."}),
    );
    let r = post(&s, "/rest-auth/login/", &body, &[("Origin", "https://app.example")]);
    assert_eq!(r.status, 200, "a CORS-allowed origin is trusted: {}", r.text());
    // A page of another site cannot read the cookie: the value comes as a header too.
    let csrf = cookie(&r, "csrftoken").unwrap();
    assert_eq!(r.header("X-CSRFToken"), Some(csrf.as_str()));
    assert_eq!(r.header("Access-Control-Expose-Headers"), Some("X-CSRFToken"));
    let refresh = cookie(&r, "refresh").unwrap();
    // Origins compare as browsers write them; a native app's scheme can be listed.
    for origin in ["HTTPS://App.Example:443", "capacitor://localhost"] {
        let r = post(&s, "/rest-auth/login/", &body, &[("Origin", origin)]);
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
    }
    // An `Authorization` header of another scheme does not make the refresh
    // cookie a lesser credential at logout; an empty header is malformed.
    let jar = format!("refresh={refresh}; csrftoken={csrf}");
    post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &jar), ("Authorization", "Basic eDp5")])
        .assert(403, json!({"detail": "CSRF Failed: CSRF token missing."}));
    post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &jar), ("X-CSRFToken", "")]).assert(
        403,
        json!({"detail": "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."}),
    );
    let r = post(&s, "/rest-auth/token/refresh/", &json!({}), &[("Cookie", &jar)]);
    assert_eq!(r.header("X-CSRFToken"), Some(csrf.as_str()), "a refresh sends it too");
    // The preflight lets the frontend send the header.
    let r = s.request("OPTIONS", "/rest-auth/user/", &[
        ("Origin", "https://app.example"),
        ("Access-Control-Request-Method", "PATCH"),
        ("Access-Control-Request-Headers", "x-csrftoken"),
    ], b"");
    assert!(r.header("Access-Control-Allow-Headers").unwrap_or("").contains("X-CSRFToken"));
}

#[test]
fn with_secure_cookies_only_the_https_origin_is_the_servers_own() {
    let s = with_alice(&[("RESTAUTH_JWT_CSRF", "true"), ("RESTAUTH_JWT_SECURE", "true")]);
    let (r, access, _) = login(&s);
    let csrf = cookie(&r, "csrftoken").unwrap();
    assert!(set_cookies(&r).iter().all(|l| l.ends_with("; Secure")), "{:?}", set_cookies(&r));
    let jar = format!("access={access}; csrftoken={csrf}");
    for (origin, status) in [(format!("http://{}", s.addr), 403), (format!("https://{}", s.addr), 200)] {
        let r = patch_user(&s, &[("Cookie", &jar), ("X-CSRFToken", &csrf), ("Origin", &origin)]);
        assert_eq!(r.status, status, "{origin}: {}", r.text());
    }
}

#[test]
fn token_mode_serves_no_jwt_endpoints() {
    let s = Server::start();
    assert_eq!(post(&s, "/rest-auth/token/refresh/", &json!({}), &[]).status, 404);
    assert_eq!(post(&s, "/rest-auth/token/verify/", &json!({}), &[]).status, 404);
}
#[test]
fn expiry_as_the_reference_and_expired_cookies_never_block_login_or_logout() {
    let s = with_alice(&[
        ("RESTAUTH_JWT_ACCESS_LIFETIME", "2s"),
        ("RESTAUTH_JWT_REFRESH_LIFETIME", "6s"),
    ]);
    let (r, access, refresh) = login(&s);
    let lines = set_cookies(&r);
    assert!(lines[0].contains("; Max-Age=2; ") && lines[1].contains("; Max-Age=6; "), "{lines:?}");
    // The forged copies are refused only for their expiry: the unexpired
    // re-signature of the same claims is accepted.
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {}", with_exp_moved(&s, &access, 0)))]).status, 200);
    let (old_access, old_refresh) = (expired(&s, &access), expired(&s, &refresh));
    let expired_access = json!({
        "detail": "Given token not valid for any token type", "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is expired"}],
    });
    let header = format!("Bearer {old_access}");
    let old_cookie = format!("access={old_access}");
    get_user(&s, &[("Authorization", &header)]).assert(401, expired_access.clone());
    get_user(&s, &[("Cookie", &old_cookie)]).assert(401, expired_access);
    let is_expired = json!({"detail": "Token is expired", "code": "token_not_valid"});
    for t in [&old_access, &old_refresh] {
        post(&s, "/rest-auth/token/verify/", &json!({"token": t}), &[]).assert(401, is_expired.clone());
    }
    refresh_with(&s, &old_refresh).assert(401, is_expired);
    // A valid refresh token with an expired access cookie: 200, as the reference.
    let jar = format!("access={old_access}; refresh={refresh}");
    let r = post(&s, "/rest-auth/token/refresh/", &json!({}), &[("Cookie", &jar)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let refresh = cookie(&r, "refresh").expect("rotated refresh cookie");
    // Login and logout ignore an expired access cookie (the reference: 401, nothing deleted).
    let body = json!({"username": "alice", "password": PASSWORD});
    assert_eq!(post(&s, "/rest-auth/login/", &body, &[("Cookie", &old_cookie)]).status, 200);
    let jar = format!("access={old_access}; refresh={refresh}");
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &jar)]);
    r.assert(200, json!({"detail": "Successfully logged out."}));
    assert_eq!(set_cookies(&r).len(), 2);
    assert_eq!(refresh_with(&s, &refresh).status, 401, "revoked");
    // Only an expired refresh cookie: the reference's 401, cookies deleted.
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", &format!("refresh={old_refresh}"))]);
    r.assert(401, json!({"detail": "Token is expired"}));
    assert_eq!(set_cookies(&r).len(), 2);
}

#[test]
fn logout_names_each_bad_refresh_cookie_as_the_reference() {
    let s = with_alice(&[]);
    let (_, access, refresh) = login(&s);
    let logout = |jar: &str| post(&s, "/rest-auth/logout/", &json!({}), &[("Cookie", jar)]);
    logout(&format!("refresh={access}")).assert(401, json!({"detail": "Token has wrong type"}));
    let jar = format!("refresh={refresh}");
    logout(&jar).assert(200, json!({"detail": "Successfully logged out."}));
    let r = logout(&jar);
    r.assert(401, json!({"detail": "Token is blacklisted"}));
    assert_eq!(set_cookies(&r).len(), 2, "deleted on every answer of the view");
    // A malformed JSON body is the parser's 400, before anything is deleted.
    let r = s.request("POST", "/rest-auth/logout/", &[("Content-Type", "application/json"), ("Cookie", &jar)], b"{x");
    assert_eq!(r.status, 400);
    assert!(r.json()["detail"].as_str().unwrap().starts_with("JSON parse error - "), "{}", r.text());
    assert!(set_cookies(&r).is_empty());
}

#[test]
fn body_variant_logout_as_the_reference_without_its_bugs() {
    let s = with_alice(&[("RESTAUTH_JWT_REFRESH_IN_BODY", "true")]);
    let login_refresh = || {
        let (r, _, _) = login(&s);
        r.json()["refresh"].as_str().unwrap().to_string()
    };
    let logout = |body: &Value, headers: &[(&str, &str)]| post(&s, "/rest-auth/logout/", body, headers);
    let ok = json!({"detail": "Successfully logged out."});
    // §7.2 row by row.
    let r1 = login_refresh();
    logout(&json!({"refresh": r1}), &[]).assert(200, ok.clone());
    assert_eq!(refresh_with(&s, &r1).status, 401, "revoked");
    // The cookie too when the body has none (the reference ignores it and keeps the session).
    let r2 = login_refresh();
    logout(&json!({}), &[("Cookie", &format!("refresh={r2}"))]).assert(200, ok.clone());
    assert_eq!(refresh_with(&s, &r2).status, 401);
    let not_included = json!({"detail": "Refresh token was not included in request data."});
    let r = logout(&json!({"refresh": ""}), &[]);
    r.assert(401, not_included.clone());
    assert_eq!(set_cookies(&r).len(), 2);
    logout(&json!({"refresh": 123}), &[]).assert(401, json!({"detail": "Token is invalid"}));
    // null revokes nothing: the reference answers 200 anyway; restauth says why.
    let r3 = login_refresh();
    let r = logout(&json!({"refresh": null}), &[]);
    r.assert(400, json!({"refresh": ["This field may not be null."]}));
    assert_eq!(refresh_with(&s, &r3).status, 200, "nothing was revoked");
    // A whole body that is not an object: 400 (the reference: 500).
    for body in [&b"\"abc\""[..], b"[\"x\"]", b"null"] {
        let r = s.request("POST", "/rest-auth/logout/", &[("Content-Type", "application/json")], body);
        assert_eq!(r.status, 400, "{}", r.text());
    }
    // A form body, as the reference.
    let r4 = login_refresh();
    let form = format!("refresh={r4}");
    let r = s.request("POST", "/rest-auth/logout/", &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes());
    r.assert(200, ok);
    assert_eq!(refresh_with(&s, &r4).status, 401);
}

#[test]
fn an_empty_cookie_name_means_no_such_cookie() {
    let s = with_alice(&[("RESTAUTH_JWT_ACCESS_COOKIE", "")]);
    let (r, access, _) = login(&s);
    let lines = set_cookies(&r);
    assert_eq!(lines.len(), 1, "the refresh cookie only: {lines:?}");
    assert!(lines[0].starts_with("refresh="));
    get_user(&s, &[("Cookie", &format!("access={access}"))])
        .assert(401, json!({"detail": "Authentication credentials were not provided."}));
    assert_eq!(get_user(&s, &[("Authorization", &format!("Bearer {access}"))]).status, 200);
    let r = post(&s, "/rest-auth/logout/", &json!({}), &[("Authorization", &format!("Bearer {access}"))]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(set_cookies(&r), [r#"refresh=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#]);
    // Without a refresh cookie the refresh token can only travel in bodies.
    let s = with_alice(&[("RESTAUTH_JWT_REFRESH_COOKIE", "")]);
    let r = s.post_json("/rest-auth/login/", &json!({"username": "alice", "password": PASSWORD}), None);
    assert_eq!(set_cookies(&r).len(), 1);
    let refresh = r.json()["refresh"].as_str().unwrap().to_string();
    assert!(!refresh.is_empty());
    let r = refresh_with(&s, &refresh);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["refresh"].is_string(), "the rotated token is in the body: {}", r.text());
}
}
