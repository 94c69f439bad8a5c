//! The `restauth` command line: `user create | list | set-password | deactivate`, `check`,
//! `mail list | retry`, `backup` on PostgreSQL, and configuration errors.

mod common;
use common::*;

use serde_json::json;
use std::process::Output;

const UNABLE: &str = "Unable to log in with provided credentials.";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

fn assert_fails_with(o: &Output, needles: &[&str]) {
    assert!(
        !o.status.success(),
        "expected failure; stdout: {}",
        stdout(o)
    );
    let err = stderr(o);
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

fn create(s: &Server, username: &str, email: &str, password: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "user",
        "create",
        "--username",
        username,
        "--email",
        email,
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    s.cli(&args, &format!("{password}\n"))
}

fn user_count(s: &Server) -> i64 {
    s.db().one("SELECT count(*) FROM users", params![])
}

fn assert_login_refused(s: &Server, username: &str, password: &str) {
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": username, "password": password}),
        None,
    )
    .assert(400, json!({"non_field_errors": [UNABLE]}));
}

backend_tests! {
#[test]
fn create_then_login() {
    let s = Server::start();
    let o = s.cli(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "Alice@Example.com",
            "--first-name",
            "Alice",
            "--last-name",
            "Liddell",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_ok(&o);
    assert!(stdout(&o).contains("alice"), "{}", stdout(&o));
    let key = s.login("alice", PASSWORD);
    let pk: i64 = s
        .db()
        .one("SELECT id FROM users WHERE username = 'alice'", params![]);
    s.get("/rest-auth/user/", Some(&key)).assert(
        200,
        json!({"pk": pk, "username": "alice", "email": "alice@example.com", "first_name": "Alice", "last_name": "Liddell"}),
    );
    // The administrator vouches for the address: email login works under mandatory verification.
    let r = s.post_json(
        "/rest-auth/login/",
        &json!({"email": "alice@example.com", "password": PASSWORD}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Stored as a Django hash.
    let hash: String = s
        .db()
        .one("SELECT password FROM users WHERE id = ?1", params![pk]);
    assert!(
        hash.starts_with(&format!("pbkdf2_sha256${TEST_ITERATIONS}$")),
        "{hash}"
    );
}

#[test]
fn duplicate_username_is_refused_case_insensitively() {
    let s = Server::start();
    assert_ok(&create(&s, "alice", "alice@example.com", PASSWORD, &[]));
    for name in ["alice", "ALICE", "Alice"] {
        let o = create(&s, name, "other@example.com", PASSWORD, &[]);
        assert_fails_with(&o, &["A user with that username already exists."]);
    }
    assert_eq!(user_count(&s), 1);
    s.login("alice", PASSWORD);
}

#[test]
fn weak_password_needs_skip_validation() {
    let s = Server::start();
    let o = create(&s, "alice", "alice@example.com", "123", &[]);
    assert_fails_with(
        &o,
        &[
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ],
    );
    let o = create(&s, "alice", "alice@example.com", "alice1234", &[]);
    assert_fails_with(&o, &["The password is too similar to the username."]);
    assert_eq!(user_count(&s), 0);
    assert_ok(&create(
        &s,
        "alice",
        "alice@example.com",
        "123",
        &["--skip-validation"],
    ));
    s.login("alice", "123");
}

#[test]
fn invalid_username_or_email_is_refused() {
    let s = Server::start();
    for name in ["a b", "a/b", ""] {
        let o = create(&s, name, "x@example.com", PASSWORD, &[]);
        assert!(!o.status.success(), "{name:?} accepted: {}", stdout(&o));
    }
    assert_fails_with(
        &create(&s, "a b", "x@example.com", PASSWORD, &[]),
        &["Enter a valid username."],
    );
    assert_fails_with(
        &create(&s, &"a".repeat(151), "x@example.com", PASSWORD, &[]),
        &["Enter a valid username."],
    );
    assert_fails_with(
        &create(&s, "alice", "not-an-email", PASSWORD, &[]),
        &["Enter a valid email address."],
    );
    assert_eq!(user_count(&s), 0);
}

#[test]
fn list_shows_the_users() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    s.create_user("bob", "bob@example.com", PASSWORD);
    let o = s.cli(&["user", "list"], "");
    assert_ok(&o);
    let out = stdout(&o);
    for needle in ["alice", "alice@example.com", "bob", "bob@example.com"] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    // Nothing secret is printed.
    assert!(!out.contains("pbkdf2_sha256"), "{out}");
}

#[test]
fn set_password_revokes_tokens() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let k1 = s.login("alice", PASSWORD);
    let k2 = s.login("alice", PASSWORD);
    let new = "Brand-new-passphrase-9";
    let o = s.cli(
        &["user", "set-password", "alice", "--password-stdin"],
        &format!("{new}\n"),
    );
    assert_ok(&o);
    assert!(!stdout(&o).contains(new) && !stderr(&o).contains(new));
    assert_login_refused(&s, "alice", PASSWORD);
    for k in [&k1, &k2] {
        s.get("/rest-auth/user/", Some(k))
            .assert(401, json!({"detail": "Invalid token."}));
    }
    let k3 = s.login("alice", new);
    assert_eq!(s.get("/rest-auth/user/", Some(&k3)).status, 200);

    // Validated unless told not to; the password stays unchanged on refusal.
    let o = s.cli(
        &["user", "set-password", "alice", "--password-stdin"],
        "123\n",
    );
    assert_fails_with(&o, &["This password is too short."]);
    s.login("alice", new);
    // The user can be named by email address; --skip-validation works here too.
    let o = s.cli(
        &[
            "user",
            "set-password",
            "ALICE@example.com",
            "--password-stdin",
            "--skip-validation",
        ],
        "123\n",
    );
    assert_ok(&o);
    s.login("alice", "123");
    // An unknown user is an error.
    let o = s.cli(
        &["user", "set-password", "nobody", "--password-stdin"],
        &format!("{new}\n"),
    );
    assert!(!o.status.success());
}

#[test]
fn deactivate_blocks_login_and_tokens() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    s.create_user("bob", "bob@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    let bob_key = s.login("bob", PASSWORD);
    assert_ok(&s.cli(&["user", "deactivate", "alice"], ""));
    assert_login_refused(&s, "alice", PASSWORD);
    // Tokens are revoked on deactivation.
    s.get("/rest-auth/user/", Some(&key))
        .assert(401, json!({"detail": "Invalid token."}));
    let active: i64 = s.db().one(
        "SELECT is_active FROM users WHERE username = 'alice'",
        params![],
    );
    assert_eq!(active, 0);
    // Other users are untouched.
    assert_eq!(s.get("/rest-auth/user/", Some(&bob_key)).status, 200);
    assert!(!s
        .cli(&["user", "deactivate", "nobody"], "")
        .status
        .success());
}

#[test]
fn check_exits_zero() {
    let s = Server::start();
    assert_ok(&s.cli(&["check"], ""));
}

#[test]
fn mail_list_shows_a_failed_message_and_retry_queues_it_again() {
    let s = Server::start_with(&[("RESTAUTH_MAIL_POLL_INTERVAL", "100ms")]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // A message whose delivery failed for good (the worker leaves it alone).
    assert_eq!(
        s.db().exec(
            "INSERT INTO outbox (created_at, kind, to_address, subject, body_text, status, attempts, next_attempt_at, last_error)
             VALUES (?1, '', ?2, 'Hello there', 'A message.', 'failed', 3, ?1, 'relay refused')",
            params![now, "una@example.com"],
        ),
        1
    );
    let o = s.cli(&["mail", "list"], "");
    assert_ok(&o);
    let listed = stdout(&o);
    for needle in [
        "failed",
        "una@example.com",
        "Hello there",
        "relay refused",
        "1 message(s)",
    ] {
        assert!(listed.contains(needle), "{needle} missing:\n{listed}");
    }

    let o = s.cli(&["mail", "retry"], "");
    assert_ok(&o);
    assert!(
        stdout(&o).contains("1 failed message(s) queued again"),
        "{}",
        stdout(&o)
    );
    // The running server delivers it, once, as attempt 1 (the retry reset the count).
    let mails = s.wait_for_mails(1);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].header("To").as_deref(), Some("una@example.com"));
    let mut sent = None;
    for _ in 0..400 {
        sent = s.db().row(
            "SELECT attempts, status FROM outbox WHERE status = 'sent'",
            params![],
            |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
        );
        if sent.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert_eq!(sent, Some((1, "sent".to_string())), "{}", s.logs());
    // Nothing is left to retry.
    let o = s.cli(&["mail", "retry"], "");
    assert_ok(&o);
    assert!(
        stdout(&o).contains("0 failed message(s) queued again"),
        "{}",
        stdout(&o)
    );
    let o = s.cli(&["mail", "list"], "");
    assert_ok(&o);
    assert!(stdout(&o).contains("sent"), "{}", stdout(&o));
}
}

// SQLite-only: the configuration is refused before any database is opened;
// what is checked beyond the message is that no SQLite file was created.
#[test]
fn unknown_config_key_is_named() {
    let dir = TempDir::new();
    let db = dir.0.join("restauth.sqlite3");
    let cases = [
        (
            "[server]\nbind = \"127.0.0.1:0\"\nbogus_key = 1\n",
            "bogus_key",
        ),
        ("[accounts]\nlogin_method = [\"email\"]\n", "login_method"),
        ("[nosuchsection]\nx = 1\n", "nosuchsection"),
    ];
    for (i, (text, name)) in cases.iter().enumerate() {
        let config = dir.0.join(format!("auth{i}.toml"));
        std::fs::write(
            &config,
            format!("{text}\n[database]\npath = \"{}\"\n", db.display()),
        )
        .unwrap();
        for args in [&["check"][..], &["user", "list"][..]] {
            let o = run_cli(&config, &[], args, "");
            assert_fails_with(&o, &[name]);
        }
    }
    assert!(
        !db.exists(),
        "a bad configuration must not create the database"
    );
}

#[test]
fn backup_on_postgresql_says_to_use_pg_dump() {
    run_on(Backend::Postgres, || {
        let s = Server::start();
        let copy = s.dir.0.join("copy.sqlite3");
        let o = s.cli(&["backup", copy.to_str().unwrap()], "");
        assert_fails_with(&o, &["restauth backup copies the SQLite file", "pg_dump"]);
        assert!(!stdout(&o).contains("backing up"), "{}", stdout(&o));
        assert!(!copy.exists(), "nothing written");
    });
}

// SQLite-only: refused before the database is opened.
#[test]
fn jwt_samesite_none_needs_csrf_and_secure() {
    let dir = TempDir::new();
    let db = dir.0.join("restauth.sqlite3");
    let config = dir.0.join("auth.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nmode = \"jwt\"\n[jwt]\nsamesite = \"None\"\n[database]\npath = \"{}\"\n",
            db.display()
        ),
    )
    .unwrap();
    let env = |csrf: &str, secure: &str| {
        [
            ("RESTAUTH_JWT_CSRF".to_string(), csrf.to_string()),
            ("RESTAUTH_JWT_SECURE".to_string(), secure.to_string()),
        ]
    };
    // SameSite=None sends the cookies cross-site: only the CSRF check stops a
    // forged request, and browsers drop such cookies without Secure.
    for (csrf, secure) in [("false", "false"), ("true", "false"), ("false", "true")] {
        let o = run_cli(&config, &env(csrf, secure), &["check"], "");
        assert_fails_with(
            &o,
            &["jwt.samesite", "jwt.csrf = true", "jwt.secure = true"],
        );
        assert!(!db.exists());
    }
    // Accepted: `check` goes on to look for the database.
    let o = run_cli(&config, &env("true", "true"), &["check"], "");
    let err = stderr(&o);
    assert!(
        err.contains("there is no database") && !err.contains("jwt.samesite"),
        "{err}"
    );
}
