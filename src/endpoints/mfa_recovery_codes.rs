//! `POST P/mfa/recovery-codes/` and `…/regenerate/`.
//!
//! Recovery codes are stored as keyed hashes and shown once (activation,
//! regeneration): `recovery-codes/` cannot list them as the reference does
//! (it recomputes them from a seed stored in clear), and answers how many
//! are left instead.

use serde_json::json;

use crate::accounts::mfa;
use crate::api::fields::{char_field, CharSpec};
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::second_factor::{accept_totp, new_recovery_codes};
use crate::api::{ApiError, FieldErrors};
use crate::App;

use super::mfa_deactivate::NOT_ENABLED;

/// `POST`: `{"codes": [], "unused": N}` (`N` = 0 when MFA is off).
pub fn list(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    let unused = app.read(|conn| mfa::unused_recovery_codes(conn, user_id))?;
    Ok(ok(json!({"codes": [], "unused": unused})))
}

/// `POST …/regenerate/` `{code}`: new codes, the old ones dead. Beyond the
/// reference (which asks for nothing), a fresh proof: a TOTP code or an
/// unused recovery code (then spent), so that a stolen access token alone
/// cannot mint a second factor.
pub fn regenerate(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    if !app.read(|conn| mfa::is_enabled(conn, user_id))? {
        return Err(ApiError::BadRequest(NOT_ENABLED));
    }
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let code = char_field(&body, &mut errors, "code", CharSpec::required(64));
    errors.into_result()?;
    let code = code.unwrap_or_default();
    let lock_key = format!("user:{user_id}");
    app.check_softlock(&lock_key)?;
    let now = app.clock.unix();
    let (codes, hmacs) = new_recovery_codes(app)?;
    let recovery_hmac = app.mfa_keys.recovery_hmac(&code);
    let done = app.write(|tx| -> Result<Option<bool>, ApiError> {
        let Some(totp) = mfa::totp(tx, user_id)? else {
            return Ok(None);
        };
        let proved = accept_totp(app, tx, user_id, &totp, &code, now, None)?
            || mfa::use_recovery_code(tx, user_id, &recovery_hmac, now)?;
        if proved {
            mfa::replace_recovery_codes(tx, user_id, &hmacs)?;
        }
        Ok(Some(proved))
    })?;
    match done {
        None => Err(ApiError::BadRequest(NOT_ENABLED)),
        Some(false) => {
            app.softlock_failure(&lock_key);
            Err(ApiError::field("code", "Invalid code."))
        }
        Some(true) => {
            app.clear_softlock(&lock_key);
            Ok(ok(json!({ "codes": codes })))
        }
    }
}
