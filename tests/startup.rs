//! Start-up checks: a database that fails its check stops the server with a clear message;
//! a `RESTAUTH_*` variable that names no key is a warning.

mod common;
use common::*;

// SQLite-only: it overwrites the pages of the SQLite file.
#[test]
fn a_corrupt_database_stops_the_server() {
    let dir = TempDir::new();
    let config = dir.0.join("auth.toml");
    let db = dir.0.join("restauth.sqlite3");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"{}\"\n[mail]\nspool_dir = \"{}\"\n",
            db.display(),
            dir.0.join("mail").display()
        ),
    )
    .unwrap();
    // A valid database first (any command but check and backup creates one),
    // then its pages overwritten with garbage.
    let out = run_cli(&config, &[], &["user", "list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.0.join("restauth.sqlite3-wal"));
    let _ = std::fs::remove_file(dir.0.join("restauth.sqlite3-shm"));

    for args in [&["check"][..], &["serve"][..]] {
        let out = run_cli(&config, &[], args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        // One line in the one log format: `<UTC time> restauth: <why>`.
        let first = stderr.lines().next().unwrap_or("");
        let (time, text) = first.split_once(' ').unwrap_or(("", ""));
        assert!(
            time.len() == 20 && time.ends_with('Z') && text.starts_with("restauth: "),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("database"), "{args:?}: {stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

// SQLite-only: about a missing SQLite file (and its secret file) not being created.
#[test]
fn check_and_backup_refuse_a_database_that_does_not_exist() {
    // A wrong --config (or a typo in database.path) must not quietly create,
    // check and back up an empty database.
    let dir = TempDir::new();
    let config = dir.0.join("auth.toml");
    let db = dir.0.join("missing.sqlite3");
    std::fs::write(
        &config,
        format!("[database]\npath = \"{}\"\n", db.display()),
    )
    .unwrap();
    let copy = dir.0.join("copy.sqlite3");
    for args in [&["check"][..], &["backup", copy.to_str().unwrap()][..]] {
        let out = run_cli(&config, &[], args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains("there is no database at"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!db.exists() && !copy.exists(), "nothing created");
    assert!(
        !dir.0.join("restauth.secret").exists(),
        "no secret generated"
    );
}

/// The variables that point a command at `s`'s database: none on SQLite (the
/// configuration file names it), the database URL and shared secret on PostgreSQL.
fn database_env(s: &Server) -> Vec<(String, String)> {
    if backend() == Backend::Sqlite {
        return Vec::new();
    }
    // The URL the harness gave the server: its admin URL with this database.
    let name: String = s.db().one("SELECT current_database()", params![]);
    let admin = std::env::var(POSTGRES_URL_VAR).expect("set for the PostgreSQL variant");
    let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
    let server = &base[..base.rfind('/').expect("a /dbname in the URL")];
    vec![
        (
            "RESTAUTH_DATABASE_URL".to_string(),
            format!("{server}/{name}?{query}"),
        ),
        ("RESTAUTH_SECURITY_SECRET_KEY".to_string(), s.secret_key()),
    ]
}

backend_tests! {
#[test]
fn a_misspelt_environment_variable_is_a_warning() {
    // `serve`: the server starts, and its log names the variable that names
    // no key; the correctly spelt one beside it is applied without a word.
    let s = Server::start_with(&[
        ("RESTAUTH_SERVER_WORKRES", "2"),
        ("RESTAUTH_ACCOUNTS_LOGOUT_ON_GET", "true"),
    ]);
    assert!(
        s.wait_for_log(
            "restauth: warning: environment variable RESTAUTH_SERVER_WORKRES names no configuration key; it is ignored"
        ),
        "{}",
        s.logs()
    );
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    assert_eq!(s.get("/rest-auth/logout/", Some(&key)).status, 200);
    let logs = s.logs();
    assert!(!logs.contains("RESTAUTH_ACCOUNTS_LOGOUT_ON_GET"), "{logs}");

    // Any other command warns the same way, on stderr, and still runs.
    let mut env = database_env(&s);
    env.extend(
        [
            ("RESTAUTH_MAIL_SMPT_HOST", "relay"),
            ("RESTAUTH_MAIL_SMTP_HOST", "relay"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let out = run_cli(&s.config, &env, &["user", "list"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        // `<time> restauth: warning: …`, the one log format.
        stderr.lines().any(|l| l.ends_with(
            " restauth: warning: environment variable RESTAUTH_MAIL_SMPT_HOST names no configuration key; it is ignored"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("RESTAUTH_MAIL_SMTP_HOST"), "{stderr}");
    // It ran on the server's database.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("alice@example.com"), "{stdout}");
}
}
