//! Email confirmation keys: random, URL-safe, stored as SHA-256, single use, expiring.

use crate::db::{params, Conn};

use super::AccountError;
use crate::security::tokens::key_hash;

/// Creates a key confirming `email` for `user_id`, valid for `ttl_secs`; returns the key for the link.
///
/// 64 characters of `[a-z0-9]` (about 330 bits), as allauth's stored keys.
pub fn create(
    conn: &Conn,
    user_id: i64,
    email: &str,
    ttl_secs: i64,
    now: i64,
) -> Result<String, AccountError> {
    let key = crate::security::random::alphanumeric(64)?.to_ascii_lowercase();
    conn.execute(
        "INSERT INTO email_confirmations (user_id, email, key_sha256, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, email.to_lowercase(), key_hash(&key), now, now.saturating_add(ttl_secs)],
    )?;
    Ok(key)
}

/// What using a confirmation key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The address of this user is now verified.
    User(i64),
    /// Unknown, used or expired key, or the user's address changed since.
    NotFound,
    /// Another account verified the address first; an address is verified for one account only.
    AddressTaken,
}

/// Uses `key`: marks its address verified and the key used (see [`Confirmed`]).
/// Run it in a write transaction: the check that no other account holds the
/// address verified and the update are then one step.
pub fn confirm(conn: &Conn, key: &str, now: i64) -> Result<Confirmed, AccountError> {
    // Keys are lower-case; accept them typed in another case, as allauth does.
    let hash = key_hash(&key.to_ascii_lowercase());
    let row: Option<(i64, i64, String)> = conn.query_opt(
        "SELECT id, user_id, email FROM email_confirmations
         WHERE key_sha256 = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![hash, now],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let Some((id, user_id, email)) = row else {
        return Ok(Confirmed::NotFound);
    };
    if super::users::verified_email_owner(conn, &email)?.is_some_and(|owner| owner != user_id) {
        return Ok(Confirmed::AddressTaken);
    }
    let updated = conn.execute(
        "UPDATE users SET email_verified = 1 WHERE id = ?1 AND email = ?2 AND email_verified = 0",
        params![user_id, email],
    )?;
    if updated == 0 {
        // Already verified, or the address changed since the mail was sent.
        return Ok(Confirmed::NotFound);
    }
    conn.execute(
        "UPDATE email_confirmations SET used_at = ?1 WHERE id = ?2",
        params![now, id],
    )?;
    Ok(Confirmed::User(user_id))
}

/// Whether `email` may receive one more confirmation mail from a registration
/// now: fewer than `throttle.registration_per_email` in its period, counted
/// from the outbox (always true with throttling off).
pub fn may_mail(
    conn: &Conn,
    config: &crate::config::Config,
    email: &str,
    now: i64,
) -> Result<bool, AccountError> {
    if !config.throttle.enabled {
        return Ok(true);
    }
    let rate = config.throttle.registration_per_email;
    let left = crate::mail::outbox::remaining(
        conn,
        &email.to_lowercase(),
        crate::mail::outbox::Kind::EmailConfirmation,
        rate.count,
        rate.period,
        now,
    )?;
    Ok(left > 0)
}

/// Creates a confirmation key for `user`'s address and queues the mail that carries it,
/// in the caller's transaction (so nothing is sent if the change rolls back).
pub fn send(
    conn: &Conn,
    config: &crate::config::Config,
    user: &super::users::User,
    now: i64,
) -> Result<(), AccountError> {
    let ttl = config.accounts.email_confirmation_expire.as_secs() as i64;
    let key = create(conn, user.id, &user.email, ttl, now)?;
    let message =
        crate::mail::templates::confirmation_email(&config.mail, &user.email, &user.username, &key);
    crate::mail::outbox::enqueue_kind(
        conn,
        &message,
        crate::mail::outbox::Kind::EmailConfirmation,
        now,
    )?;
    Ok(())
}
