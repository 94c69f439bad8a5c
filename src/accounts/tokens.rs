//! API tokens: one per login (per device), stored as SHA-256, expiring.

use rusqlite::{params, Connection, OptionalExtension};

use super::users::User;
use super::{now, AccountError};
use crate::security::tokens::{key_hash, new_key};

/// Issues a new token for `user_id`, valid for `ttl_secs`; returns the key the client keeps.
///
/// Expired tokens of the same user are removed on the way, so the table does
/// not grow with every login.
pub fn issue(conn: &Connection, user_id: i64, ttl_secs: i64) -> Result<String, AccountError> {
    let key = new_key()?;
    let t = now();
    conn.prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND expires_at <= ?2")?
        .execute(params![user_id, t])?;
    conn.prepare_cached(
        "INSERT INTO tokens (key_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        &key_hash(&key)[..],
        user_id,
        t,
        t.saturating_add(ttl_secs)
    ])?;
    Ok(key)
}

/// A token that matched, with its owner.
pub struct TokenOwner {
    /// Row id of the token (used to keep or revoke exactly this one).
    pub token_id: i64,
    /// The owner.
    pub user: User,
}

/// The live (unexpired) token with this key, and its user.
pub fn lookup(conn: &Connection, key: &str) -> Result<Option<TokenOwner>, AccountError> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached("SELECT id, user_id FROM tokens WHERE key_sha256 = ?1 AND expires_at > ?2")?
        .query_row(params![&key_hash(key)[..], now()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((token_id, user_id)) = row else {
        return Ok(None);
    };
    Ok(super::users::by_id(conn, user_id)?.map(|user| TokenOwner { token_id, user }))
}

/// Revokes one token.
pub fn revoke(conn: &Connection, token_id: i64) -> Result<(), AccountError> {
    conn.prepare_cached("DELETE FROM tokens WHERE id = ?1")?
        .execute([token_id])?;
    Ok(())
}

/// Revokes every token of `user_id` except `keep` (if given).
pub fn revoke_all_for_user(
    conn: &Connection,
    user_id: i64,
    keep: Option<i64>,
) -> Result<usize, AccountError> {
    let n = conn
        .prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND id != ?2")?
        .execute(params![user_id, keep.unwrap_or(-1)])?;
    Ok(n)
}
