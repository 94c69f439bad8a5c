//! `POST P/mfa/recovery-codes/` and `…/regenerate/`.
//!
//! Recovery codes are stored as keyed hashes and shown once (activation,
//! regeneration): `recovery-codes/` cannot list them as the reference does
//! (it recomputes them from a seed stored in clear), and answers how many
//! are left instead.

use serde_json::json;

use crate::accounts::{mfa, AccountError};
use crate::api::http::{Request, Response};
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::ApiError;
use crate::security::mfa::new_recovery_code;
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
    let codes: Vec<String> = (0..app.config.mfa.recovery_codes)
        .map(|_| new_recovery_code())
        .collect::<Result<_, _>>()
        .map_err(AccountError::from)?;
    let hmacs: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| app.mfa_keys.recovery_hmac(c))
        .collect();
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
