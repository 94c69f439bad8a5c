//! The second factor where logins happen: login and social login start a
//! challenge instead of handing out credentials when the user has MFA on;
//! `mfa/verify/` and the MFA endpoints check codes through here.

use std::time::SystemTime;

use serde_json::json;

use super::error::json_response;
use super::grant::{self, Grant};
use super::http::Response;
use super::ApiError;
use crate::accounts::mfa::{self, Totp};
use crate::accounts::users::User;
use crate::accounts::AccountError;
use crate::db::Conn;
use crate::security::mfa::{new_ephemeral_token, new_recovery_code};
use crate::security::totp::Codes;
use crate::App;

/// What a correct password (or provider answer) leads to.
pub enum Login {
    /// Credentials (no MFA).
    Granted(Grant),
    /// The ephemeral token of the second step.
    SecondFactor(String),
}

/// Issues `user_id`'s credentials, or with MFA on starts the second step
/// (inside the caller's write transaction).
pub fn begin(app: &App, tx: &Conn, user_id: i64, issued: SystemTime) -> Result<Login, ApiError> {
    if !mfa::is_enabled(tx, user_id)? {
        return Ok(Login::Granted(grant::issue(app, tx, user_id, issued)?));
    }
    let token = new_ephemeral_token().map_err(AccountError::from)?;
    let now = grant::unix(issued);
    let expires = now.saturating_add(grant::secs(app.config.mfa.ephemeral_lifetime));
    mfa::start_challenge(tx, user_id, &token, now, expires)?;
    Ok(Login::SecondFactor(token))
}

/// The answer for `login` (status `status` when granted).
pub fn respond(app: &App, login: Login, user: &User, status: u16) -> Response {
    match login {
        Login::Granted(g) => grant::respond(app, g, user, status),
        // No cookie, no token: the reference's answer.
        Login::SecondFactor(token) => json_response(
            200,
            &json!({"ephemeral_token": token, "mfa_required": true}),
        ),
    }
}

/// `mfa.recovery_codes` new recovery codes, and the HMACs to store of them.
pub fn new_recovery_codes(app: &App) -> Result<(Vec<String>, Vec<Vec<u8>>), ApiError> {
    let codes: Vec<String> = (0..app.config.mfa.recovery_codes)
        .map(|_| new_recovery_code())
        .collect::<Result<_, _>>()
        .map_err(AccountError::from)?;
    let hmacs = codes
        .iter()
        .map(|c| app.mfa_keys.recovery_hmac(c))
        .collect();
    Ok((codes, hmacs))
}

/// What sealing binds a user's TOTP secret to.
pub fn secret_context(user_id: i64) -> Vec<u8> {
    format!("mfa_totp.user_id={user_id}").into_bytes()
}

/// The raw secret of `totp` (the user's row).
pub fn secret(app: &App, user_id: i64, totp: &Totp) -> Result<Vec<u8>, ApiError> {
    app.mfa_keys
        .totp
        .open(&totp.secret_sealed, &secret_context(user_id))
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "the TOTP secret of user {user_id} does not open: was security.secret_key changed?"
            ))
        })
}

/// Whether `code` is a TOTP code of `user_id` not used before; if so its step
/// is recorded (`login_at`: also as the last use), in `tx`, so that no other
/// request accepts it.
pub fn accept_totp(
    app: &App,
    tx: &Conn,
    user_id: i64,
    totp: &Totp,
    code: &str,
    now: i64,
    login_at: Option<i64>,
) -> Result<bool, ApiError> {
    let codes = Codes::new(&app.config.mfa, &secret(app, user_id, totp)?);
    let last = u64::try_from(totp.last_step).ok();
    let Some(step) = codes.accept(code, u64::try_from(now).unwrap_or(0), last) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    Ok(mfa::use_step(tx, user_id, step, login_at)?)
}
