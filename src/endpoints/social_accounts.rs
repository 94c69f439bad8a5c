//! `GET P/socialaccounts/` and `POST P/socialaccounts/<id>/disconnect/`.

use crate::api::http::{Request, Response};
use serde_json::{json, Value};

use crate::accounts::social;
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::ApiError;
use crate::security::password::is_unusable;
use crate::timefmt::rfc3339;
use crate::App;

/// `GET P/socialaccounts/`: the caller's linked accounts.
pub fn list(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let owner = caller.owner()?;
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
pub fn disconnect(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let id: i64 = caller.param(0).parse().map_err(|_| ApiError::NotFound)?;
    let user = &caller.owner()?.user;
    app.write(|tx| -> Result<(), ApiError> {
        let accounts = social::list_for_user(tx, user.id)?;
        if !accounts.iter().any(|a| a.id == id) {
            return Err(ApiError::NotFound);
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
