//! `POST P/logout/` (and `GET` when `logout_on_get`): revokes the presented token.

use crate::api::http::{Request, Response};

use crate::accounts::tokens;
use crate::api::auth::authenticate;
use crate::api::respond::{detail, method_not_allowed, options};
use crate::api::ApiError;
use crate::App;

/// Methods of this path (DRF lists GET even when it is disabled).
pub const ALLOW: &str = "GET, POST, HEAD, OPTIONS";

/// Handles the request.
pub fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    // As in DRF, authentication runs before the method check: a bad token is a 401 on any method.
    let owner = app.read(|conn| authenticate(conn, req.header("Authorization")))?;
    match req.method() {
        "POST" => {}
        "GET" | "HEAD" if app.config.accounts.logout_on_get => {}
        "OPTIONS" => return Ok(options("Logout", ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    let Some(owner) = owner else {
        return Err(ApiError::Detail(
            400,
            "You should be logged in to logout. Check whether the token is passed.".into(),
        ));
    };
    app.write(|tx| -> Result<(), ApiError> { Ok(tokens::revoke(tx, owner.token_id)?) })?;
    Ok(detail("Successfully logged out."))
}
