//! What an attacker tried (issue "Close what an attacker found"), one test per
//! finding, named after it. Each of these failed on the code before the fix.

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use restauth::security::reset_token::{make_token, to_base36, TokenState};
use serde_json::json;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A reset token forged from a database file alone: the row of `username` and
/// whatever key the file holds (none, after the fix: then the empty key).
fn forge_reset_from(db_file: &Path, username: &str) -> (String, String) {
    let db = rusqlite::Connection::open(db_file).unwrap();
    let secret: String = db
        .query_row(
            "SELECT value FROM settings WHERE name = 'secret_key'",
            [],
            |r| r.get(0),
        )
        .unwrap_or_default();
    let (id, password, last_login, email): (i64, String, Option<i64>, String) = db
        .query_row(
            "SELECT id, password, last_login, email FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let state = TokenState {
        user_id: id,
        password_hash: &password,
        last_login,
        email: &email,
    };
    (to_base36(id as u64), make_token(&secret, &state, now()))
}

fn confirm_reset(s: &Server, uid: &str, token: &str) -> Resp {
    s.post_json(
        "/rest-auth/password/reset/confirm/",
        &json!({"uid": uid, "token": token, "new_password1": "Taken-over-99", "new_password2": "Taken-over-99"}),
        None,
    )
}

// SQLite only: a token forged from a backup file; the file bytes searched for restauth.secret.
#[test]
fn database_copy_is_not_a_master_key() {
    let s = Server::start();
    s.create_user("victim", "victim@example.com", PASSWORD);
    s.login("victim", PASSWORD);
    let backup = s.dir.0.join("copy.sqlite3");
    let out = s.cli(&["backup", backup.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (uid, token) = forge_reset_from(&backup, "victim");
    confirm_reset(&s, &uid, &token).assert(400, json!({"token": ["Invalid value"]}));
    assert_eq!(s.login("victim", PASSWORD).len(), 40, "password unchanged");

    // The key is in its own file, and in no byte of the database or the copy.
    let secret_file = s.dir.0.join("restauth.secret");
    let key = std::fs::read_to_string(&secret_file).expect("restauth.secret");
    let key = key.trim();
    assert!(key.len() >= 50, "a generated key of 50 characters");
    for file in [backup, s.db_path()] {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, key.as_bytes()),
            "{} holds the key",
            file.display()
        );
    }
}

// SQLite only: an old file's `settings` row moves to restauth.secret, erased from the bytes.
#[test]
fn a_secret_stored_by_an_older_version_moves_to_its_file() {
    let s = Server::start();
    s.create_user("olduser", "old@example.com", PASSWORD);
    // What an older restauth left: the key in `settings`, no secret file.
    std::fs::remove_file(s.dir.0.join("restauth.secret")).unwrap();
    s.sqlite()
        .execute(
            "INSERT OR REPLACE INTO settings (name, value) VALUES ('secret_key', 'legacy-secret-0123456789')",
            [],
        )
        .unwrap();
    // A link that version mailed.
    let (uid, token) = forge_reset_from(&s.db_path(), "olduser");
    let s = s.restart();
    assert!(
        s.wait_for_log("moved the server secret from the database to"),
        "{}",
        s.logs()
    );
    assert!(
        !s.logs().contains("legacy-secret"),
        "the key is never printed"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM settings WHERE name = 'secret_key'"),
        0
    );
    let file = s.dir.0.join("restauth.secret");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        "legacy-secret-0123456789"
    );
    assert_eq!(mode(&file), 0o600);
    let bytes = std::fs::read(s.db_path()).unwrap();
    assert!(
        !contains(&bytes, b"legacy-secret-0123456789"),
        "erased, not just unlinked"
    );
    // The mailed link still works.
    confirm_reset(&s, &uid, &token).assert(
        200,
        json!({"detail": "Password has been reset with the new password."}),
    );
}

backend_tests! {
#[test]
fn database_backup_secret_and_spool_files_are_private() {
    let s = Server::start();
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "newbie", "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    );
    s.wait_for_mails(1);
    let mut files = Vec::new();
    // The database file, its WAL, a backup and the generated secret exist on SQLite only.
    if backend() == Backend::Sqlite {
        let backup = s.dir.0.join("copy.sqlite3");
        let out = s.cli(&["backup", backup.to_str().unwrap()], "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let db = s.db_path();
        files.extend([
            db.clone(),
            db.with_extension("sqlite3-wal"),
            db.with_extension("sqlite3-shm"),
            backup,
            s.dir.0.join("restauth.secret"),
        ]);
    }
    for entry in std::fs::read_dir(s.spool()).unwrap() {
        files.push(entry.unwrap().path());
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&s.spool()), 0o700);
}

// ---------------------------------------------------------------------------
// Medium
// ---------------------------------------------------------------------------

const UNABLE: &str = "Unable to log in with provided credentials.";
const CONFIRM: &str = "http://localhost:8000/account-confirm-email/";

fn throttled_on(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("RESTAUTH_THROTTLE_ENABLED", "true")];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

/// A request that a proxy on loopback forwards for `client`.
fn post_from(s: &Server, client: &str, path: &str, body: &serde_json::Value) -> Resp {
    s.request(
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", client),
        ],
        body.to_string().as_bytes(),
    )
}

fn bad_login_from(s: &Server, client: &str) -> u16 {
    post_from(
        s,
        client,
        "/rest-auth/login/",
        // A name per client, so that no softlock gets in the way.
        &json!({"username": format!("nobody-{client}"), "password": "wrong"}),
    )
    .status
}

#[test]
fn throttle_counts_ipv6_clients_per_64() {
    let s = throttled_on(&[("RESTAUTH_THROTTLE_LOGIN", "3/min")]);
    for host in 1..=3 {
        assert_eq!(bad_login_from(&s, &format!("2001:db8:1:2::{host:x}")), 400);
    }
    // Another address of the same /64 is the same client…
    assert_eq!(bad_login_from(&s, "2001:db8:1:2:ffff:ffff:ffff:fffe"), 429);
    // …another /64 is another.
    assert_eq!(bad_login_from(&s, "2001:db8:1:3::1"), 400);
}

#[test]
fn throttle_memory_is_capped_and_forgets_the_coldest_key() {
    let s = throttled_on(&[
        ("RESTAUTH_THROTTLE_LOGIN", "1/h"),
        ("RESTAUTH_THROTTLE_MAX_TRACKED_KEYS", "100"),
    ]);
    assert_eq!(bad_login_from(&s, "198.51.100.1"), 400);
    assert_eq!(bad_login_from(&s, "198.51.100.1"), 429);
    for i in 0..100 {
        assert_eq!(bad_login_from(&s, &format!("203.0.113.{i}")), 400);
    }
    match backend() {
        // 100 newer counters pushed the oldest out: memory stays bounded, and
        // this is what an attacker must pay to reset their own counter (README).
        Backend::Sqlite => assert_eq!(bad_login_from(&s, "198.51.100.1"), 400),
        // Shared counters are rows in the database, not a node's memory:
        // nothing is pushed out, the counter holds for its whole window.
        Backend::Postgres => assert_eq!(bad_login_from(&s, "198.51.100.1"), 429),
    }
}

/// Median wall time of `n` requests of each of two bodies, paced so that the
/// mail worker is idle before every request (the request's own work is measured).
fn paced_medians(
    s: &Server,
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    n: usize,
) -> (f64, f64) {
    let mut times = (Vec::new(), Vec::new());
    for round in 0..n + 20 {
        // Alternate which goes first, so drift affects both alike.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for first in order {
            s.wait_for_mail_requests();
            while s.queued_mail() > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let body = if first { a } else { b };
            let started = std::time::Instant::now();
            assert_eq!(s.post_json(path, body, None).status, 200);
            let took = started.elapsed().as_secs_f64() * 1000.0;
            if round >= 20 {
                if first {
                    times.0.push(took)
                } else {
                    times.1.push(took)
                }
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        v[v.len() / 2]
    };
    (median(&mut times.0), median(&mut times.1))
}

#[test]
#[ignore = "benchmark-style (timing): bench/run.sh runs it with --ignored"]
fn reset_and_resend_timing_does_not_tell_who_is_registered() {
    let s = Server::start();
    s.create_user("known", "known@example.com", PASSWORD);
    s.create_unverified_user("pending", "pending@example.com", PASSWORD);
    for (path, registered) in [
        ("/rest-auth/password/reset/", "known@example.com"),
        (
            "/rest-auth/registration/resend-email/",
            "pending@example.com",
        ),
    ] {
        let (known, unknown) = paced_medians(
            &s,
            path,
            &json!({"email": registered}),
            &json!({"email": "nobody@example.com"}),
            200,
        );
        let ratio = known / unknown;
        println!("{path}: registered {known:.3} ms, unknown {unknown:.3} ms, ratio {ratio:.3}");
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{path}: {known:.3} vs {unknown:.3} ms"
        );
    }
}

#[test]
fn login_of_an_account_without_password_costs_a_full_hash() {
    let s = Server::start_with(&[("RESTAUTH_SECURITY_PASSWORD_ITERATIONS", "300000")]);
    let id = s.create_user("social", "social@example.com", PASSWORD);
    // What a Facebook- or Twitter-only account holds.
    s.db().exec(
        "UPDATE users SET password = '!unusable0123456789' WHERE id = ?1",
        params![id],
    );
    // Work is measured as the server's CPU time, not as latency.
    let cpu_for = |username: &str| {
        let before = s.cpu_time();
        for _ in 0..3 {
            s.post_json(
                "/rest-auth/login/",
                &json!({"username": username, "password": "a-guess"}),
                None,
            )
            .assert(400, json!({"non_field_errors": [UNABLE]}));
        }
        s.cpu_time() - before
    };
    let unknown = cpu_for("no-such-user");
    let social = cpu_for("social");
    assert!(unknown.as_millis() >= 30, "a hash costs CPU: {unknown:?}");
    assert!(
        social * 2 >= unknown,
        "social-only {social:?} vs unknown {unknown:?}: the answer's cost tells"
    );
}

#[test]
fn registration_mail_bombing_is_limited_per_address() {
    let s = throttled_on(&[]);
    let mut created = 0;
    for i in 0..20 {
        let r = post_from(
            &s,
            &format!("203.0.113.{}", i + 1),
            "/rest-auth/registration/",
            &json!({"username": format!("bomb{i}"), "email": "victim@example.org",
                    "password1": PASSWORD, "password2": PASSWORD}),
        );
        match r.status {
            201 => created += 1,
            429 => {}
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert_eq!(created, 3, "registration_per_email defaults to 3/h");
    assert_eq!(
        s.count("SELECT count(*) FROM outbox WHERE to_address = 'victim@example.org'"),
        3
    );
}

#[test]
fn registration_mail_limit_survives_a_restart() {
    let s = throttled_on(&[]);
    let register = |s: &Server, i: u32| {
        post_from(
            s,
            &format!("198.51.100.{i}"),
            "/rest-auth/registration/",
            &json!({"username": format!("again{i}"), "email": "target@example.org",
                    "password1": PASSWORD, "password2": PASSWORD}),
        )
        .status
    };
    for i in 0..3 {
        assert_eq!(register(&s, i), 201);
    }
    let s = s.restart();
    match backend() {
        // A restart forgets the in-memory counters; the outbox still counts the mails.
        Backend::Sqlite => assert_eq!(
            register(&s, 7),
            201,
            "the account is made: the answer must not differ"
        ),
        // The shared counter is in the database: a restart does not reset it.
        Backend::Postgres => assert_eq!(register(&s, 7), 429),
    }
    assert_eq!(
        s.count("SELECT count(*) FROM outbox WHERE to_address = 'target@example.org'"),
        3
    );
}

#[test]
fn shared_address_limits_count_mails_not_requests() {
    let s = throttled_on(&[]);
    for i in 0..5 {
        s.create_unverified_user(&format!("member{i}"), "family@example.org", PASSWORD);
    }
    let mails_to_family = || -> i64 {
        s.wait_for_mail_requests();
        s.count("SELECT count(*) FROM outbox WHERE to_address = 'family@example.org'")
    };
    for path in [
        "/rest-auth/password/reset/",
        "/rest-auth/registration/resend-email/",
    ] {
        let statuses: Vec<u16> = (0..4)
            .map(|i| {
                post_from(
                    &s,
                    &format!("198.51.100.{i}"),
                    path,
                    &json!({"email": "family@example.org"}),
                )
                .status
            })
            .collect();
        assert_eq!(statuses, [200, 200, 200, 429], "{path}");
    }
    // 3 reset mails and 3 confirmation mails reached the address, not 5 per request.
    assert_eq!(mails_to_family(), 6);
}

// ---------------------------------------------------------------------------
// Low
// ---------------------------------------------------------------------------

#[test]
fn softlock_does_not_tie_a_username_to_its_address() {
    let s = throttled_on(&[
        ("RESTAUTH_THROTTLE_SOFTLOCK_THRESHOLD", "3"),
        ("RESTAUTH_THROTTLE_SOFTLOCK_BASE", "1h"),
    ]);
    s.create_user("frank", "frank@example.org", PASSWORD);
    let attempt = |body: serde_json::Value| s.post_json("/rest-auth/login/", &body, None).status;
    for _ in 0..3 {
        assert_eq!(attempt(json!({"username": "frank", "password": "x"})), 400);
    }
    assert_eq!(attempt(json!({"username": "frank", "password": "x"})), 429);
    // The address answers as any address never tried: nothing links the two.
    assert_eq!(
        attempt(json!({"email": "frank@example.org", "password": "x"})),
        400
    );
    assert_eq!(
        attempt(json!({"email": "stranger@example.org", "password": "x"})),
        400
    );
    assert_eq!(
        attempt(json!({"username": "frank@example.org", "password": "x"})),
        400
    );
}

#[test]
fn a_username_cannot_be_another_accounts_address() {
    let s = Server::start();
    s.create_user("carol", "carol@example.org", PASSWORD);
    s.create_user("mallory", "mallory@example.org", "Mallory-pass-1");
    let key = s.login("mallory", "Mallory-pass-1");
    let refused = json!({"username": ["An email address can only be the username of the account it belongs to."]});
    s.send_json(
        "PATCH",
        "/rest-auth/user/",
        &json!({"username": "carol@example.org"}),
        Some(&key),
    )
    .assert(400, refused.clone());
    // An unknown address is refused alike (the rule reveals no account).
    s.send_json(
        "PATCH",
        "/rest-auth/user/",
        &json!({"username": "ghost@example.org"}),
        Some(&key),
    )
    .assert(400, refused.clone());
    // One's own address is fine.
    let r = s.send_json(
        "PATCH",
        "/rest-auth/user/",
        &json!({"username": "mallory@example.org"}),
        Some(&key),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "carol@example.org", "email": "m2@example.org", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    )
    .assert(400, refused);

    // A row an older version allowed: mallory named after carol's address.
    s.db().exec(
        "UPDATE users SET username = 'carol@example.org', username_lower = 'carol@example.org' WHERE username_lower = 'mallory@example.org'",
        params![],
    );
    // The address in the username field is tried as an address first: carol gets in.
    let r = s.post_json(
        "/rest-auth/login/",
        &json!({"username": "carol@example.org", "password": PASSWORD}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let carol_key = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/rest-auth/user/", Some(&carol_key)).json()["username"],
        "carol"
    );
    // …and the account named so still gets in with its own password.
    let r = s.post_json(
        "/rest-auth/login/",
        &json!({"username": "carol@example.org", "password": "Mallory-pass-1"}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/rest-auth/user/", Some(&key)).json()["email"],
        "mallory@example.org"
    );

    // The command line applies the same rule.
    let out = s.cli(
        &[
            "user",
            "create",
            "--username",
            "carol@example.org",
            "--email",
            "x@example.org",
            "--password-stdin",
            "--skip-validation",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("can only be the username"));
}

#[test]
fn email_validator_follows_django_in_quoted_local_parts() {
    let s = Server::start();
    for (i, email) in [
        "\"x\r\nBcc: victim@example.org\"@example.org",
        "\"x\ty\"@example.org",
        "\"x y\"@example.org",
        "\"x\\\ny\"@example.org",
    ]
    .iter()
    .enumerate()
    {
        s.post_json(
            "/rest-auth/registration/",
            &json!({"username": format!("inject{i}"), "email": email, "password1": PASSWORD, "password2": PASSWORD}),
            None,
        )
        .assert(400, json!({"email": ["Enter a valid email address."]}));
    }
    let r = s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "quoted", "email": "\"x.y\"@example.org", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn an_address_is_verified_for_one_account_only() {
    let s = Server::start();
    for name in ["first", "second"] {
        let r = s.post_json(
            "/rest-auth/registration/",
            &json!({"username": name, "email": "shared@example.org", "password1": PASSWORD, "password2": PASSWORD}),
            None,
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mails = s.wait_for_mails(2);
    let key = |m: &Mail| {
        m.link(CONFIRM)
            .unwrap()
            .trim_start_matches(CONFIRM)
            .trim_end_matches('/')
            .to_string()
    };
    let verify = |k: String| {
        s.post_json(
            "/rest-auth/registration/verify-email/",
            &json!({"key": k}),
            None,
        )
    };
    verify(key(&mails[0])).assert(200, json!({"detail": "ok"}));
    verify(key(&mails[1])).assert(
        400,
        json!({"email": ["User is already registered with this e-mail address."]}),
    );
    assert_eq!(
        s.count(
            "SELECT count(*) FROM users WHERE email = 'shared@example.org' AND email_verified = 1"
        ),
        1
    );
}

#[test]
fn usernames_are_nfkc_normalised() {
    let s = Server::start();
    s.create_user("alice", "alice@example.org", PASSWORD);
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "ａｌｉｃｅ", "email": "other@example.org", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    )
    .assert(400, json!({"username": ["A user with that username already exists."]}));
    let key = s.login("ａｌｉｃｅ", PASSWORD);
    // A name stored before normalisation (an older version) still logs in as typed.
    s.create_user("legacy", "legacy@example.org", PASSWORD);
    s.db().exec(
        "UPDATE users SET username = 'ｌｅｇａｃｙ', username_lower = 'ｌｅｇａｃｙ' WHERE username = 'legacy'",
        params![],
    );
    assert_eq!(s.login("ｌｅｇａｃｙ", PASSWORD).len(), 40);
    let r = s.send_json(
        "PATCH",
        "/rest-auth/user/",
        &json!({"username": "ｂｏｂ"}),
        Some(&key),
    );
    assert_eq!(
        (r.status, r.json()["username"].clone()),
        (200, json!("bob"))
    );
}

#[test]
fn a_proxy_on_loopback_is_trusted_by_default() {
    let s = throttled_on(&[("RESTAUTH_THROTTLE_LOGIN", "2/min")]);
    assert_eq!(bad_login_from(&s, "203.0.113.1"), 400);
    assert_eq!(bad_login_from(&s, "203.0.113.1"), 400);
    assert_eq!(bad_login_from(&s, "203.0.113.1"), 429);
    assert_eq!(
        bad_login_from(&s, "203.0.113.2"),
        400,
        "each client has its own count"
    );
    // A peer not listed is not believed.
    let s = throttled_on(&[
        ("RESTAUTH_THROTTLE_LOGIN", "2/min"),
        ("RESTAUTH_SERVER_TRUSTED_PROXIES", "192.0.2.1"),
    ]);
    assert_eq!(bad_login_from(&s, "203.0.113.1"), 400);
    assert_eq!(bad_login_from(&s, "203.0.113.2"), 400);
    assert_eq!(
        bad_login_from(&s, "203.0.113.3"),
        429,
        "all share the socket address"
    );
}

// ---------------------------------------------------------------------------
// What held, and must keep holding
// ---------------------------------------------------------------------------

#[test]
fn sixteen_concurrent_confirms_of_one_reset_link_succeed_once() {
    let s = Server::start();
    s.create_user("racer", "racer@example.com", PASSWORD);
    s.post_json(
        "/rest-auth/password/reset/",
        &json!({"email": "racer@example.com"}),
        None,
    );
    let mail = s.wait_for_mails(1).remove(0);
    let prefix = "http://localhost:8000/password-reset/confirm/";
    let link = mail.link(prefix).unwrap();
    let (uid, token) = link
        .trim_start_matches(prefix)
        .trim_end_matches('/')
        .split_once('/')
        .map(|(u, t)| (u.to_string(), t.to_string()))
        .unwrap();
    let bodies = (0..16)
        .map(|i| {
            let p = format!("Winner-pass-{i:02}");
            json!({"uid": uid, "token": token, "new_password1": p, "new_password2": p})
        })
        .collect();
    let statuses = s.race("/rest-auth/password/reset/confirm/", bodies);
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 400).count(),
        15,
        "{statuses:?}"
    );
}

#[test]
fn concurrent_registrations_of_spellings_of_one_name_make_one_account() {
    let s = Server::start();
    // Case, Unicode case and NFKC variants (a decomposed é) of one username.
    let spellings = [
        "émile",
        "ÉMILE",
        "Émile",
        "ÉmIlE",
        "e\u{301}mile",
        "E\u{301}MILE",
    ];
    let bodies = (0..32)
        .map(|i| {
            json!({"username": spellings[i % spellings.len()], "email": format!("e{i}@example.com"),
                   "password1": PASSWORD, "password2": PASSWORD})
        })
        .collect();
    let statuses = s.race("/rest-auth/registration/", bodies);
    assert_eq!(
        statuses.iter().filter(|&&c| c == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 400).count(),
        31,
        "{statuses:?}"
    );
    assert_eq!(s.count("SELECT count(*) FROM users"), 1);
}

#[test]
fn forwarding_headers_are_ignored_from_untrusted_peers() {
    let s = throttled_on(&[
        ("RESTAUTH_THROTTLE_LOGIN", "3/min"),
        ("RESTAUTH_SERVER_TRUSTED_PROXIES", ""),
    ]);
    let body = json!({"username": "x", "password": "y"}).to_string();
    let statuses: Vec<u16> = [
        ("X-Forwarded-For", "203.0.113.1"),
        ("X-Real-IP", "203.0.113.2"),
        ("Forwarded", "for=203.0.113.3"),
        ("X-Forwarded-For", "203.0.113.4"),
    ]
    .iter()
    .map(|(name, value)| {
        s.request(
            "POST",
            "/rest-auth/login/",
            &[("Content-Type", "application/json"), (name, value)],
            body.as_bytes(),
        )
        .status
    })
    .collect();
    assert_eq!(
        statuses,
        [400, 400, 400, 429],
        "one client: the socket address"
    );
}
}

// SQLite only: the generated restauth.secret file takes the owner of the SQLite file.
#[test]
fn a_secret_made_by_root_belongs_to_the_database_owner() {
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to hand a file to another user");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let s = Server::start();
    let secret = s.dir.0.join("restauth.secret");
    std::fs::remove_file(&secret).unwrap();
    // The database belongs to the service's user (here: nobody), an
    // administrator runs a command as root.
    std::os::unix::fs::chown(s.db_path(), Some(65534), Some(65534)).unwrap();
    let out = s.cli(&["user", "list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::metadata(&secret).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    assert_eq!(meta.mode() & 0o777, 0o600);
}
