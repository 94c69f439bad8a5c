//! API tokens: one per login (per device), stored as SHA-256, expiring.

use crate::db::{params, Conn};

use super::users::User;
use super::AccountError;
use crate::security::tokens::{key_hash, new_key};

/// Issues a new token for `user_id`, valid for `ttl_secs`; returns the key the client keeps.
///
/// Expired tokens of the same user are removed on the way, so the table does
/// not grow with every login.
pub fn issue(conn: &Conn, user_id: i64, ttl_secs: i64, now: i64) -> Result<String, AccountError> {
    let key = new_key()?;
    conn.execute(
        "DELETE FROM tokens WHERE user_id = ?1 AND expires_at <= ?2",
        params![user_id, now],
    )?;
    conn.execute(
        "INSERT INTO tokens (key_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![key_hash(&key), user_id, now, now.saturating_add(ttl_secs)],
    )?;
    Ok(key)
}

/// What a request was authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// A token-mode key: `token_id` is a `tokens` row.
    Token,
    /// A JWT-mode access token: `token_id` is a `sessions` row.
    Session,
}

/// A token that matched, with its owner.
pub struct TokenOwner {
    /// Row id of the token or session (used to keep or revoke exactly this one).
    pub token_id: i64,
    /// The owner.
    pub user: User,
    /// Which table `token_id` is a row of.
    pub via: LoginKind,
}

static LOOKUP_SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The live (unexpired) token with this key, and its user.
pub fn lookup(conn: &Conn, key: &str, now: i64) -> Result<Option<TokenOwner>, AccountError> {
    // One statement, so one read transaction (each costs SQLite's file locks).
    // `users.` qualifies the first of the user columns, `id`, the only name
    // the two tables share.
    let sql = LOOKUP_SQL.get_or_init(|| {
        format!(
            "SELECT tokens.id, users.{} FROM tokens JOIN users ON users.id = tokens.user_id \
             WHERE tokens.key_sha256 = ?1 AND tokens.expires_at > ?2",
            super::users::COLUMNS
        )
    });
    Ok(conn.query_opt(sql, params![key_hash(key), now], |r| {
        Ok(TokenOwner {
            token_id: r.get(0)?,
            user: super::users::from_row_at(r, 1)?,
            via: LoginKind::Token,
        })
    })?)
}

/// Revokes one token.
pub fn revoke(conn: &Conn, token_id: i64) -> Result<(), AccountError> {
    conn.execute("DELETE FROM tokens WHERE id = ?1", params![token_id])?;
    Ok(())
}

/// Revokes every token of `user_id` except `keep` (if given).
pub fn revoke_all_for_user(
    conn: &Conn,
    user_id: i64,
    keep: Option<i64>,
) -> Result<usize, AccountError> {
    let n = conn.execute(
        "DELETE FROM tokens WHERE user_id = ?1 AND id != ?2",
        params![user_id, keep.unwrap_or(-1)],
    )?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::users::{create, NewUser};
    use rusqlite::StatementStatus;

    /// A fixed time: 2026-12-02T00:00:00Z.
    const T0: i64 = 1_796_169_600;

    #[test]
    fn the_lookup_is_parsed_once_not_on_every_request() {
        let dir = std::env::temp_dir().join(format!("restauth-tokens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let raw = crate::db::sqlite::open_and_migrate(
            &dir.join("db.sqlite3"),
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let conn = crate::db::Conn::sqlite(&raw);
        let user = create(
            &conn,
            &NewUser {
                username: "alice",
                email: "",
                email_verified: false,
                first_name: "",
                last_name: "",
                password_hash: "!",
            },
            T0,
        )
        .unwrap();
        let keys: Vec<String> = (0..3)
            .map(|_| issue(&conn, user.id, 60, T0).unwrap())
            .collect();
        for key in keys.iter().chain(keys.iter()) {
            let owner = lookup(&conn, key, T0 + 59).unwrap().expect("live token");
            assert_eq!(owner.user.username, "alice");
        }
        assert!(lookup(&conn, "no-such-key", T0).unwrap().is_none());
        // Expired at its expiry second, whatever the system clock says.
        assert!(lookup(&conn, &keys[0], T0 + 60).unwrap().is_none());
        let sql = LOOKUP_SQL.get().expect("prepared");
        let reprepared = raw
            .prepare_cached(sql)
            .unwrap()
            .get_status(StatementStatus::RePrepare);
        assert_eq!(reprepared, 0, "re-parsed on new bindings");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
