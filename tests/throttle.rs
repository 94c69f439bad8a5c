//! Throttling, the account softlock, client addresses, CORS and security headers.
//! (The timing of windows and softlock delays is unit-tested with an injected
//! clock in security::throttle; these tests check the wiring and the answers.)

mod common;
use common::*;
use serde_json::json;

fn throttled(r: &Resp) -> u64 {
    assert_eq!(r.status, 429, "{}", r.text());
    let wait: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .unwrap();
    // DRF's message, singular for one second.
    let unit = if wait == 1 { "second" } else { "seconds" };
    assert_eq!(
        r.json(),
        json!({"detail": format!("Request was throttled. Expected available in {wait} {unit}.")})
    );
    assert!(wait >= 1);
    wait
}

fn bad_login(s: &Server, who: &str) -> Resp {
    s.post_json(
        "/rest-auth/login/",
        &json!({"username": who, "password": "wrong-password"}),
        None,
    )
}

backend_tests! {
#[test]
fn login_rate_per_client_address() {
    let s = Server::start_with(&[
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_LOGIN", "3/min"),
    ]);
    for i in 0..3 {
        assert_eq!(bad_login(&s, &format!("nobody{i}")).status, 400);
    }
    let wait = throttled(&bad_login(&s, "nobody9"));
    assert!(wait <= 60);
    // Other scopes have their own counters.
    assert_eq!(
        s.post_json(
            "/rest-auth/password/reset/",
            &json!({"email": "x@example.com"}),
            None
        )
        .status,
        200
    );
}

#[test]
fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let s = Server::start_with(&[
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_LOGIN", "2/min"),
        ("RESTAUTH_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    let login_from = |ip: &str| {
        let body = json!({"username": "x", "password": "y"}).to_string();
        s.request(
            "POST",
            "/rest-auth/login/",
            &[
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", ip),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(login_from("203.0.113.1").status, 400);
    assert_eq!(login_from("203.0.113.1").status, 400);
    throttled(&login_from("203.0.113.1"));
    // Another client behind the same proxy is not affected.
    assert_eq!(login_from("203.0.113.2").status, 400);

    // With no trusted proxy the header is ignored: all share the socket address.
    let s = Server::start_with(&[
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_LOGIN", "2/min"),
        ("RESTAUTH_SERVER_TRUSTED_PROXIES", ""),
    ]);
    for ip in ["198.51.100.1", "198.51.100.2"] {
        let body = json!({"username": "x", "password": "y"}).to_string();
        let r = s.request(
            "POST",
            "/rest-auth/login/",
            &[
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", ip),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 400);
    }
    throttled(&bad_login(&s, "x"));
}

#[test]
fn softlock_slows_one_account_from_every_address() {
    let s = Server::start_with(&[
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_SOFTLOCK_THRESHOLD", "3"),
        ("RESTAUTH_THROTTLE_SOFTLOCK_BASE", "1h"),
        ("RESTAUTH_THROTTLE_SOFTLOCK_MAX", "2h"),
    ]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    s.create_user("bob", "bob@example.com", PASSWORD);
    for _ in 0..3 {
        bad_login(&s, "alice").assert(
            400,
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        );
    }
    // Locked: even the right password is not checked, from any address, in
    // any spelling of the name (case, fullwidth forms). The address is another
    // identifier with its own count (tests/attacks.rs says why).
    for name in ["alice", "ALICE", "ａｌｉｃｅ"] {
        let r = s.post_json(
            "/rest-auth/login/",
            &json!({"username": name, "password": PASSWORD}),
            None,
        );
        assert!(throttled(&r) > 3500);
    }
    // Other accounts are untouched.
    assert_eq!(s.login("bob", PASSWORD).len(), 40);
    // An unknown name behaves the same way (no enumeration).
    for _ in 0..3 {
        assert_eq!(bad_login(&s, "ghost").status, 400);
    }
    throttled(&bad_login(&s, "ghost"));

    // A password reset lifts the lock.
    s.post_json(
        "/rest-auth/password/reset/",
        &json!({"email": "alice@example.com"}),
        None,
    );
    let mail = s.wait_for_mails(1).remove(0);
    let link = mail
        .link("http://localhost:8000/password-reset/confirm/")
        .unwrap();
    let parts: Vec<&str> = link.trim_end_matches('/').rsplitn(3, '/').collect();
    let (token, uid) = (parts[0], parts[1]);
    let r = s.post_json(
        "/rest-auth/password/reset/confirm/",
        &json!({"uid": uid, "token": token, "new_password1": "Fresh-pass-77", "new_password2": "Fresh-pass-77"}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.login("alice", "Fresh-pass-77").len(), 40);
}

#[test]
fn reset_mails_are_limited_per_address() {
    let s = Server::start_with(&[
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_PASSWORD_RESET_PER_EMAIL", "2/h"),
    ]);
    s.create_user("carl", "carl@example.com", PASSWORD);
    for _ in 0..2 {
        assert_eq!(
            s.post_json(
                "/rest-auth/password/reset/",
                &json!({"email": "carl@example.com"}),
                None
            )
            .status,
            200
        );
    }
    throttled(&s.post_json(
        "/rest-auth/password/reset/",
        &json!({"email": "CARL@example.com"}),
        None,
    ));
    assert_eq!(s.wait_for_mails(2).len(), 2);
}

#[test]
fn registration_verify_and_resend_are_throttled() {
    let s = Server::start_with(&[
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_REGISTRATION", "1/h"),
        ("RESTAUTH_THROTTLE_VERIFY_EMAIL", "1/min"),
        ("RESTAUTH_THROTTLE_RESEND_EMAIL", "1/min"),
    ]);
    let reg = |name: &str| {
        s.post_json(
            "/rest-auth/registration/",
            &json!({"username": name, "email": format!("{name}@example.com"), "password1": PASSWORD, "password2": PASSWORD}),
            None,
        )
    };
    assert_eq!(reg("first").status, 201);
    throttled(&reg("second"));
    for path in [
        "/rest-auth/registration/verify-email/",
        "/rest-auth/registration/resend-email/",
    ] {
        let body = json!({"key": "nope", "email": "nobody@example.com"});
        assert_ne!(s.post_json(path, &body, None).status, 429);
        throttled(&s.post_json(path, &body, None));
    }
}

#[test]
fn defaults_are_on() {
    // Throttling is on by default: 20 logins a minute per address.
    let s = Server::start_with(&[("RESTAUTH_THROTTLE_ENABLED", "true")]);
    let statuses: Vec<u16> = (0..21)
        .map(|i| bad_login(&s, &format!("u{i}")).status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 400).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(statuses[20], 429);
}

#[test]
fn security_headers_on_every_response() {
    let s = Server::start();
    for r in [
        s.get("/rest-auth/user/", None),
        s.get("/nowhere", None),
        s.post_json("/rest-auth/login/", &json!({}), None),
    ] {
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
        assert_eq!(r.header("Referrer-Policy"), Some("same-origin"));
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            None,
            "no CORS unless configured"
        );
    }
    s.create_user("alice", "alice@example.com", PASSWORD);
    let r = s.post_json(
        "/rest-auth/login/",
        &json!({"username": "alice", "password": PASSWORD}),
        None,
    );
    assert_eq!(
        (r.status, r.header("Cache-Control")),
        (200, Some("no-store"))
    );
}

#[test]
fn cors_for_configured_origins() {
    let s = Server::start_with(&[(
        "RESTAUTH_SERVER_CORS_ALLOWED_ORIGINS",
        "https://app.example.com,http://localhost:3000",
    )]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    // Preflight: no credentials needed, even on a protected path.
    let r = s.request(
        "OPTIONS",
        "/rest-auth/user/",
        &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PATCH"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Methods"),
        Some("GET, PUT, PATCH, HEAD, OPTIONS")
    );
    let headers = r.header("Access-Control-Allow-Headers").unwrap();
    assert!(headers.contains("Authorization") && headers.contains("Content-Type"));
    assert_eq!(r.header("Access-Control-Allow-Credentials"), None);
    // The real request carries the origin back.
    let auth = format!("Token {key}");
    let r = s.request(
        "GET",
        "/rest-auth/user/",
        &[
            ("Origin", "http://localhost:3000"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(r.header("Vary"), Some("Origin"));
    // Another origin gets no CORS headers.
    let r = s.request(
        "OPTIONS",
        "/rest-auth/login/",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    assert_eq!(r.header("Access-Control-Allow-Methods"), None);

    let s = Server::start_with(&[
        (
            "RESTAUTH_SERVER_CORS_ALLOWED_ORIGINS",
            "https://app.example.com",
        ),
        ("RESTAUTH_SERVER_CORS_ALLOW_CREDENTIALS", "true"),
    ]);
    let r = s.request(
        "GET",
        "/rest-auth/user/",
        &[("Origin", "https://app.example.com")],
        b"",
    );
    assert_eq!(r.header("Access-Control-Allow-Credentials"), Some("true"));
}

#[test]
fn a_preflight_for_any_path_under_the_prefix_lets_the_browser_see_the_404() {
    // Found driving dj-rest-auth's demo SPA: `mfa/status/` (then unserved) got
    // a 404 preflight without CORS headers, so the browser showed a network
    // error instead of the API's 404. Any unserved path stands for it now.
    let s = Server::start_with(&[(
        "RESTAUTH_SERVER_CORS_ALLOWED_ORIGINS",
        "https://app.example.com",
    )]);
    let preflight = |origin: &str| {
        s.request(
            "OPTIONS",
            "/rest-auth/not-served/",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
            b"",
        )
    };
    let r = preflight("https://app.example.com");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://app.example.com")
    );
    assert!(r
        .header("Access-Control-Allow-Methods")
        .is_some_and(|m| m.contains("GET")));
    assert!(r.header("Access-Control-Allow-Headers").is_some());
    // The request itself is the API's 404, with the CORS headers to read it.
    let r = s.request(
        "GET",
        "/rest-auth/not-served/",
        &[("Origin", "https://app.example.com")],
        b"",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"detail": "Not found."}));
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://app.example.com")
    );
    // Other origins and paths outside the prefix learn nothing new.
    let r = preflight("https://evil.example");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Access-Control-Allow-Methods"), None);
    let r = s.request(
        "OPTIONS",
        "/elsewhere/",
        &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "GET"),
        ],
        b"",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn a_login_flood_is_shed_with_429_not_queued() {
    // 4 workers, 1 hashing slot: at most half the workers may hash or wait
    // to hash; further logins are refused at once.
    let s = Server::start_with(&[
        ("RESTAUTH_SERVER_WORKERS", "4"),
        ("RESTAUTH_SECURITY_MAX_CONCURRENT_HASHES", "1"),
        ("RESTAUTH_SECURITY_PASSWORD_ITERATIONS", "1000000"),
    ]);
    s.create_user("alice", "alice@example.com", PASSWORD);
    let addr = s.addr;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(10));
    let flood: Vec<_> = (0..10)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let body = json!({"username": "alice", "password": "wrong-password"}).to_string();
                let req = format!(
                    "POST /rest-auth/login/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                barrier.wait();
                c.write_all(req.as_bytes()).unwrap();
                let mut out = Vec::new();
                let _ = c.read_to_end(&mut out);
                String::from_utf8_lossy(&out).to_string()
            })
        })
        .collect();
    let answers: Vec<String> = flood.into_iter().map(|t| t.join().unwrap()).collect();
    let statuses: Vec<u16> = answers
        .iter()
        .map(|a| {
            a.split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    // A shed login waits one second: DRF's singular, not "1 seconds".
    for shed in answers.iter().filter(|a| a.starts_with("HTTP/1.1 429")) {
        assert!(
            shed.ends_with(
                r#"{"detail":"Request was throttled. Expected available in 1 second."}"#
            ),
            "{shed}"
        );
    }
    assert!(
        statuses.iter().all(|c| *c == 400 || *c == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.contains(&400), "{statuses:?}");
}
}
