//! `GET /health`: outside the prefix, unauthenticated, not throttled, not logged.
//! (The 503 of a database that does not answer is unit-tested in
//! `endpoints::health`: another process cannot hold a WAL database's readers off.)

mod common;
use common::*;
use serde_json::json;

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
