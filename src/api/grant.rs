//! What a successful login hands out, in the server's `auth.mode`: a token
//! key (`{"key"}`) or, in JWT mode, a session with its access and refresh
//! tokens, answered as dj-rest-auth's JWT login (body and cookies). Login,
//! registration and social login all answer through here.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::cookies;
use super::csrf;
use super::error::json_response;
use super::http::Response;
use super::respond::user_json;
use super::ApiError;
use crate::accounts::users::User;
use crate::accounts::{sessions, tokens, AccountError};
use crate::config::AuthMode;
use crate::db::Conn;
use crate::security::jwt::{Claims, Kind};
use crate::security::random;
use crate::timefmt::rfc3339_micros;
use crate::App;

/// A login's credentials, made inside the login's write transaction.
pub enum Grant {
    /// Token mode's key.
    Key(String),
    /// JWT mode's pair.
    Jwt {
        /// The access token.
        access: String,
        /// The refresh token.
        refresh: String,
        /// When they were made (the expirations count from here).
        issued: SystemTime,
        /// The new `csrftoken` value.
        csrf: String,
    },
}

/// Whole seconds of `t` since the epoch.
pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whole seconds of `d`, saturating.
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A new random 128-bit id as 32 hex digits (a `sid` or a `jti`).
pub fn new_id() -> Result<String, ApiError> {
    Ok(random::hex(16).map_err(AccountError::from)?)
}

/// Signs a token of `kind` for `user_id` in session `sid`, issued at `now`.
pub fn sign(app: &App, kind: Kind, user_id: i64, sid: &str, jti: String, now: i64) -> String {
    let lifetime = match kind {
        Kind::Access => app.config.jwt.access_lifetime,
        Kind::Refresh => app.config.jwt.refresh_lifetime,
    };
    app.jwt_keys.sign(&Claims {
        token_type: kind.as_str().to_string(),
        exp: now.saturating_add(secs(lifetime)),
        iat: now,
        jti,
        user_id: user_id.to_string(),
        sid: sid.to_string(),
    })
}

/// Issues `user_id`'s credentials (inside the caller's write transaction).
pub fn issue(app: &App, tx: &Conn, user_id: i64, now: SystemTime) -> Result<Grant, ApiError> {
    let at = unix(now);
    match app.config.auth.mode {
        AuthMode::Token => {
            let ttl = secs(app.config.accounts.token_ttl);
            Ok(Grant::Key(tokens::issue(tx, user_id, ttl, at)?))
        }
        AuthMode::Jwt => {
            let (sid, refresh_jti) = (new_id()?, new_id()?);
            let refresh_exp = at.saturating_add(secs(app.config.jwt.refresh_lifetime));
            sessions::start(tx, user_id, &sid, &refresh_jti, at, refresh_exp)?;
            Ok(Grant::Jwt {
                access: sign(app, Kind::Access, user_id, &sid, new_id()?, at),
                refresh: sign(app, Kind::Refresh, user_id, &sid, refresh_jti, at),
                issued: now,
                csrf: csrf::cookie_value(None)?,
            })
        }
    }
}

/// Whether refresh tokens travel in bodies: asked for, or there is no cookie to carry them.
pub fn refresh_in_body(app: &App) -> bool {
    app.config.jwt.refresh_in_body || app.config.jwt.refresh_cookie.is_empty()
}

/// The login answer for `grant` with status `status`.
pub fn respond(app: &App, grant: Grant, user: &User, status: u16) -> Response {
    match grant {
        Grant::Key(key) => json_response(status, &json!({ "key": key })),
        Grant::Jwt {
            access,
            refresh,
            issued,
            csrf,
        } => {
            let jwt = &app.config.jwt;
            let mut body = Map::new();
            body.insert("access".into(), Value::from(access.as_str()));
            let in_body = if refresh_in_body(app) {
                refresh.as_str()
            } else {
                ""
            };
            body.insert("refresh".into(), Value::from(in_body));
            body.insert("user".into(), user_json(user));
            if jwt.return_expiration {
                body.insert(
                    "access_expiration".into(),
                    rfc3339_micros(issued + jwt.access_lifetime).into(),
                );
                body.insert(
                    "refresh_expiration".into(),
                    rfc3339_micros(issued + jwt.refresh_lifetime).into(),
                );
            }
            let response = json_response(status, &Value::Object(body));
            let response = cookies::set(response, jwt, Kind::Access, &access, issued);
            let response = cookies::set(response, jwt, Kind::Refresh, &refresh, issued);
            cookies::set_csrf(response, jwt, &csrf, issued)
        }
    }
}
