//! The SQLite backend: opening the file (pragmas, schema, migrations), a
//! small connection pool, backups, and running the domain's statements.
//!
//! Every connection runs in WAL mode with `synchronous = FULL` (a 2xx answer
//! means the change is on disk), foreign keys on, and a busy timeout so that
//! concurrent writers queue instead of failing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::{DbError, ToValue, Value};

/// The schema, applied (idempotently) on every start.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// The schema version this build writes into `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 7;

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
    // rusqlite keeps 16 prepared statements per connection by default; the
    // endpoints use more distinct statements than that, and a statement pushed
    // out of the cache is parsed again on its next use.
    conn.set_prepared_statement_cache_capacity(64);
    // The query planner stability guarantee: a cached statement keeps its
    // plan. Without it SQLite marks a statement whose plan might depend on a
    // bound value (in a join it checks whether `key = ?1` is a small integer)
    // and re-parses it once its bindings are cleared, which rusqlite does each
    // time a statement goes back to its cache: the token lookup (a join) was
    // parsed again on every request, half the cost of `GET P/user/`.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
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
    // The version is read under the write lock: two processes starting on one
    // old file must not both run the same ALTER TABLE.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew { found: version });
    }
    // schema.sql holds the final shape and only creates what is missing, so
    // versions 1 -> 2 -> 3 (new tables email_confirmations, outbox, social_accounts) and
    // 4 -> 5 (sessions), 5 -> 6 (mfa_totp, mfa_recovery_codes, mfa_challenges) and
    // 6 -> 7 (mfa_used_activations, used_id_tokens) need nothing more. A step that alters an existing table goes here, before the schema
    // (whose indexes may name the new columns).
    if (2..4).contains(&version) {
        // outbox exists since version 2; it gains `kind` in 4.
        tx.execute_batch("ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT ''")?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// What [`backup`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The copy, as an absolute path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Why [`backup`] failed. Nothing is left at the destination in any case
/// (a file that existed before is never touched).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The destination already exists.
    #[error("{} already exists; refusing to overwrite it (choose a new name)", .0.display())]
    Exists(PathBuf),
    /// The destination could not be created, synced or checked.
    #[error("cannot write the backup {}: {}", .0.display(), .1)]
    Io(PathBuf, std::io::Error),
    /// SQLite failed while copying or checking.
    #[error("backup failed: database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The copy did not pass `PRAGMA quick_check`.
    #[error("backup failed: the copy did not pass its check: {0}")]
    Corrupt(String),
}

/// Writes a consistent copy of the database behind `conn` to `dest`, a new file.
///
/// The copy is made with `VACUUM INTO`, inside one read transaction: it is the
/// database as of one instant, taken while the server keeps serving (in WAL
/// mode readers and the writer do not block each other), compacted, with
/// everything committed to the WAL included. `dest` is created exclusively
/// (an existing file, even an empty one, is refused), then the copy is
/// fsynced, its directory too, and checked with `PRAGMA quick_check`. On any
/// failure the partial copy is removed.
pub fn backup(conn: &Connection, dest: &Path) -> Result<BackupReport, BackupError> {
    // An absolute name: with SQLITE_OPEN_URI a name starting "file:" would be read as a URI.
    let dest = std::path::absolute(dest).map_err(|e| BackupError::Io(dest.to_path_buf(), e))?;
    let io = |e: std::io::Error| BackupError::Io(dest.clone(), e);
    let not_utf8 = || {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path is not valid UTF-8",
        ))
    };
    let name = dest.to_str().ok_or_else(not_utf8)?;
    // Reserve the name atomically: SQLite accepts an empty file as the target.
    match crate::private_fs::create_new_file(&dest) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(dest));
        }
        Err(e) => return Err(io(e)),
    }
    let result = (|| {
        conn.execute("VACUUM INTO ?1", [name])?;
        let sync = |path: &Path| std::fs::File::open(path).and_then(|f| f.sync_all());
        sync(&dest).map_err(io)?;
        if let Some(dir) = dest.parent() {
            sync(dir).map_err(io)?;
        }
        let copy = Connection::open_with_flags(
            &dest,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let check: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        drop(copy);
        if check != "ok" {
            return Err(BackupError::Corrupt(check));
        }
        let bytes = std::fs::metadata(&dest).map_err(io)?.len();
        Ok(BackupReport {
            path: dest.clone(),
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&dest);
    }
    result
}

/// A small pool of open connections, one taken per request.
///
/// SQLite connections are cheap to keep and costly to open (pragmas, schema
/// parse), so they are reused; the pool grows to the number of threads that
/// use the database at once.
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

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (writers queue for the
    /// file's write lock up to the busy timeout), committed only if `f`
    /// succeeds; SQLite never needs to run it twice.
    pub fn write<T, E>(&self, mut f: impl FnMut(&super::Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        self.with(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(error)?;
            let out = f(&super::Conn::sqlite(&tx))?;
            tx.commit().map_err(error)?;
            Ok(out)
        })?
    }

    /// Reads the schema (a real read of the file, unlike `SELECT 1`) with
    /// `timeout` as the busy timeout, then puts the configured one back.
    pub fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        self.with(|conn| probe(conn, timeout.min(self.busy_timeout), self.busy_timeout))?
            .map_err(error)
    }
}

fn probe(conn: &mut Connection, timeout: Duration, restore: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(timeout)?;
    let read = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(restore)?;
    read.map(|_| ())
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// SQLite's error as the storage layer reports it: a broken `UNIQUE` (or
/// primary key) constraint is [`DbError::UniqueViolation`], whatever the table.
pub(super) fn error(e: rusqlite::Error) -> DbError {
    use rusqlite::ffi;
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            DbError::UniqueViolation
        }
        // The busy timeout ran out: busy, not broken (503 with Retry-After, as on PostgreSQL).
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::DatabaseBusy
                || f.code == rusqlite::ErrorCode::DatabaseLocked =>
        {
            DbError::Unavailable(e.to_string())
        }
        rusqlite::Error::FromSqlConversionFailure(i, _, why) => {
            DbError::Conversion(*i, why.to_string())
        }
        rusqlite::Error::InvalidColumnType(i, name, t) => {
            DbError::Conversion(*i, format!("{name} holds {t}"))
        }
        rusqlite::Error::IntegralValueOutOfRange(i, v) => {
            DbError::Conversion(*i, format!("{v} is out of range"))
        }
        _ => DbError::Sqlite(e),
    }
}

fn bind<'p>(params: &'p [&dyn ToValue]) -> impl Iterator<Item = Value<'p>> + 'p {
    params.iter().map(|p| p.to_value())
}

/// Runs one cached statement that returns no rows.
pub(super) fn execute(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToValue],
) -> Result<usize, DbError> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    stmt.execute(rusqlite::params_from_iter(bind(params)))
        .map_err(error)
}

/// Runs one cached query, mapping its first row.
pub(super) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToValue],
    f: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(bind(params)))
        .map_err(error)?;
    match rows.next().map_err(error)? {
        Some(row) => f(row).map(Some),
        None => Ok(None),
    }
}

/// Runs one cached query, mapping every row.
pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToValue],
    mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(bind(params)))
        .map_err(error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error)? {
        out.push(f(row)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "restauth-db-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn version_3_gains_outbox_kind_and_mail_requests() {
        let dir = temp_dir("v3");
        let path = dir.join("old.sqlite3");
        {
            // The outbox as schema version 3 had it, with one row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE outbox (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,
                   to_address TEXT NOT NULL, subject TEXT NOT NULL, body_text TEXT NOT NULL,
                   body_html TEXT, status TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
                   next_attempt_at INTEGER NOT NULL, last_error TEXT, sent_at INTEGER);
                 INSERT INTO outbox (created_at, to_address, subject, body_text, next_attempt_at)
                   VALUES (1, 'a@example.com', 's', 't', 1);
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        }
        let conn = open_and_migrate(&path, Duration::from_secs(5)).unwrap();
        let kind: String = conn
            .query_row("SELECT kind FROM outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "");
        let pending: i64 = conn
            .query_row("SELECT count(*) FROM mail_requests", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pending, 0);
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        drop(conn);
        // And opening again changes nothing.
        open_and_migrate(&path, Duration::from_secs(5)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn backup_copies_and_never_overwrites() {
        let dir = temp_dir("backup");
        let conn = open_and_migrate(&dir.join("live.sqlite3"), Duration::from_secs(5)).unwrap();
        conn.execute(
            "INSERT INTO settings (name, value) VALUES ('probe', 'x')",
            [],
        )
        .unwrap();
        let dest = dir.join("copy.sqlite3");
        let report = backup(&conn, &dest).unwrap();
        assert_eq!(report.path, dest);
        assert_eq!(report.bytes, std::fs::metadata(&dest).unwrap().len());
        let copy = Connection::open(&dest).unwrap();
        let v: String = copy
            .query_row("SELECT value FROM settings WHERE name = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v, "x");
        let version: i64 = copy
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(copy);

        // An existing file, even an empty one, is refused and left as it was.
        let before = std::fs::read(&dest).unwrap();
        assert!(matches!(backup(&conn, &dest), Err(BackupError::Exists(_))));
        assert_eq!(std::fs::read(&dest).unwrap(), before);
        let empty = dir.join("empty");
        std::fs::write(&empty, b"").unwrap();
        let e = backup(&conn, &empty).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read(&empty).unwrap(), b"");

        // A missing directory: an I/O error, nothing created.
        let nowhere = dir.join("missing").join("copy.sqlite3");
        assert!(matches!(backup(&conn, &nowhere), Err(BackupError::Io(..))));
        assert!(!nowhere.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
