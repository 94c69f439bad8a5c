//! The mail worker: one thread that delivers what the outbox holds.
//!
//! Each pass claims due messages one at a time, oldest first, each for
//! `delivery_lease` (see [`outbox::claim_next`]: with several nodes on one
//! PostgreSQL database each message goes to one worker, and a message whose
//! worker died comes due again when the lease ends), delivers it with the
//! configured backend, and records the outcome right after the attempt:
//!
//! * delivered → `sent` (its own statement, committed at once);
//! * failed → one more attempt counted, `last_error` kept, and the next
//!   attempt scheduled `retry_base × 2^(attempts − 1)` later, capped at one
//!   hour (rounded up to whole seconds, the resolution of the table); after
//!   `max_attempts` attempts, or at once for a permanent error (a 5xx reply,
//!   an address that does not parse), the message becomes `failed`.
//!
//! Between passes the thread sleeps until [`MailWorker::wake`] (called after a
//! commit that enqueued mail) or `poll_interval`, whichever comes first. The
//! first pass runs at start, so mail left queued by a crash or a stop is
//! delivered on restart. If recording `sent` fails (database busy beyond the
//! timeout), the worker remembers the id, keeps trying to record it and does
//! not deliver that message again; only a crash in that window can repeat a
//! delivery (see [`super::outbox`]).
//!
//! Any number of workers may share a database. Log lines (stderr) name the outbox id and the
//! recipient's domain only, never the address's local part or a body, which
//! holds keys and tokens.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;

use super::email::{self, recipient_domain};
use super::outbox::{self, DueMessage};
use super::{smtp, spool};
use crate::clock::{Clock, SystemClock};
use crate::config::{MailBackend, MailConfig};
use crate::db::{DbError, Pool};

/// Longest delay between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// `last_error` is cut to this many characters.
const MAX_ERROR_CHARS: usize = 1000;

/// The running worker. Dropping it stops the thread (like [`MailWorker::stop`]).
pub struct MailWorker {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A cheap, cloneable handle that only wakes the worker.
#[derive(Clone)]
pub struct MailWaker {
    shared: Arc<Shared>,
}

struct Shared {
    signal: Mutex<Signal>,
    cond: Condvar,
}

#[derive(Default)]
struct Signal {
    woken: bool,
    stop: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        self.lock().woken = true;
        self.cond.notify_all();
    }

    fn stopping(&self) -> bool {
        self.lock().stop
    }

    /// Sleeps until woken, stopped or `timeout`; false when the worker must stop.
    fn wait(&self, timeout: Duration) -> bool {
        let asleep = |s: &mut Signal| !s.woken && !s.stop;
        let waited = self.cond.wait_timeout_while(self.lock(), timeout, asleep);
        let mut s = waited.unwrap_or_else(|e| e.into_inner()).0;
        s.woken = false;
        !s.stop
    }
}

/// Turns requests recorded elsewhere into queued mail, at the start of every
/// pass (see `accounts::mail_requests`); returns how many messages it queued.
pub type Producer = Box<dyn FnMut(&Pool) -> Result<usize, String> + Send>;

/// Starts the worker thread on `pool`.
pub fn spawn(config: MailConfig, pool: Arc<Pool>) -> MailWorker {
    spawn_with_producer(config, pool, Arc::new(SystemClock), Box::new(|_| Ok(0)))
}

/// [`spawn`], with `producer` run before each delivery pass.
pub fn spawn_with_producer(
    config: MailConfig,
    pool: Arc<Pool>,
    clock: Arc<dyn Clock>,
    producer: Producer,
) -> MailWorker {
    let shared = Arc::new(Shared {
        signal: Mutex::new(Signal::default()),
        cond: Condvar::new(),
    });
    let backend = match config.backend {
        MailBackend::Spool => Backend::Spool(config.spool_dir.clone()),
        MailBackend::Smtp => Backend::Smtp(smtp::transport(&config.smtp)),
    };
    let from = config.from.parse::<Mailbox>();
    let worker = Worker {
        from: from.map_err(|e| format!("invalid [mail] from: {e}")),
        config,
        pool,
        shared: shared.clone(),
        backend,
        producer,
        clock,
        unmarked: HashMap::new(),
        last_db_error: None,
    };
    let thread = std::thread::Builder::new()
        .name("restauth-mail".to_string())
        .spawn(move || worker.run())
        .expect("cannot start the mail worker thread");
    MailWorker {
        shared,
        thread: Mutex::new(Some(thread)),
    }
}

impl MailWorker {
    /// Asks for a delivery pass now (after committing a transaction that enqueued mail).
    pub fn wake(&self) {
        self.shared.wake();
    }

    /// A handle that can wake the worker from elsewhere.
    pub fn waker(&self) -> MailWaker {
        MailWaker {
            shared: self.shared.clone(),
        }
    }

    /// Stops the thread after the message in progress, if any, and waits for it.
    pub fn stop(&self) {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            self.shared.lock().stop = true;
            self.shared.cond.notify_all();
            let _ = thread.join();
        }
    }
}

impl Drop for MailWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl MailWaker {
    /// Same as [`MailWorker::wake`].
    pub fn wake(&self) {
        self.shared.wake();
    }
}

/// Delay before the attempt that follows `failed_attempts` failures (≥ 1):
/// `base × 2^(failed_attempts − 1)`, at most [`MAX_RETRY_DELAY`].
pub fn retry_delay(base: Duration, failed_attempts: u32) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).min(31);
    base.checked_mul(1u32 << doublings)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

/// `now + delay` in Unix seconds, rounded up: the attempt never comes early.
pub fn next_attempt_at(now: SystemTime, delay: Duration) -> i64 {
    let at = now.duration_since(UNIX_EPOCH).unwrap_or_default() + delay;
    let secs = at.as_secs() + u64::from(at.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

enum Backend {
    Spool(PathBuf),
    /// `Err`: the transport could not be set up; every attempt fails with it.
    Smtp(Result<lettre::SmtpTransport, String>),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Spool(_) => "spool",
            Backend::Smtp(_) => "smtp",
        }
    }
}

/// Why an attempt failed, and whether trying again can help.
struct Failure {
    message: String,
    permanent: bool,
}

struct Worker {
    config: MailConfig,
    pool: Arc<Pool>,
    shared: Arc<Shared>,
    backend: Backend,
    from: Result<Mailbox, String>,
    producer: Producer,
    clock: Arc<dyn Clock>,
    /// Delivered, but `sent` not yet recorded: id → sent_at.
    unmarked: HashMap<i64, i64>,
    /// The last database problem logged, to log each one once.
    last_db_error: Option<String>,
}

impl Worker {
    fn run(mut self) {
        crate::log!("mail worker started (backend {})", self.backend.name());
        if let Backend::Smtp(Err(e)) = &self.backend {
            crate::log!("mail: {e}; messages stay queued");
        }
        loop {
            if self.shared.stopping() {
                break;
            }
            let pass = catch_unwind(AssertUnwindSafe(|| self.pass()));
            match pass {
                Ok(Ok(())) => self.last_db_error = None,
                Ok(Err(e)) => {
                    let text = e.to_string();
                    if self.last_db_error.as_deref() != Some(text.as_str()) {
                        crate::log!("mail: database error, will retry: {text}");
                        self.last_db_error = Some(text);
                    }
                }
                Err(_) => crate::log!("mail: delivery pass panicked, will retry"),
            }
            if !self.shared.wait(self.config.poll_interval) {
                break;
            }
        }
        crate::log!("mail worker stopped");
    }

    /// Delivers everything due now.
    fn pass(&mut self) -> Result<(), DbError> {
        self.flush_unmarked()?;
        if let Err(e) = (self.producer)(&self.pool) {
            // Requests stay recorded; the next pass tries again.
            crate::log!("mail: cannot turn requests into mail, will retry: {e}");
        }
        let lease = self.config.delivery_lease;
        while !self.shared.stopping() {
            let now = self.clock.unix();
            let lease_until = next_attempt_at(self.clock.system(), lease);
            let claimed = self
                .pool
                .read(|conn| outbox::claim_next(conn, now, lease_until))?;
            let Some(row) = claimed else {
                return Ok(());
            };
            if self.unmarked.contains_key(&row.id) {
                // Delivered already; its record is retried by flush_unmarked.
                continue;
            }
            self.attempt(&row)?;
        }
        Ok(())
    }

    /// Records `sent` for deliveries whose recording failed earlier.
    fn flush_unmarked(&mut self) -> Result<(), DbError> {
        let ids: Vec<(i64, i64)> = self.unmarked.iter().map(|(k, v)| (*k, *v)).collect();
        for (id, sent_at) in ids {
            self.pool
                .read(|conn| outbox::mark_sent(conn, id, sent_at))?;
            self.unmarked.remove(&id);
        }
        Ok(())
    }

    /// One delivery attempt of `row`, and its outcome recorded.
    fn attempt(&mut self, row: &DueMessage) -> Result<(), DbError> {
        let domain = recipient_domain(&row.message.to).to_string();
        let attempt_no = row.attempts.saturating_add(1);
        let result = self.deliver(row);
        match result {
            Ok(()) => {
                let sent_at = self.clock.unix();
                let marked = self
                    .pool
                    .read(|conn| outbox::mark_sent(conn, row.id, sent_at));
                if let Err(e) = marked {
                    self.unmarked.insert(row.id, sent_at);
                    crate::log!(
                        "mail #{} to @{domain}: delivered via {}, but recording it failed (will retry): {e}",
                        row.id,
                        self.backend.name()
                    );
                    return Err(e);
                }
                crate::log!(
                    "mail #{} to @{domain}: delivered via {} (attempt {attempt_no})",
                    row.id,
                    self.backend.name()
                );
            }
            Err(failure) => {
                let error: String = failure.message.chars().take(MAX_ERROR_CHARS).collect();
                let give_up = failure.permanent || attempt_no >= self.config.max_attempts;
                let now = self.clock.system();
                let next = if give_up {
                    next_attempt_at(now, Duration::ZERO)
                } else {
                    next_attempt_at(now, retry_delay(self.config.retry_base, attempt_no))
                };
                self.pool.read(|conn| {
                    outbox::mark_attempt_failed(conn, row.id, &error, next, give_up)
                })?;
                // Relays often quote the recipient in their reply: keep only its domain.
                let error = redact_address(&error, &row.message.to, &domain);
                if give_up {
                    let why = if failure.permanent {
                        "permanent error".to_string()
                    } else {
                        format!("{attempt_no} attempts")
                    };
                    crate::log!(
                        "mail #{} to @{domain}: failed ({why}), not retried: {error}",
                        row.id
                    );
                } else {
                    crate::log!(
                        "mail #{} to @{domain}: attempt {attempt_no} of {} failed, next in {}s: {error}",
                        row.id,
                        self.config.max_attempts,
                        next - self.clock.unix()
                    );
                }
            }
        }
        Ok(())
    }

    fn deliver(&self, row: &DueMessage) -> Result<(), Failure> {
        let from = self.from.as_ref().map_err(|e| Failure {
            message: e.clone(),
            permanent: false,
        })?;
        let message = email::build(from, row).map_err(|e| Failure {
            message: e.0,
            permanent: true,
        })?;
        match &self.backend {
            Backend::Spool(dir) => spool::write(dir, row.created_at, row.id, &message.formatted())
                .map(|_| ())
                .map_err(|e| Failure {
                    message: format!("cannot write to the spool {}: {e}", dir.display()),
                    permanent: false,
                }),
            Backend::Smtp(Ok(transport)) => smtp::send(transport, &message).map_err(|e| Failure {
                message: e.message,
                permanent: e.permanent,
            }),
            Backend::Smtp(Err(e)) => Err(Failure {
                message: e.clone(),
                permanent: false,
            }),
        }
    }
}

/// `text` with every occurrence of `address` (case-insensitive) replaced by `…@domain`.
fn redact_address(text: &str, address: &str, domain: &str) -> String {
    let address = address.trim();
    if address.is_empty() {
        return text.to_string();
    }
    let lower_text = text.to_lowercase();
    let lower_address = address.to_lowercase();
    if lower_text.len() != text.len() || lower_address.len() != address.len() {
        // Lower-casing changed byte offsets (rare non-ASCII): plain match only.
        return text.replace(address, &format!("…@{domain}"));
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, _) in lower_text.match_indices(&lower_address) {
        out.push_str(&text[last..start]);
        out.push_str("…@");
        out.push_str(domain);
        last = start + address.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::outbox::{Message, Status};
    use std::time::Instant;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(30);
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(base, n).as_secs()).collect();
        assert_eq!(
            delays,
            vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
        assert_eq!(retry_delay(base, 0), base);
        assert_eq!(retry_delay(base, u32::MAX), MAX_RETRY_DELAY);
        assert_eq!(
            retry_delay(Duration::from_secs(3600), 1),
            Duration::from_secs(3600)
        );
        assert_eq!(
            retry_delay(Duration::from_millis(100), 3),
            Duration::from_millis(400)
        );
    }

    #[test]
    fn next_attempt_rounds_up() {
        let t = UNIX_EPOCH + Duration::from_millis(1_000_500);
        assert_eq!(next_attempt_at(t, Duration::from_millis(100)), 1001);
        assert_eq!(next_attempt_at(t, Duration::from_millis(500)), 1001);
        assert_eq!(next_attempt_at(t, Duration::from_millis(600)), 1002);
        assert_eq!(next_attempt_at(t, Duration::ZERO), 1001);
        let whole = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(next_attempt_at(whole, Duration::ZERO), 1000);
        assert_eq!(next_attempt_at(whole, Duration::from_secs(30)), 1030);
    }

    #[test]
    fn logged_errors_hide_the_local_part() {
        assert_eq!(
            redact_address(
                "550 5.1.1 <Alice@Example.com>: Recipient address rejected",
                "alice@example.com",
                "example.com"
            ),
            "550 5.1.1 <…@example.com>: Recipient address rejected"
        );
        assert_eq!(
            redact_address("connection refused", "a@b.c", "b.c"),
            "connection refused"
        );
    }

    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("restauth-worker-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spool_files(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn spool_worker_delivers_resumes_and_fails_bad_addresses() {
        let tmp = temp_dir("spool");
        let db_path = tmp.0.join("db.sqlite3");
        let spool_dir = tmp.0.join("mail");
        let pool = Arc::new(Pool::open_sqlite(&db_path, Duration::from_secs(5)).unwrap());
        let raw = crate::db::sqlite::open_connection(&db_path, Duration::from_secs(5)).unwrap();
        let conn = crate::db::Conn::sqlite(&raw);
        // Queued before the worker starts: delivered on start (resume).
        let first = outbox::enqueue(
            &conn,
            &Message {
                to: "alice@example.com".to_string(),
                subject: "One".to_string(),
                text: "link http://x/1".to_string(),
                html: None,
            },
            SystemClock.unix(),
        )
        .unwrap();
        let config = MailConfig {
            spool_dir: spool_dir.clone(),
            poll_interval: Duration::from_secs(60), // only wake() or start trigger a pass
            retry_base: Duration::from_millis(100),
            ..MailConfig::default()
        };
        let worker = spawn(config.clone(), pool.clone());
        wait_until("first message", || {
            outbox::get(&conn, first).unwrap().unwrap().status == Status::Sent
        });
        let files = spool_files(&spool_dir);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(
            files[0].ends_with(&format!("-{first:010}.eml")),
            "{files:?}"
        );
        let text = std::fs::read_to_string(spool_dir.join(&files[0])).unwrap();
        assert!(text.contains("To: alice@example.com\r\n"), "{text}");
        assert!(text.contains("Subject: One\r\n"), "{text}");

        // An address that cannot be parsed fails permanently at once.
        let bad = outbox::enqueue(
            &conn,
            &Message {
                to: "not an address".to_string(),
                subject: "Bad".to_string(),
                text: "x".to_string(),
                html: None,
            },
            SystemClock.unix(),
        )
        .unwrap();
        worker.wake();
        wait_until("bad message failed", || {
            outbox::get(&conn, bad).unwrap().unwrap().status == Status::Failed
        });
        let e = outbox::get(&conn, bad).unwrap().unwrap();
        assert_eq!(e.attempts, 1);
        assert!(
            e.last_error
                .as_deref()
                .unwrap_or("")
                .contains("invalid recipient address"),
            "{e:?}"
        );

        // A message whose delivery happened but was not recorded (crash):
        // delivered again once its claim ran out, into the same single file.
        worker.stop();
        raw.execute(
            "UPDATE outbox SET status = 'queued', sent_at = NULL, next_attempt_at = ?2 WHERE id = ?1",
            [first, SystemClock.unix()],
        )
        .unwrap();
        let worker = spawn(config, pool);
        wait_until("re-delivery", || {
            outbox::get(&conn, first).unwrap().unwrap().status == Status::Sent
        });
        assert_eq!(spool_files(&spool_dir), files);
        assert_eq!(
            std::fs::read_to_string(spool_dir.join(&files[0])).unwrap(),
            text
        );
        drop(worker);
    }

    /// A wall clock that stands still until the test moves it.
    struct StillClock(Mutex<SystemTime>);

    impl StillClock {
        fn set(&self, unix: i64) {
            *self.0.lock().unwrap() = UNIX_EPOCH + Duration::from_secs(unix as u64);
        }
    }

    impl Clock for StillClock {
        fn system(&self) -> SystemTime {
            *self.0.lock().unwrap()
        }
        fn instant(&self) -> Instant {
            Instant::now()
        }
    }

    #[test]
    fn unwritable_spool_is_retried_with_backoff_then_failed() {
        let tmp = temp_dir("unwritable");
        let db_path = tmp.0.join("db.sqlite3");
        // The spool "directory" is a file: every write fails (transiently).
        let spool_dir = tmp.0.join("not-a-dir");
        std::fs::write(&spool_dir, b"x").unwrap();
        let pool = Arc::new(Pool::open_sqlite(&db_path, Duration::from_secs(5)).unwrap());
        let raw = crate::db::sqlite::open_connection(&db_path, Duration::from_secs(5)).unwrap();
        let conn = crate::db::Conn::sqlite(&raw);
        // The worker's time is t0 until the test moves it, so what it does
        // between attempts does not depend on how fast it runs.
        let t0 = SystemClock.unix();
        let clock = Arc::new(StillClock(Mutex::new(UNIX_EPOCH)));
        clock.set(t0);
        let id = outbox::enqueue(
            &conn,
            &Message {
                to: "bob@example.org".to_string(),
                subject: "S".to_string(),
                text: "t".to_string(),
                html: None,
            },
            t0,
        )
        .unwrap();
        let config = MailConfig {
            spool_dir,
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_secs(30),
            max_attempts: 2,
            ..MailConfig::default()
        };
        let worker = spawn_with_producer(config, pool, clock.clone(), Box::new(|_| Ok(0)));
        wait_until("first failure", || {
            outbox::get(&conn, id).unwrap().unwrap().attempts >= 1
        });
        // A transient failure: still queued, the error kept, the next attempt
        // retry_base later; at t0 the worker passes over it.
        let e = outbox::get(&conn, id).unwrap().unwrap();
        assert_eq!(e.status, Status::Queued, "{e:?}");
        assert_eq!(e.attempts, 1, "{e:?}");
        assert_eq!(e.next_attempt_at, t0 + 30, "{e:?}");
        assert!(
            e.last_error
                .as_deref()
                .unwrap_or("")
                .contains("cannot write to the spool"),
            "{e:?}"
        );
        // Time reaches the next attempt: it fails too, the last one allowed.
        clock.set(t0 + 30);
        worker.wake();
        wait_until("failed after max_attempts", || {
            outbox::get(&conn, id).unwrap().unwrap().status == Status::Failed
        });
        let e = outbox::get(&conn, id).unwrap().unwrap();
        assert_eq!(e.attempts, 2, "{e:?}");
        assert!(e.last_error.is_some(), "{e:?}");
        worker.stop();
    }
}
