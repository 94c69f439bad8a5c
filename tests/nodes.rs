//! Several restauth processes on one PostgreSQL database, as behind a load
//! balancer: nothing a request needs is kept in one node's memory. These
//! tests exist only on PostgreSQL (SQLite is one node by design); without
//! RESTAUTH_TEST_POSTGRES_URL they print that they were skipped.

mod common;
use common::*;
use serde_json::json;
use std::collections::HashSet;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Three nodes on one fresh database, throttling on (softlock after 5).
fn three_nodes(env: &[(&str, &str)]) -> (Server, Server, Server) {
    let mut all = vec![
        ("RESTAUTH_THROTTLE_ENABLED", "true"),
        ("RESTAUTH_THROTTLE_LOGIN", "10000/min"),
        ("RESTAUTH_THROTTLE_REGISTRATION", "10000/min"),
        ("RESTAUTH_THROTTLE_REGISTRATION_PER_EMAIL", "10000/min"),
        ("RESTAUTH_THROTTLE_SOFTLOCK_BASE", "1h"),
        ("RESTAUTH_THROTTLE_SOFTLOCK_MAX", "2h"),
    ];
    all.extend_from_slice(env);
    let a = Server::start_with(&all);
    let b = a.another_node();
    let c = a.another_node();
    (a, b, c)
}

fn register(s: &Server, username: &str) -> Resp {
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": username, "email": format!("{username}@example.com"),
                "password1": PASSWORD, "password2": PASSWORD}),
        None,
    )
}

/// Polls `f` (bounded) until it holds.
fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_token_issued_by_one_node_works_on_the_others_and_logout_reaches_them_at_once() {
    run_on(Backend::Postgres, || {
        let (a, b, c) = three_nodes(&[]);
        a.create_user("alice", "alice@example.com", PASSWORD);
        let key = a.login("alice", PASSWORD);
        for node in [&a, &b, &c] {
            let r = node.get("/rest-auth/user/", Some(&key));
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["username"], "alice");
        }
        let r = b.post_json("/rest-auth/logout/", &json!({}), Some(&key));
        assert_eq!(r.status, 200, "{}", r.text());
        for node in [&c, &a, &b] {
            node.get("/rest-auth/user/", Some(&key))
                .assert(401, json!({"detail": "Invalid token."}));
        }
    });
}

#[test]
fn failures_spread_over_three_nodes_reach_the_softlock_after_the_same_five() {
    run_on(Backend::Postgres, || {
        let (a, b, c) = three_nodes(&[]);
        a.create_user("alice", "alice@example.com", PASSWORD);
        let nodes = [&a, &b, &c];
        let bad = json!({"username": "alice", "password": "wrong-password"});
        for i in 0..5 {
            let r = nodes[i % 3].post_json("/rest-auth/login/", &bad, None);
            assert_eq!(r.status, 400, "failure {i}: {}", r.text());
        }
        // The sixth attempt, on any node, with the right password: refused unchecked.
        let good = json!({"username": "alice", "password": PASSWORD});
        for node in nodes {
            let r = node.post_json("/rest-auth/login/", &good, None);
            assert_eq!(r.status, 429, "{}", r.text());
            let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
            assert!(wait > 3500, "{wait}");
        }
        // Per-address rates are shared too: 3 requests allowed per window in all.
        let (a, b, c) = three_nodes(&[("RESTAUTH_THROTTLE_LOGIN", "3/min")]);
        let nodes = [&a, &b, &c];
        let ghost = json!({"username": "ghost", "password": "x"});
        let statuses: Vec<u16> = (0..6)
            .map(|i| {
                nodes[i % 3]
                    .post_json("/rest-auth/login/", &ghost, None)
                    .status
            })
            .collect();
        assert_eq!(statuses, [400, 400, 400, 429, 429, 429]);
    });
}

#[test]
fn thirty_two_registrations_of_one_username_over_three_nodes_give_one_201() {
    run_on(Backend::Postgres, || {
        let (a, b, c) = three_nodes(&[]);
        let bodies = (0..32)
            .map(|i| {
                // One name in several spellings: usernames are unique case-insensitively.
                let name = if i % 2 == 0 { "Carol" } else { "cAROL" };
                json!({"username": name, "email": format!("carol{i}@example.com"),
                       "password1": PASSWORD, "password2": PASSWORD})
            })
            .collect();
        let statuses = race_on(
            &[a.addr, b.addr, c.addr],
            "/rest-auth/registration/",
            bodies,
        );
        let created = statuses.iter().filter(|s| **s == 201).count();
        assert_eq!(created, 1, "{statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 400),
            "{statuses:?}"
        );
        assert_eq!(
            a.count("SELECT count(*) FROM users WHERE username_lower = 'carol'"),
            1
        );
    });
}

/// How many deliveries the logs of `nodes` report, per outbox id.
fn deliveries(nodes: &[&Server]) -> Vec<i64> {
    let mut ids = Vec::new();
    for node in nodes {
        for line in node.logs().lines() {
            // "mail #12 to @example.com: delivered via spool (attempt 1)"
            if let Some(rest) = line.split(" mail #").nth(1) {
                if rest.contains(": delivered via ") {
                    ids.push(rest.split(' ').next().unwrap().parse().unwrap());
                }
            }
        }
    }
    ids.sort();
    ids
}

#[test]
fn mail_queued_on_one_node_is_delivered_exactly_once_with_three_workers() {
    run_on(Backend::Postgres, || {
        let (a, b, c) = three_nodes(&[("RESTAUTH_MAIL_POLL_INTERVAL", "50ms")]);
        let nodes = [&a, &b, &c];
        for i in 0..30 {
            let r = register(nodes[i % 3], &format!("user{i}"));
            assert_eq!(r.status, 201, "{}", r.text());
        }
        wait_until("30 mails sent", Duration::from_secs(20), || {
            a.count("SELECT count(*) FROM outbox WHERE status = 'sent'") == 30
        });
        assert_eq!(a.count("SELECT count(*) FROM outbox"), 30);
        assert_eq!(a.count("SELECT max(attempts) FROM outbox"), 1);
        // All three share the spool directory of the configuration.
        assert_eq!(a.mails().len(), 30);
        let delivered = deliveries(&nodes);
        let unique: HashSet<i64> = delivered.iter().copied().collect();
        assert_eq!((delivered.len(), unique.len()), (30, 30), "{delivered:?}");
    });
}

#[test]
fn a_node_killed_under_load_loses_no_acknowledged_write_and_its_mail_goes_out_elsewhere() {
    run_on(Backend::Postgres, || {
        // Node A's relay accepts connections and never answers: the mail A
        // claims stays claimed (mid-delivery) until A dies.
        let relay = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay_port = relay.local_addr().unwrap().port().to_string();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for conn in relay.incoming().flatten() {
                keep.lock().unwrap().push(conn);
            }
        });
        let mut a = Server::start_with(&[
            ("RESTAUTH_MAIL_BACKEND", "smtp"),
            ("RESTAUTH_MAIL_SMTP_HOST", "127.0.0.1"),
            ("RESTAUTH_MAIL_SMTP_PORT", &relay_port),
            ("RESTAUTH_MAIL_SMTP_SECURITY", "none"),
            ("RESTAUTH_MAIL_SMTP_TIMEOUT", "5m"),
            ("RESTAUTH_MAIL_DELIVERY_LEASE", "2s"),
        ]);
        assert_eq!(register(&a, "first").status, 201);
        wait_until(
            "A's worker holding the mail",
            Duration::from_secs(10),
            || !held.lock().unwrap().is_empty(),
        );

        // Load on A from 8 clients; every 201 is an acknowledged write.
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let addr = a.addr;
        let clients: Vec<_> = (0..8)
            .map(|t| {
                let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let name = format!("load{t}x{i}");
                        match post(addr, &name) {
                            Some(201) => acknowledged.lock().unwrap().push(name),
                            Some(_) => {}
                            None => break, // the node is gone
                        }
                    }
                })
            })
            .collect();
        wait_until("some load", Duration::from_secs(20), || {
            acknowledged.lock().unwrap().len() >= 20
        });
        a.signal(libc::SIGKILL);
        assert!(a.wait_exit(Duration::from_secs(10)).is_some());
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().unwrap();
        }

        let acknowledged = acknowledged.lock().unwrap().clone();
        for name in &acknowledged {
            let n = a.db().one::<i64>(
                "SELECT count(*) FROM users WHERE username = ?1",
                params![name],
            );
            assert_eq!(n, 1, "{name} was acknowledged but is missing");
        }
        // Another node (spool backend) delivers what A had claimed, after the lease.
        let b = a.another_node_with(&[
            ("RESTAUTH_MAIL_BACKEND", "spool"),
            ("RESTAUTH_MAIL_POLL_INTERVAL", "100ms"),
        ]);
        // (The configuration's spool directory is A's: every node shares it.)
        wait_until(
            "A's claimed mail delivered by B",
            Duration::from_secs(30),
            || {
                a.mails()
                    .iter()
                    .any(|m| m.raw.contains("To: first@example.com"))
            },
        );
        let first_sent: String = b.db().one(
            "SELECT status FROM outbox WHERE to_address = 'first@example.com'",
            params![],
        );
        assert_eq!(first_sent, "sent");
        assert_eq!(deliveries(&[&b]).len(), a.mails().len());
    });
}

/// One registration on `addr`; its status, or `None` when the node is unreachable.
fn post(addr: std::net::SocketAddr, username: &str) -> Option<u16> {
    use std::io::Write;
    let body = json!({"username": username, "email": format!("{username}@example.com"),
                      "password1": PASSWORD, "password2": PASSWORD})
    .to_string();
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    let req = format!(
        "POST /rest-auth/registration/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
}
