//! `POST P/password/reset/confirm/`: uid + token from the reset mail + a new password.

use crate::api::client::throttle_client;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::{self, users};
use crate::api::fields::{char_field, CharSpec};
use crate::api::input::read_body;
use crate::api::passwords::check_new_password;
use crate::api::respond::detail;
use crate::api::{ApiError, FieldErrors};
use crate::security::reset_token::{check_token, from_base36, TokenState};
use crate::App;

/// `POST`.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "password_reset", |t| t.password_reset)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let new1 = char_field(&body, &mut errors, "new_password1", CharSpec::required(128));
    let new2 = char_field(&body, &mut errors, "new_password2", CharSpec::required(128));
    let uid = char_field(&body, &mut errors, "uid", CharSpec::required(64));
    let token = char_field(&body, &mut errors, "token", CharSpec::required(128));
    errors.into_result()?;
    let (new1, new2) = (new1.unwrap_or_default(), new2.unwrap_or_default());
    let (uid, token) = (uid.unwrap_or_default(), token.unwrap_or_default());

    // Errors in the order uid, token, passwords.
    let user = from_base36(&uid)
        .and_then(|id| i64::try_from(id).ok())
        .map(|id| app.read(|conn| -> Result<_, ApiError> { Ok(users::by_id(conn, id)?) }))
        .transpose()?
        .flatten()
        .ok_or_else(|| ApiError::field("uid", "Invalid value"))?;
    let timeout = app.config.accounts.password_reset_timeout.as_secs() as i64;
    if !token_valid(app, &user, &token, timeout) {
        return Err(ApiError::field("token", "Invalid value"));
    }
    check_new_password(&new1, &new2, &user)?;

    let hash = app.hash_password(&new2)?;
    app.write(|tx| -> Result<(), ApiError> {
        // The token is bound to the password hash: check again under the write
        // lock, so two concurrent confirmations cannot both succeed.
        let current =
            users::by_id(tx, user.id)?.ok_or_else(|| ApiError::field("uid", "Invalid value"))?;
        if !token_valid(app, &current, &token, timeout) {
            return Err(ApiError::field("token", "Invalid value"));
        }
        users::set_password_hash(tx, user.id, &hash)?;
        accounts::revoke_logins(tx, user.id, None)?;
        Ok(())
    })?;
    // The owner proved control of the address: lift any softlock.
    for identifier in [&user.username, &user.email] {
        app.clear_softlock(&users::softlock_key(identifier));
    }
    app.clear_softlock(&format!("user:{}", user.id));
    Ok(detail("Password has been reset with the new password."))
}

fn token_valid(app: &App, user: &users::User, token: &str, timeout: i64) -> bool {
    let state = TokenState {
        user_id: user.id,
        password_hash: &user.password,
        last_login: user.last_login,
        email: &user.email,
    };
    check_token(&app.secret_key, &state, token, app.clock.unix(), timeout)
}
