//! JWT-mode logins: one `sessions` row per login (device), holding the hash
//! of the one refresh token that may be used now and of the one it replaced.
//!
//! A session id (`sid`) and each token's `jti` are random; only their SHA-256
//! is stored. Revoking a session deletes its row: every access and refresh
//! token that names it is refused from then on.

use crate::db::{params, Conn};

use super::tokens::{LoginKind, TokenOwner};
use super::AccountError;
use crate::security::tokens::key_hash;

/// Starts a session for `user_id` whose refresh token has `jti` and expires
/// at `expires_at`. Expired sessions of the user are removed on the way.
pub fn start(
    conn: &Conn,
    user_id: i64,
    sid: &str,
    jti: &str,
    now: i64,
    expires_at: i64,
) -> Result<i64, AccountError> {
    conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND expires_at <= ?2",
        params![user_id, now],
    )?;
    Ok(conn.query_one(
        "INSERT INTO sessions (sid_sha256, user_id, refresh_sha256, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![key_hash(sid), user_id, key_hash(jti), now, expires_at],
        |r| r.get(0),
    )?)
}

static LOOKUP_SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The live session `sid` and its user: what an access token is checked against.
pub fn lookup(conn: &Conn, sid: &str, now: i64) -> Result<Option<TokenOwner>, AccountError> {
    let sql = LOOKUP_SQL.get_or_init(|| {
        format!(
            "SELECT sessions.id, users.{} FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.sid_sha256 = ?1 AND sessions.expires_at > ?2",
            super::users::COLUMNS
        )
    });
    Ok(conn.query_opt(sql, params![key_hash(sid), now], |r| {
        Ok(TokenOwner {
            token_id: r.get(0)?,
            user: super::users::from_row_at(r, 1)?,
            via: LoginKind::Session,
        })
    })?)
}

/// What presenting a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// It was the session's current token: `user_id` may have new tokens
    /// (and, when rotating, the session now expects the new `jti`).
    Accepted {
        /// The session's row id.
        session_id: i64,
        /// The session's user.
        user_id: i64,
    },
    /// The token it replaced, within the grace window after the rotation:
    /// a second tab refreshing at once. New access only; nothing revoked.
    JustRotated {
        /// The session's row id.
        session_id: i64,
        /// The session's user.
        user_id: i64,
    },
    /// A replaced token after the grace window (or an older one): the
    /// session has been deleted, every token of the family with it.
    Reused,
    /// No such live session (logged out, revoked, expired).
    Unknown,
}

/// Checks refresh token `jti` of session `sid` and, with `rotate_to`,
/// replaces it by that `jti` expiring at `expires_at`. Run in a write
/// transaction: two refreshes of one token never both rotate.
pub fn refresh(
    conn: &Conn,
    sid: &str,
    jti: &str,
    rotate_to: Option<(&str, i64)>,
    now: i64,
    grace_secs: i64,
) -> Result<Refresh, AccountError> {
    let found = conn.query_opt(
        "SELECT id, user_id, refresh_sha256, previous_sha256, rotated_at FROM sessions \
         WHERE sid_sha256 = ?1 AND expires_at > ?2",
        params![key_hash(sid), now],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<i64>(1)?,
                r.get::<Vec<u8>>(2)?,
                r.get::<Option<Vec<u8>>>(3)?,
                r.get::<Option<i64>>(4)?,
            ))
        },
    )?;
    let Some((session_id, user_id, current, previous, rotated_at)) = found else {
        return Ok(Refresh::Unknown);
    };
    let presented = key_hash(jti);
    // Hashes of random values: comparing them leaks nothing about a token.
    if current == presented {
        if let Some((new_jti, expires_at)) = rotate_to {
            // Compare-and-swap, though the write transaction already serialises it.
            let swapped = conn.execute(
                "UPDATE sessions SET previous_sha256 = refresh_sha256, refresh_sha256 = ?1, \
                 rotated_at = ?2, expires_at = ?3 WHERE id = ?4 AND refresh_sha256 = ?5",
                params![key_hash(new_jti), now, expires_at, session_id, presented],
            )?;
            if swapped != 1 {
                return Ok(Refresh::Unknown);
            }
        }
        return Ok(Refresh::Accepted {
            session_id,
            user_id,
        });
    }
    let within_grace = rotated_at.is_some_and(|t| now - t < grace_secs);
    if previous.as_deref() == Some(&presented[..]) && within_grace {
        return Ok(Refresh::JustRotated {
            session_id,
            user_id,
        });
    }
    conn.execute("DELETE FROM sessions WHERE id = ?1", params![session_id])?;
    Ok(Refresh::Reused)
}

/// Whether `jti` is the refresh token session `sid` expects now.
pub fn is_current_refresh(
    conn: &Conn,
    sid: &str,
    jti: &str,
    now: i64,
) -> Result<bool, AccountError> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM sessions WHERE sid_sha256 = ?1 AND refresh_sha256 = ?2 AND expires_at > ?3",
            params![key_hash(sid), key_hash(jti), now],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}

/// Revokes session `sid` (logout); whether there was one.
pub fn revoke(conn: &Conn, sid: &str) -> Result<bool, AccountError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE sid_sha256 = ?1",
        params![key_hash(sid)],
    )? > 0)
}

/// Revokes every session of `user_id` except the one with row id `keep`.
pub fn revoke_all_for_user(
    conn: &Conn,
    user_id: i64,
    keep: Option<i64>,
) -> Result<usize, AccountError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2",
        params![user_id, keep.unwrap_or(-1)],
    )?)
}
