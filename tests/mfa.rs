//! Two-factor login (`mfa/`) against §13 of `dj-rest-auth-jwt-mfa-behaviour.md`,
//! and where restauth does better: single-use ephemeral tokens, each TOTP
//! step accepted once, recovery codes hashed and single use, social login
//! asking for the second factor, verify throttled and feeding the softlock.
//! Codes are computed here from the secret the server hands out.

mod common;
use common::*;
use restauth::config::MfaConfig;
use restauth::security::totp::Codes;
use serde_json::{json, Value};

/// A skew of 2 around codes of offsets -1..=1 keeps the tests clear of step
/// boundaries (the server may be one step later than the test).
const SKEW: (&str, &str) = ("RESTAUTH_MFA_SKEW", "2");

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The code of the step `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let raw = totp_rs::Secret::try_from_base32(secret).unwrap();
    let codes = Codes::new(&MfaConfig::default(), raw.as_ref());
    codes.at((now() + offset * 30) as u64)
}

fn post(s: &Server, path: &str, body: &Value, auth: Option<&str>) -> Resp {
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(a) = auth {
        h.push(("Authorization", a));
    }
    s.request("POST", path, &h, body.to_string().as_bytes())
}

fn get(s: &Server, path: &str, auth: &str) -> Resp {
    s.request("GET", path, &[("Authorization", auth)], b"")
}

fn login(s: &Server) -> Resp {
    post(
        s,
        "/rest-auth/login/",
        &json!({"username": "alice", "password": PASSWORD}),
        None,
    )
}

/// `alice`'s `Authorization` value, in token mode.
fn token_auth(s: &Server) -> String {
    format!("Token {}", s.login("alice", PASSWORD))
}

/// What [`activate`] did.
struct Activated {
    secret: String,
    recovery_codes: Vec<String>,
    /// The activation request's body (token and code), as sent.
    request: Value,
}

/// Turns MFA on for the user of `auth` with a code of step -1.
fn activate_fully(s: &Server, auth: &str) -> Activated {
    let r = get(s, "/rest-auth/mfa/totp/activate/", auth);
    assert_eq!(r.status, 200, "{}", r.text());
    let setup = r.json();
    let secret = setup["secret"].as_str().unwrap().to_string();
    let request = json!({"activation_token": setup["activation_token"], "code": code(&secret, -1)});
    let r = post(s, "/rest-auth/mfa/totp/activate/", &request, Some(auth));
    assert_eq!(r.status, 200, "{}", r.text());
    let recovery_codes = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    Activated {
        secret,
        recovery_codes,
        request,
    }
}

/// [`activate_fully`]'s secret and recovery codes.
fn activate(s: &Server, auth: &str) -> (String, Vec<String>) {
    let a = activate_fully(s, auth);
    (a.secret, a.recovery_codes)
}

/// Logs in with the password: the ephemeral token.
fn challenge(s: &Server) -> String {
    let r = login(s);
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(
        r.header("Set-Cookie").is_none(),
        "no cookie before the second factor"
    );
    body["ephemeral_token"].as_str().unwrap().to_string()
}

fn verify(s: &Server, token: &str, code: &str) -> Resp {
    post(
        s,
        "/rest-auth/mfa/verify/",
        &json!({"ephemeral_token": token, "code": code}),
        None,
    )
}

fn invalid_code() -> Value {
    json!({"code": ["Invalid code."]})
}

fn with_alice(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![SKEW];
    env.extend_from_slice(extra);
    let s = Server::start_with(&env);
    s.create_user("alice", "alice@example.com", PASSWORD);
    s
}

backend_tests! {
#[test]
fn activation_answers_as_the_reference() {
    let s = with_alice(&[]);
    let auth = token_auth(&s);
    get(&s, "/rest-auth/mfa/status/", &auth)
        .assert(200, json!({"mfa_enabled": false, "created_at": null, "last_used_at": null}));
    assert_eq!(s.request("GET", "/rest-auth/mfa/status/", &[], b"").status, 401);
    let setup = get(&s, "/rest-auth/mfa/totp/activate/", &auth).json();
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{secret}");
    assert_eq!(setup["totp_url"], format!("otpauth://totp/alice%40example.com?secret={secret}"));
    assert!(setup["qr_code_data_uri"].as_str().unwrap().starts_with("data:image/png;base64,iVBORw0KGgo"));
    let token = setup["activation_token"].as_str().unwrap();
    assert!(!token.contains(secret), "the token does not show the secret");
    let activate = |body: Value| post(&s, "/rest-auth/mfa/totp/activate/", &body, Some(&auth));
    activate(json!({})).assert(400, json!({
        "activation_token": ["This field is required."], "code": ["This field is required."],
    }));
    activate(json!({"activation_token": "garbage", "code": "123456"}))
        .assert(400, json!({"activation_token": ["Invalid or expired activation token."]}));
    // Another user's token.
    s.create_user("bob", "bob@example.com", PASSWORD);
    let bob = format!("Token {}", s.login("bob", PASSWORD));
    let bobs = get(&s, "/rest-auth/mfa/totp/activate/", &bob).json()["activation_token"].clone();
    activate(json!({"activation_token": bobs, "code": "123456"}))
        .assert(400, json!({"activation_token": ["Invalid activation token for this user."]}));
    let wrong = if code(secret, 0) == "000000" { "111111" } else { "000000" };
    activate(json!({"activation_token": token, "code": wrong})).assert(
        400,
        json!({"code": ["Invalid code. Please check your authenticator app and try again."]}),
    );
    let r = activate(json!({"activation_token": token, "code": code(secret, 0)}));
    assert_eq!(r.status, 200, "{}", r.text());
    let codes = r.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    for c in &codes {
        let c = c.as_str().unwrap();
        assert!(c.len() == 9 && c.as_bytes()[4] == b'-', "{c}");
    }
    // Checked first, even before the fields.
    activate(json!({})).assert(
        400,
        json!({"detail": "MFA is already enabled. Deactivate it before activating again."}),
    );
    let status = get(&s, "/rest-auth/mfa/status/", &auth).json();
    assert_eq!(status["mfa_enabled"], true);
    let created = status["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.as_bytes()[19] == b'.', "{created}");
    assert_eq!(status["last_used_at"], Value::Null);
    // Activation revokes nothing; a GET still makes a new secret.
    assert_eq!(get(&s, "/rest-auth/user/", &auth).status, 200);
    assert_ne!(get(&s, "/rest-auth/mfa/totp/activate/", &auth).json()["secret"], secret);
    // Nothing in the database yields the secret or a recovery code.
    let stored = s.stored_values();
    let raw = totp_rs::Secret::try_from_base32(secret).unwrap();
    let raw_hex: String = raw.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    for (column, value) in &stored {
        assert!(!value.contains(secret) && !value.contains(&raw_hex), "{column} holds the secret");
        for c in &codes {
            let c = c.as_str().unwrap();
            assert!(!value.contains(c) && !value.contains(&c.replace('-', "")), "{column} holds {c}");
        }
    }
}

#[test]
fn login_then_verify_answers_what_login_would_and_the_token_is_single_use() {
    let s = with_alice(&[]);
    let auth = token_auth(&s);
    let activated = activate_fully(&s, &auth);
    let secret = activated.secret.clone();
    let token = challenge(&s);
    assert_eq!(token.len(), 64, "names nobody: {token}");
    let v = |body: Value| post(&s, "/rest-auth/mfa/verify/", &body, None);
    v(json!({})).assert(400, json!({
        "ephemeral_token": ["This field is required."], "code": ["This field is required."],
    }));
    v(json!({"ephemeral_token": token, "code": "1234567890"}))
        .assert(400, json!({"code": ["Ensure this field has no more than 9 characters."]}));
    verify(&s, "garbage", "123456")
        .assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
    // A wrong password is still the usual 400, with no token.
    let r = post(&s, "/rest-auth/login/", &json!({"username": "alice", "password": "nope"}), None);
    r.assert(400, json!({"non_field_errors": ["Unable to log in with provided credentials."]}));
    // The activation code's step is used: it does not log in (the reference: it does).
    let activation_code = activated.request["code"].as_str().unwrap();
    verify(&s, &token, activation_code).assert(400, invalid_code());
    let r = verify(&s, &token, &code(&secret, 0));
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(get(&s, "/rest-auth/user/", &format!("Token {key}")).status, 200);
    assert!(get(&s, "/rest-auth/mfa/status/", &auth).json()["last_used_at"].is_string());
    // Single use: the same token with another good code is refused (the reference: 200).
    verify(&s, &token, &code(&secret, 1))
        .assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
    // A new password ends second steps begun with the old one.
    let token = challenge(&s);
    let o = s.cli(&["user", "set-password", "alice", "--password-stdin"], &format!("{PASSWORD}-2\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    verify(&s, &token, &code(&secret, 1))
        .assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
}

#[test]
fn each_totp_step_is_accepted_once() {
    let s = with_alice(&[]);
    let (secret, _) = activate(&s, &token_auth(&s));
    let (a, b) = (code(&secret, 0), code(&secret, 1));
    assert_eq!(verify(&s, &challenge(&s), &a).status, 200);
    // The same code again, and (the reference's alternating replay) A after B.
    verify(&s, &challenge(&s), &a).assert(400, invalid_code());
    assert_eq!(verify(&s, &challenge(&s), &b).status, 200);
    verify(&s, &challenge(&s), &a).assert(400, invalid_code());
    verify(&s, &challenge(&s), &b).assert(400, invalid_code());
}

#[test]
fn wrong_codes_burn_the_token_feed_the_softlock_and_verify_is_throttled() {
    let on = ("RESTAUTH_THROTTLE_ENABLED", "true");
    // A softlock long enough to be seen however slow the machine.
    let lock = ("RESTAUTH_THROTTLE_SOFTLOCK_BASE", "60s");
    let s = with_alice(&[("RESTAUTH_MFA_MAX_FAILURES", "3"), on, lock]);
    let (secret, _) = activate(&s, &token_auth(&s));
    let good = code(&secret, 0);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let token = challenge(&s);
    for _ in 0..3 {
        verify(&s, &token, wrong).assert(400, invalid_code());
    }
    verify(&s, &token, &good).assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
    // Two more wrong codes reach the softlock (5 failures by default): 429 even for the right code.
    let token = challenge(&s);
    for _ in 0..2 {
        verify(&s, &token, wrong).assert(400, invalid_code());
    }
    let r = verify(&s, &token, &good);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("Retry-After").is_some());
    // Per client address.
    let s = with_alice(&[("RESTAUTH_THROTTLE_MFA_VERIFY", "2/min"), on]);
    for _ in 0..2 {
        assert_eq!(verify(&s, "garbage", "123456").status, 400);
    }
    assert_eq!(verify(&s, "garbage", "123456").status, 429);
}

#[test]
fn recovery_codes_are_single_use_shown_once_and_regenerated() {
    let s = with_alice(&[]);
    let auth = token_auth(&s);
    let (secret, codes) = activate(&s, &auth);
    // Matched trimmed and in any case, as the reference matches them.
    let typed = format!(" {} ", codes[2].to_uppercase());
    assert_eq!(verify(&s, &challenge(&s), &typed).status, 200);
    verify(&s, &challenge(&s), &codes[2]).assert(400, invalid_code());
    post(&s, "/rest-auth/mfa/recovery-codes/", &json!({}), Some(&auth))
        .assert(200, json!({"codes": [], "unused": 9}));
    assert_eq!(get(&s, "/rest-auth/mfa/recovery-codes/", &auth).status, 405);
    // Regeneration asks for a fresh proof (the reference: nothing), so an
    // access token alone cannot mint a second factor: a TOTP code or an
    // unused recovery code, which is then spent.
    let regenerate = |body: Value| post(&s, "/rest-auth/mfa/recovery-codes/regenerate/", &body, Some(&auth));
    regenerate(json!({})).assert(400, json!({"code": ["This field is required."]}));
    regenerate(json!({"code": codes[2]})).assert(400, invalid_code());
    let r = regenerate(json!({"code": codes[3]}));
    assert_eq!(r.status, 200, "{}", r.text());
    let fresh: Vec<String> = r.json()["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(fresh.len(), 10);
    verify(&s, &challenge(&s), &codes[0]).assert(400, invalid_code());
    assert_eq!(verify(&s, &challenge(&s), &fresh[0]).status, 200);
    let r = regenerate(json!({"code": code(&secret, 0)}));
    assert_eq!(r.status, 200, "{}", r.text());
    verify(&s, &challenge(&s), &fresh[1]).assert(400, invalid_code());
}

#[test]
fn deactivation_needs_a_totp_code_and_the_cli_can_reset() {
    let s = with_alice(&[]);
    let auth = token_auth(&s);
    let deactivate = |body: Value| post(&s, "/rest-auth/mfa/totp/deactivate/", &body, Some(&auth));
    deactivate(json!({"code": "123456"})).assert(400, json!({"detail": "MFA is not enabled."}));
    post(&s, "/rest-auth/mfa/recovery-codes/regenerate/", &json!({}), Some(&auth))
        .assert(400, json!({"detail": "MFA is not enabled."}));
    post(&s, "/rest-auth/mfa/recovery-codes/", &json!({}), Some(&auth))
        .assert(200, json!({"codes": [], "unused": 0}));
    let (secret, codes) = activate(&s, &auth);
    deactivate(json!({})).assert(400, json!({"code": ["This field is required."]}));
    deactivate(json!({"code": codes[0]})).assert(400, invalid_code());
    let r = deactivate(json!({"code": code(&secret, 0)}));
    r.assert(200, json!({"detail": "TOTP has been deactivated."}));
    assert_eq!(get(&s, "/rest-auth/mfa/status/", &auth).json()["mfa_enabled"], false);
    assert!(login(&s).json()["key"].is_string(), "the password alone logs in again");
    assert_eq!(s.count("SELECT count(*) FROM mfa_recovery_codes"), 0);
    // The admin's escape hatch.
    activate(&s, &auth);
    let o = s.cli(&["user", "mfa-reset", "alice"], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("turned off for alice"));
    assert!(login(&s).json()["key"].is_string());
    let o = s.cli(&["user", "mfa-reset", "alice"], "");
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing changed"));
}

#[test]
fn an_activation_token_works_once_even_after_a_deactivation() {
    let s = with_alice(&[]);
    let auth = token_auth(&s);
    let activated = activate_fully(&s, &auth);
    let r = post(&s, "/rest-auth/mfa/totp/deactivate/", &json!({"code": code(&activated.secret, 0)}), Some(&auth));
    assert_eq!(r.status, 200, "{}", r.text());
    // The same token with a fresh code of its secret (the reference: MFA on again).
    let mut again = activated.request.clone();
    again["code"] = json!(code(&activated.secret, 1));
    post(&s, "/rest-auth/mfa/totp/activate/", &again, Some(&auth))
        .assert(400, json!({"activation_token": ["Invalid or expired activation token."]}));
    assert_eq!(get(&s, "/rest-auth/mfa/status/", &auth).json()["mfa_enabled"], false);
    // A new token works; a spent one is kept only until it expires.
    activate(&s, &auth);
    assert_eq!(s.count("SELECT count(*) FROM mfa_used_activations"), 2);
}

#[test]
fn a_burnt_or_crowded_out_challenge_checks_no_code() {
    let s = with_alice(&[("RESTAUTH_MFA_MAX_FAILURES", "2")]);
    let (secret, _) = activate(&s, &token_auth(&s));
    let good = code(&secret, 0);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    // Burnt by its failures: the right code afterwards is not even checked, so
    // its step stays unused and logs in through another challenge.
    let token = challenge(&s);
    for _ in 0..2 {
        verify(&s, &token, wrong).assert(400, invalid_code());
    }
    verify(&s, &token, &good).assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
    assert_eq!(verify(&s, &challenge(&s), &good).status, 200);
    // At most three second steps wait per user: a fourth login ends the oldest.
    let tokens: Vec<String> = (0..4).map(|_| challenge(&s)).collect();
    assert_eq!(s.count("SELECT count(*) FROM mfa_challenges"), 3);
    verify(&s, &tokens[0], &code(&secret, 1))
        .assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
    assert_eq!(verify(&s, &tokens[3], &code(&secret, 1)).status, 200);
}

#[test]
fn racing_wrong_codes_get_no_more_tries_than_the_budget() {
    let s = with_alice(&[("RESTAUTH_MFA_MAX_FAILURES", "2")]);
    let (secret, _) = activate(&s, &token_auth(&s));
    let good = code(&secret, 0);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let token = challenge(&s);
    let barrier = std::sync::Barrier::new(8);
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| {
                barrier.wait();
                verify(&s, &token, wrong).json()
            }))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    // Each request claims the challenge before checking its code: once two
    // wrong codes burnt it, the others find it gone (without the claim, all
    // eight were checked).
    let checked = answers.iter().filter(|a| **a == invalid_code()).count();
    let gone = json!({"ephemeral_token": ["Invalid or expired token."]});
    assert_eq!(checked, 2, "{answers:?}");
    assert!(answers.iter().all(|a| *a == invalid_code() || *a == gone), "{answers:?}");
}

#[test]
fn an_inactive_or_deleted_user_is_a_400_never_a_500() {
    let s = with_alice(&[]);
    let (secret, _) = activate(&s, &token_auth(&s));
    let token = challenge(&s);
    s.db().exec("UPDATE users SET is_active = 0", restauth::db::params![]);
    // A string under `detail` (the reference: a list).
    verify(&s, &token, &code(&secret, 0))
        .assert(400, json!({"detail": "User account is disabled."}));
    s.db().exec("UPDATE users SET is_active = 1", restauth::db::params![]);
    let token = challenge(&s);
    // Deleted within the token's lifetime: the token goes with the user (the reference: 500).
    s.db().exec("DELETE FROM users", restauth::db::params![]);
    verify(&s, &token, &code(&secret, 0))
        .assert(400, json!({"ephemeral_token": ["Invalid or expired token."]}));
}

#[test]
fn jwt_mode_verify_answers_the_jwt_login() {
    let s = with_alice(&[("RESTAUTH_AUTH_MODE", "jwt")]);
    let r = login(&s);
    let auth = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let (secret, _) = activate(&s, &auth);
    let token = challenge(&s);
    let r = verify(&s, &token, &code(&secret, 0));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(body["access"].is_string() && body["user"]["username"] == "alice", "{body}");
    let cookies: Vec<&str> = r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    // A stale access cookie does not block the second step (the reference: 401).
    let token = challenge(&s);
    let h = [("Content-Type", "application/json"), ("Cookie", "access=garbage")];
    let body = json!({"ephemeral_token": token, "code": code(&secret, 1)}).to_string();
    let r = s.request("POST", "/rest-auth/mfa/verify/", &h, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}
}
