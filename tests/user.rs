//! `GET | PUT | PATCH P/user/` and token authentication (contract "Everywhere:
//! Authentication", user row; reference §1.3, §3.3).

mod common;
use common::*;

use serde_json::{json, Value};

const USER: &str = "/rest-auth/user/";
const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
const TAKEN: &str = "A user with that username already exists.";

/// A server with `alice` (logged in) and returns her pk and key.
fn with_alice() -> (Server, i64, String) {
    let s = Server::start();
    let id = s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    (s, id, key)
}

fn user_obj(pk: i64, username: &str, email: &str, first: &str, last: &str) -> Value {
    json!({"pk": pk, "username": username, "email": email, "first_name": first, "last_name": last})
}

fn with_auth(s: &Server, method: &str, auth: &str) -> Resp {
    s.request(method, USER, &[("Authorization", auth)], b"")
}

/// The current Unix time, as the server stamps rows.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

fn assert_401(r: &Resp, detail: &str) {
    r.assert(401, json!({"detail": detail}));
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Token"),
        "{:?}",
        r.headers
    );
}

backend_tests! {
#[test]
fn get_returns_the_user_object_in_field_order() {
    let (s, id, key) = with_alice();
    let r = s.get(USER, Some(&key));
    r.assert(200, user_obj(id, "alice", "alice@example.com", "", ""));
    let text = r.text();
    let pos: Vec<usize> = [
        "\"pk\"",
        "\"username\"",
        "\"email\"",
        "\"first_name\"",
        "\"last_name\"",
    ]
    .iter()
    .map(|k| {
        text.find(k)
            .unwrap_or_else(|| panic!("{k} missing in {text}"))
    })
    .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "key order: {text}");
    // Without the trailing slash too.
    s.get("/rest-auth/user", Some(&key))
        .assert(200, user_obj(id, "alice", "alice@example.com", "", ""));
}

#[test]
fn no_token_is_401_before_the_method_is_considered() {
    let (s, _, key) = with_alice();
    assert_401(
        &s.get(USER, None),
        "Authentication credentials were not provided.",
    );
    // Authentication is decided before the method: DELETE without a token is 401, not 405.
    assert_401(
        &s.request("DELETE", USER, &[], b""),
        "Authentication credentials were not provided.",
    );
    assert_401(
        &s.send_json("PATCH", USER, &json!({"first_name": "X"}), None),
        "Authentication credentials were not provided.",
    );
    // With a token, DELETE and POST are 405.
    for method in ["DELETE", "POST"] {
        let r = s.send_json(method, USER, &json!({}), Some(&key));
        r.assert(
            405,
            json!({"detail": format!("Method \"{method}\" not allowed.")}),
        );
        assert_eq!(r.header("Allow"), Some("GET, PUT, PATCH, HEAD, OPTIONS"));
    }
    assert_eq!(
        s.db().one::<i64>("SELECT count(*) FROM users", params![]),
        1
    );
}

#[test]
fn patch_names_is_saved() {
    let (s, id, key) = with_alice();
    let expected = user_obj(id, "alice", "alice@example.com", "Alice", "Liddell");
    s.send_json(
        "PATCH",
        USER,
        &json!({"first_name": "Alice", "last_name": "Liddell"}),
        Some(&key),
    )
    .assert(200, expected.clone());
    s.get(USER, Some(&key)).assert(200, expected);
    let (first, last): (String, String) = s
        .db()
        .row(
            "SELECT first_name, last_name FROM users WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("alice's row");
    assert_eq!((first.as_str(), last.as_str()), ("Alice", "Liddell"));
    // PATCH one field leaves the other alone.
    s.send_json("PATCH", USER, &json!({"last_name": "Smith"}), Some(&key))
        .assert(
            200,
            user_obj(id, "alice", "alice@example.com", "Alice", "Smith"),
        );
}

#[test]
fn pk_and_email_are_read_only() {
    let (s, id, key) = with_alice();
    let unchanged = user_obj(id, "alice", "alice@example.com", "", "");
    s.send_json(
        "PATCH",
        USER,
        &json!({"email": "x@y.com", "pk": 99}),
        Some(&key),
    )
    .assert(200, unchanged.clone());
    s.send_json(
        "PUT",
        USER,
        &json!({"username": "alice", "email": "x@y.com", "pk": 99}),
        Some(&key),
    )
    .assert(200, unchanged.clone());
    s.get(USER, Some(&key)).assert(200, unchanged);
    let (pk, email): (i64, String) = s
        .db()
        .row("SELECT id, email FROM users", params![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("a user row");
    assert_eq!((pk, email.as_str()), (id, "alice@example.com"));
}

#[test]
fn put_requires_username_and_accepts_own_username() {
    let (s, id, key) = with_alice();
    s.send_json("PUT", USER, &json!({"first_name": "A"}), Some(&key))
        .assert(400, json!({"username": ["This field is required."]}));
    s.send_json("PUT", USER, &json!({}), Some(&key))
        .assert(400, json!({"username": ["This field is required."]}));
    // (fix) keeping one's own username is not a clash.
    s.send_json(
        "PUT",
        USER,
        &json!({"username": "alice", "first_name": "A", "last_name": "L"}),
        Some(&key),
    )
    .assert(200, user_obj(id, "alice", "alice@example.com", "A", "L"));
    s.send_json(
        "PATCH",
        USER,
        &json!({"username": "alice", "first_name": "B"}),
        Some(&key),
    )
    .assert(200, user_obj(id, "alice", "alice@example.com", "B", "L"));
    // Changing only the case of one's own username is allowed too.
    s.send_json("PATCH", USER, &json!({"username": "ALICE"}), Some(&key))
        .assert(200, user_obj(id, "ALICE", "alice@example.com", "B", "L"));
    s.login("alice", PASSWORD);
}

#[test]
fn username_taken_case_insensitively() {
    let (s, id, key) = with_alice();
    s.create_user("bob", "bob@example.com", PASSWORD);
    s.create_user("Zoë", "zoe@example.com", PASSWORD);
    for name in ["bob", "BOB", "Bob", "ZOË", "zoë"] {
        s.send_json("PATCH", USER, &json!({"username": name}), Some(&key))
            .assert(400, json!({"username": [TAKEN]}));
        s.send_json("PUT", USER, &json!({"username": name}), Some(&key))
            .assert(400, json!({"username": [TAKEN]}));
    }
    s.get(USER, Some(&key))
        .assert(200, user_obj(id, "alice", "alice@example.com", "", ""));
}

#[test]
fn invalid_usernames() {
    let (s, id, key) = with_alice();
    for name in ["a b", "a/b", "alice!", "a:b"] {
        s.send_json("PATCH", USER, &json!({"username": name}), Some(&key))
            .assert(400, json!({"username": [INVALID_USERNAME]}));
    }
    s.send_json("PATCH", USER, &json!({"username": ""}), Some(&key))
        .assert(400, json!({"username": ["This field may not be blank."]}));
    let long = "a".repeat(151);
    s.send_json("PATCH", USER, &json!({"username": long}), Some(&key))
        .assert(
            400,
            json!({"username": ["Ensure this field has no more than 150 characters."]}),
        );
    s.get(USER, Some(&key))
        .assert(200, user_obj(id, "alice", "alice@example.com", "", ""));
    // 150 characters and Django's other allowed characters are fine.
    let longest = "b".repeat(150);
    s.send_json("PATCH", USER, &json!({"username": longest}), Some(&key))
        .assert(200, user_obj(id, &longest, "alice@example.com", "", ""));
    s.send_json(
        "PATCH",
        USER,
        &json!({"username": "a.l+i-c_e@x"}),
        Some(&key),
    )
    .assert(
        200,
        user_obj(id, "a.l+i-c_e@x", "alice@example.com", "", ""),
    );
    // Django's validator allows Unicode letters and digits.
    s.send_json("PATCH", USER, &json!({"username": "zoë٣"}), Some(&key))
        .assert(200, user_obj(id, "zoë٣", "alice@example.com", "", ""));
}

#[test]
fn non_string_values() {
    let (s, id, key) = with_alice();
    s.send_json("PATCH", USER, &json!({"username": null}), Some(&key))
        .assert(400, json!({"username": ["This field may not be null."]}));
    s.send_json("PATCH", USER, &json!({"first_name": ["x"]}), Some(&key))
        .assert(400, json!({"first_name": ["Not a valid string."]}));
    s.send_json("PATCH", USER, &json!({"last_name": {"a": 1}}), Some(&key))
        .assert(400, json!({"last_name": ["Not a valid string."]}));
    let long = "x".repeat(151);
    s.send_json(
        "PATCH",
        USER,
        &json!({"first_name": long, "last_name": long}),
        Some(&key),
    )
    .assert(
        400,
        json!({
            "first_name": ["Ensure this field has no more than 150 characters."],
            "last_name": ["Ensure this field has no more than 150 characters."],
        }),
    );
    // Numbers are accepted where a string is expected.
    s.send_json("PATCH", USER, &json!({"first_name": 42}), Some(&key))
        .assert(200, user_obj(id, "alice", "alice@example.com", "42", ""));
}

#[test]
fn renamed_user_logs_in_with_the_new_username() {
    let (s, id, key) = with_alice();
    s.send_json("PATCH", USER, &json!({"username": "Alicia"}), Some(&key))
        .assert(200, user_obj(id, "Alicia", "alice@example.com", "", ""));
    let new_key = s.login("alicia", PASSWORD);
    s.get(USER, Some(&new_key))
        .assert(200, user_obj(id, "Alicia", "alice@example.com", "", ""));
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": "alice", "password": PASSWORD}),
        None,
    )
    .assert(
        400,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
    );
    // The old name is free again.
    s.create_user("alice", "other@example.com", PASSWORD);
}

#[test]
fn head_is_200_without_body() {
    let (s, _, key) = with_alice();
    let r = with_auth(&s, "HEAD", &format!("Token {key}"));
    assert_eq!(r.status, 200, "{:?}", r);
    assert!(r.body.is_empty(), "HEAD has no body: {:?}", r.text());
    assert_eq!(r.header("WWW-Authenticate"), None);
}

#[test]
fn token_keyword_is_case_insensitive() {
    let (s, id, key) = with_alice();
    for keyword in ["token", "TOKEN", "Token", "tOkEn"] {
        with_auth(&s, "GET", &format!("{keyword} {key}"))
            .assert(200, user_obj(id, "alice", "alice@example.com", "", ""));
    }
}

#[test]
fn other_schemes_are_no_credentials() {
    let (s, _, key) = with_alice();
    for auth in [format!("Bearer {key}"), format!("Basic {key}"), key.clone()] {
        assert_401(
            &with_auth(&s, "GET", &auth),
            "Authentication credentials were not provided.",
        );
    }
}

#[test]
fn bad_token_headers() {
    let (s, _, key) = with_alice();
    assert_401(
        &with_auth(&s, "GET", "Token"),
        "Invalid token header. No credentials provided.",
    );
    assert_401(
        &with_auth(&s, "GET", "Token a b"),
        "Invalid token header. Token string should not contain spaces.",
    );
    assert_401(&with_auth(&s, "GET", "Token deadbeef"), "Invalid token.");
    // A near miss of a real key.
    let mut wrong = key.clone();
    wrong.replace_range(..1, if key.starts_with('0') { "1" } else { "0" });
    assert_401(
        &with_auth(&s, "GET", &format!("Token {wrong}")),
        "Invalid token.",
    );
    // An uppercased key is a different key.
    if key.chars().any(|c| c.is_ascii_alphabetic()) {
        assert_401(
            &with_auth(&s, "GET", &format!("Token {}", key.to_uppercase())),
            "Invalid token.",
        );
    }
}

#[test]
fn token_of_inactive_user() {
    let (s, id, key) = with_alice();
    s.db()
        .exec("UPDATE users SET is_active = 0 WHERE id = ?1", params![id]);
    assert_401(&s.get(USER, Some(&key)), "User inactive or deleted.");
    assert_401(
        &s.send_json("PATCH", USER, &json!({"first_name": "X"}), Some(&key)),
        "User inactive or deleted.",
    );
}

#[test]
fn expired_or_orphaned_token_is_invalid() {
    let (s, id, key) = with_alice();
    s.db().exec(
        "UPDATE tokens SET expires_at = ?1 WHERE user_id = ?2",
        params![unix_now() - 1, id],
    );
    assert_401(&s.get(USER, Some(&key)), "Invalid token.");

    let key2 = s.login("alice", PASSWORD);
    if backend() == Backend::Sqlite {
        // A script deletes a user without enabling foreign keys (SQLite's
        // default per connection): the token row stays behind.
        let db = s.sqlite();
        db.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
        db.execute("DELETE FROM users WHERE id = ?1", [id]).unwrap();
    } else {
        // PostgreSQL always enforces the foreign key: deleting the user
        // deletes the token row with it.
        s.db().exec("DELETE FROM users WHERE id = ?1", params![id]);
        assert_eq!(
            s.db().one::<i64>(
                "SELECT count(*) FROM tokens WHERE user_id = ?1",
                params![id]
            ),
            0
        );
    }
    let r = s.get(USER, Some(&key2));
    assert_eq!(r.status, 401, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap_or("").to_string();
    assert!(
        detail == "Invalid token." || detail == "User inactive or deleted.",
        "{detail}"
    );
}

#[test]
fn username_is_trimmed() {
    let (s, id, key) = with_alice();
    s.send_json("PATCH", USER, &json!({"username": "  carol\t"}), Some(&key))
        .assert(200, user_obj(id, "carol", "alice@example.com", "", ""));
    s.login("carol", PASSWORD);
}
}
