//! The `outbox` table: every SQL statement about outgoing mail.
//!
//! A message is [`enqueue`]d by the code that causes it, on the caller's
//! connection and inside the caller's transaction, so the mail commits or
//! rolls back together with the change. A worker (one per node; several may
//! share a PostgreSQL database) then [`claim_next`]s due messages oldest
//! first, each under a lease, and records the outcome of each attempt with
//! [`mark_sent`] or [`mark_attempt_failed`], each its own short statement
//! (autocommit) right after the attempt.
//!
//! Status lifecycle: `queued` → `sent`, or `queued` → (retries) → `failed`;
//! [`retry_failed`] puts failed messages back to `queued`.
//!
//! Delivery guarantee: a message is marked sent only after the backend
//! accepted it. A crash between the two leaves it `queued`, so it is delivered
//! again after the restart: for SMTP that is at most one duplicate per crash
//! (the duplicate has the same `Message-ID`); the spool backend names the file
//! after the outbox id, so the second delivery overwrites the first file with
//! identical bytes and the result is exactly one file.

use std::fmt;

use crate::db::{params, Conn, DbError, Row};

/// A message to send: one recipient, a subject, a text body and an optional HTML alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Sent,
    Failed,
}

impl Status {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        match s {
            "queued" => Some(Status::Queued),
            "sent" => Some(Status::Sent),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that width and alignment (`{:<8}`) apply.
        f.pad(self.as_str())
    }
}

/// One row as shown by `restauth mail list` (no bodies: they hold keys and tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub created_at: i64,
    pub to: String,
    pub subject: String,
    pub status: Status,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// A queued message whose time has come, with what delivery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMessage {
    pub id: i64,
    pub created_at: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    pub message: Message,
}

/// What a message is for: the `kind` column, which per-address limits count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A password-reset link.
    PasswordReset,
    /// An email-confirmation link (registration or resend).
    EmailConfirmation,
    /// Anything else (stored as `''`).
    Other,
}

impl Kind {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PasswordReset => "password_reset",
            Kind::EmailConfirmation => "email_confirmation",
            Kind::Other => "",
        }
    }
}

/// Inserts `msg` as queued and due now; returns its id. A plain INSERT: the
/// caller owns the transaction, so the mail commits or rolls back with the
/// change that caused it.
pub fn enqueue(conn: &Conn, msg: &Message, now: i64) -> Result<i64, DbError> {
    enqueue_kind(conn, msg, Kind::Other, now)
}

/// [`enqueue`] of a message of `kind`, created at `now`.
pub fn enqueue_kind(conn: &Conn, msg: &Message, kind: Kind, now: i64) -> Result<i64, DbError> {
    conn.query_one(
        "INSERT INTO outbox (created_at, kind, to_address, subject, body_text, body_html, status, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0, ?1) RETURNING id",
        params![now, kind.as_str(), msg.to, msg.subject, msg.text, msg.html],
        |r| r.get(0),
    )
}

/// How many more messages of `kind` `to` may receive at `now` under a limit
/// of `count` per `period`, counted from the outbox (durable, so neither a
/// restart nor an in-memory eviction resets it).
pub fn remaining(
    conn: &Conn,
    to: &str,
    kind: Kind,
    count: u32,
    period: std::time::Duration,
    now: i64,
) -> Result<u32, DbError> {
    let since = now.saturating_sub(i64::try_from(period.as_secs()).unwrap_or(i64::MAX));
    Ok(count.saturating_sub(count_recent(conn, to, kind, since)?))
}

/// Messages of `kind` to `to` created at or after `since`, whatever their status:
/// what a per-address limit counts.
pub fn count_recent(conn: &Conn, to: &str, kind: Kind, since: i64) -> Result<u32, DbError> {
    conn.query_one(
        "SELECT count(*) FROM outbox WHERE to_address = ?1 AND kind = ?2 AND created_at >= ?3",
        params![to, kind.as_str(), since],
        |r| r.get(0),
    )
}

/// Queued messages due at `now` (`next_attempt_at <= now`), oldest first, at most `limit`.
pub fn due(conn: &Conn, now: i64, limit: usize) -> Result<Vec<DueMessage>, DbError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.query_all(
        "SELECT id, created_at, attempts, to_address, subject, body_text, body_html
         FROM outbox
         WHERE status = 'queued' AND next_attempt_at <= ?1
         ORDER BY created_at, id
         LIMIT ?2",
        params![now, limit],
        due_from_row,
    )
}

/// Claims the oldest queued message due at `now` for one delivery attempt:
/// its `next_attempt_at` moves to `lease_until`, so no other worker takes it
/// before then, and it comes due again by itself if this worker dies before
/// recording the outcome. One statement, atomic on both backends (on
/// PostgreSQL it skips rows another node is claiming at the same instant).
pub fn claim_next(conn: &Conn, now: i64, lease_until: i64) -> Result<Option<DueMessage>, DbError> {
    let sql = format!(
        "UPDATE outbox SET next_attempt_at = ?2
         WHERE id = (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?1
                     ORDER BY created_at, id LIMIT 1{})
         RETURNING id, created_at, attempts, to_address, subject, body_text, body_html",
        conn.skip_locked()
    );
    conn.query_opt(&sql, params![now, lease_until], due_from_row)
}

fn due_from_row(r: &Row<'_>) -> Result<DueMessage, DbError> {
    Ok(DueMessage {
        id: r.get(0)?,
        created_at: r.get(1)?,
        attempts: r.get(2)?,
        message: Message {
            to: r.get(3)?,
            subject: r.get(4)?,
            text: r.get(5)?,
            html: r.get(6)?,
        },
    })
}

/// Records a successful delivery. Returns false if the message was no longer
/// queued (e.g. changed by hand meanwhile), in which case nothing changes.
pub fn mark_sent(conn: &Conn, id: i64, now: i64) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2
         WHERE id = ?1 AND status = 'queued'",
        params![id, now],
    )?;
    Ok(n == 1)
}

/// Records a failed attempt: one more attempt, `error` kept in `last_error`;
/// with `permanent` the message becomes `failed` (no more attempts), otherwise
/// it stays queued until `next_attempt_at`. Returns false if the message was
/// no longer queued.
pub fn mark_attempt_failed(
    conn: &Conn,
    id: i64,
    error: &str,
    next_attempt_at: i64,
    permanent: bool,
) -> Result<bool, DbError> {
    let status = if permanent { "failed" } else { "queued" };
    let n = conn.execute(
        "UPDATE outbox SET status = ?2, attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4
         WHERE id = ?1 AND status = 'queued'",
        params![id, status, error, next_attempt_at],
    )?;
    Ok(n == 1)
}

/// Every message, oldest first, without bodies.
pub fn list(conn: &Conn) -> Result<Vec<OutboxEntry>, DbError> {
    conn.query_all(
        "SELECT id, created_at, to_address, subject, status, attempts, next_attempt_at, last_error, sent_at
         FROM outbox ORDER BY created_at, id",
        params![],
        entry_from_row,
    )
}

/// One message by id, without its body.
pub fn get(conn: &Conn, id: i64) -> Result<Option<OutboxEntry>, DbError> {
    conn.query_opt(
        "SELECT id, created_at, to_address, subject, status, attempts, next_attempt_at, last_error, sent_at
         FROM outbox WHERE id = ?1",
        params![id],
        entry_from_row,
    )
}

fn entry_from_row(r: &Row<'_>) -> Result<OutboxEntry, DbError> {
    let status: String = r.get(4)?;
    let status = Status::parse(&status)
        .ok_or_else(|| DbError::Conversion(4, format!("unknown outbox status {status:?}")))?;
    Ok(OutboxEntry {
        id: r.get(0)?,
        created_at: r.get(1)?,
        to: r.get(2)?,
        subject: r.get(3)?,
        status,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_error: r.get(7)?,
        sent_at: r.get(8)?,
    })
}

/// Puts every failed message back in the queue, due now, with its attempt
/// count reset (`last_error` is kept until the next attempt). Returns how many.
pub fn retry_failed(conn: &Conn, now: i64) -> Result<usize, DbError> {
    conn.execute(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?1
         WHERE status = 'failed'",
        params![now],
    )
}

#[cfg(test)]
mod tests {
    /// Tests run at the real time: `due` compares with it.
    fn now() -> i64 {
        use crate::clock::Clock;
        crate::clock::SystemClock.unix()
    }
    use super::*;

    fn db() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::SCHEMA).unwrap();
        conn
    }

    fn msg(to: &str) -> Message {
        Message {
            to: to.to_string(),
            subject: "Hello".to_string(),
            text: "text with a key".to_string(),
            html: Some("<p>html</p>".to_string()),
        }
    }

    #[test]
    fn enqueue_then_due_oldest_first() {
        let db = db();
        let conn = Conn::sqlite(&db);
        let b = enqueue(&conn, &msg("b@example.com"), 200).unwrap();
        let a = enqueue(&conn, &msg("a@example.com"), 100).unwrap();
        let c = enqueue(&conn, &msg("c@example.com"), 300).unwrap();
        assert_eq!(due(&conn, 99, 10).unwrap(), vec![]);
        let ids: Vec<i64> = due(&conn, 1000, 10).unwrap().iter().map(|d| d.id).collect();
        assert_eq!(ids, vec![a, b, c]);
        let ids: Vec<i64> = due(&conn, 1000, 2).unwrap().iter().map(|d| d.id).collect();
        assert_eq!(ids, vec![a, b]);
        let first = &due(&conn, 100, 10).unwrap()[0];
        assert_eq!(first.message, msg("a@example.com"));
        assert_eq!(first.created_at, 100);
        assert_eq!(first.attempts, 0);

        let e = get(&conn, a).unwrap().unwrap();
        assert_eq!(e.status, Status::Queued);
        assert_eq!(e.next_attempt_at, 100);
        assert_eq!(e.last_error, None);
    }

    #[test]
    fn a_claimed_message_waits_for_its_lease() {
        let db = db();
        let conn = Conn::sqlite(&db);
        let a = enqueue(&conn, &msg("a@example.com"), 100).unwrap();
        let b = enqueue(&conn, &msg("b@example.com"), 101).unwrap();
        assert_eq!(claim_next(&conn, 200, 260).unwrap().unwrap().id, a);
        assert_eq!(claim_next(&conn, 200, 260).unwrap().unwrap().id, b);
        assert_eq!(claim_next(&conn, 200, 260).unwrap(), None);
        assert_eq!(get(&conn, a).unwrap().unwrap().next_attempt_at, 260);
        // The claimer died: after the lease, the message is due again.
        assert_eq!(claim_next(&conn, 259, 320).unwrap(), None);
        let again = claim_next(&conn, 260, 320).unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (a, 0));
        assert!(mark_sent(&conn, a, 261).unwrap());
        assert!(mark_sent(&conn, b, 261).unwrap());
        assert_eq!(claim_next(&conn, 10_000, 10_060).unwrap(), None);
    }

    #[test]
    fn enqueue_follows_the_callers_transaction() {
        let mut db = db();
        {
            let tx = db.transaction().unwrap();
            enqueue(&Conn::sqlite(&tx), &msg("a@example.com"), now()).unwrap();
            // dropped: rolled back
        }
        assert!(list(&Conn::sqlite(&db)).unwrap().is_empty());
        let tx = db.transaction().unwrap();
        enqueue(&Conn::sqlite(&tx), &msg("a@example.com"), now()).unwrap();
        tx.commit().unwrap();
        assert_eq!(list(&Conn::sqlite(&db)).unwrap().len(), 1);
    }

    #[test]
    fn sent_and_failed_lifecycle() {
        let db = db();
        let conn = Conn::sqlite(&db);
        let id = enqueue(&conn, &msg("a@example.com"), 100).unwrap();
        assert!(mark_attempt_failed(&conn, id, "451 try later", 160, false).unwrap());
        let e = get(&conn, id).unwrap().unwrap();
        assert_eq!(
            (e.status, e.attempts, e.next_attempt_at),
            (Status::Queued, 1, 160)
        );
        assert_eq!(e.last_error.as_deref(), Some("451 try later"));
        assert!(due(&conn, 159, 10).unwrap().is_empty());
        assert_eq!(due(&conn, 160, 10).unwrap()[0].attempts, 1);

        assert!(mark_sent(&conn, id, 170).unwrap());
        let e = get(&conn, id).unwrap().unwrap();
        assert_eq!(
            (e.status, e.attempts, e.sent_at),
            (Status::Sent, 2, Some(170))
        );
        // Not queued any more: neither call changes it again.
        assert!(!mark_sent(&conn, id, 180).unwrap());
        assert!(!mark_attempt_failed(&conn, id, "x", 200, true).unwrap());
        assert!(due(&conn, 10_000, 10).unwrap().is_empty());

        let id2 = enqueue(&conn, &msg("b@example.com"), 100).unwrap();
        assert!(mark_attempt_failed(&conn, id2, "550 no such user", 100, true).unwrap());
        let e = get(&conn, id2).unwrap().unwrap();
        assert_eq!((e.status, e.attempts), (Status::Failed, 1));
        assert!(due(&conn, 10_000, 10).unwrap().is_empty());

        assert_eq!(retry_failed(&conn, now()).unwrap(), 1);
        let e = get(&conn, id2).unwrap().unwrap();
        assert_eq!((e.status, e.attempts), (Status::Queued, 0));
        assert!(e.next_attempt_at <= now());
        assert_eq!(e.last_error.as_deref(), Some("550 no such user"));
        assert_eq!(due(&conn, now(), 10).unwrap()[0].id, id2);
        assert_eq!(retry_failed(&conn, now()).unwrap(), 0);

        let all = list(&conn).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status, Status::Sent);
        assert_eq!(format!("[{:<8}]", all[0].status), "[sent    ]");
    }
}
