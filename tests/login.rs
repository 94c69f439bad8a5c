//! `POST P/login/`: credential resolution, error messages, token storage and
//! wire details (contract "Endpoints" login row, "Semantics"; reference §3.1).

mod common;
use common::*;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const LOGIN: &str = "/rest-auth/login/";
const UNABLE: &str = "Unable to log in with provided credentials.";

fn login(server: &Server, body: Value) -> Resp {
    server.post_json(LOGIN, &body, None)
}

/// Asserts a successful login answer (`{"key": <40 lowercase hex>}`, nothing else) and returns the key.
fn assert_key(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let obj = body.as_object().expect("object");
    assert_eq!(obj.len(), 1, "only `key` expected: {body}");
    let key = obj["key"].as_str().expect("key is a string").to_string();
    assert_eq!(key.len(), 40, "{key}");
    assert!(
        key.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "not lowercase hex: {key}"
    );
    key
}

fn assert_unable(r: &Resp) {
    r.assert(400, json!({"non_field_errors": [UNABLE]}));
}

/// The key works as a credential.
fn assert_key_works(server: &Server, key: &str, username: &str) {
    let r = server.get("/rest-auth/user/", Some(key));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], username);
}

/// Inserts a user row directly, as a migration script from Django would.
fn insert_user(server: &Server, username: &str, email: &str, password_hash: &str) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    server.db().one(
        "INSERT INTO users (username, username_lower, email, email_verified, password, is_active, date_joined) \
         VALUES (?1, lower(?1), ?2, 1, ?3, 1, ?4) RETURNING id",
        params![username, email, password_hash, now],
    )
}

fn stored_hash(server: &Server, username: &str) -> String {
    server.db().one(
        "SELECT password FROM users WHERE username = ?1",
        params![username],
    )
}

backend_tests! {
#[test]
fn username_is_case_insensitive() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    for name in ["alice", "ALICE", "aLiCe"] {
        let key = assert_key(&login(&s, json!({"username": name, "password": PASSWORD})));
        assert_key_works(&s, &key, "alice");
    }
    // Unicode case folding too.
    s.create_user("Zoë", "zoe@example.com", PASSWORD);
    for name in ["zoë", "ZOË"] {
        let key = assert_key(&login(&s, json!({"username": name, "password": PASSWORD})));
        assert_key_works(&s, &key, "Zoë");
    }
    // Numbers are accepted where a string is expected.
    s.create_user("42", "", PASSWORD);
    let key = assert_key(&login(&s, json!({"username": 42, "password": PASSWORD})));
    assert_key_works(&s, &key, "42");
}

#[test]
fn email_is_case_insensitive_and_also_works_in_username_field() {
    let s = Server::start();
    s.create_user("alice", "Alice@Example.com", PASSWORD);
    for email in [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "Alice@Example.com",
    ] {
        let key = assert_key(&login(&s, json!({"email": email, "password": PASSWORD})));
        assert_key_works(&s, &key, "alice");
    }
    // An address typed into the username field works while email login is on (the default).
    for email in ["alice@example.com", "ALICE@example.COM"] {
        let key = assert_key(&login(&s, json!({"username": email, "password": PASSWORD})));
        assert_key_works(&s, &key, "alice");
    }
    // Blank username next to a good email: email is used.
    assert_key(&login(
        &s,
        json!({"username": "", "email": "alice@example.com", "password": PASSWORD}),
    ));
}

#[test]
fn email_wins_when_both_given() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    assert_unable(&login(
        &s,
        json!({"username": "alice", "email": "wrong@x.com", "password": PASSWORD}),
    ));
    // The right email with a wrong username logs in.
    assert_key(&login(
        &s,
        json!({"username": "nobody", "email": "alice@example.com", "password": PASSWORD}),
    ));
}

#[test]
fn must_include_message_when_both_methods() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let msg = json!({"non_field_errors": ["Must include either \"username\" or \"email\" and \"password\"."]});
    login(&s, json!({"password": PASSWORD})).assert(400, msg.clone());
    login(
        &s,
        json!({"username": "", "email": "", "password": PASSWORD}),
    )
    .assert(400, msg.clone());
    // Whitespace-only values are trimmed to blank.
    login(&s, json!({"username": "  ", "password": PASSWORD})).assert(400, msg);
}

#[test]
fn login_methods_email_only() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_LOGIN_METHODS", "email")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let msg = json!({"non_field_errors": ["Must include \"email\" and \"password\"."]});
    login(&s, json!({"username": "alice", "password": PASSWORD})).assert(400, msg.clone());
    login(&s, json!({"email": "", "password": PASSWORD})).assert(400, msg.clone());
    // An address in the username field is not the email field.
    login(
        &s,
        json!({"username": "alice@example.com", "password": PASSWORD}),
    )
    .assert(400, msg);
    assert_key(&login(
        &s,
        json!({"email": "ALICE@example.com", "password": PASSWORD}),
    ));
    assert_key(&login(
        &s,
        json!({"username": "whatever", "email": "alice@example.com", "password": PASSWORD}),
    ));
}

#[test]
fn login_methods_username_only() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_LOGIN_METHODS", "username")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let msg = json!({"non_field_errors": ["Must include \"username\" and \"password\"."]});
    login(
        &s,
        json!({"email": "alice@example.com", "password": PASSWORD}),
    )
    .assert(400, msg.clone());
    login(&s, json!({"username": "", "password": PASSWORD})).assert(400, msg);
    // Email login is off: an address in the username field is just an unknown username.
    assert_unable(&login(
        &s,
        json!({"username": "alice@example.com", "password": PASSWORD}),
    ));
    // The email field is ignored when login is by username only.
    assert_key(&login(
        &s,
        json!({"username": "ALICE", "email": "wrong@x.com", "password": PASSWORD}),
    ));
}

#[test]
fn wrong_password_unknown_user_and_inactive_user_get_the_generic_message() {
    let s = Server::start();
    let id = s.create_user("alice", "alice@example.com", PASSWORD);
    assert_unable(&login(
        &s,
        json!({"username": "alice", "password": "not-the-password"}),
    ));
    assert_unable(&login(
        &s,
        json!({"username": "nobody", "password": PASSWORD}),
    ));
    assert_unable(&login(
        &s,
        json!({"email": "nobody@example.com", "password": PASSWORD}),
    ));
    s.db()
        .exec("UPDATE users SET is_active = 0 WHERE id = ?1", params![id]);
    assert_unable(&login(
        &s,
        json!({"username": "alice", "password": PASSWORD}),
    ));
    assert_unable(&login(
        &s,
        json!({"email": "alice@example.com", "password": PASSWORD}),
    ));
    assert_unable(&login(
        &s,
        json!({"username": "alice", "password": "not-the-password"}),
    ));
}

#[test]
fn field_errors() {
    let s = Server::start();
    login(&s, json!({})).assert(400, json!({"password": ["This field is required."]}));
    // An empty JSON body is no data: the same required error.
    s.request("POST", LOGIN, &[("Content-Type", "application/json")], b"")
        .assert(400, json!({"password": ["This field is required."]}));
    login(&s, json!({"username": "alice", "password": ""}))
        .assert(400, json!({"password": ["This field may not be blank."]}));
    login(&s, json!({"username": "alice", "password": "   "}))
        .assert(400, json!({"password": ["This field may not be blank."]}));
    login(&s, json!({"email": "not-an-email", "password": PASSWORD}))
        .assert(400, json!({"email": ["Enter a valid email address."]}));
    login(&s, json!({"username": "alice", "password": null}))
        .assert(400, json!({"password": ["This field may not be null."]}));
    login(&s, json!({"username": "alice", "password": ["x"]}))
        .assert(400, json!({"password": ["Not a valid string."]}));
    login(&s, json!({"username": "alice", "password": "a\u{0}b"})).assert(
        400,
        json!({"password": ["Null characters are not allowed."]}),
    );
    login(&s, json!([{"username": "alice"}])).assert(
        400,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    );
    login(&s, Value::Null).assert(400, json!({"non_field_errors": ["No data provided"]}));
    // Several fields fail at once, in declaration order (username, email, password).
    let r = login(&s, json!({"email": "not-an-email"}));
    r.assert(
        400,
        json!({"email": ["Enter a valid email address."], "password": ["This field is required."]}),
    );
    let text = r.text();
    assert!(
        text.find("\"email\"").unwrap() < text.find("\"password\"").unwrap(),
        "field order: {text}"
    );
}

#[test]
fn password_is_trimmed() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    assert_key(&login(
        &s,
        json!({"username": " alice ", "password": format!("  {PASSWORD}\t")}),
    ));
}

#[test]
fn unverified_email_under_mandatory_verification() {
    let s = Server::start();
    let id = s.create_user("alice", "alice@example.com", PASSWORD);
    s.db().exec(
        "UPDATE users SET email_verified = 0 WHERE id = ?1",
        params![id],
    );
    let not_verified = json!({"non_field_errors": ["E-mail is not verified."]});
    login(&s, json!({"username": "alice", "password": PASSWORD})).assert(400, not_verified.clone());
    login(
        &s,
        json!({"email": "alice@example.com", "password": PASSWORD}),
    )
    .assert(400, not_verified);
    // A wrong password must not reveal that the account exists and is unverified.
    assert_unable(&login(
        &s,
        json!({"username": "alice", "password": "not-the-password"}),
    ));
    assert_eq!(
        s.db().one::<i64>("SELECT count(*) FROM tokens", params![]),
        0,
        "no token may be issued to an unverified user"
    );
    // Inactive and unverified: the generic message (nothing is revealed about the account).
    s.db()
        .exec("UPDATE users SET is_active = 0 WHERE id = ?1", params![id]);
    assert_unable(&login(
        &s,
        json!({"username": "alice", "password": PASSWORD}),
    ));
}

#[test]
fn unverified_email_under_optional_verification_logs_in() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_EMAIL_VERIFICATION", "optional")]);
    let id = s.create_user("alice", "alice@example.com", PASSWORD);
    s.db().exec(
        "UPDATE users SET email_verified = 0 WHERE id = ?1",
        params![id],
    );
    let key = assert_key(&login(
        &s,
        json!({"username": "alice", "password": PASSWORD}),
    ));
    assert_key_works(&s, &key, "alice");
}

#[test]
fn every_login_issues_a_new_key_and_only_its_sha256_is_stored() {
    let s = Server::start();
    let id = s.create_user("alice", "alice@example.com", PASSWORD);
    let last_login = |s: &Server| -> Option<i64> {
        s.db()
            .one("SELECT last_login FROM users WHERE id = ?1", params![id])
    };
    assert_eq!(last_login(&s), None);
    let k1 = assert_key(&login(
        &s,
        json!({"username": "alice", "password": PASSWORD}),
    ));
    let k2 = assert_key(&login(
        &s,
        json!({"username": "alice", "password": PASSWORD}),
    ));
    assert_ne!(k1, k2, "each login issues a different key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let seen = last_login(&s).expect("last_login is set on login");
    assert!((now - seen).abs() <= 60, "last_login {seen}, now {now}");
    // Tokens live 30 days by default.
    let lifetimes: Vec<i64> = s.db().all(
        "SELECT expires_at - created_at FROM tokens",
        params![],
        |r| r.get(0),
    );
    assert_eq!(lifetimes, vec![30 * 86_400; 2]);
    // Both devices stay logged in.
    assert_key_works(&s, &k1, "alice");
    assert_key_works(&s, &k2, "alice");

    let rows: Vec<(Vec<u8>, i64)> = s.db().all(
        "SELECT key_sha256, user_id FROM tokens ORDER BY id",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    let expected: Vec<(Vec<u8>, i64)> = [&k1, &k2]
        .iter()
        .map(|k| (Sha256::digest(k.as_bytes()).to_vec(), id))
        .collect();
    assert_eq!(rows, expected);

    // No column of any token row (nor of any other table) holds the key, in any form.
    let values = s.stored_values();
    assert!(
        values.iter().any(|(at, _)| at == "tokens.key_sha256"),
        "the token rows are scanned"
    );
    for (at, v) in &values {
        for k in [&k1, &k2] {
            assert!(!v.contains(k.as_str()), "{at} holds the key");
        }
    }

    if backend() == Backend::Sqlite {
        // Nor does any byte of the database files.
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-journal"] {
            let mut p = s.db_path().into_os_string();
            p.push(suffix);
            if let Ok(b) = std::fs::read(&p) {
                bytes.extend(b);
            }
        }
        for k in [&k1, &k2] {
            assert!(
                !bytes.windows(k.len()).any(|w| w == k.as_bytes()),
                "the database file contains a key"
            );
        }
    }
}

#[test]
fn stale_authorization_header_does_not_block_login() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let body = json!({"username": "alice", "password": PASSWORD}).to_string();
    for auth in [
        "Token deadbeef",
        "Token 0123456789abcdef0123456789abcdef01234567",
        "Token a b",
        "Token",
        "Bearer garbage",
    ] {
        let r = s.request(
            "POST",
            LOGIN,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", auth),
            ],
            body.as_bytes(),
        );
        assert_key(&r);
    }
}

#[test]
fn django_pbkdf2_hash_verifies() {
    let s = Server::start();
    insert_user(
        &s,
        "django",
        "django@example.com",
        "pbkdf2_sha256$1000000$seasalt0123456789ABCDE$YGmH53aIHzj455HFOCHdZDKkT3VWQitwh0eT6sNjr+c=",
    );
    let key = assert_key(&login(
        &s,
        json!({"username": "django", "password": "correct horse battery staple"}),
    ));
    assert_key_works(&s, &key, "django");
    assert_unable(&login(
        &s,
        json!({"username": "django", "password": "correct horse battery stapler"}),
    ));
}

#[test]
fn weaker_hash_is_upgraded_on_login() {
    let s = Server::start();
    let pw = "an old password 42";
    let old = restauth::security::password::hash_with_salt(pw, "somesalt", 500);
    assert!(old.starts_with("pbkdf2_sha256$500$somesalt$"), "{old}");
    insert_user(&s, "carol", "carol@example.com", &old);
    assert_key(&login(&s, json!({"username": "carol", "password": pw})));
    let new = stored_hash(&s, "carol");
    assert!(
        new.starts_with(&format!("pbkdf2_sha256${TEST_ITERATIONS}$")),
        "not rehashed: {new}"
    );
    assert!(
        restauth::security::password::verify_password(pw, &new, TEST_ITERATIONS).ok,
        "the new hash must verify the same password"
    );
    // And the server still accepts it.
    assert_key(&login(&s, json!({"username": "carol", "password": pw})));
    assert_eq!(stored_hash(&s, "carol"), new, "no second rehash");
}

#[test]
fn unusable_password_never_logs_in() {
    let s = Server::start();
    let id = s.create_user("alice", "alice@example.com", PASSWORD);
    s.db().exec(
        "UPDATE users SET password = '!abc' WHERE id = ?1",
        params![id],
    );
    for pw in ["!abc", "abc", PASSWORD] {
        assert_unable(&login(&s, json!({"username": "alice", "password": pw})));
    }
    assert_eq!(stored_hash(&s, "alice"), "!abc");
}

#[test]
fn foreign_or_malformed_hashes_never_log_in() {
    let s = Server::start();
    let good = restauth::security::password::hash_with_salt(PASSWORD, "somesalt", 500);
    let b64 = good.rsplit('$').next().unwrap().to_string();
    let hashes = [
        "".to_string(),
        PASSWORD.to_string(),
        format!("argon2${b64}"),
        format!("pbkdf2_sha1$500$somesalt${b64}"),
        format!("pbkdf2_sha256$abc$somesalt${b64}"),
        format!("pbkdf2_sha256$0$somesalt${b64}"),
        format!("pbkdf2_sha256$-5$somesalt${b64}"),
        "pbkdf2_sha256$500$somesalt$not base64!".to_string(),
        "pbkdf2_sha256$500$somesalt$c2hvcnQ=".to_string(),
        "pbkdf2_sha256$500$somesalt".to_string(),
        format!("pbkdf2_sha256$500$othersalt${b64}"),
    ];
    for (i, h) in hashes.iter().enumerate() {
        let name = format!("user{i}");
        insert_user(&s, &name, "", h);
        assert_unable(&login(&s, json!({"username": name, "password": PASSWORD})));
    }
    // The control: the well-formed hash logs in.
    insert_user(&s, "control", "", &good);
    assert_key(&login(
        &s,
        json!({"username": "control", "password": PASSWORD}),
    ));
}

#[test]
fn wrong_methods_get_405() {
    let s = Server::start();
    let r = s.get(LOGIN, None);
    r.assert(405, json!({"detail": "Method \"GET\" not allowed."}));
    assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
    let r = s.send_json("PUT", LOGIN, &json!({}), None);
    r.assert(405, json!({"detail": "Method \"PUT\" not allowed."}));
    assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
}

#[test]
fn path_without_trailing_slash() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    assert_key(&s.post_json(
        "/rest-auth/login",
        &json!({"username": "alice", "password": PASSWORD}),
        None,
    ));
}

#[test]
fn form_and_multipart_bodies() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", "alice")
        .append_pair("password", PASSWORD)
        .finish();
    assert!(form.contains("%26"), "the & in the password is encoded");
    let key = assert_key(&s.request(
        "POST",
        LOGIN,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    ));
    assert_key_works(&s, &key, "alice");

    let boundary = "----restauthBoundary7MA4YWxkTrZu0gW";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nalice@example.com\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n{PASSWORD}\r\n\
         --{boundary}--\r\n"
    );
    let key = assert_key(&s.request(
        "POST",
        LOGIN,
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        multipart.as_bytes(),
    ));
    assert_key_works(&s, &key, "alice");

    // Field errors look the same whatever the encoding.
    s.request(
        "POST",
        LOGIN,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"username=alice",
    )
    .assert(400, json!({"password": ["This field is required."]}));
}

#[test]
fn custom_prefix() {
    let s = Server::start_with(&[("RESTAUTH_SERVER_PREFIX", "/auth/")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let body = json!({"username": "alice", "password": PASSWORD});
    let key = assert_key(&s.post_json("/auth/login/", &body, None));
    assert_key(&s.post_json("/auth/login", &body, None));
    let r = s.get("/auth/user/", Some(&key));
    assert_eq!(r.status, 200, "{}", r.text());
    s.post_json("/rest-auth/login/", &body, None)
        .assert(404, json!({"detail": "Not found."}));
}

#[test]
fn logs_never_contain_password_or_key() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let wrong = "Wr0ng-but-distinctive-pw";
    let key = assert_key(&login(
        &s,
        json!({"username": "alice", "password": PASSWORD}),
    ));
    assert_unable(&login(&s, json!({"username": "alice", "password": wrong})));
    // Form body and a query string, too.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", "alice")
        .append_pair("password", PASSWORD)
        .finish();
    let key2 = assert_key(&s.request(
        "POST",
        &format!("{LOGIN}?password={wrong}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    ));
    assert_key_works(&s, &key, "alice");
    // A last, recognisable request: once it is logged, everything before it is too.
    s.get("/rest-auth/log-marker-zz9/", None);
    assert!(s.wait_for_log("log-marker-zz9"), "{}", s.logs());
    let logs = s.logs();
    for secret in [PASSWORD, wrong, key.as_str(), key2.as_str()] {
        assert!(
            !logs.contains(secret),
            "the log contains {secret:?}:\n{logs}"
        );
    }
}
}
