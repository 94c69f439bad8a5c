//! `POST P/token/refresh/` (JWT mode): a refresh token → a new access token
//! and, with `jwt.rotate_refresh`, a new refresh token in the same session.
//!
//! Rotation and reuse detection happen in one write transaction
//! (`sessions::refresh`): of two refreshes of one token only one rotates; the
//! replaced token presented again within `jwt.reuse_grace` gets a new access
//! token only, after it revokes the whole session.

use serde_json::{Map, Value};

use crate::accounts::sessions::{self, Refresh};
use crate::accounts::users::{self, User};
use crate::api::error::{json_response, JwtRefusal};
use crate::api::fields::{char_field, CharSpec};
use crate::api::grant::{self, new_id, sign};
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::jwt_auth::REVOKED;
use crate::api::route::Caller;
use crate::api::{cookies, csrf};
use crate::api::{ApiError, FieldErrors};
use crate::security::jwt::Kind;
use crate::timefmt::rfc3339_micros;
use crate::App;

use super::token_verify::MAX_TOKEN_CHARS;

/// `POST`.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    let jwt = &app.config.jwt;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let token = char_field(
        &body,
        &mut errors,
        "refresh",
        CharSpec::optional(MAX_TOKEN_CHARS),
    );
    errors.into_result()?;
    // Blank is absent (the reference's intent; its field refused it first).
    let token = cookies::field_or_cookie(token, req, &jwt.refresh_cookie).ok_or(ApiError::Jwt(
        JwtRefusal::Token("No valid refresh token found."),
    ))?;
    let issued = app.clock.system();
    let now = grant::unix(issued);
    let claims = app
        .jwt_keys
        .check(&token, Kind::Refresh, now)
        .map_err(|r| ApiError::Jwt(JwtRefusal::Token(r.message())))?;
    let new_refresh_jti = new_id()?;
    let refresh_exp = now.saturating_add(grant::secs(jwt.refresh_lifetime));
    let rotate_to = jwt
        .rotate_refresh
        .then_some((new_refresh_jti.as_str(), refresh_exp));
    // Whole seconds, rounded up: "500ms" is a window, not none.
    let grace = i64::try_from(jwt.reuse_grace.as_millis().div_ceil(1000)).unwrap_or(i64::MAX);
    // A reuse's revocation must commit: that outcome is a success of the
    // closure, answered after. A refusal of the user is an error, so that it
    // rolls the rotation back (the client keeps a token that still works).
    let (outcome, user) = app.write(|tx| -> Result<(Refresh, Option<User>), ApiError> {
        let outcome = sessions::refresh(tx, &claims.sid, &claims.jti, rotate_to, now, grace)?;
        let user = match &outcome {
            Refresh::Accepted { user_id, .. } | Refresh::JustRotated { user_id, .. } => {
                // A deleted user's sessions go with it (ON DELETE CASCADE): a
                // mismatch is a token naming another user.
                let user = users::by_id(tx, *user_id)?
                    .filter(|u| Some(u.id) == claims.user_pk())
                    .ok_or(ApiError::Jwt(JwtRefusal::Token(REVOKED)))?;
                if !user.is_active {
                    return Err(ApiError::Jwt(JwtRefusal::NoActiveAccount));
                }
                Some(user)
            }
            Refresh::Reused | Refresh::Unknown => None,
        };
        Ok((outcome, user))
    })?;
    let rotated = match outcome {
        Refresh::Accepted { .. } => jwt.rotate_refresh,
        Refresh::JustRotated { .. } => false,
        Refresh::Reused | Refresh::Unknown => {
            return Err(ApiError::Jwt(JwtRefusal::Token(REVOKED)))
        }
    };
    let user = user.ok_or(ApiError::Jwt(JwtRefusal::Token(REVOKED)))?;
    let access = sign(app, Kind::Access, user.id, &claims.sid, new_id()?, now);
    let mut answer = Map::new();
    answer.insert("access".into(), Value::from(access.as_str()));
    let refresh = rotated.then(|| {
        sign(
            app,
            Kind::Refresh,
            user.id,
            &claims.sid,
            new_refresh_jti,
            now,
        )
    });
    if let (Some(r), true) = (&refresh, grant::refresh_in_body(app)) {
        answer.insert("refresh".into(), Value::from(r.as_str()));
    }
    answer.insert(
        "access_expiration".into(),
        rfc3339_micros(issued + jwt.access_lifetime).into(),
    );
    if refresh.is_some() && grant::refresh_in_body(app) {
        answer.insert(
            "refresh_expiration".into(),
            rfc3339_micros(issued + jwt.refresh_lifetime).into(),
        );
    }
    let mut response = json_response(200, &Value::Object(answer));
    response = cookies::set(response, jwt, Kind::Access, &access, issued);
    if let Some(r) = &refresh {
        response = cookies::set(response, jwt, Kind::Refresh, r, issued);
    }
    if jwt.csrf {
        response = cookies::set_csrf(response, jwt, &csrf::cookie_value(Some(req))?, issued);
    }
    Ok(response)
}
