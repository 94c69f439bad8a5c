//! Password reset: request, mail, confirm, and everything that kills a link.

mod common;
use common::*;
use serde_json::json;

const RESET: &str = "http://localhost:8000/password-reset/confirm/";

/// (uid, token) from a reset mail.
fn link_parts(mail: &Mail) -> (String, String) {
    let link = mail.link(RESET).expect("reset link");
    let rest = link.trim_start_matches(RESET).trim_end_matches('/');
    let (uid, token) = rest.split_once('/').expect("uid/token");
    (uid.to_string(), token.to_string())
}

fn confirm(s: &Server, uid: &str, token: &str, password: &str) -> Resp {
    s.post_json(
        "/rest-auth/password/reset/confirm/",
        &json!({"uid": uid, "token": token, "new_password1": password, "new_password2": password}),
        None,
    )
}

fn request_reset(s: &Server, email: &str) {
    s.post_json("/rest-auth/password/reset/", &json!({"email": email}), None)
        .assert(
            200,
            json!({"detail": "Password reset e-mail has been sent."}),
        );
}

backend_tests! {
#[test]
fn full_reset_flow() {
    let s = Server::start();
    let id = s.create_user("carol", "carol@example.com", PASSWORD);
    let old_token = s.login("carol", PASSWORD);
    request_reset(&s, "CAROL@example.com");
    let mails = s.wait_for_mails(1);
    let mail = &mails[0];
    assert_eq!(mail.header("To").as_deref(), Some("carol@example.com"));
    assert!(mail.header("Subject").unwrap().contains("Password Reset"));
    assert!(
        mail.decoded.contains("your username is carol"),
        "{}",
        mail.decoded
    );
    let (uid, token) = link_parts(mail);
    assert_eq!(uid, restauth::security::reset_token::to_base36(id as u64));

    confirm(&s, &uid, &token, "Brand-new-pass-42").assert(
        200,
        json!({"detail": "Password has been reset with the new password."}),
    );
    // Old password fails, new works, old tokens are revoked, the link is dead.
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": "carol", "password": PASSWORD}),
        None,
    )
    .assert(
        400,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
    );
    s.get("/rest-auth/user/", Some(&old_token))
        .assert(401, json!({"detail": "Invalid token."}));
    confirm(&s, &uid, &token, "Another-pass-43").assert(400, json!({"token": ["Invalid value"]}));
    assert_eq!(s.login("carol", "Brand-new-pass-42").len(), 40);
}

#[test]
fn no_enumeration_and_no_mail_for_unknown_or_inactive() {
    let s = Server::start();
    s.create_user("ina", "ina@example.com", PASSWORD);
    s.cli(&["user", "deactivate", "ina"], "");
    request_reset(&s, "nobody@example.com");
    request_reset(&s, "ina@example.com");
    s.post_json(
        "/rest-auth/password/reset/",
        &json!({"email": "not-an-email"}),
        None,
    )
    .assert(400, json!({"email": ["Enter a valid email address."]}));
    s.post_json("/rest-auth/password/reset/", &json!({}), None)
        .assert(400, json!({"email": ["This field is required."]}));
    s.wait_for_mail_requests();
    assert_eq!(s.queued_mail(), 0);
    let sent: i64 = s.db().one("SELECT count(*) FROM outbox", params![]);
    assert_eq!(sent, 0);
}

#[test]
fn confirm_errors_in_order() {
    let s = Server::start();
    s.create_user("dan", "dan@example.com", PASSWORD);
    s.post_json("/rest-auth/password/reset/confirm/", &json!({}), None)
        .assert(
            400,
            json!({
                "new_password1": ["This field is required."],
                "new_password2": ["This field is required."],
                "uid": ["This field is required."],
                "token": ["This field is required."]
            }),
        );
    request_reset(&s, "dan@example.com");
    let (uid, token) = link_parts(&s.wait_for_mails(1)[0]);
    for bad_uid in ["zzzzzz", "MQ", "-1", "!!"] {
        confirm(&s, bad_uid, "bad-token", "x").assert(400, json!({"uid": ["Invalid value"]}));
    }
    confirm(&s, &uid, "1-abc", "x").assert(400, json!({"token": ["Invalid value"]}));
    s.post_json(
        "/rest-auth/password/reset/confirm/",
        &json!({"uid": uid, "token": token, "new_password1": "Good-pass-123", "new_password2": "Other-pass-123"}),
        None,
    )
    .assert(400, json!({"new_password2": ["The two password fields didn’t match."]}));
    confirm(&s, &uid, &token, "123").assert(
        400,
        json!({"new_password2": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric."
        ]}),
    );
    // Still valid after refused attempts.
    assert_eq!(confirm(&s, &uid, &token, "Good-pass-123").status, 200);
}

#[test]
fn a_login_kills_the_link() {
    let s = Server::start();
    s.create_user("eve", "eve@example.com", PASSWORD);
    request_reset(&s, "eve@example.com");
    let (uid, token) = link_parts(&s.wait_for_mails(1)[0]);
    // Any login changes last_login, which the token is bound to. Logins within
    // the same second keep last_login equal, so move it explicitly.
    s.db().exec(
        "UPDATE users SET last_login = 12345 WHERE username = 'eve'",
        params![],
    );
    confirm(&s, &uid, &token, "Good-pass-123").assert(400, json!({"token": ["Invalid value"]}));
    // Expiry after password_reset_timeout is covered by security::reset_token's unit tests
    // (an injected clock), not by waiting here.
}
}
