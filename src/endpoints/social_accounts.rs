//! `GET P/socialaccounts/` and `POST P/socialaccounts/<id>/disconnect/`.

use crate::api::http::{Request, Response};
use serde_json::{json, Value};

use crate::accounts::social;
use crate::api::auth::require_user;
use crate::api::respond::{method_not_allowed, ok, options};
use crate::api::ApiError;
use crate::security::password::is_unusable;
use crate::timefmt::rfc3339;
use crate::App;

/// Methods of the list.
pub const LIST_ALLOW: &str = "GET, HEAD, OPTIONS";
/// Methods of disconnect.
pub const DISCONNECT_ALLOW: &str = "POST, OPTIONS";

/// `GET P/socialaccounts/`: the caller's linked accounts.
pub fn list(app: &App, req: &Request) -> Result<Response, ApiError> {
    let owner = app.read(|conn| require_user(conn, req.header("Authorization")))?;
    match req.method() {
        "GET" | "HEAD" => {}
        "OPTIONS" => return Ok(options("Social Account List", LIST_ALLOW)),
        _ => return Err(method_not_allowed(req, LIST_ALLOW)),
    }
    let accounts = app
        .read(|conn| -> Result<_, ApiError> { Ok(social::list_for_user(conn, owner.user.id)?) })?;
    let items: Vec<Value> = accounts
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "provider": a.provider,
                "uid": a.uid,
                "last_login": rfc3339(a.last_login_at),
                "date_joined": rfc3339(a.created_at),
            })
        })
        .collect();
    Ok(ok(Value::Array(items)))
}

/// `POST P/socialaccounts/<id>/disconnect/`: unlinks one of the caller's accounts.
pub fn disconnect(app: &App, req: &Request, id: &str) -> Result<Response, ApiError> {
    let owner = app.read(|conn| require_user(conn, req.header("Authorization")))?;
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options("Social Account Disconnect", DISCONNECT_ALLOW)),
        _ => return Err(method_not_allowed(req, DISCONNECT_ALLOW)),
    }
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let user = owner.user;
    app.write(|tx| -> Result<(), ApiError> {
        let accounts = social::list_for_user(tx, user.id)?;
        if !accounts.iter().any(|a| a.id == id) {
            return Err(ApiError::not_found());
        }
        // Never remove the last way in: without a usable password, the last
        // linked account is the only thing the user can log in with.
        if accounts.len() == 1 && is_unusable(&user.password) {
            return Err(ApiError::non_field("Your account has no password set up."));
        }
        Ok(social::delete(tx, id)?)
    })?;
    Ok(ok(json!({})))
}
