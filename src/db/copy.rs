//! `restauth db copy --to postgres://…`: a SQLite database copied into an
//! empty PostgreSQL database, for a deployment that outgrows one machine.
//!
//! The source is read in one read transaction (a consistent snapshot, taken
//! while a server may keep serving); the target is written in one
//! transaction, so a failed copy leaves it empty. Every table is copied with
//! its ids (links, disconnect ids and reset links keep working), the identity
//! sequences are moved past them, and the row counts of both sides are
//! compared at the end. The server secret is not in the database: give the
//! PostgreSQL nodes the same key (the SQLite server's `restauth.secret`, as
//! `security.secret_key_file` or `security.secret_key`), or mailed links and
//! nothing else stop working.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;

use super::{sqlite, Conn, DbError, Pool, ToValue, Value};

/// The tables in an order that satisfies their foreign keys, and whether each
/// has an identity `id` whose sequence must follow the copied ids.
pub const TABLES: [(&str, bool); 13] = [
    ("users", true),
    ("tokens", true),
    ("sessions", true),
    ("mfa_totp", false),
    ("mfa_recovery_codes", true),
    ("mfa_challenges", true),
    ("mfa_used_activations", false),
    ("email_confirmations", true),
    ("social_accounts", true),
    ("used_id_tokens", false),
    ("outbox", true),
    ("mail_requests", true),
    ("settings", false),
];

/// Rows inserted per statement.
const BATCH: usize = 200;

/// Rows copied per table, in [`TABLES`] order.
pub type CopyReport = Vec<(&'static str, i64)>;

/// Copies the SQLite database at `source` into the empty PostgreSQL database
/// at `url`; `progress` receives one line per step.
pub fn sqlite_to_postgres(
    source: &Path,
    busy_timeout: Duration,
    url: &str,
    mut progress: impl FnMut(&str),
) -> Result<CopyReport, DbError> {
    let src = sqlite::open_and_migrate(source, busy_timeout)?;
    let target = Pool::open_postgres(url, 1, busy_timeout)?;
    progress(&format!(
        "copying {} into {}",
        source.display(),
        target.describe()
    ));
    let occupied = target.read(counts)?;
    let filled: Vec<String> = occupied
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t}: {n}"))
        .collect();
    if !filled.is_empty() {
        return Err(DbError::Config(format!(
            "the target database is not empty ({}); copy into an empty database",
            filled.join(", ")
        )));
    }
    // One snapshot of the source for the whole copy.
    src.execute_batch("BEGIN")?;
    let expected = counts(&Conn::sqlite(&src))?;
    target.write(|c| {
        for ((table, has_id), (_, total)) in TABLES.iter().zip(&expected) {
            copy_table(&src, c, table, *total, &mut progress)?;
            if *has_id {
                c.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(max(id), 0) + 1, false) FROM {table}"
                    ),
                    super::params![],
                )?;
            }
        }
        Ok::<_, DbError>(())
    })?;
    src.execute_batch("COMMIT")?;
    let copied = target.read(counts)?;
    if copied != expected {
        return Err(DbError::Config(format!(
            "the counts differ after the copy: source {expected:?}, target {copied:?}"
        )));
    }
    progress("counts match: every row is in the target");
    Ok(copied)
}

/// Rows per table, in [`TABLES`] order.
fn counts(c: &Conn) -> Result<CopyReport, DbError> {
    TABLES
        .iter()
        .map(|(table, _)| {
            let sql = format!("SELECT count(*) FROM {table}");
            Ok((*table, c.query_one(&sql, super::params![], |r| r.get(0))?))
        })
        .collect()
}

/// Copies one table's rows, `BATCH` per INSERT, saying how far it got.
fn copy_table(
    src: &rusqlite::Connection,
    target: &Conn,
    table: &str,
    total: i64,
    progress: &mut impl FnMut(&str),
) -> Result<(), DbError> {
    let columns: Vec<String> = {
        let mut stmt = src.prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))?;
        let names = stmt.query_map([], |r| r.get(0))?;
        names.collect::<Result<_, _>>()?
    };
    let list = columns.join(", ");
    let mut stmt = src.prepare(&format!("SELECT {list} FROM {table} ORDER BY rowid"))?;
    let mut rows = stmt.query([])?;
    let mut batch: Vec<Owned> = Vec::new();
    let mut done = 0i64;
    let flush = |batch: &mut Vec<Owned>, done: &mut i64| -> Result<(), DbError> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() / columns.len();
        let tuples: Vec<String> = (0..n)
            .map(|r| {
                let marks: Vec<String> = (0..columns.len())
                    .map(|c| format!("?{}", r * columns.len() + c + 1))
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!("INSERT INTO {table} ({list}) VALUES {}", tuples.join(", "));
        let params: Vec<&dyn ToValue> = batch.iter().map(|v| v as &dyn ToValue).collect();
        target.execute(&sql, &params)?;
        *done += n as i64;
        batch.clear();
        Ok(())
    };
    while let Some(row) = rows.next()? {
        for i in 0..columns.len() {
            batch.push(Owned::from(row.get_ref(i)?));
        }
        if batch.len() >= BATCH * columns.len() {
            flush(&mut batch, &mut done)?;
            progress(&format!("  {table}: {done}/{total}"));
        }
    }
    flush(&mut batch, &mut done)?;
    progress(&format!("  {table}: {done}/{total}"));
    Ok(())
}

/// A value read from SQLite, kept until its batch is written.
enum Owned {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<ValueRef<'_>> for Owned {
    fn from(v: ValueRef<'_>) -> Owned {
        match v {
            ValueRef::Null => Owned::Null,
            ValueRef::Integer(i) => Owned::Int(i),
            // The schema has no REAL column; a float written by hand keeps its value as text.
            ValueRef::Real(f) => Owned::Text(f.to_string()),
            ValueRef::Text(t) => Owned::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Owned::Blob(b.to_vec()),
        }
    }
}

impl ToValue for Owned {
    fn to_value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(i) => Value::Int(*i),
            Owned::Text(t) => Value::Text(t),
            Owned::Blob(b) => Value::Blob(b),
        }
    }
}
