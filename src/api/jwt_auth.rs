//! JWT mode's authentication of protected routes, as dj-rest-auth's
//! `JWTCookieAuthentication`: an `Authorization` header, when present,
//! alone decides (`Bearer <token>`; another scheme is no credential and the
//! cookie is not read), else the access cookie. Then, beyond the reference,
//! the token's session must still exist: a logout or a password change
//! reaches access tokens at once.

use super::cookies;
use super::error::JwtRefusal;
use super::http::Request;
use super::ApiError;
use crate::accounts::sessions;
use crate::accounts::tokens::TokenOwner;
use crate::db::Conn;
use crate::security::jwt::Kind;
use crate::App;

/// simplejwt's message for a token whose session was revoked.
pub const REVOKED: &str = "Token is blacklisted";

/// The access token the request presents, if any.
pub fn presented<'r>(app: &App, req: &'r Request) -> Result<Option<&'r str>, ApiError> {
    if let Some(header) = req.header("Authorization") {
        // Python's bytes.split(): ASCII whitespace.
        let mut parts = header
            .split([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
            .filter(|p| !p.is_empty());
        return match parts.next() {
            Some("Bearer") => match (parts.next(), parts.next()) {
                (Some(token), None) => Ok(Some(token)),
                _ => Err(ApiError::Jwt(JwtRefusal::BadHeader)),
            },
            _ => Ok(None),
        };
    }
    Ok(cookies::get(req, &app.config.jwt.access_cookie))
}

/// The access token's live session and user: `Ok(None)` without a token.
pub fn authenticate(
    app: &App,
    conn: &Conn,
    req: &Request,
    now: i64,
) -> Result<Option<TokenOwner>, ApiError> {
    let Some(token) = presented(app, req)? else {
        return Ok(None);
    };
    let claims = app
        .jwt_keys
        .check(token, Kind::Access, now)
        .map_err(|r| ApiError::Jwt(JwtRefusal::Access(r.message())))?;
    let owner = sessions::lookup(conn, &claims.sid, now)?
        .filter(|o| Some(o.user.id) == claims.user_pk())
        .ok_or(ApiError::Jwt(JwtRefusal::Access(REVOKED)))?;
    if !owner.user.is_active {
        return Err(ApiError::Jwt(JwtRefusal::UserInactive));
    }
    Ok(Some(owner))
}

/// Like [`authenticate`], but no token is a 401 too.
pub fn require(app: &App, conn: &Conn, req: &Request, now: i64) -> Result<TokenOwner, ApiError> {
    authenticate(app, conn, req, now)?.ok_or(ApiError::Jwt(JwtRefusal::NotProvided))
}
