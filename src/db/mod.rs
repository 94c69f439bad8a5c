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

pub mod copy;
pub mod pg;
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
    Postgres(Box<pg::Pool>),
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

    /// Connects to the PostgreSQL database at `url` (at most `max_connections`
    /// open at once; a request waits up to `wait` for one), creating or
    /// checking its schema.
    pub fn open_postgres(
        url: &str,
        max_connections: usize,
        wait: Duration,
    ) -> Result<Pool, DbError> {
        let target = pg::parse_url(url).map_err(DbError::Config)?;
        Ok(Pool {
            backend: Backend::Postgres(Box::new(pg::Pool::open(target, max_connections, wait)?)),
        })
    }

    /// What the pool is connected to, for messages: the SQLite file, or
    /// `postgres://host:port/dbname` (never credentials).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(pool) => pool.path().display().to_string(),
            Backend::Postgres(pool) => format!("postgres://{}", pool.display()),
        }
    }

    /// Runs `f` on a pooled connection outside any explicit transaction (reads).
    pub fn read<T, E>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.with(|c| f(&Conn::sqlite(c)))?,
            Backend::Postgres(pool) => pool.read(f),
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
            Backend::Postgres(pool) => pool.write(f),
        }
    }

    /// Whether the database answers a read within `timeout` (for `GET /health`).
    pub fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(pool) => pool.ping(timeout),
            Backend::Postgres(pool) => pool.ping(timeout),
        }
    }

    /// The SQLite pool, for what only SQLite has (backups, the file's secret
    /// migration); `None` on another backend.
    pub fn as_sqlite(&self) -> Option<&sqlite::Pool> {
        match &self.backend {
            Backend::Sqlite(pool) => Some(pool),
            Backend::Postgres(_) => None,
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error (its message and SQLSTATE).
    #[error("database error: {0}")]
    Postgres(String),
    /// The database cannot be reached now (connection refused or lost, every
    /// pooled connection busy): worth trying again shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The configured database URL is not usable.
    #[error("[database] url: {0}")]
    Config(String),
    /// A transaction lost a race with a concurrent one and was rolled back
    /// (it is run again a few times before this is reported).
    #[error("database error: the transaction conflicted with a concurrent one")]
    Conflict,
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
    /// Reads column `i` of a PostgreSQL row.
    fn from_pg(row: &::postgres::Row, i: usize) -> Result<Self, DbError>;
}

/// An integer column of any width (the schema's BIGINT, INTEGER and SMALLINT).
fn pg_int(row: &::postgres::Row, i: usize) -> Result<Option<i64>, DbError> {
    use ::postgres::types::Type;
    let got = match row.columns().get(i).map(|c| c.type_()) {
        Some(&Type::INT2) => row.try_get::<_, Option<i16>>(i).map(|v| v.map(i64::from)),
        Some(&Type::INT4) => row.try_get::<_, Option<i32>>(i).map(|v| v.map(i64::from)),
        _ => row.try_get::<_, Option<i64>>(i),
    };
    got.map_err(|e| DbError::Conversion(i, e.to_string()))
}

fn pg_get<'a, T: ::postgres::types::FromSql<'a>>(
    row: &'a ::postgres::Row,
    i: usize,
) -> Result<T, DbError> {
    row.try_get(i)
        .map_err(|e| DbError::Conversion(i, e.to_string()))
}

fn not_null<T>(i: usize, v: Option<T>) -> Result<T, DbError> {
    v.ok_or_else(|| DbError::Conversion(i, "NULL where a value was expected".into()))
}

/// SQLite reads every type the same way; PostgreSQL by `$pg`.
macro_rules! column {
    ($t:ty, |$row:ident, $i:ident| $pg:expr) => {
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
                row.get(i)
            }
            fn from_pg($row: &::postgres::Row, $i: usize) -> Result<Self, DbError> {
                $pg
            }
        }
    };
}

column!(i64, |row, i| not_null(i, pg_int(row, i)?));
column!(Option<i64>, |row, i| pg_int(row, i));
column!(u32, |row, i| {
    let v = i64::from_pg(row, i)?;
    u32::try_from(v).map_err(|_| DbError::Conversion(i, format!("{v} is out of range")))
});
column!(bool, |row, i| Ok(i64::from_pg(row, i)? != 0));
column!(String, |row, i| not_null(i, pg_get(row, i)?));
column!(Option<String>, |row, i| pg_get(row, i));
column!(Vec<u8>, |row, i| not_null(i, pg_get(row, i)?));
column!(Option<Vec<u8>>, |row, i| pg_get(row, i));

/// One result row.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r ::postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: Column>(&self, i: usize) -> Result<T, DbError> {
        match self.inner {
            RowInner::Sqlite(r) => T::from_sqlite(r, i).map_err(sqlite::error),
            RowInner::Postgres(r) => T::from_pg(r, i),
        }
    }
}

/// A connection, or a transaction on one, as the domain sees it. A write
/// transaction is opened and committed by the caller ([`Pool::write`]); the
/// domain's functions only run statements in it.
pub struct Conn<'c> {
    inner: ConnInner<'c>,
}

enum ConnInner<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(pg::Handle<'c>),
}

impl<'c> Conn<'c> {
    /// The interface over a SQLite connection (or a transaction, which derefs to one).
    pub fn sqlite(conn: &'c rusqlite::Connection) -> Conn<'c> {
        Conn {
            inner: ConnInner::Sqlite(conn),
        }
    }

    fn postgres(handle: pg::Handle<'c>) -> Conn<'c> {
        Conn {
            inner: ConnInner::Postgres(handle),
        }
    }

    /// Whether a statement lost a race with a concurrent transaction.
    fn conflicted(&self) -> bool {
        match &self.inner {
            ConnInner::Sqlite(_) => false,
            ConnInner::Postgres(h) => h.conflicted(),
        }
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has row locks (PostgreSQL),
    /// empty on SQLite, whose write transactions already exclude each other:
    /// appended to a `SELECT` whose rows the transaction then claims.
    pub fn skip_locked(&self) -> &'static str {
        match &self.inner {
            ConnInner::Sqlite(_) => "",
            ConnInner::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        match &self.inner {
            ConnInner::Sqlite(c) => sqlite::execute(c, sql, params),
            ConnInner::Postgres(h) => h.execute(sql, params),
        }
    }

    /// Runs a query and maps its first row with `f`; `None` without rows.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        match &self.inner {
            ConnInner::Sqlite(c) => sqlite::query_opt(c, sql, params, |r| {
                f(&Row {
                    inner: RowInner::Sqlite(r),
                })
            }),
            ConnInner::Postgres(h) => match h.query_opt(sql, params)? {
                Some(r) => f(&Row {
                    inner: RowInner::Postgres(&r),
                })
                .map(Some),
                None => Ok(None),
            },
        }
    }

    /// Runs a query that always yields a row (`count(*)`, `INSERT … RETURNING`).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, f)?
            .ok_or(DbError::Conversion(0, "the query returned no row".into()))
    }

    /// Runs a query and maps every row with `f`.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match &self.inner {
            ConnInner::Sqlite(c) => sqlite::query_all(c, sql, params, |r| {
                f(&Row {
                    inner: RowInner::Sqlite(r),
                })
            }),
            ConnInner::Postgres(h) => h
                .query_all(sql, params)?
                .iter()
                .map(|r| {
                    f(&Row {
                        inner: RowInner::Postgres(r),
                    })
                })
                .collect(),
        }
    }
}
