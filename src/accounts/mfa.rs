//! Two-factor login's rows: a user's TOTP authenticator (`mfa_totp`), their
//! recovery codes (`mfa_recovery_codes`) and the pending second steps of
//! logins (`mfa_challenges`). Replay protection is a compare-and-set in the
//! database, so two nodes (or two requests) never accept one code twice.

use crate::db::{params, Conn};

use super::AccountError;
use crate::security::tokens::key_hash;

/// A user's authenticator.
#[derive(Debug, Clone)]
pub struct Totp {
    /// The sealed secret.
    pub secret_sealed: Vec<u8>,
    /// The last accepted time step.
    pub last_step: i64,
    /// Activation time.
    pub created_at: i64,
    /// Last accepted code at `mfa/verify/`.
    pub last_used_at: Option<i64>,
}

/// `user_id`'s authenticator, if MFA is on.
pub fn totp(conn: &Conn, user_id: i64) -> Result<Option<Totp>, AccountError> {
    Ok(conn.query_opt(
        "SELECT secret_sealed, last_step, created_at, last_used_at FROM mfa_totp WHERE user_id = ?1",
        params![user_id],
        |r| {
            Ok(Totp {
                secret_sealed: r.get(0)?,
                last_step: r.get(1)?,
                created_at: r.get(2)?,
                last_used_at: r.get(3)?,
            })
        },
    )?)
}

/// Whether MFA is on for `user_id`.
pub fn is_enabled(conn: &Conn, user_id: i64) -> Result<bool, AccountError> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM mfa_totp WHERE user_id = ?1",
            params![user_id],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}

/// Turns MFA on with the sealed secret whose code of `step` was just
/// accepted (so it cannot log in again), and the recovery codes' HMACs.
/// `false` when it was on already (another request won).
pub fn enable(
    tx: &Conn,
    user_id: i64,
    secret_sealed: &[u8],
    step: i64,
    now: i64,
    recovery_hmacs: &[Vec<u8>],
) -> Result<bool, AccountError> {
    let inserted = tx.execute(
        "INSERT INTO mfa_totp (user_id, secret_sealed, last_step, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_id) DO NOTHING",
        params![user_id, secret_sealed, step, now],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    replace_recovery_codes(tx, user_id, recovery_hmacs)?;
    Ok(true)
}

/// Turns MFA off: the authenticator, the recovery codes and pending logins go.
/// `false` when it was off.
pub fn disable(tx: &Conn, user_id: i64) -> Result<bool, AccountError> {
    tx.execute(
        "DELETE FROM mfa_recovery_codes WHERE user_id = ?1",
        params![user_id],
    )?;
    end_challenges_of(tx, user_id)?;
    Ok(tx.execute("DELETE FROM mfa_totp WHERE user_id = ?1", params![user_id])? > 0)
}

/// Records that a code of `step` was accepted, unless that step (or a later
/// one) already was: `false` then, and the code must be refused.
/// `used_at` also stamps `last_used_at` (a login, not a deactivation).
pub fn use_step(
    tx: &Conn,
    user_id: i64,
    step: i64,
    used_at: Option<i64>,
) -> Result<bool, AccountError> {
    Ok(tx.execute(
        "UPDATE mfa_totp SET last_step = ?2, last_used_at = COALESCE(?3, last_used_at) \
         WHERE user_id = ?1 AND last_step < ?2",
        params![user_id, step, used_at],
    )? == 1)
}

/// Uses one unused recovery code of `user_id` with this HMAC: `false` if there is none.
pub fn use_recovery_code(
    tx: &Conn,
    user_id: i64,
    code_hmac: &[u8],
    now: i64,
) -> Result<bool, AccountError> {
    let used = tx.execute(
        "UPDATE mfa_recovery_codes SET used_at = ?3 WHERE id = (\
           SELECT id FROM mfa_recovery_codes \
           WHERE user_id = ?1 AND code_hmac = ?2 AND used_at IS NULL LIMIT 1) \
         AND used_at IS NULL",
        params![user_id, code_hmac, now],
    )? == 1;
    if used {
        tx.execute(
            "UPDATE mfa_totp SET last_used_at = ?2 WHERE user_id = ?1",
            params![user_id, now],
        )?;
    }
    Ok(used)
}

/// Replaces `user_id`'s recovery codes with these HMACs.
pub fn replace_recovery_codes(
    tx: &Conn,
    user_id: i64,
    recovery_hmacs: &[Vec<u8>],
) -> Result<(), AccountError> {
    tx.execute(
        "DELETE FROM mfa_recovery_codes WHERE user_id = ?1",
        params![user_id],
    )?;
    for h in recovery_hmacs {
        tx.execute(
            "INSERT INTO mfa_recovery_codes (user_id, code_hmac) VALUES (?1, ?2)",
            params![user_id, h.as_slice()],
        )?;
    }
    Ok(())
}

/// How many of `user_id`'s recovery codes are still unused.
pub fn unused_recovery_codes(conn: &Conn, user_id: i64) -> Result<i64, AccountError> {
    Ok(conn.query_one(
        "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        params![user_id],
        |r| r.get(0),
    )?)
}

/// Starts the second step of `user_id`'s login: `token` (stored hashed)
/// until `expires_at`. The user's expired challenges go on the way.
pub fn start_challenge(
    tx: &Conn,
    user_id: i64,
    token: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), AccountError> {
    tx.execute(
        "DELETE FROM mfa_challenges WHERE user_id = ?1 AND expires_at <= ?2",
        params![user_id, now],
    )?;
    tx.execute(
        "INSERT INTO mfa_challenges (token_sha256, user_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4)",
        params![key_hash(token), user_id, now, expires_at],
    )?;
    // A few devices may log in at once; more pending steps are only more
    // rows. (Each has its own failure budget: what bounds the guesses of
    // someone who has the password is the user's softlock.)
    tx.execute(
        "DELETE FROM mfa_challenges WHERE user_id = ?1 AND id NOT IN (\
           SELECT id FROM mfa_challenges WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)",
        params![user_id, LIVE_CHALLENGES],
    )?;
    Ok(())
}

/// Pending second steps kept per user (the newest; a few devices logging in at once).
const LIVE_CHALLENGES: i64 = 3;

/// Takes `id` for this transaction if it is still live (not expired, under
/// `max_failures`): the row is written, so a concurrent request waits or
/// retries and then sees what this one did. `false`: it is gone.
pub fn claim_challenge(
    tx: &Conn,
    id: i64,
    now: i64,
    max_failures: u32,
) -> Result<bool, AccountError> {
    Ok(tx.execute(
        "UPDATE mfa_challenges SET failures = failures \
         WHERE id = ?1 AND expires_at > ?2 AND failures < ?3",
        params![id, now, i64::from(max_failures)],
    )? == 1)
}

/// Spends activation token `token` (valid until `expires_at`) for `user_id`:
/// `false` if it was spent before. Spent tokens past their expiry go.
pub fn spend_activation(
    tx: &Conn,
    user_id: i64,
    token: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, AccountError> {
    tx.execute(
        "DELETE FROM mfa_used_activations WHERE expires_at <= ?1",
        params![now],
    )?;
    Ok(tx.execute(
        "INSERT INTO mfa_used_activations (token_sha256, user_id, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (token_sha256) DO NOTHING",
        params![key_hash(token), user_id, expires_at],
    )? == 1)
}

/// A live challenge: its row and its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// The row id.
    pub id: i64,
    /// The user logging in.
    pub user_id: i64,
}

/// The live challenge of `token`, if any.
pub fn challenge(conn: &Conn, token: &str, now: i64) -> Result<Option<Challenge>, AccountError> {
    Ok(conn.query_opt(
        "SELECT id, user_id FROM mfa_challenges WHERE token_sha256 = ?1 AND expires_at > ?2",
        params![key_hash(token), now],
        |r| {
            Ok(Challenge {
                id: r.get(0)?,
                user_id: r.get(1)?,
            })
        },
    )?)
}

/// Counts a wrong code against the challenge; at `max_failures` it is deleted.
pub fn fail_challenge(tx: &Conn, id: i64, max_failures: u32) -> Result<(), AccountError> {
    tx.execute(
        "UPDATE mfa_challenges SET failures = failures + 1 WHERE id = ?1",
        params![id],
    )?;
    tx.execute(
        "DELETE FROM mfa_challenges WHERE id = ?1 AND failures >= ?2",
        params![id, i64::from(max_failures)],
    )?;
    Ok(())
}

/// Ends every pending challenge of `user_id`.
pub fn end_challenges_of(tx: &Conn, user_id: i64) -> Result<(), AccountError> {
    tx.execute(
        "DELETE FROM mfa_challenges WHERE user_id = ?1",
        params![user_id],
    )?;
    Ok(())
}

/// Ends a challenge (it logged the user in): `false` if another request
/// ended it first, and that request's login is the only one.
pub fn end_challenge(tx: &Conn, id: i64) -> Result<bool, AccountError> {
    Ok(tx.execute("DELETE FROM mfa_challenges WHERE id = ?1", params![id])? == 1)
}
