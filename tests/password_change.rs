//! `POST P/password/change/` (contract password/change row and "Semantics: Tokens";
//! reference §3.6, §4.6).

mod common;
use common::*;

use serde_json::{json, Value};

const CHANGE: &str = "/rest-auth/password/change/";
const NEW: &str = "Another-g00d-passphrase";
const SAVED: &str = "New password has been saved.";
const UNABLE: &str = "Unable to log in with provided credentials.";

fn with_alice() -> (Server, String) {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    (s, key)
}

fn change(s: &Server, body: Value, key: &str) -> Resp {
    s.post_json(CHANGE, &body, Some(key))
}

fn assert_login_fails(s: &Server, username: &str, password: &str) {
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": username, "password": password}),
        None,
    )
    .assert(400, json!({"non_field_errors": [UNABLE]}));
}

fn assert_order(text: &str, keys: &[&str]) {
    let pos: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} missing in {text}"))
        })
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "key order: {text}");
}

backend_tests! {
#[test]
fn success_replaces_the_password() {
    let (s, key) = with_alice();
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}),
        &key,
    )
    .assert(200, json!({"detail": SAVED}));
    assert_login_fails(&s, "alice", PASSWORD);
    s.login("alice", NEW);
    // Stored in Django's format with the configured iterations.
    let hash: String = s.db().one(
        "SELECT password FROM users WHERE username = 'alice'",
        params![],
    );
    assert!(
        hash.starts_with(&format!("pbkdf2_sha256${TEST_ITERATIONS}$")),
        "{hash}"
    );
    assert!(restauth::security::password::verify_password(NEW, &hash, TEST_ITERATIONS).ok);
    // Without the trailing slash too; passwords are trimmed like every string field.
    let key = s.login("alice", NEW);
    s.post_json(
        "/rest-auth/password/change",
        &json!({"old_password": NEW, "new_password1": " Third-g00d-passphrase ", "new_password2": "Third-g00d-passphrase"}),
        Some(&key),
    )
    .assert(200, json!({"detail": SAVED}));
    s.login("alice", "Third-g00d-passphrase");
}

#[test]
fn current_token_kept_other_tokens_revoked() {
    let (s, key) = with_alice();
    let other = s.login("alice", PASSWORD);
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}),
        &key,
    )
    .assert(200, json!({"detail": SAVED}));
    assert_eq!(s.get("/rest-auth/user/", Some(&key)).status, 200);
    s.get("/rest-auth/user/", Some(&other))
        .assert(401, json!({"detail": "Invalid token."}));
}

#[test]
fn logout_on_password_change_revokes_every_token() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_LOGOUT_ON_PASSWORD_CHANGE", "true")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    let other = s.login("alice", PASSWORD);
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}),
        &key,
    )
    .assert(200, json!({"detail": SAVED}));
    for k in [&key, &other] {
        s.get("/rest-auth/user/", Some(k))
            .assert(401, json!({"detail": "Invalid token."}));
    }
    s.login("alice", NEW);
}

#[test]
fn missing_fields_in_declaration_order() {
    let (s, key) = with_alice();
    let required = json!(["This field is required."]);
    let r = change(&s, json!({}), &key);
    r.assert(
        400,
        json!({"old_password": required, "new_password1": required, "new_password2": required}),
    );
    assert_order(
        &r.text(),
        &["old_password", "new_password1", "new_password2"],
    );
    // Blank values.
    let blank = json!(["This field may not be blank."]);
    let r = change(
        &s,
        json!({"old_password": "", "new_password1": "", "new_password2": ""}),
        &key,
    );
    r.assert(
        400,
        json!({"old_password": blank, "new_password1": blank, "new_password2": blank}),
    );
    assert_order(
        &r.text(),
        &["old_password", "new_password1", "new_password2"],
    );
    // A wrong old password is a field error too: it comes with the other field errors.
    let r = change(&s, json!({"old_password": "not-it"}), &key);
    r.assert(
        400,
        json!({
            "old_password": ["Your old password was entered incorrectly. Please enter it again."],
            "new_password1": required,
            "new_password2": required,
        }),
    );
    assert_order(
        &r.text(),
        &["old_password", "new_password1", "new_password2"],
    );
    // Django's max_length=128 on the password fields.
    let long = "Xy7-".repeat(33);
    let too_long = json!(["Ensure this field has no more than 128 characters."]);
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": long, "new_password2": long}),
        &key,
    )
    .assert(
        400,
        json!({"new_password1": too_long, "new_password2": too_long}),
    );
    // Only the missing one.
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": NEW}),
        &key,
    )
    .assert(400, json!({"new_password2": required}));
    s.login("alice", PASSWORD);
}

#[test]
fn wrong_old_password_is_reported_first_and_alone() {
    let (s, key) = with_alice();
    let wrong_old = json!({"old_password": ["Your old password was entered incorrectly. Please enter it again."]});
    change(
        &s,
        json!({"old_password": "not-it", "new_password1": NEW, "new_password2": NEW}),
        &key,
    )
    .assert(400, wrong_old.clone());
    change(
        &s,
        json!({"old_password": "not-it", "new_password1": NEW, "new_password2": "different-Passw0rd"}),
        &key,
    )
    .assert(400, wrong_old.clone());
    change(
        &s,
        json!({"old_password": "not-it", "new_password1": "123", "new_password2": "123"}),
        &key,
    )
    .assert(400, wrong_old);
    s.login("alice", PASSWORD);
}

#[test]
fn mismatch_uses_the_typographic_apostrophe() {
    let (s, key) = with_alice();
    let r = change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": NEW, "new_password2": "different-Passw0rd"}),
        &key,
    );
    r.assert(
        400,
        json!({"new_password2": ["The two password fields didn\u{2019}t match."]}),
    );
    assert!(!r.text().contains("didn't"), "{}", r.text());
    s.login("alice", PASSWORD);
}

#[test]
fn weak_password_gets_djangos_validator_messages() {
    let (s, key) = with_alice();
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"}),
        &key,
    )
    .assert(
        400,
        json!({"new_password2": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]}),
    );
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"}),
        &key,
    )
    .assert(
        400,
        json!({"new_password2": ["This password is too common."]}),
    );
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": "98127364519", "new_password2": "98127364519"}),
        &key,
    )
    .assert(
        400,
        json!({"new_password2": ["This password is entirely numeric."]}),
    );
    s.login("alice", PASSWORD);
}

#[test]
fn password_similar_to_the_username() {
    let s = Server::start();
    s.create_user("marguerite", "mx@example.org", PASSWORD);
    let key = s.login("marguerite", PASSWORD);
    change(
        &s,
        json!({"old_password": PASSWORD, "new_password1": "marguerite7x", "new_password2": "marguerite7x"}),
        &key,
    )
    .assert(
        400,
        json!({"new_password2": ["The password is too similar to the username."]}),
    );
    s.login("marguerite", PASSWORD);
}

#[test]
fn old_password_field_disabled() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_OLD_PASSWORD_FIELD_ENABLED", "false")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    let required = json!(["This field is required."]);
    change(&s, json!({}), &key).assert(
        400,
        json!({"new_password1": required, "new_password2": required}),
    );
    // An old_password sent anyway is ignored, even a wrong one.
    change(
        &s,
        json!({"old_password": "not-it", "new_password1": NEW, "new_password2": NEW}),
        &key,
    )
    .assert(200, json!({"detail": SAVED}));
    s.login("alice", NEW);
    change(
        &s,
        json!({"new_password1": "Third-g00d-passphrase", "new_password2": "Third-g00d-passphrase"}),
        &key,
    )
    .assert(200, json!({"detail": SAVED}));
    assert_login_fails(&s, "alice", NEW);
    s.login("alice", "Third-g00d-passphrase");
}

#[test]
fn needs_authentication_and_post() {
    let (s, key) = with_alice();
    let body = json!({"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW});
    let r = s.post_json(CHANGE, &body, None);
    r.assert(
        401,
        json!({"detail": "Authentication credentials were not provided."}),
    );
    assert_eq!(r.header("WWW-Authenticate"), Some("Token"));
    s.post_json(
        CHANGE,
        &body,
        Some("0123456789abcdef0123456789abcdef01234567"),
    )
    .assert(401, json!({"detail": "Invalid token."}));
    // Authentication before the method.
    s.get(CHANGE, None).assert(
        401,
        json!({"detail": "Authentication credentials were not provided."}),
    );
    let r = s.get(CHANGE, Some(&key));
    r.assert(405, json!({"detail": "Method \"GET\" not allowed."}));
    assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
    s.login("alice", PASSWORD);
}
}
