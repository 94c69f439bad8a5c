//! `POST P/mfa/totp/deactivate/`: a TOTP code (not a recovery code) turns MFA
//! off; the secret, the recovery codes and pending logins are deleted.

use crate::accounts::mfa;
use crate::api::fields::{char_field, CharSpec};
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::respond::detail;
use crate::api::route::Caller;
use crate::api::second_factor::accept_totp;
use crate::api::{ApiError, FieldErrors};
use crate::App;

/// The reference's answer when MFA is off.
pub const NOT_ENABLED: &str = "MFA is not enabled.";

/// `POST` `{code}`.
pub fn post(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    if !app.read(|conn| mfa::is_enabled(conn, user_id))? {
        return Err(ApiError::BadRequest(NOT_ENABLED));
    }
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let code = char_field(&body, &mut errors, "code", CharSpec::required(64));
    errors.into_result()?;
    // A stolen access token must not become a way to guess codes.
    let lock_key = format!("user:{user_id}");
    app.check_softlock(&lock_key)?;
    let now = app.clock.unix();
    let code = code.unwrap_or_default();
    // The authenticator is read in the transaction that deletes it: the code
    // is checked against the secret that is turned off.
    let done = app.write(|tx| -> Result<Option<bool>, ApiError> {
        let Some(totp) = mfa::totp(tx, user_id)? else {
            return Ok(None);
        };
        if !accept_totp(app, tx, user_id, &totp, &code, now, None)? {
            return Ok(Some(false));
        }
        mfa::disable(tx, user_id)?;
        Ok(Some(true))
    })?;
    let Some(done) = done else {
        return Err(ApiError::BadRequest(NOT_ENABLED));
    };
    if !done {
        app.softlock_failure(&lock_key);
        return Err(ApiError::field("code", "Invalid code."));
    }
    app.clear_softlock(&lock_key);
    Ok(detail("TOTP has been deactivated."))
}
