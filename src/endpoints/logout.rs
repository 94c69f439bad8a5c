//! `POST P/logout/` (and `GET` when `logout_on_get`): revokes the presented token.

use crate::accounts::sessions;
use crate::api::cookies;
use crate::api::error::JwtRefusal;
use crate::api::fields::{char_field, CharSpec};
use crate::api::grant;
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::jwt_auth::{self, REVOKED};
use crate::api::FieldErrors;
use crate::config::AuthMode;
use crate::endpoints::token_verify::MAX_TOKEN_CHARS;
use crate::security::jwt::Kind;

use crate::accounts::tokens;
use crate::api::respond::{detail, method_not_allowed};
use crate::api::route::Caller;
use crate::api::ApiError;
use crate::App;

/// Methods of this path: DRF lists GET even when it is disabled.
pub const ALLOW: &str = "GET, POST, HEAD, OPTIONS";

/// `GET` (and `HEAD`): a logout too when `accounts.logout_on_get` (token mode only), else 405.
pub fn get(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    // In JWT mode the credentials are cookies, which a cross-site link sends
    // along: a GET must not log anyone out.
    if !app.config.accounts.logout_on_get || app.config.auth.mode == AuthMode::Jwt {
        return Err(method_not_allowed(req, ALLOW));
    }
    post(app, req, caller)
}

/// `POST`: revokes the token the request was authenticated with (in JWT
/// mode, the session of the refresh or access token presented).
pub fn post(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    if app.config.auth.mode == AuthMode::Jwt {
        return jwt_logout(app, req);
    }
    let Some(owner) = &caller.user else {
        return Err(ApiError::BadRequest(
            "You should be logged in to logout. Check whether the token is passed.",
        ));
    };
    app.write(|tx| -> Result<(), ApiError> { Ok(tokens::revoke(tx, owner.token_id)?) })?;
    Ok(detail("Successfully logged out."))
}

/// JWT mode: the refresh token from the body's `refresh` or the refresh
/// cookie, else the access token (header or cookie), names the session to
/// revoke. Every answer the view makes deletes both cookies; a stale access
/// cookie never stops a logout (the reference answers it 401 and keeps the
/// session alive).
fn jwt_logout(app: &App, req: &Request) -> Result<Response, ApiError> {
    let jwt = &app.config.jwt;
    // A body that cannot be read is answered before anything is deleted, as the reference does.
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let in_body = char_field(
        &body,
        &mut errors,
        "refresh",
        CharSpec::optional(MAX_TOKEN_CHARS),
    );
    let answer = errors.into_result().and_then(|()| {
        let now = app.clock.unix();
        let refresh = cookies::field_or_cookie(in_body, req, &jwt.refresh_cookie);
        // The access token (header or cookie) names the session when the
        // refresh token is absent or bad: a logout should happen if it can.
        let access_sid = || {
            jwt_auth::presented(app, req)
                .ok()
                .flatten()
                .and_then(|t| app.jwt_keys.check(t, Kind::Access, now).ok())
                .map(|c| c.sid)
        };
        let sid = match refresh.map(|t| app.jwt_keys.check(&t, Kind::Refresh, now)) {
            Some(Ok(claims)) => claims.sid,
            Some(Err(refusal)) => {
                access_sid().ok_or(ApiError::Jwt(JwtRefusal::Logout(refusal.message())))?
            }
            // The reference's words for its one transport.
            None => access_sid().ok_or(ApiError::Jwt(JwtRefusal::Logout(
                if grant::refresh_in_body(app) {
                    "Refresh token was not included in request data."
                } else {
                    "Refresh token was not included in cookie data."
                },
            )))?,
        };
        if app.write(|tx| -> Result<bool, ApiError> { Ok(sessions::revoke(tx, &sid)?) })? {
            Ok(detail("Successfully logged out."))
        } else {
            Err(ApiError::Jwt(JwtRefusal::Logout(REVOKED)))
        }
    });
    let response = answer.unwrap_or_else(|e| e.to_response());
    Ok(cookies::delete_both(response, jwt))
}
