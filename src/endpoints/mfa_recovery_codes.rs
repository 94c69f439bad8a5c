//! `POST P/mfa/recovery-codes/` and `…/regenerate/`.
//!
//! Recovery codes are stored as keyed hashes and shown once (activation,
//! regeneration): `recovery-codes/` cannot list them as the reference does
//! (it recomputes them from a seed stored in clear), and answers how many
//! are left instead.

use serde_json::json;

use crate::accounts::mfa;
use crate::api::http::{Request, Response};
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::second_factor::new_recovery_codes;
use crate::api::ApiError;
use crate::App;

use super::mfa_deactivate::NOT_ENABLED;

/// `POST`: `{"codes": [], "unused": N}` (`N` = 0 when MFA is off).
pub fn list(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    let unused = app.read(|conn| mfa::unused_recovery_codes(conn, user_id))?;
    Ok(ok(json!({"codes": [], "unused": unused})))
}

/// `POST …/regenerate/`: new codes, the old ones dead.
pub fn regenerate(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    let (codes, hmacs) = new_recovery_codes(app)?;
    let done = app.write(|tx| -> Result<bool, ApiError> {
        if !mfa::is_enabled(tx, user_id)? {
            return Ok(false);
        }
        mfa::replace_recovery_codes(tx, user_id, &hmacs)?;
        Ok(true)
    })?;
    if !done {
        return Err(ApiError::BadRequest(NOT_ENABLED));
    }
    Ok(ok(json!({ "codes": codes })))
}
