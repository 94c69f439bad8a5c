//! The token lifecycle: one token per device, logout, expiry, password change.

mod common;
use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The current Unix time, as the server stamps rows.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

backend_tests! {
#[test]
fn two_devices_logout_of_one_keeps_the_other() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let phone = s.login("alice", PASSWORD);
    let laptop = s.login("alice", PASSWORD);
    assert_ne!(phone, laptop, "every login issues its own token");

    s.post_json("/rest-auth/logout/", &json!({}), Some(&phone))
        .assert(200, json!({"detail": "Successfully logged out."}));
    s.get("/rest-auth/user/", Some(&phone))
        .assert(401, json!({"detail": "Invalid token."}));
    assert_eq!(s.get("/rest-auth/user/", Some(&laptop)).status, 200);
    // Logging out twice with the same token: the token is gone.
    s.post_json("/rest-auth/logout/", &json!({}), Some(&phone))
        .assert(401, json!({"detail": "Invalid token."}));
}

#[test]
fn logout_without_token_and_logout_on_get() {
    let s = Server::start();
    s.post_json("/rest-auth/logout/", &json!({}), None).assert(
        400,
        json!({"detail": "You should be logged in to logout. Check whether the token is passed."}),
    );
    let r = s.get("/rest-auth/logout/", None);
    r.assert(405, json!({"detail": "Method \"GET\" not allowed."}));
    assert_eq!(r.header("Allow"), Some("GET, POST, HEAD, OPTIONS"));

    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_LOGOUT_ON_GET", "true")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    s.get("/rest-auth/logout/", Some(&key))
        .assert(200, json!({"detail": "Successfully logged out."}));
    assert_eq!(s.get("/rest-auth/user/", Some(&key)).status, 401);
}

#[test]
fn expired_tokens_are_refused() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    assert_eq!(s.get("/rest-auth/user/", Some(&key)).status, 200);
    s.db()
        .exec("UPDATE tokens SET expires_at = ?1", params![unix_now() - 1]);
    s.get("/rest-auth/user/", Some(&key))
        .assert(401, json!({"detail": "Invalid token."}));
}

#[test]
fn token_lifetime_comes_from_the_config() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_TOKEN_TTL", "2h")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    s.login("alice", PASSWORD);
    let ttl: i64 = s
        .db()
        .one("SELECT expires_at - created_at FROM tokens", params![]);
    assert_eq!(ttl, 7200);
}

#[test]
fn password_change_keeps_the_current_token_and_revokes_the_others() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let current = s.login("alice", PASSWORD);
    let other = s.login("alice", PASSWORD);
    s.post_json(
        "/rest-auth/password/change/",
        &json!({"old_password": PASSWORD, "new_password1": "n3w-Pass-phrase", "new_password2": "n3w-Pass-phrase"}),
        Some(&current),
    )
    .assert(200, json!({"detail": "New password has been saved."}));
    assert_eq!(s.get("/rest-auth/user/", Some(&current)).status, 200);
    s.get("/rest-auth/user/", Some(&other))
        .assert(401, json!({"detail": "Invalid token."}));
}

#[test]
fn logout_on_password_change_revokes_every_token() {
    let s = Server::start_with(&[("RESTAUTH_ACCOUNTS_LOGOUT_ON_PASSWORD_CHANGE", "true")]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let current = s.login("alice", PASSWORD);
    let other = s.login("alice", PASSWORD);
    let r = s.post_json(
        "/rest-auth/password/change/",
        &json!({"old_password": PASSWORD, "new_password1": "n3w-Pass-phrase", "new_password2": "n3w-Pass-phrase"}),
        Some(&current),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for key in [&current, &other] {
        assert_eq!(s.get("/rest-auth/user/", Some(key)).status, 401);
    }
    assert_eq!(s.login("alice", "n3w-Pass-phrase").len(), 40);
}

#[test]
fn tokens_survive_a_restart_and_only_hashes_are_stored() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    let s = s.restart();
    assert_eq!(s.get("/rest-auth/user/", Some(&key)).status, 200);
    // No stored value holds the key, in any form (the control: its hash is there).
    let values = s.stored_values();
    let hash: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert!(
        values
            .iter()
            .any(|(at, v)| at == "tokens.key_sha256" && v.contains(&hash)),
        "the token's hash is stored"
    );
    for (at, v) in &values {
        assert!(!v.contains(&key), "{at} holds the key");
    }
    if backend() == Backend::Sqlite {
        // Nor does any byte of the database file or its WAL.
        let raw = std::fs::read(s.db_path()).unwrap();
        let wal = std::fs::read(s.dir.0.join("restauth.sqlite3-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "the key itself must never be written to disk"
            );
        }
    }
}

#[test]
fn user_requests_keep_flowing_while_logins_hash() {
    // With max_concurrent_hashes = 1 and a costly hash, logins queue for the
    // hashing slot while token requests (which never hash) are answered at once.
    let s = Server::start_with(&[
        ("RESTAUTH_SECURITY_MAX_CONCURRENT_HASHES", "1"),
        ("RESTAUTH_SECURITY_PASSWORD_ITERATIONS", "300000"),
    ]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    let addr = s.addr;
    let flood: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let body = json!({"username": "alice", "password": "wrong-password"}).to_string();
                let req = format!(
                    "POST /rest-auth/login/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                use std::io::{Read, Write};
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(req.as_bytes()).unwrap();
                let mut out = Vec::new();
                let _ = c.read_to_end(&mut out);
            })
        })
        .collect();
    for _ in 0..20 {
        assert_eq!(s.get("/rest-auth/user/", Some(&key)).status, 200);
    }
    for t in flood {
        t.join().unwrap();
    }
}
}
