//! Crash safety: SIGKILL in the middle of a write load loses no acknowledged write,
//! leaves an intact database, and queued mail is still delivered exactly once.
//!
//! Several threads register users (each success queues one confirmation mail) and
//! change passwords; the server is killed with SIGKILL while they run and restarted
//! on the same directory. Then:
//! * every registration answered 2xx is there, with its outbox row, and at most one
//!   user per thread exists whose request was cut off (answer lost, outcome unknown);
//! * each changer's password is the last one acknowledged, or, if a change was cut
//!   off, the one that change set;
//! * on SQLite, `PRAGMA integrity_check` is `ok`;
//! * every outbox row becomes `sent`, and the spool holds exactly one `.eml` per row.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use restauth::security::password::verify_password;
use serde_json::json;

const REGISTRATION_THREADS: usize = 3;
const CHANGERS: usize = 2;
/// The changers alternate between these two.
const PASSWORDS: [&str; 2] = [PASSWORD, "C0rrect-h0rse-battery!"];
/// Upper bounds on the load: requests per thread, and time.
const MAX_REQUESTS: usize = 5000;
const LOAD_LIMIT: Duration = Duration::from_secs(12);
/// The kill comes once this much was acknowledged, or after `KILL_AFTER` at the latest.
const KILL_AT_REGISTRATIONS: usize = 300;
const KILL_AT_CHANGES: usize = 100;
const KILL_AFTER: Duration = Duration::from_secs(5);

/// What became of one request.
#[derive(Debug)]
enum Outcome {
    /// A complete answer.
    Status(u16),
    /// No connection: the server never saw the request.
    NotSent,
    /// Connected, but no complete answer: the server may or may not have done it.
    Unknown,
}

/// One HTTP/1.1 request on a fresh connection (the harness's client needs the `Server`,
/// which `restart` consumes while these threads run).
fn send(addr: SocketAddr, path: &str, body: &serde_json::Value, token: Option<&str>) -> Outcome {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return Outcome::NotSent;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return Outcome::Unknown;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    if !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        return Outcome::Unknown;
    }
    let text = String::from_utf8_lossy(&answer);
    match text.split(' ').nth(1).and_then(|s| s.parse().ok()) {
        Some(status) => Outcome::Status(status),
        None => Outcome::Unknown,
    }
}

/// What a registration thread saw.
#[derive(Debug, Default)]
struct Registrations {
    acknowledged: Vec<String>,
    /// The username of the request cut off by the kill, if any.
    unknown: Option<String>,
    throttled: usize,
    unexpected: Vec<(String, u16)>,
    saw_kill: bool,
}

/// What a password-changing thread saw.
#[derive(Debug, Default)]
struct Changes {
    username: String,
    /// Index into `PASSWORDS` of the password last acknowledged (or set at creation).
    current: usize,
    acknowledged: usize,
    /// A change to the other password was cut off by the kill.
    unknown: bool,
    unexpected: Vec<u16>,
    saw_kill: bool,
}

backend_tests! {
#[test]
fn sigkill_under_load_loses_nothing_acknowledged() {
    let test_started = Instant::now();
    // The harness turns throttling off. A message the worker had claimed at
    // the kill is retried when its lease ends: 2 s, not the default minute.
    let server = Server::start_with(&[("RESTAUTH_MAIL_DELIVERY_LEASE", "2s")]);
    let addr = server.addr;
    let mut tokens = Vec::new();
    for c in 0..CHANGERS {
        let name = format!("changer{c}");
        server.create_user(&name, &format!("{name}@example.com"), PASSWORDS[0]);
        tokens.push(server.login(&name, PASSWORDS[0]));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let registered = Arc::new(AtomicUsize::new(0));
    let changed = Arc::new(AtomicUsize::new(0));
    let load_deadline = Instant::now() + LOAD_LIMIT;

    let mut registration_threads = Vec::new();
    for t in 0..REGISTRATION_THREADS {
        let (stop, registered) = (stop.clone(), registered.clone());
        registration_threads.push(std::thread::spawn(move || {
            let mut seen = Registrations::default();
            for n in 0..MAX_REQUESTS {
                if stop.load(Ordering::SeqCst) || Instant::now() > load_deadline {
                    break;
                }
                let username = format!("reg{t}n{n}");
                let body = json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password1": PASSWORD,
                    "password2": PASSWORD,
                });
                match send(addr, "/rest-auth/registration/", &body, None) {
                    Outcome::Status(201) => {
                        seen.acknowledged.push(username);
                        registered.fetch_add(1, Ordering::SeqCst);
                    }
                    // Throttling (if configured) refuses before doing anything.
                    Outcome::Status(429) => seen.throttled += 1,
                    Outcome::Status(s) => seen.unexpected.push((username, s)),
                    Outcome::NotSent => {
                        seen.saw_kill = true;
                        break;
                    }
                    Outcome::Unknown => {
                        seen.saw_kill = true;
                        seen.unknown = Some(username);
                        break;
                    }
                }
            }
            seen
        }));
    }

    let mut change_threads = Vec::new();
    for (c, token) in tokens.into_iter().enumerate() {
        let (stop, changed) = (stop.clone(), changed.clone());
        change_threads.push(std::thread::spawn(move || {
            let mut seen = Changes {
                username: format!("changer{c}"),
                ..Changes::default()
            };
            for _ in 0..MAX_REQUESTS {
                if stop.load(Ordering::SeqCst) || Instant::now() > load_deadline {
                    break;
                }
                let next = 1 - seen.current;
                let body = json!({
                    "old_password": PASSWORDS[seen.current],
                    "new_password1": PASSWORDS[next],
                    "new_password2": PASSWORDS[next],
                });
                match send(addr, "/rest-auth/password/change/", &body, Some(&token)) {
                    Outcome::Status(200) => {
                        seen.current = next;
                        seen.acknowledged += 1;
                        changed.fetch_add(1, Ordering::SeqCst);
                    }
                    Outcome::Status(s) => {
                        // The password is known again only after a 2xx: stop here.
                        seen.unexpected.push(s);
                        break;
                    }
                    Outcome::NotSent => {
                        seen.saw_kill = true;
                        break;
                    }
                    Outcome::Unknown => {
                        seen.saw_kill = true;
                        seen.unknown = true;
                        break;
                    }
                }
            }
            seen
        }));
    }

    // Wait (polling) until the load is well under way, then SIGKILL and restart.
    let load_started = Instant::now();
    while (registered.load(Ordering::SeqCst) < KILL_AT_REGISTRATIONS
        || changed.load(Ordering::SeqCst) < KILL_AT_CHANGES)
        && load_started.elapsed() < KILL_AFTER
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let at_kill = (
        registered.load(Ordering::SeqCst),
        changed.load(Ordering::SeqCst),
    );
    let killed_after = load_started.elapsed();
    // What the killed server said about errors, for a failure's message.
    let errors_before_kill: Vec<String> = server
        .logs()
        .lines()
        .filter(|l| l.contains("restauth: answering") || l.contains("internal error"))
        .map(str::to_owned)
        .collect();
    let server = server.restart(); // SIGKILL, then a new server on the same directory
    stop.store(true, Ordering::SeqCst);
    let registrations: Vec<Registrations> = registration_threads
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let changes: Vec<Changes> = change_threads
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let acknowledged: usize = registrations.iter().map(|r| r.acknowledged.len()).sum();
    let cut_off = registrations.iter().filter(|r| r.unknown.is_some()).count()
        + changes.iter().filter(|c| c.unknown).count();
    eprintln!(
        "killed after {killed_after:?} with {at_kill:?} (registrations, changes) acknowledged; \
         {acknowledged} registrations and {} changes acknowledged in all; {cut_off} request(s) cut off",
        changes.iter().map(|c| c.acknowledged).sum::<usize>()
    );
    for r in &registrations {
        assert!(
            r.unexpected.is_empty(),
            "unexpected answers: {:?}; the server said: {errors_before_kill:?}",
            r.unexpected
        );
    }
    for c in &changes {
        assert!(
            c.unexpected.is_empty(),
            "{}: unexpected answers: {:?}; the server said: {errors_before_kill:?}",
            c.username,
            c.unexpected
        );
    }
    assert!(
        registrations.iter().any(|r| r.saw_kill) || changes.iter().any(|c| c.saw_kill),
        "no thread saw the kill: it did not happen under load"
    );
    assert!(acknowledged > 0, "no registration succeeded");

    let db = server.db();
    // The file's own consistency: a SQLite check (PostgreSQL has no such pragma).
    if backend() == Backend::Sqlite {
        let check: String = server
            .sqlite()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    // Every acknowledged registration is there, with the mail its transaction queued.
    let count = |sql: &str, arg: &str| -> i64 { db.one(sql, params![arg]) };
    for r in &registrations {
        for username in &r.acknowledged {
            assert_eq!(
                count("SELECT count(*) FROM users WHERE username = ?1", username),
                1,
                "acknowledged registration {username} is missing"
            );
            assert_eq!(
                count(
                    "SELECT count(*) FROM outbox WHERE to_address = ?1",
                    &format!("{username}@example.com")
                ),
                1,
                "the confirmation mail of {username} is missing"
            );
        }
    }
    // Users nobody was told about: at most the requests cut off by the kill.
    let stored = count("SELECT count(*) FROM users WHERE username LIKE ?1", "reg%") as usize;
    let unknown = registrations.iter().filter(|r| r.unknown.is_some()).count();
    assert!(
        stored >= acknowledged && stored <= acknowledged + unknown,
        "{stored} registered users stored, {acknowledged} acknowledged, {unknown} cut off"
    );

    // Each changer's password is the last acknowledged one, or the one a cut-off change set.
    for c in &changes {
        let hash: String = db.one(
            "SELECT password FROM users WHERE username = ?1",
            params![c.username],
        );
        let matches: Vec<usize> = (0..2)
            .filter(|&i| verify_password(PASSWORDS[i], &hash, TEST_ITERATIONS).ok)
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "{}: password is neither of the two",
            c.username
        );
        if !c.unknown {
            assert_eq!(
                matches[0], c.current,
                "{}: the last acknowledged password change was lost",
                c.username
            );
        }
    }

    // Queued mail: every row ends up sent (the worker resumes at start; poll, bounded)…
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pending: i64 = db.one(
            "SELECT count(*) FROM outbox WHERE status <> 'sent'",
            params![],
        );
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} message(s) still not sent; logs:\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // …and the spool holds exactly one file per row: none missing, none twice, none half.
    let rows: BTreeMap<i64, String> = db
        .all("SELECT id, to_address FROM outbox", params![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .into_iter()
        .collect();
    assert!(rows.len() >= acknowledged);
    let mut files: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut stray = Vec::new();
    for entry in std::fs::read_dir(server.spool()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let id = name
            .strip_suffix(".eml")
            .and_then(|stem| stem.rsplit_once('-'))
            .and_then(|(_, id)| id.parse::<i64>().ok());
        match id {
            Some(id) => files.entry(id).or_default().push(name),
            None => stray.push(name),
        }
    }
    assert!(stray.is_empty(), "files left in the spool: {stray:?}");
    let duplicated: Vec<_> = files.values().filter(|names| names.len() > 1).collect();
    assert!(
        duplicated.is_empty(),
        "delivered more than once: {duplicated:?}"
    );
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        rows.keys().collect::<Vec<_>>(),
        "spool files and outbox rows differ"
    );
    // Each file is whole and is the message of its row.
    for (id, names) in &files {
        let raw = std::fs::read_to_string(server.spool().join(&names[0])).unwrap();
        let mail = Mail {
            decoded: decode_mail(&raw),
            raw,
        };
        assert_eq!(
            mail.header("To").as_deref(),
            Some(rows[id].as_str()),
            "{}",
            names[0]
        );
        assert!(
            mail.decoded.contains("/account-confirm-email/"),
            "{}",
            names[0]
        );
    }
    // The restarted server's own log says how much it delivered (mail left queued by the kill).
    let after_restart = server.logs().matches(": delivered via ").count();
    eprintln!(
        "{} outbox rows, {} spool files, {after_restart} delivered after the restart; test took {:?}",
        rows.len(),
        files.len(),
        test_started.elapsed()
    );
}
}
