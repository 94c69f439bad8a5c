//! `POST P/token/verify/` (JWT mode): whether a token is one of ours, live,
//! and of a session that still exists. The token comes from the body's
//! `token`, else (blank or absent) the access cookie.

use serde_json::json;

use crate::accounts::sessions;
use crate::api::cookies;
use crate::api::error::JwtRefusal;
use crate::api::fields::{char_field, CharSpec};
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::jwt_auth::REVOKED;
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::{ApiError, FieldErrors};
use crate::security::jwt::{Kind, Refusal};
use crate::App;

/// A token is at most what a body may carry; DRF's field has no limit either.
pub const MAX_TOKEN_CHARS: usize = 1 << 24;

/// `POST`: `200 {}` for a good token, 401 `token_not_valid` otherwise.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let token = char_field(
        &body,
        &mut errors,
        "token",
        CharSpec::optional(MAX_TOKEN_CHARS),
    );
    errors.into_result()?;
    let token = cookies::field_or_cookie(token, req, &app.config.jwt.access_cookie)
        .ok_or_else(|| ApiError::field("token", "This field is required."))?;
    let now = app.clock.unix();
    let refused = |r: Refusal| ApiError::Jwt(JwtRefusal::Token(r.message()));
    let (claims, kind) = match app.jwt_keys.check(&token, Kind::Access, now) {
        Ok(c) => (c, Kind::Access),
        Err(Refusal::WrongType) => (
            app.jwt_keys
                .check(&token, Kind::Refresh, now)
                .map_err(refused)?,
            Kind::Refresh,
        ),
        Err(r) => return Err(refused(r)),
    };
    let live = app.read(|conn| -> Result<bool, ApiError> {
        Ok(match kind {
            Kind::Access => sessions::lookup(conn, &claims.sid, now)?
                .is_some_and(|o| Some(o.user.id) == claims.user_pk()),
            Kind::Refresh => sessions::is_current_refresh(conn, &claims.sid, &claims.jti, now)?,
        })
    })?;
    if !live {
        return Err(ApiError::Jwt(JwtRefusal::Token(REVOKED)));
    }
    Ok(ok(json!({})))
}
