//! The throttle and the softlock kept in PostgreSQL, so that every node of
//! one database counts the same requests and failures: a brute force spread
//! over three nodes is slowed after the same `softlock_threshold` failures
//! as on one. Same rules as [`super::throttle`] (DRF's sliding windows, the
//! softlock state machine documented there); what differs:
//!
//! * time is the database's clock (`now()`), so nodes with skewed clocks agree;
//! * each operation is one statement, outside the request's transaction (a
//!   request that fails still counts), atomic per key through the row lock an
//!   upsert takes: two nodes never both let the last allowed request through;
//! * keys are stored as their SHA-256 (no client address or typed email in
//!   the table), in `UNLOGGED` tables (a crash of PostgreSQL empties them, as
//!   a restart empties the in-memory counters of a single node);
//! * expired rows are purged every [`PURGE_EVERY`] operations of a node, so
//!   the tables hold roughly the keys active in the longest window (no LRU
//!   bound is needed: rows are on disk, not in a node's memory).
//!
//! A database error lets the request through (logged): the request then
//! needs the same database, and answers 503 if it is really down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use super::throttle::{Rate, SoftlockPolicy, Wait};
use super::tokens::key_hash;
use crate::db::{params, DbError, Pool};

/// Operations between two purges of expired rows, per node.
pub const PURGE_EVERY: u64 = 256;

const NOW: &str = "extract(epoch FROM now())";

/// The counted hits of the key still inside the window ending now.
const KEPT: &str =
    "ARRAY(SELECT h FROM unnest(c.hits) AS h WHERE h > EXCLUDED.hits[1] - CAST(?3 AS BIGINT) / 1000.0)";

/// ?1 key hash, ?2 allowed count, ?3 period in ms. Returns (counted 0/1,
/// whole seconds until the oldest kept hit leaves the window).
static HIT: LazyLock<String> = LazyLock::new(|| {
    let kept = KEPT;
    let room = format!("cardinality({kept}) < CAST(?2 AS INTEGER)");
    format!(
        "INSERT INTO throttle_counters AS c (key_sha256, hits, expires_at)
         VALUES (?1, ARRAY[{NOW}], {NOW} + CAST(?3 AS BIGINT) / 1000.0)
         ON CONFLICT (key_sha256) DO UPDATE SET
             hits = CASE WHEN {room} THEN {kept} || EXCLUDED.hits[1] ELSE {kept} END,
             expires_at = CASE WHEN {room} THEN EXCLUDED.expires_at ELSE c.expires_at END
         RETURNING CASE WHEN c.hits[cardinality(c.hits)] = {NOW} THEN 1 ELSE 0 END,
                   CAST(ceil(c.hits[1] + CAST(?3 AS BIGINT) / 1000.0 - {NOW}) AS BIGINT)"
    )
});

/// ?1 key hash, ?2 threshold, ?3 base delay in ms, ?4 longest delay in ms.
static FAILED: LazyLock<String> = LazyLock::new(|| {
    // A day without failures starts the count again.
    let failures =
        "CASE WHEN s.last_failure <= EXCLUDED.last_failure - 86400 THEN 1 ELSE s.failures + 1 END";
    let until = |n: &str, at: &str| {
        format!(
            "CASE WHEN {n} >= CAST(?2 AS INTEGER) THEN {at} + least(CAST(?3 AS BIGINT) * power(2, least({n} - CAST(?2 AS INTEGER), 30)), CAST(?4 AS BIGINT)) / 1000.0 END"
        )
    };
    format!(
        "INSERT INTO softlocks AS s (key_sha256, failures, last_failure, locked_until)
         VALUES (?1, 1, {NOW}, {})
         ON CONFLICT (key_sha256) DO UPDATE SET
             failures = {failures},
             last_failure = EXCLUDED.last_failure,
             locked_until = {}",
        until("1", NOW),
        until(failures, "EXCLUDED.last_failure"),
    )
});

/// Throttle counters and softlocks in the database of several nodes.
pub struct SharedThrottle {
    pool: Arc<Pool>,
    policy: SoftlockPolicy,
    ops: AtomicU64,
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SharedThrottle {
    /// Counters and softlocks in `pool`'s database, with `policy`.
    pub fn new(pool: Arc<Pool>, policy: SoftlockPolicy) -> SharedThrottle {
        SharedThrottle {
            pool,
            policy,
            ops: AtomicU64::new(0),
        }
    }

    /// The softlock parameters.
    pub fn policy(&self) -> SoftlockPolicy {
        self.policy
    }

    /// Counts one request for `key` under `rate`; `Err(wait)` when over the
    /// limit (a refused request is not counted).
    pub fn hit(&self, key: &str, rate: Rate) -> Result<(), Wait> {
        self.maintain();
        let (counted, wait): (i64, i64) = self
            .run(|| {
                self.pool.read(|c| {
                    c.query_one(
                        &HIT,
                        params![key_hash(key), rate.count, millis(rate.period)],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                })
            })
            .unwrap_or((1, 0));
        match counted {
            1 => Ok(()),
            _ => Err(Wait(u64::try_from(wait).unwrap_or(0).max(1))),
        }
    }

    /// `Err(wait)` while `account` is softlocked.
    pub fn check_softlock(&self, account: &str) -> Result<(), Wait> {
        let left: Option<i64> = self
            .run(|| {
                self.pool.read(|c| {
                    c.query_opt(
                        &format!(
                            "SELECT CAST(ceil(locked_until - {NOW}) AS BIGINT) FROM softlocks
                             WHERE key_sha256 = ?1 AND locked_until > {NOW}"
                        ),
                        params![key_hash(account)],
                        |r| r.get(0),
                    )
                })
            })
            .flatten();
        match left {
            Some(secs) => Err(Wait(u64::try_from(secs).unwrap_or(0).max(1))),
            None => Ok(()),
        }
    }

    /// Records a failed login for `account`.
    pub fn login_failed(&self, account: &str) {
        self.maintain();
        let p = self.policy;
        self.run(|| {
            self.pool.read(|c| {
                c.execute(
                    &FAILED,
                    params![
                        key_hash(account),
                        p.threshold,
                        millis(p.base),
                        millis(p.max)
                    ],
                )
            })
        });
    }

    /// Clears `account`'s softlock (a successful login or password reset).
    pub fn clear(&self, account: &str) {
        self.run(|| {
            self.pool.read(|c| {
                c.execute(
                    "DELETE FROM softlocks WHERE key_sha256 = ?1",
                    params![key_hash(account)],
                )
            })
        });
    }

    /// Every [`PURGE_EVERY`] operations, deletes rows that no longer count.
    fn maintain(&self) {
        if self.ops.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY != PURGE_EVERY - 1 {
            return;
        }
        self.run(|| {
            self.pool.read(|c| {
                c.execute(
                    &format!("DELETE FROM throttle_counters WHERE expires_at <= {NOW}"),
                    params![],
                )?;
                c.execute(
                    &format!(
                        "DELETE FROM softlocks WHERE last_failure <= {NOW} - 86400
                         AND (locked_until IS NULL OR locked_until <= {NOW})"
                    ),
                    params![],
                )
            })
        });
    }

    /// The result of `f`, or `None` (logged) when the database failed.
    fn run<T>(&self, f: impl FnOnce() -> Result<T, DbError>) -> Option<T> {
        match f() {
            Ok(v) => Some(v),
            Err(e) => {
                crate::log!("restauth: throttle: {e}; the request is let through");
                None
            }
        }
    }
}
