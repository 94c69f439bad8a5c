//! Registration, email verification and resend, through the spool directory.

mod common;
use common::*;
use serde_json::json;

const CONFIRM: &str = "http://localhost:8000/account-confirm-email/";

fn register(s: &Server, username: &str, email: &str) -> Resp {
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}),
        None,
    )
}

fn key_of(mail: &Mail) -> String {
    let link = mail.link(CONFIRM).expect("confirmation link");
    link.trim_start_matches(CONFIRM)
        .trim_end_matches('/')
        .to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

backend_tests! {
#[test]
fn register_verify_login() {
    let s = Server::start();
    register(&s, "carol", "Carol@Example.com")
        .assert(201, json!({"detail": "Verification e-mail sent."}));
    // No token yet: mandatory verification.
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": "carol", "password": PASSWORD}),
        None,
    )
    .assert(
        400,
        json!({"non_field_errors": ["E-mail is not verified."]}),
    );
    let mails = s.wait_for_mails(1);
    let mail = &mails[0];
    assert_eq!(mail.header("To").as_deref(), Some("carol@example.com"));
    assert!(mail
        .header("Subject")
        .unwrap()
        .contains("Please Confirm Your Email Address"));
    let key = key_of(mail);
    assert!(
        key.len() >= 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{key}"
    );

    s.get("/rest-auth/registration/verify-email/", None)
        .assert(405, json!({"detail": "Method \"GET\" not allowed."}));
    s.post_json(
        "/rest-auth/registration/verify-email/",
        &json!({"key": key}),
        None,
    )
    .assert(200, json!({"detail": "ok"}));
    // Single use.
    s.post_json(
        "/rest-auth/registration/verify-email/",
        &json!({"key": key}),
        None,
    )
    .assert(404, json!({"detail": "Not found."}));
    assert_eq!(s.login("carol", PASSWORD).len(), 40);
    // The key is stored only as a hash.
    let stored: i64 = s.db().one(
        "SELECT count(*) FROM email_confirmations WHERE key_sha256 = ?1",
        params![&restauth::security::tokens::key_hash(&key)[..]],
    );
    assert_eq!(stored, 1);
}

#[test]
fn verify_email_errors() {
    let s = Server::start();
    s.post_json("/rest-auth/registration/verify-email/", &json!({}), None)
        .assert(400, json!({"key": ["This field is required."]}));
    s.post_json(
        "/rest-auth/registration/verify-email/",
        &json!({"key": "nope"}),
        None,
    )
    .assert(404, json!({"detail": "Not found."}));
    // Expired keys are refused.
    register(&s, "dave", "dave@example.com");
    let key = key_of(&s.wait_for_mails(1)[0]);
    s.db().exec(
        "UPDATE email_confirmations SET expires_at = ?1",
        params![now() - 1],
    );
    s.post_json(
        "/rest-auth/registration/verify-email/",
        &json!({"key": key}),
        None,
    )
    .assert(404, json!({"detail": "Not found."}));
}

#[test]
fn registration_validation() {
    let s = Server::start();
    s.post_json("/rest-auth/registration/", &json!({}), None)
        .assert(
            400,
            json!({
                "username": ["This field is required."],
                "email": ["This field is required."],
                "password1": ["This field is required."],
                "password2": ["This field is required."]
            }),
        );
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "bad name", "email": "nope", "password1": "123", "password2": "123"}),
        None,
    )
    .assert(
        400,
        json!({
            "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
            "email": ["Enter a valid email address."],
            "password1": [
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric."
            ]
        }),
    );
    // A weak password hides a mismatch: field errors come first.
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "erin", "email": "erin@example.com", "password1": "short", "password2": "other"}),
        None,
    )
    .assert(
        400,
        json!({"password1": ["This password is too short. It must contain at least 8 characters."]}),
    );
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "erin", "email": "erin@example.com", "password1": PASSWORD, "password2": "Other-pass-99"}),
        None,
    )
    .assert(400, json!({"non_field_errors": ["The two password fields didn't match."]}));
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "erinsmith", "email": "erin@example.com", "password1": "erinsmith1", "password2": "erinsmith1"}),
        None,
    )
    .assert(400, json!({"non_field_errors": ["The password is too similar to the username."]}));
    assert_eq!(s.mails().len(), 0, "no mail for refused registrations");
}

#[test]
fn usernames_and_verified_addresses_are_unique() {
    let s = Server::start();
    s.create_user("Tom", "tom@example.com", PASSWORD);
    register(&s, "TOM", "other@example.com").assert(
        400,
        json!({"username": ["A user with that username already exists."]}),
    );
    // The CLI user's address is verified: taken.
    register(&s, "tommy", "TOM@example.com").assert(
        400,
        json!({"email": ["User is already registered with this e-mail address."]}),
    );
    // An unverified address may be registered twice (as allauth).
    register(&s, "zed1", "zed@example.com")
        .assert(201, json!({"detail": "Verification e-mail sent."}));
    register(&s, "zed2", "zed@example.com")
        .assert(201, json!({"detail": "Verification e-mail sent."}));
}

#[test]
fn optional_and_none_verification_return_a_key() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_EMAIL_VERIFICATION", "optional")]);
    let r = register(&s, "olga", "olga@example.com");
    assert_eq!(r.status, 201, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/rest-auth/user/", Some(&key)).json()["username"],
        "olga"
    );
    assert_eq!(
        s.wait_for_mails(1).len(),
        1,
        "optional still sends the mail"
    );
    assert_eq!(s.login("olga", PASSWORD).len(), 40, "unverified may log in");

    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_EMAIL_VERIFICATION", "none")]);
    let r = s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "nora", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["key"].as_str().unwrap().len(), 40);
    register(&s, "nina", "nina@example.com");
    assert_eq!(s.queued_mail(), 0);
    assert_eq!(s.mails().len(), 0, "no mail in mode none");
}

#[test]
fn resend_email() {
    let s = Server::start();
    s.post_json("/rest-auth/registration/resend-email/", &json!({}), None)
        .assert(400, json!({"email": ["This field is required."]}));
    s.post_json(
        "/rest-auth/registration/resend-email/",
        &json!({"email": "bad"}),
        None,
    )
    .assert(400, json!({"email": ["Enter a valid email address."]}));
    // Unknown and verified addresses: same answer, no mail.
    s.create_user("vera", "vera@example.com", PASSWORD);
    for email in ["nobody@example.com", "vera@example.com"] {
        s.post_json(
            "/rest-auth/registration/resend-email/",
            &json!({"email": email}),
            None,
        )
        .assert(200, json!({"detail": "ok"}));
    }
    register(&s, "uma", "uma@example.com");
    s.wait_for_mails(1);
    s.post_json(
        "/rest-auth/registration/resend-email/",
        &json!({"email": "UMA@example.com"}),
        None,
    )
    .assert(200, json!({"detail": "ok"}));
    let mails = s.wait_for_mails(2);
    assert_eq!(mails.len(), 2);
    // The newest key works.
    let key = key_of(&mails[1]);
    s.post_json(
        "/rest-auth/registration/verify-email/",
        &json!({"key": key}),
        None,
    )
    .assert(200, json!({"detail": "ok"}));
    assert_eq!(s.login("uma", PASSWORD).len(), 40);
}

#[test]
fn concurrent_registrations_of_one_username() {
    let s = Server::start();
    let bodies = (0..32)
        .map(|i| {
            json!({
                "username": "racer",
                "email": format!("racer{i}@example.com"),
                "password1": PASSWORD,
                "password2": PASSWORD
            })
        })
        .collect();
    let statuses = s.race("/rest-auth/registration/", bodies);
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 400).count(),
        31,
        "{statuses:?}"
    );
    assert_eq!(s.count("SELECT count(*) FROM users"), 1);
    assert_eq!(s.wait_for_mails(1).len(), 1);
}

#[test]
fn cli_unverified_and_verify_email() {
    let s = Server::start();
    let out = s.cli(
        &[
            "user",
            "create",
            "--username",
            "ivan",
            "--email",
            "ivan@example.com",
            "--unverified",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": "ivan", "password": PASSWORD}),
        None,
    )
    .assert(
        400,
        json!({"non_field_errors": ["E-mail is not verified."]}),
    );
    let out = s.cli(&["user", "verify-email", "ivan"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.login("ivan", PASSWORD).len(), 40);
}
}
