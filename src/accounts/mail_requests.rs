//! Account mail asked for by address: password resets and confirmation resends.
//!
//! The endpoint [`record`]s the request, one row, whatever the address; the
//! mail worker later calls [`process_pending`], which looks the address up and
//! queues the mail. So the endpoint's work (and its timing) is the same for a
//! registered and an unknown address, and the per-address limit is counted
//! where the mail is made: per message sent to the address, from the outbox,
//! however many accounts share the address.

use crate::db::{params, Conn, Pool};

use super::{confirmations, users, AccountError};
use crate::config::{Config, EmailVerification};
use crate::mail::outbox::{self, Kind};
use crate::mail::templates;
use crate::security::reset_token::{make_token, to_base36, TokenState};
use crate::security::throttle::Rate;

/// Accounts sharing one address that a request may reach.
const MAX_RECIPIENTS: usize = 5;
/// Requests handled per transaction batch.
const BATCH: i64 = 50;

/// What was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRequest {
    /// `password/reset/`: a reset link for every active account with the address.
    PasswordReset,
    /// `registration/resend-email/`: a new confirmation link for every active
    /// account with the address still unverified.
    ResendConfirmation,
}

impl MailRequest {
    fn kind(self) -> Kind {
        match self {
            MailRequest::PasswordReset => Kind::PasswordReset,
            MailRequest::ResendConfirmation => Kind::EmailConfirmation,
        }
    }

    fn parse(s: &str) -> Option<MailRequest> {
        match s {
            "password_reset" => Some(MailRequest::PasswordReset),
            "email_confirmation" => Some(MailRequest::ResendConfirmation),
            _ => None,
        }
    }
}

/// Records a request for `email` in the caller's transaction.
pub fn record(
    conn: &Conn,
    request: MailRequest,
    email: &str,
    now: i64,
) -> Result<(), AccountError> {
    conn.execute(
        "INSERT INTO mail_requests (kind, email, created_at) VALUES (?1, ?2, ?3)",
        params![request.kind().as_str(), email.to_lowercase(), now],
    )?;
    Ok(())
}

/// What the mail worker needs to turn requests into mail.
pub struct Context {
    /// The whole configuration (links, lifetimes, limits).
    pub config: Config,
    /// The server secret (reset links).
    pub secret_key: String,
    /// The clock that dates the mail and decides the limits.
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

/// Turns every pending request into queued mail; returns how many messages
/// were queued. Each request is handled in its own transaction with the mail
/// it causes, so a crash leaves it pending and it is handled after restart.
pub fn process_pending(pool: &Pool, ctx: &Context) -> Result<usize, AccountError> {
    let mut queued = 0;
    loop {
        let pending: Vec<(i64, String, String)> = pool.read(|conn| {
            conn.query_all(
                "SELECT id, kind, email FROM mail_requests ORDER BY id LIMIT ?1",
                params![BATCH],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })?;
        let full = pending.len() as i64 == BATCH;
        for (id, kind, email) in pending {
            queued += pool.write(|tx| -> Result<usize, AccountError> {
                // Gone means another worker took it.
                let taken = tx.execute("DELETE FROM mail_requests WHERE id = ?1", params![id])?;
                match MailRequest::parse(&kind) {
                    Some(request) if taken == 1 => queue_mail(tx, ctx, request, &email, id),
                    _ => Ok(0),
                }
            })?;
        }
        if !full {
            return Ok(queued);
        }
    }
}

/// Queues the mail one request causes, within the per-address limit.
fn queue_mail(
    conn: &Conn,
    ctx: &Context,
    request: MailRequest,
    email: &str,
    request_id: i64,
) -> Result<usize, AccountError> {
    let config = &ctx.config;
    if request == MailRequest::ResendConfirmation
        && config.accounts.email_verification == EmailVerification::None
    {
        return Ok(0);
    }
    let t = ctx.clock.unix();
    let mut budget = remaining(conn, config, request, email, t)?;
    let mut queued = 0;
    let mut recipients = users::by_email(conn, email, MAX_RECIPIENTS)?;
    if !recipients.is_empty() {
        // Accounts sharing the address take turns at the head of the list, so
        // a full budget does not always go to the same, oldest accounts.
        let turn = request_id.rem_euclid(recipients.len() as i64) as usize;
        recipients.rotate_left(turn);
    }
    let verified_owner = users::verified_email_owner(conn, email)?;
    for user in recipients {
        if budget == 0 {
            break;
        }
        if !user.is_active {
            continue;
        }
        match request {
            MailRequest::PasswordReset => {
                let state = TokenState {
                    user_id: user.id,
                    password_hash: &user.password,
                    last_login: user.last_login,
                    email: &user.email,
                };
                let token = make_token(&ctx.secret_key, &state, t);
                let uid = to_base36(user.id as u64);
                let message = templates::password_reset_email(
                    &config.mail,
                    &user.email,
                    &user.username,
                    &uid,
                    &token,
                );
                outbox::enqueue_kind(conn, &message, Kind::PasswordReset, t)?;
            }
            MailRequest::ResendConfirmation => {
                // Verified already, or verified by another account (its key
                // could only be refused): nothing to confirm.
                if user.email_verified || verified_owner.is_some() {
                    continue;
                }
                confirmations::send(conn, config, &user, t)?;
            }
        }
        budget -= 1;
        queued += 1;
    }
    Ok(queued)
}

/// How many more mails of this kind `email` may receive now.
fn remaining(
    conn: &Conn,
    config: &Config,
    request: MailRequest,
    email: &str,
    now: i64,
) -> Result<u32, AccountError> {
    if !config.throttle.enabled {
        return Ok(u32::MAX);
    }
    let rate: Rate = match request {
        MailRequest::PasswordReset => config.throttle.password_reset_per_email,
        MailRequest::ResendConfirmation => config.throttle.resend_email_per_email,
    };
    Ok(outbox::remaining(
        conn,
        email,
        request.kind(),
        rate.count,
        rate.period,
        now,
    )?)
}
