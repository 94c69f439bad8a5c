//! The storage interface: one way for the domain to run SQL, whichever
//! database is behind it.
//!
//! The domain (`accounts`, `mail::outbox`) writes its SQL once, in the subset
//! SQLite and PostgreSQL share (`?1`-style parameters, `RETURNING`, integers
//! for times and booleans, blobs for hashes), and runs it through a [`Conn`]:
//! [`Conn::execute`], [`Conn::query_opt`], [`Conn::query_one`] and
//! [`Conn::query_all`], with parameters given by [`params!`] and columns read
//! from a [`Row`]. What differs per backend (opening, pragmas, migrations,
//! transactions, how a unique violation is reported) lives in one module per
//! backend: [`sqlite`].

pub mod sqlite;

use std::path::Path;
use std::time::Duration;

pub use sqlite::{backup, BackupError, BackupReport, SCHEMA, SCHEMA_VERSION};

/// The database of one server: a pool of connections to one backend, with
/// the two ways requests use it, [`Pool::read`] and [`Pool::write`].
pub struct Pool {
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::Pool),
}

impl Pool {
    /// Opens (creating if needed) the SQLite file at `path`, checks it and
    /// brings its schema up to date.
    pub fn open_sqlite(path: &Path, busy_timeout: Duration) -> Result<Pool, DbError> {
        let first = sqlite::open_and_migrate(path, busy_timeout)?;
        let pool = sqlite::Pool::new(path.to_path_buf(), busy_timeout, first);
        Ok(Pool {
            backend: Backend::Sqlite(pool),
        })
    }

    /// Runs `f` on a pooled connection outside any explicit transaction (reads).
    pub fn read<T, E>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.with(|c| f(&Conn::sqlite(c)))?,
        }
    }

    /// Runs `f` in one write transaction, committed only if `f` succeeds.
    /// `f` may be run more than once (a backend may retry a transaction that
    /// lost a race), so it must not act outside the database.
    pub fn write<T, E>(&self, f: impl FnMut(&Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.write(f),
        }
    }

    /// Whether the database answers a read within `timeout` (for `GET /health`).
    pub fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(pool) => pool.ping(timeout),
        }
    }

    /// The SQLite pool, for what only SQLite has (backups, the file's secret
    /// migration); `None` on another backend.
    pub fn as_sqlite(&self) -> Option<&sqlite::Pool> {
        match &self.backend {
            Backend::Sqlite(pool) => Some(pool),
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An insert or update would have broken a `UNIQUE` constraint.
    #[error("database error: a unique constraint was violated")]
    UniqueViolation,
    /// A column held a value of another type than the code reads.
    #[error("database error: column {0}: {1}")]
    Conversion(usize, String),
    /// The file was written by a newer restauth.
    #[error("the database has schema version {found}, newer than this restauth understands ({SCHEMA_VERSION}); upgrade restauth")]
    TooNew { found: i64 },
    /// `PRAGMA quick_check` did not answer `ok`.
    #[error("the database failed its integrity check: {0}")]
    Corrupt(String),
}

/// A value bound to a statement parameter: the four types the schema uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// SQL `NULL`.
    Null,
    /// Integers, times (Unix seconds) and booleans (0/1).
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes (SHA-256 hashes).
    Blob(&'a [u8]),
}

/// A Rust value that can be bound as a statement parameter.
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value<'_>;
}

impl ToValue for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of one statement: `params![a, b]` binds `a` to `?1` and `b` to `?2`.
#[macro_export]
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$(&$p as &dyn $crate::db::ToValue),*] as &[&dyn $crate::db::ToValue]
    };
}
pub use crate::params;

/// A type a column can be read as.
pub trait Column: Sized {
    /// Reads column `i` of a SQLite row.
    fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self>;
}

macro_rules! sqlite_column {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
                row.get(i)
            }
        }
    )*};
}
sqlite_column!(i64, u32, bool, String, Vec<u8>, Option<i64>, Option<String>);

/// One result row.
pub struct Row<'r> {
    inner: &'r rusqlite::Row<'r>,
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: Column>(&self, i: usize) -> Result<T, DbError> {
        T::from_sqlite(self.inner, i).map_err(sqlite::error)
    }
}

/// A connection, or a transaction on one, as the domain sees it. A write
/// transaction is opened and committed by the caller (`App::write`); the
/// domain's functions only run statements in it.
pub struct Conn<'c> {
    inner: &'c rusqlite::Connection,
}

impl<'c> Conn<'c> {
    /// The interface over a SQLite connection (or a transaction, which derefs to one).
    pub fn sqlite(conn: &'c rusqlite::Connection) -> Conn<'c> {
        Conn { inner: conn }
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        sqlite::execute(self.inner, sql, params)
    }

    /// Runs a query and maps its first row with `f`; `None` without rows.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        sqlite::query_opt(self.inner, sql, params, |r| f(&Row { inner: r }))
    }

    /// Runs a query that always yields a row (`count(*)`, `INSERT … RETURNING`).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, f)?
            .ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Runs a query and maps every row with `f`.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        sqlite::query_all(self.inner, sql, params, |r| f(&Row { inner: r }))
    }
}
