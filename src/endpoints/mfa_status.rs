//! `GET P/mfa/status/`: whether the user has two-factor login on.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::accounts::mfa;
use crate::api::http::{Request, Response};
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::ApiError;
use crate::timefmt::rfc3339_micros;
use crate::App;

/// A stored time as the reference writes it (microseconds, `Z`).
pub fn micros(secs: i64) -> Value {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    Value::from(rfc3339_micros(t))
}

/// `GET` (and `HEAD`).
pub fn get(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    let totp = app.read(|conn| mfa::totp(conn, user_id))?;
    Ok(ok(match totp {
        None => json!({"mfa_enabled": false, "created_at": null, "last_used_at": null}),
        Some(t) => json!({
            "mfa_enabled": true,
            "created_at": micros(t.created_at),
            "last_used_at": t.last_used_at.map(micros),
        }),
    }))
}
