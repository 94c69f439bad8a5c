//! `restauth backup PATH`: a consistent copy of the live database while requests go on.

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn backup_while_serving_is_consistent_and_never_overwrites() {
    let s = Server::start(); // the harness turns throttling off
    for i in 0..3 {
        s.create_user(&format!("pre{i}"), &format!("pre{i}@example.com"), PASSWORD);
    }
    let key = s.login("pre0", PASSWORD);

    // Registrations and authenticated reads keep going while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    // (username, when its 201 arrived)
    let registered: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    std::thread::scope(|scope| {
        for t in 0..3 {
            let (s, stop, registered) = (&s, stop.clone(), registered.clone());
            scope.spawn(move || {
                for n in 0..2000 {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let username = format!("load{t}x{n}");
                    let r = s.post_json(
                        "/rest-auth/registration/",
                        &json!({"username": username, "email": format!("{username}@example.com"),
                                "password1": PASSWORD, "password2": PASSWORD}),
                        None,
                    );
                    if r.status == 201 {
                        registered.lock().unwrap().push((username, Instant::now()));
                    }
                }
            });
        }
        {
            let (s, stop, key) = (&s, stop.clone(), key.clone());
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    assert_eq!(s.get("/rest-auth/user/", Some(&key)).status, 200);
                }
            });
        }

        // Let the load get going (poll, no fixed sleep), then back up in the middle of it.
        // The deadline only bounds the test: reaching it is a failure.
        while registered.lock().unwrap().len() < 20 {
            if Instant::now() >= deadline {
                stop.store(true, Ordering::SeqCst);
                panic!(
                    "only {} registrations before the deadline; logs:\n{}",
                    registered.lock().unwrap().len(),
                    s.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let dest = s.dir.0.join("backup.sqlite3");
        let started = Instant::now();
        let out = s.cli(&["backup", dest.to_str().unwrap()], "");
        let took = started.elapsed();
        let during = registered.lock().unwrap().len();
        // The load threads stop at the deadline: had it come, the backup
        // would not have run under load.
        let under_load = Instant::now() < deadline;
        stop.store(true, Ordering::SeqCst);
        assert!(
            under_load,
            "the load had stopped (deadline) before the backup ended"
        );
        assert!(
            out.status.success(),
            "stdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        );
        let text = stdout(&out);
        assert!(text.contains("backing up"), "{text}");
        assert!(text.contains("backup written"), "{text}");
        eprintln!("backup took {took:?} with {during} registrations done");

        let copy = rusqlite::Connection::open(&dest).unwrap();
        let check: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let has = |name: &str| -> bool {
            copy.query_row(
                "SELECT count(*) FROM users WHERE username = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        for i in 0..3 {
            assert!(has(&format!("pre{i}")), "pre{i} missing from the copy");
        }
        // Every registration answered before the backup started is in the copy…
        let answered = registered.lock().unwrap().clone();
        let before: Vec<&String> = answered
            .iter()
            .filter(|(_, at)| *at < started)
            .map(|(u, _)| u)
            .collect();
        assert!(
            before.len() >= 20,
            "{} registrations before the backup",
            before.len()
        );
        for u in &before {
            assert!(
                has(u),
                "{u} was registered before the backup but is missing"
            );
        }
        // …and the copy is one snapshot: every user in it has the outbox row written in the
        // same transaction (mandatory verification queues one confirmation per registration).
        let orphans: i64 = copy
            .query_row(
                "SELECT count(*) FROM users u WHERE u.username LIKE 'load%' \
                 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.to_address = u.email)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        drop(copy);

        // The copy carries the schema version, so restauth can open it as it is.
        let live_version: i64 = s
            .sqlite()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let copy_version: i64 = rusqlite::Connection::open(&dest)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(copy_version, live_version);

        // Backing up onto an existing file fails with a message and leaves the file alone.
        let before_bytes = std::fs::read(&dest).unwrap();
        let out = s.cli(&["backup", dest.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("already exists"), "{err}");
        assert!(err.contains("backup.sqlite3"), "{err}");
        assert_eq!(std::fs::read(&dest).unwrap(), before_bytes);
    });
}

#[test]
fn backup_into_a_missing_directory_fails_cleanly() {
    let s = Server::start();
    let dest = s.dir.0.join("no-such-dir").join("copy.sqlite3");
    let out = s.cli(&["backup", dest.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot write the backup"), "{err}");
    assert!(!dest.exists());
}
