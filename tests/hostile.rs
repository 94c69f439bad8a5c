//! Hostile and malformed input: always a 4xx JSON answer, and the server keeps answering.

mod common;
use common::*;
use serde_json::json;

/// The server still answers a normal request.
fn still_alive(s: &Server) {
    s.get("/rest-auth/user/", None).assert(
        401,
        json!({"detail": "Authentication credentials were not provided."}),
    );
}

fn post(s: &Server, content_type: Option<&str>, body: &[u8]) -> Resp {
    let headers: Vec<(&str, &str)> = content_type
        .map(|c| ("Content-Type", c))
        .into_iter()
        .collect();
    s.request("POST", "/rest-auth/login/", &headers, body)
}

backend_tests! {
#[test]
fn huge_declared_length_is_refused_without_crashing() {
    let s = Server::start();
    // The request that aborts a plain rouille/tiny_http server: a declared
    // length no allocator can satisfy, three bytes sent, then silence.
    let r = s.raw(
        b"POST /rest-auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999999999\r\n\r\nabc",
    );
    r.assert(
        413,
        json!({"detail": "Request body is larger than the limit of 65536 bytes."}),
    );
    still_alive(&s);
    // Again, on a path that does not exist: refused before routing. (u64::MAX
    // is no length the HTTP parser can hold: it refuses the head itself.)
    let r =
        s.raw(b"PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999\r\n\r\n{");
    assert_eq!(r.status, 413);
    let r =
        s.raw(b"PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n{");
    assert!((400..500).contains(&r.status), "{}", r.status);
    still_alive(&s);
}

#[test]
fn moderately_oversized_bodies_are_refused() {
    let s = Server::start();
    // Declared over the limit, sent in full.
    let big = vec![b'a'; 70_000];
    post(&s, Some("application/json"), &big).assert(
        413,
        json!({"detail": "Request body is larger than the limit of 65536 bytes."}),
    );
    // Declared over the limit (1 MB), a few bytes sent, connection closed by the client.
    let r = s.raw(b"POST /rest-auth/login/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000000\r\n\r\n{}");
    assert_eq!(r.status, 413);
    // Chunked: no declared length, the bounded reader stops it.
    let mut chunked = b"POST /rest-auth/login/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunked.extend_from_slice(&[b' '; 8192]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(s.raw(&chunked).status, 413);
    still_alive(&s);
}

#[test]
fn a_smaller_limit_from_the_config() {
    let s = Server::start_with(&[("RESTAUTH_SERVER_MAX_BODY_BYTES", "2048")]);
    let body = json!({"username": "a".repeat(3000), "password": "x"}).to_string();
    post(&s, Some("application/json"), body.as_bytes()).assert(
        413,
        json!({"detail": "Request body is larger than the limit of 2048 bytes."}),
    );
}

#[test]
fn malformed_bodies() {
    let s = Server::start();
    let r = post(&s, Some("application/json"), b"{\"username\": ");
    assert_eq!(r.status, 400);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));

    for (body, kind) in [
        (&b"[1, 2]"[..], "list"),
        (b"\"text\"", "str"),
        (b"42", "int"),
        (b"4.5", "float"),
        (b"true", "bool"),
    ] {
        post(&s, Some("application/json"), body).assert(
            400,
            json!({"non_field_errors": [format!("Invalid data. Expected a dictionary, but got {kind}.")]}),
        );
    }
    post(&s, Some("application/json"), b"null")
        .assert(400, json!({"non_field_errors": ["No data provided"]}));

    // Invalid UTF-8 and NaN in JSON: parse errors.
    for body in [&b"{\"password\": \"\xff\xfe\"}"[..], b"{\"password\": NaN}"] {
        let r = post(&s, Some("application/json"), body);
        assert_eq!(r.status, 400);
        assert!(r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "));
    }
    // Invalid UTF-8 in a form: decoded leniently, then an ordinary login failure.
    post(
        &s,
        Some("application/x-www-form-urlencoded"),
        b"username=%FF%FE&password=x\xff",
    )
    .assert(
        400,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
    );
    // Malformed multipart.
    let r = post(
        &s,
        Some("multipart/form-data; boundary=zz"),
        b"not multipart at all",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .starts_with("Multipart form parse error - "));
    still_alive(&s);
}

#[test]
fn content_types() {
    let s = Server::start();
    post(&s, Some("text/plain"), b"username=a").assert(
        415,
        json!({"detail": "Unsupported media type \"text/plain\" in request."}),
    );
    post(&s, None, b"{\"username\": \"a\"}").assert(
        415,
        json!({"detail": "Unsupported media type \"\" in request."}),
    );
    // Parameters are allowed; an empty body is "no data" whatever the type.
    post(&s, Some("application/json; charset=utf-8"), b"{}")
        .assert(400, json!({"password": ["This field is required."]}));
    post(&s, Some("text/plain"), b"").assert(400, json!({"password": ["This field is required."]}));
    post(&s, None, b"").assert(400, json!({"password": ["This field is required."]}));
}

#[test]
fn strange_field_values() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let login = |body: serde_json::Value| s.post_json("/rest-auth/login/", &body, None);

    login(json!({"username": "alice", "password": "a\u{0}b"})).assert(
        400,
        json!({"password": ["Null characters are not allowed."]}),
    );
    login(json!({"username": "x".repeat(10_000), "password": "p"})).assert(
        400,
        json!({"username": ["Ensure this field has no more than 254 characters."]}),
    );
    login(json!({"username": "alice", "password": "p".repeat(10_000)})).assert(
        400,
        json!({"password": ["Ensure this field has no more than 4096 characters."]}),
    );
    login(json!({"username": ["alice"], "password": {"a": 1}})).assert(
        400,
        json!({"username": ["Not a valid string."], "password": ["Not a valid string."]}),
    );
    login(json!({"username": "alice", "password": null}))
        .assert(400, json!({"password": ["This field may not be null."]}));
    for sql in [
        "alice' OR '1'='1",
        "alice\"; DROP TABLE users; --",
        "' UNION SELECT password FROM users --",
    ] {
        login(json!({"username": sql, "password": "' OR '1'='1"})).assert(
            400,
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        );
    }
    // Numbers are accepted where strings are expected (DRF); a numeric password is just wrong here.
    login(json!({"username": "alice", "password": 12345})).assert(
        400,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
    );
    // Unknown fields are ignored.
    assert_eq!(
        login(json!({"username": "alice", "password": PASSWORD, "admin": true})).status,
        200
    );
    let users: i64 = s.db().one("SELECT count(*) FROM users", params![]);
    assert_eq!(users, 1, "the users table survived");
    still_alive(&s);
}

#[test]
fn unknown_paths_methods_and_slashes() {
    let s = Server::start();
    s.get("/nowhere", None)
        .assert(404, json!({"detail": "Not found."}));
    s.get("/rest-auth/", None)
        .assert(404, json!({"detail": "Not found."}));
    s.get("/rest-auth/login/extra/", None)
        .assert(404, json!({"detail": "Not found."}));
    s.get("/rest-authlogin/", None)
        .assert(404, json!({"detail": "Not found."}));
    let r = s.request("DELETE", "/rest-auth/login", &[], b"");
    r.assert(405, json!({"detail": "Method \"DELETE\" not allowed."}));
    assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
    // The query string does not change routing.
    assert_eq!(s.get("/rest-auth/login/?next=/x", None).status, 405);
    still_alive(&s);
}

#[test]
fn broken_http_is_survived() {
    let s = Server::start();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /rest-auth/user/ HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"POST /rest-auth/login/ HTTP/1.1\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
        b"POST /rest-auth/login/ HTTP/1.1\r\nExpect: something\r\nConnection: close\r\n\r\n",
    ] {
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        use std::io::{Read, Write};
        let _ = c.write_all(raw);
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        let head = String::from_utf8_lossy(&out);
        assert!(!head.starts_with("HTTP/1.1 5"), "{head}");
    }
    still_alive(&s);
}

#[test]
fn logs_hold_no_secrets() {
    let s = Server::start();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    s.get(&format!("/rest-auth/user/?token={key}"), Some(&key));
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": "alice", "password": "Wr0ng-but-secret"}),
        None,
    );
    // The log line is written after the answer: wait for the last one.
    assert!(s.wait_for_log("POST /rest-auth/login/ 400"));
    let logs = s.logs();
    assert!(logs.contains("GET /rest-auth/user/ 200"));
    for secret in [PASSWORD, key.as_str(), "Wr0ng-but-secret"] {
        assert!(!logs.contains(secret), "secret in logs:\n{logs}");
    }
}

#[test]
fn stalled_bodies_free_their_workers() {
    // Two workers, both taken by clients that declare a body and stop sending.
    let s = Server::start_with(&[
        ("RESTAUTH_SERVER_WORKERS", "2"),
        ("RESTAUTH_SERVER_READ_TIMEOUT", "1s"),
    ]);
    use std::io::{Read, Write};
    let stalled: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(s.addr).unwrap();
            c.write_all(b"POST /rest-auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"user")
                .unwrap();
            c
        })
        .collect();
    // A normal request is still answered once the read timeout frees a worker.
    still_alive(&s);
    for mut c in stalled {
        c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut head = [0u8; 12];
        c.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 408");
    }
}
}
