//! Opening the SQLite file: pragmas, schema, migrations and a small connection pool.
//!
//! Every connection runs in WAL mode with `synchronous = FULL` (a 2xx answer
//! means the change is on disk), foreign keys on, and a busy timeout so that
//! concurrent writers queue instead of failing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The schema, applied (idempotently) on every start.
pub const SCHEMA: &str = include_str!("../schema.sql");

/// The schema version this build writes into `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 3;

/// Errors of the storage layer.
#[derive(Debug)]
pub enum DbError {
    /// SQLite reported an error.
    Sqlite(rusqlite::Error),
    /// The file was written by a newer restauth.
    TooNew { found: i64 },
    /// `PRAGMA quick_check` did not answer `ok`.
    Corrupt(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "database error: {e}"),
            DbError::TooNew { found } => write!(
                f,
                "the database has schema version {found}, newer than this restauth understands ({SCHEMA_VERSION}); upgrade restauth"
            ),
            DbError::Corrupt(msg) => write!(f, "the database failed its integrity check: {msg}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

/// Opens one connection with restauth's pragmas.
pub fn open_connection(path: &Path, busy_timeout: Duration) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Opens the file, checks it, and brings its schema to [`SCHEMA_VERSION`].
pub fn open_and_migrate(path: &Path, busy_timeout: Duration) -> Result<Connection, DbError> {
    let mut conn = open_connection(path, busy_timeout)?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(DbError::Corrupt(check));
    }
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew { found: version });
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // schema.sql holds the final shape and only creates what is missing, so
    // versions 1 -> 2 -> 3 (new tables email_confirmations, outbox, social_accounts) need nothing
    // more. A step that alters an existing table goes here as
    // `if version < N { tx.execute_batch("ALTER TABLE …")?; }`, before the schema.
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// A small pool of open connections, one taken per request.
///
/// SQLite connections are cheap to keep and costly to open (pragmas, schema
/// parse), so they are reused; the pool grows to the number of worker threads.
pub struct Pool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    /// A pool over `path`, starting with `first` as its one idle connection.
    pub fn new(path: PathBuf, busy_timeout: Duration, first: Connection) -> Pool {
        Pool {
            path,
            busy_timeout,
            idle: Mutex::new(vec![first]),
        }
    }

    /// Runs `f` with a connection from the pool.
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> Result<T, DbError> {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match taken {
            Some(c) => c,
            None => open_connection(&self.path, self.busy_timeout)?,
        };
        let out = f(&mut conn);
        // A connection left inside a transaction (a panic mid-request) is dropped, not reused.
        if conn.is_autocommit() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        Ok(out)
    }
}
