//! `restauth db copy --to postgres://…`: a SQLite deployment moves to
//! PostgreSQL with its accounts, sessions and mail. Runs where the PostgreSQL
//! variants do (RESTAUTH_TEST_POSTGRES_URL); elsewhere it says it was skipped.

mod common;
use common::*;
use serde_json::json;

#[test]
fn a_sqlite_database_moves_to_postgresql_with_its_logins_and_mail() {
    if !postgres_available() {
        eprintln!("skipped: needs {POSTGRES_URL_VAR}");
        return;
    }
    run_on(Backend::Sqlite, || {
        let source = Server::start();
        source.create_user("alice", "alice@example.com", PASSWORD);
        let key = source.login("alice", PASSWORD);
        let r = source.post_json(
            "/rest-auth/registration/",
            &json!({"username": "bob", "email": "bob@example.com",
                    "password1": PASSWORD, "password2": PASSWORD}),
            None,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        source.wait_for_mails(1);
        let mails = source.count("SELECT count(*) FROM outbox");
        let target = PgDatabase::create();

        // Copied while the source server keeps running.
        let to = [("RESTAUTH_COPY_TO", target.url.as_str())];
        let out = run_cli(&source.config, &env_of(&to), &["db", "copy"], "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("users: 2/2"), "{stderr}");
        assert!(stderr.contains("counts match"), "{stderr}");
        assert!(
            !stderr.contains("restauth-ci"),
            "the password leaked: {stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("copied "), "{stdout}");

        // A second copy is refused: the target is not empty any more.
        let again = run_cli(&source.config, &env_of(&to), &["db", "copy"], "");
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(!again.status.success());
        assert!(stderr.contains("not empty (users: 2"), "{stderr}");

        // A PostgreSQL node with the SQLite server's secret file takes over.
        let secret = source.dir.0.join("restauth.secret");
        let node = source.another_node_with(&[
            ("RESTAUTH_DATABASE_URL", target.url.as_str()),
            (
                "RESTAUTH_SECURITY_SECRET_KEY_FILE",
                secret.to_str().unwrap(),
            ),
        ]);
        let me = node.get("/rest-auth/user/", Some(&key));
        assert_eq!(me.status, 200, "{}", me.text());
        assert_eq!(me.json()["username"], "alice");
        assert_eq!(node.login("alice", PASSWORD).len(), 40);
        let listed = node.cli(&["mail", "list"], "");
        let listing = String::from_utf8_lossy(&listed.stdout);
        assert!(
            listing.contains(&format!("{mails} message(s)")),
            "{listing}"
        );
        assert!(listing.contains("bob@example.com"), "{listing}");
        // New rows get ids after the copied ones.
        let r = node.post_json(
            "/rest-auth/registration/",
            &json!({"username": "carol", "email": "carol@example.com",
                    "password1": PASSWORD, "password2": PASSWORD}),
            None,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let r = node.cli(&["user", "verify-email", "carol"], "");
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let carol = node.login("carol", PASSWORD);
        assert_eq!(node.get("/rest-auth/user/", Some(&carol)).json()["pk"], 3);
    });
}

fn env_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
