//! The mail worker against a real SMTP server on loopback (`common/smtp.rs`):
//! headers and links arrive, a relay that is down or refusing keeps mail
//! queued until it recovers, and nothing is delivered twice across restarts.
//!
//! These drive the library directly: a temporary SQLite file, the outbox, and
//! the worker thread with `backend = "smtp"`, `security = "none"`.

#[path = "common/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The real time (the worker delivers what is due now).
fn now() -> i64 {
    use restauth::clock::Clock;
    restauth::clock::SystemClock.unix()
}

use restauth::config::{MailBackend, MailConfig, SmtpConfig, SmtpSecurity};
use restauth::db::{Conn, Pool};
use restauth::mail::outbox::{self, Message, OutboxEntry, Status};
use restauth::mail::{templates, worker};
use rusqlite::Connection;
use smtp::{unused_port, Mode, SmtpServer};

const BUSY: Duration = Duration::from_secs(5);
const PATIENCE: Duration = Duration::from_secs(30);

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "restauth-mail-smtp-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(port: u16) -> MailConfig {
    MailConfig {
        backend: MailBackend::Smtp,
        from: "Example Site <noreply@example.com>".to_string(),
        site_name: "Example".to_string(),
        email_confirm_url: "https://app.example.com/confirm-email/{key}/".to_string(),
        password_reset_url: "https://app.example.com/reset/{uid}/{token}/".to_string(),
        max_attempts: 20,
        retry_base: Duration::from_millis(100),
        poll_interval: Duration::from_millis(100),
        smtp: SmtpConfig {
            host: "127.0.0.1".to_string(),
            port,
            security: SmtpSecurity::None,
            timeout: Duration::from_secs(5),
            ..SmtpConfig::default()
        },
        ..MailConfig::default()
    }
}

/// The pool the worker uses, and a connection of the test's own to the same file.
fn database(dir: &Path) -> (Arc<Pool>, Connection) {
    let path = dir.join("restauth.sqlite3");
    let pool = Arc::new(Pool::open_sqlite(&path, BUSY).unwrap());
    let conn = restauth::db::sqlite::open_connection(&path, BUSY).unwrap();
    (pool, conn)
}

fn entry(conn: &Connection, id: i64) -> OutboxEntry {
    outbox::get(&Conn::sqlite(conn), id)
        .unwrap()
        .expect("outbox row")
}

/// Polls `f` every 20 ms until it holds; panics after [`PATIENCE`].
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn simple(to: &str, subject: &str) -> Message {
    Message {
        to: to.to_string(),
        subject: subject.to_string(),
        text: format!("body of {subject}"),
        html: None,
    }
}

#[test]
fn confirmation_mail_arrives_with_headers_and_link() {
    let server = SmtpServer::start();
    let tmp = TempDir::new("headers");
    let (pool, conn) = database(&tmp.0);
    let cfg = config(server.port());
    let message = templates::confirmation_email(&cfg, "alice@example.org", "alice", "Zx9-key_42");
    let id = outbox::enqueue(&Conn::sqlite(&conn), &message, now()).unwrap();

    let worker = worker::spawn(cfg, pool);
    worker.wake();
    let got = server.wait_for(1, PATIENCE);
    wait_until("status sent", || entry(&conn, id).status == Status::Sent);

    let m = &got[0];
    assert_eq!(m.mail_from, "noreply@example.com");
    assert_eq!(m.rcpt_to, vec!["alice@example.org".to_string()]);
    assert_eq!(
        m.header("From").as_deref(),
        // lettre quotes a display name that has a space (RFC 5322 quoted-string).
        Some("\"Example Site\" <noreply@example.com>")
    );
    assert_eq!(m.header("To").as_deref(), Some("alice@example.org"));
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[Example] Please Confirm Your Email Address")
    );
    assert!(m.header("Date").is_some(), "{}", m.data);
    let message_id = m.header("Message-ID").expect("Message-ID");
    assert!(message_id.ends_with("@example.com>"), "{message_id}");
    assert!(
        m.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{}",
        m.data
    );

    let link = "https://app.example.com/confirm-email/Zx9-key_42/";
    let text = m.part("text/plain").expect("text part");
    assert!(text.contains(link), "{text}");
    assert!(text.contains("user alice has given"), "{text}");
    let html = m.part("text/html").expect("html part");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");

    let e = entry(&conn, id);
    assert_eq!(e.attempts, 1);
    assert_eq!(e.last_error, None);
    assert!(e.sent_at.is_some());
    worker.stop();
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn password_reset_mail_tells_the_username() {
    let server = SmtpServer::start();
    let tmp = TempDir::new("reset");
    let (pool, conn) = database(&tmp.0);
    let cfg = config(server.port());
    let message =
        templates::password_reset_email(&cfg, "bob@example.org", "bob", "2s", "d1k2-ab12");
    outbox::enqueue(&Conn::sqlite(&conn), &message, now()).unwrap();
    let worker = worker::spawn(cfg, pool);
    let got = server.wait_for(1, PATIENCE);
    let m = &got[0];
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[Example] Password Reset Email")
    );
    let text = m.part("text/plain").unwrap();
    assert!(
        text.contains("https://app.example.com/reset/2s/d1k2-ab12/"),
        "{text}"
    );
    assert!(
        text.contains("In case you forgot, your username is bob."),
        "{text}"
    );
    worker.stop();
}

#[test]
fn relay_down_keeps_mail_queued_then_delivers_once_and_never_again_after_restart() {
    let port = unused_port();
    let tmp = TempDir::new("down");
    let (pool, conn) = database(&tmp.0);
    let cfg = config(port);
    let id = outbox::enqueue(
        &Conn::sqlite(&conn),
        &simple("carol@example.net", "first"),
        now(),
    )
    .unwrap();

    // Nothing listens on the port: the message stays queued, attempts counted.
    let worker = worker::spawn(cfg.clone(), pool.clone());
    wait_until("two failed attempts", || entry(&conn, id).attempts >= 2);
    let e = entry(&conn, id);
    assert_eq!(e.status, Status::Queued, "{e:?}");
    let error = e.last_error.clone().expect("last_error set");
    assert!(
        error.to_lowercase().contains("connection"),
        "unexpected error: {error}"
    );
    assert!(e.sent_at.is_none());

    // The relay comes up on that same port: delivered by a retry, once.
    let server = SmtpServer::start_on(port).expect("rebind the relay port");
    let got = server.wait_for(1, PATIENCE);
    assert_eq!(got[0].header("Subject").as_deref(), Some("first"));
    wait_until("status sent", || entry(&conn, id).status == Status::Sent);
    let attempts_when_sent = entry(&conn, id).attempts;
    assert!(attempts_when_sent >= 3, "{attempts_when_sent}");

    // Restart the worker: the sent message is not delivered again. A second
    // message enqueued after the restart is delivered; since delivery goes
    // oldest first, by then the worker has looked at the first one too.
    worker.stop();
    let worker = worker::spawn(cfg, pool);
    let second = outbox::enqueue(
        &Conn::sqlite(&conn),
        &simple("dave@example.net", "second"),
        now(),
    )
    .unwrap();
    worker.wake();
    let got = server.wait_for(2, PATIENCE);
    wait_until("second sent", || {
        entry(&conn, second).status == Status::Sent
    });
    worker.stop();
    let subjects: Vec<String> = server
        .messages()
        .iter()
        .map(|m| m.header("Subject").unwrap())
        .collect();
    assert_eq!(subjects, vec!["first", "second"], "{got:?}");
    assert_eq!(entry(&conn, id).attempts, attempts_when_sent);
}

#[test]
fn relay_answering_421_keeps_mail_queued_until_it_recovers() {
    let server = SmtpServer::start();
    server.set_mode(Mode::Greeting421);
    let tmp = TempDir::new("421");
    let (pool, conn) = database(&tmp.0);
    let id = outbox::enqueue(
        &Conn::sqlite(&conn),
        &simple("erin@example.com", "hello"),
        now(),
    )
    .unwrap();
    let worker = worker::spawn(config(server.port()), pool);
    wait_until("a failed attempt", || entry(&conn, id).attempts >= 1);
    let e = entry(&conn, id);
    assert_eq!(e.status, Status::Queued);
    assert!(e.last_error.as_deref().unwrap().contains("421"), "{e:?}");
    assert!(server.messages().is_empty());

    server.set_mode(Mode::Accept);
    server.wait_for(1, PATIENCE);
    wait_until("status sent", || entry(&conn, id).status == Status::Sent);
    worker.stop();
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn relay_answering_451_is_retried() {
    let server = SmtpServer::start();
    server.set_mode(Mode::Reject451);
    let tmp = TempDir::new("451");
    let (pool, conn) = database(&tmp.0);
    let id = outbox::enqueue(
        &Conn::sqlite(&conn),
        &simple("fay@example.com", "later"),
        now(),
    )
    .unwrap();
    let worker = worker::spawn(config(server.port()), pool);
    wait_until("a failed attempt", || entry(&conn, id).attempts >= 1);
    assert!(entry(&conn, id)
        .last_error
        .as_deref()
        .unwrap()
        .contains("451"));
    assert_eq!(entry(&conn, id).status, Status::Queued);
    server.set_mode(Mode::Accept);
    server.wait_for(1, PATIENCE);
    wait_until("status sent", || entry(&conn, id).status == Status::Sent);
    worker.stop();
}

#[test]
fn permanent_rejection_marks_the_message_failed_at_once() {
    let server = SmtpServer::start();
    server.set_mode(Mode::Reject550);
    let tmp = TempDir::new("550");
    let (pool, conn) = database(&tmp.0);
    let id = outbox::enqueue(
        &Conn::sqlite(&conn),
        &simple("nobody@example.com", "bounce"),
        now(),
    )
    .unwrap();
    let worker = worker::spawn(config(server.port()), pool);
    wait_until("status failed", || {
        entry(&conn, id).status == Status::Failed
    });
    let e = entry(&conn, id);
    assert_eq!(e.attempts, 1);
    assert!(e.last_error.as_deref().unwrap().contains("550"), "{e:?}");
    assert!(server.messages().is_empty());

    // `restauth mail retry` puts it back; now the relay accepts it.
    server.set_mode(Mode::Accept);
    assert_eq!(
        outbox::retry_failed(&Conn::sqlite(&conn), now()).unwrap(),
        1
    );
    worker.wake();
    server.wait_for(1, PATIENCE);
    wait_until("status sent", || entry(&conn, id).status == Status::Sent);
    worker.stop();
}

#[test]
fn a_rolled_back_transaction_sends_nothing() {
    let server = SmtpServer::start();
    let tmp = TempDir::new("rollback");
    let (pool, mut conn) = database(&tmp.0);
    let worker = worker::spawn(config(server.port()), pool);
    {
        let tx = conn.transaction().unwrap();
        outbox::enqueue(
            &Conn::sqlite(&tx),
            &simple("gus@example.com", "rolled back"),
            now(),
        )
        .unwrap();
        tx.rollback().unwrap();
    }
    worker.wake();
    let tx = conn.transaction().unwrap();
    let id = outbox::enqueue(
        &Conn::sqlite(&tx),
        &simple("gus@example.com", "committed"),
        now(),
    )
    .unwrap();
    tx.commit().unwrap();
    worker.wake();
    server.wait_for(1, PATIENCE);
    wait_until("status sent", || entry(&conn, id).status == Status::Sent);
    worker.stop();
    let subjects: Vec<String> = server
        .messages()
        .iter()
        .map(|m| m.header("Subject").unwrap())
        .collect();
    assert_eq!(subjects, vec!["committed"]);
    assert_eq!(outbox::list(&Conn::sqlite(&conn)).unwrap().len(), 1);
}
