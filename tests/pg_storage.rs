//! The PostgreSQL storage layer on its own: migrations, and retries.
//!
//! A PostgreSQL write that loses a race (serialization failure) is run again
//! until `database.busy_timeout` has passed, as SQLite waits for its write
//! lock, and only then reported. The failures here are real ones, raised by
//! the server (`RAISE SQLSTATE '40001'`), so the storage layer sees exactly
//! what a conflicting transaction gets. Runs where the PostgreSQL variants do
//! (RESTAUTH_TEST_POSTGRES_URL); elsewhere it says it was skipped.

mod common;
use std::time::{Duration, Instant};

use common::*;
use restauth::db::{params, DbError, Pool};

const SERIALIZATION_FAILURE: &str = "DO $$ BEGIN RAISE SQLSTATE '40001'; END $$";

fn pool(db: &PgDatabase, busy_timeout: Duration) -> Pool {
    Pool::open_postgres(&db.url, 2, busy_timeout).expect("open the test database")
}

#[test]
fn a_write_that_keeps_conflicting_is_retried_while_the_busy_timeout_lasts() {
    if !postgres_available() {
        eprintln!("skipped: needs {POSTGRES_URL_VAR}");
        return;
    }
    let db = PgDatabase::create();
    let pool = pool(&db, Duration::from_secs(10));
    // 25 lost races in a row: a loaded node saw 5; ten tries used to be the limit.
    let mut tries = 0;
    let answer = pool.write(|c| -> Result<i64, DbError> {
        tries += 1;
        if tries <= 25 {
            c.execute(SERIALIZATION_FAILURE, params![])?;
        }
        c.query_one("SELECT ?1::BIGINT + 1", params![41i64], |r| r.get(0))
    });
    assert_eq!(answer.ok(), Some(42), "after {tries} tries");
    assert_eq!(tries, 26);
}

#[test]
fn a_conflict_that_never_ends_is_reported_after_the_busy_timeout() {
    if !postgres_available() {
        eprintln!("skipped: needs {POSTGRES_URL_VAR}");
        return;
    }
    let db = PgDatabase::create();
    let busy_timeout = Duration::from_millis(400);
    let pool = pool(&db, busy_timeout);
    let started = Instant::now();
    let mut tries = 0;
    let answer = pool.write(|c| -> Result<(), DbError> {
        tries += 1;
        c.execute(SERIALIZATION_FAILURE, params![]).map(|_| ())
    });
    let took = started.elapsed();
    assert!(matches!(answer, Err(DbError::Conflict)), "{answer:?}");
    assert!(tries > 3, "retried only {tries} times");
    assert!(
        took >= busy_timeout && took < busy_timeout * 5,
        "reported after {took:?} and {tries} tries"
    );
    // The connection is usable afterwards: the failed transaction was ended.
    let one: i64 = pool
        .read(|c| c.query_one("SELECT 1::BIGINT", params![], |r| r.get(0)))
        .expect("read after the conflict");
    assert_eq!(one, 1);
}

#[test]
fn an_error_other_than_a_conflict_is_not_retried() {
    if !postgres_available() {
        eprintln!("skipped: needs {POSTGRES_URL_VAR}");
        return;
    }
    let db = PgDatabase::create();
    let pool = pool(&db, Duration::from_secs(10));
    let mut tries = 0;
    let answer = pool.write(|c| -> Result<(), DbError> {
        tries += 1;
        c.execute("DO $$ BEGIN RAISE SQLSTATE '22012'; END $$", params![])
            .map(|_| ())
    });
    assert!(matches!(answer, Err(DbError::Postgres(_))), "{answer:?}");
    assert_eq!(tries, 1);
}

#[test]
fn a_version_4_database_gains_the_newer_tables() {
    if !postgres_available() {
        eprintln!("skipped: needs {POSTGRES_URL_VAR}");
        return;
    }
    let db = PgDatabase::create();
    // A version-4 database: today's schema without what version 5 added.
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    client
        .batch_execute(restauth::db::pg::SCHEMA)
        .expect("the schema applies");
    client
        .batch_execute(
            "DROP TABLE sessions; INSERT INTO schema_version (version) VALUES (4); \
             INSERT INTO users (username, username_lower, password, date_joined) \
             VALUES ('alice', 'alice', '!', 1)",
        )
        .expect("make it version 4");
    let pool = pool(&db, Duration::from_secs(5));
    let (version, sessions, users): (i64, i64, i64) = pool
        .read(|c| {
            c.query_one(
                "SELECT (SELECT max(version) FROM schema_version), \
                 (SELECT count(*) FROM sessions) + (SELECT count(*) FROM mfa_totp) \
                 + (SELECT count(*) FROM mfa_recovery_codes) + (SELECT count(*) FROM mfa_challenges), \
                 (SELECT count(*) FROM users)",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .expect("read");
    assert_eq!(
        (version, sessions, users),
        (restauth::db::SCHEMA_VERSION, 0, 1)
    );
    let rows: i64 = client
        .query_one("SELECT count(*) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "one version row");
}
