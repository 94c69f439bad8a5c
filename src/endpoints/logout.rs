//! `POST P/logout/` (and `GET` when `logout_on_get`): revokes the presented token.

use crate::api::http::{Request, Response};

use crate::accounts::tokens;
use crate::api::respond::{detail, method_not_allowed};
use crate::api::route::Caller;
use crate::api::ApiError;
use crate::App;

/// Methods of this path: DRF lists GET even when it is disabled.
pub const ALLOW: &str = "GET, POST, HEAD, OPTIONS";

/// `GET` (and `HEAD`): a logout too when `accounts.logout_on_get`, else 405.
pub fn get(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    if !app.config.accounts.logout_on_get {
        return Err(method_not_allowed(req, ALLOW));
    }
    post(app, req, caller)
}

/// `POST`: revokes the token the request was authenticated with.
pub fn post(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let Some(owner) = &caller.user else {
        return Err(ApiError::BadRequest(
            "You should be logged in to logout. Check whether the token is passed.",
        ));
    };
    app.write(|tx| -> Result<(), ApiError> { Ok(tokens::revoke(tx, owner.token_id)?) })?;
    Ok(detail("Successfully logged out."))
}
