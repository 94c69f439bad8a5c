//! `GET /health`, outside the prefix: whether this node can serve, for a load
//! balancer. Unauthenticated, never throttled, not in the request log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use serde_json::json;

use crate::api::error::json_response;
use crate::api::http::Response;
use crate::App;

/// The path, the same under any prefix.
pub const PATH: &str = "/health";

/// Its methods (`HEAD` answers as `GET`); anything else is 405.
pub const ALLOW: &str = "GET, HEAD";

/// The longest the database may take to answer (or `database.busy_timeout`, if shorter).
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the last check failed: the log says when the state changes, not on every poll.
static FAILING: AtomicBool = AtomicBool::new(false);

/// 200 `{"status": "ok"}` when the database answers a read within [`TIMEOUT`],
/// else 503 `{"status": "unavailable", "detail": …}`.
pub fn get(app: &App) -> Response {
    let busy_timeout = app.config.database.busy_timeout;
    let answered = app
        .pool
        .with(|conn| probe(conn, busy_timeout.min(TIMEOUT), busy_timeout));
    let failure = match answered {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    match failure {
        None => {
            if FAILING.swap(false, Ordering::Relaxed) {
                crate::log!("restauth: health: the database answers again");
            }
            json_response(200, &json!({ "status": "ok" }))
        }
        Some(why) => {
            if !FAILING.swap(true, Ordering::Relaxed) {
                crate::log!("restauth: health: the database does not answer: {why}");
            }
            let body = json!({ "status": "unavailable", "detail": "The database did not answer." });
            json_response(503, &body).with_additional_header("Retry-After", "1")
        }
    }
}

/// Reads the schema (a real read of the file, unlike `SELECT 1`) with `timeout` as
/// the busy timeout, then puts `restore` back.
fn probe(conn: &mut Connection, timeout: Duration, restore: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(timeout)?;
    let read = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(restore)?;
    read.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_gives_up_after_its_timeout_while_another_connection_holds_the_file() {
        let dir = std::env::temp_dir().join(format!("restauth-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite3");
        // A rollback-journal database: there an exclusive lock keeps readers out.
        let mut reader = Connection::open(&path).unwrap();
        reader.execute_batch("CREATE TABLE t (x)").unwrap();
        assert!(probe(
            &mut reader,
            Duration::from_millis(100),
            Duration::from_secs(5)
        )
        .is_ok());

        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);")
            .unwrap();
        let started = std::time::Instant::now();
        let refused = probe(
            &mut reader,
            Duration::from_millis(100),
            Duration::from_secs(5),
        );
        assert!(refused.is_err(), "{refused:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );

        holder.execute_batch("ROLLBACK").unwrap();
        assert!(probe(
            &mut reader,
            Duration::from_millis(100),
            Duration::from_secs(5)
        )
        .is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
