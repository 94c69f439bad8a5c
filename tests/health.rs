//! `GET /health`: outside the prefix, unauthenticated, not throttled, not logged.
//! (On SQLite the 503 of a database that does not answer is unit-tested in
//! `db::sqlite`: another process cannot hold a WAL database's readers off; on
//! PostgreSQL the test below refuses the server's connections.)

mod common;
use common::*;
use serde_json::json;

backend_tests! {
#[test]
fn health_answers_ok_outside_the_prefix_without_credentials() {
    let server = Server::start();
    server
        .get("/health", None)
        .assert(200, json!({ "status": "ok" }));
    assert_eq!(server.request("HEAD", "/health", &[], b"").status, 200);
    // A bad token does not matter: nothing is authenticated here.
    server
        .get("/health", Some("not-a-token"))
        .assert(200, json!({ "status": "ok" }));
    // Only at the root, whatever the prefix.
    assert_eq!(server.get("/rest-auth/health/", None).status, 404);
    assert_eq!(server.get("/health/", None).status, 404);
    let r = server.post_json("/health", &json!({}), None);
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        r.json(),
        json!({ "detail": "Method \"POST\" not allowed." })
    );

    let prefixed = Server::start_with(&[("RESTAUTH_SERVER_PREFIX", "/auth")]);
    assert_eq!(prefixed.get("/health", None).status, 200);
    let root = Server::start_with(&[("RESTAUTH_SERVER_PREFIX", "")]);
    assert_eq!(root.get("/health", None).status, 200);
}

#[test]
fn health_is_neither_throttled_nor_logged() {
    let server = Server::start_with(&[("RESTAUTH_THROTTLE_LOGIN", "1/min")]);
    for _ in 0..50 {
        assert_eq!(server.get("/health", None).status, 200);
    }
    // A request that is logged, to know the log has caught up.
    assert_eq!(server.get("/rest-auth/nowhere/", None).status, 404);
    assert!(server.wait_for_log("/rest-auth/nowhere/"));
    let logs = server.logs();
    assert!(!logs.contains("/health"), "{logs}");
}
}

#[test]
fn health_is_503_while_postgresql_refuses_the_node_and_200_again_after() {
    run_on(Backend::Postgres, || {
        let server = Server::start();
        server
            .get("/health", None)
            .assert(200, json!({ "status": "ok" }));
        let db: String = server.db().one("SELECT current_database()", params![]);
        // restauth's sessions bound their waits (a hung database fails requests, not workers).
        let setting = |name: &str| {
            server
                .db()
                .one::<String>(&format!("SHOW {name}"), params![])
        };
        assert_eq!(
            (setting("statement_timeout"), setting("lock_timeout")),
            ("30s".to_string(), "5s".to_string())
        );
        let mut admin = postgres_admin();
        let mut refuse = |allow: bool| {
            admin
                .batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {allow}"))
                .unwrap();
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    &[&db],
                )
                .unwrap();
        };
        refuse(false);
        let r = server.get("/health", None);
        refuse(true);
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(
            r.json(),
            json!({ "status": "unavailable", "detail": "The database did not answer." })
        );
        assert_eq!(r.header("Retry-After"), Some("1"));
        server
            .get("/health", None)
            .assert(200, json!({ "status": "ok" }));
        assert!(server.wait_for_log("health: the database does not answer"));
        assert!(server.wait_for_log("health: the database answers again"));
    });
}

// SQLite-only: another process holds the file's write lock.
#[test]
fn a_write_that_waits_past_the_busy_timeout_is_503_not_500() {
    let server = Server::start_with(&[("RESTAUTH_DATABASE_BUSY_TIMEOUT", "200ms")]);
    server.create_user("alice", "alice@example.com", PASSWORD);
    let key = server.login("alice", PASSWORD);
    let holder = server.sqlite();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let r = server.post_json("/rest-auth/logout/", &json!({}), Some(&key));
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(
        r.json(),
        json!({"detail": "The server is busy; try again shortly."})
    );
    // Nothing was lost: the logout can be repeated once the lock is gone.
    let r = server.post_json("/rest-auth/logout/", &json!({}), Some(&key));
    assert_eq!(r.status, 200, "{}", r.text());
}
