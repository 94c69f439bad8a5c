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

#[test]
fn a_secret_stored_by_an_older_version_moves_to_its_file() {
    let s = Server::start();
    s.create_user("olduser", "old@example.com", PASSWORD);
    // What an older restauth left: the key in `settings`, no secret file.
    std::fs::remove_file(s.dir.0.join("restauth.secret")).unwrap();
    s.db()
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
    let left: i64 = s
        .db()
        .query_row(
            "SELECT count(*) FROM settings WHERE name = 'secret_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
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

#[test]
fn database_backup_secret_and_spool_files_are_private() {
    let s = Server::start();
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "newbie", "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    );
    s.wait_for_mails(1);
    let backup = s.dir.0.join("copy.sqlite3");
    let out = s.cli(&["backup", backup.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = s.db_path();
    let mut files = vec![
        db.clone(),
        db.with_extension("sqlite3-wal"),
        db.with_extension("sqlite3-shm"),
        backup,
        s.dir.0.join("restauth.secret"),
    ];
    for entry in std::fs::read_dir(s.spool()).unwrap() {
        files.push(entry.unwrap().path());
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&s.spool()), 0o700);
}
