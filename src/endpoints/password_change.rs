//! `POST P/password/change/`: set a new password while logged in.

use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::{self, users};
use crate::api::fields::{char_field, CharSpec};
use crate::api::input::read_body;
use crate::api::passwords::check_new_password;
use crate::api::respond::detail;
use crate::api::{ApiError, FieldErrors};
use crate::App;

/// `POST`.
pub fn post(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let owner = caller.owner()?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let user = &owner.user;

    // Field phase: every field's own errors, the old password's check included.
    let mut errors = FieldErrors::new();
    if app.config.accounts.old_password_field_enabled {
        if let Some(old) = char_field(&body, &mut errors, "old_password", CharSpec::required(128)) {
            // A stolen token must not become a way to guess the password:
            // wrong old passwords count towards the account's softlock.
            let lock_key = format!("user:{}", user.id);
            app.check_softlock(&lock_key)?;
            if app.verify_password(&old, &user.password).ok {
                app.clear_softlock(&lock_key);
            } else {
                app.softlock_failure(&lock_key);
                errors.add(
                    "old_password",
                    "Your old password was entered incorrectly. Please enter it again.",
                );
            }
        }
    }
    let new1 = char_field(&body, &mut errors, "new_password1", CharSpec::required(128));
    let new2 = char_field(&body, &mut errors, "new_password2", CharSpec::required(128));
    errors.into_result()?;
    let (new1, new2) = (new1.unwrap_or_default(), new2.unwrap_or_default());

    // Object phase, as Django's SetPasswordForm: a mismatch first, then the validators.
    check_new_password(&new1, &new2, user)?;

    let hash = app.hash_password(&new2)?;
    let keep = if app.config.accounts.logout_on_password_change {
        None
    } else {
        Some(owner)
    };
    app.write(|tx| -> Result<(), ApiError> {
        users::set_password_hash(tx, user.id, &hash)?;
        accounts::revoke_logins(tx, user.id, keep)?;
        Ok(())
    })?;
    Ok(detail("New password has been saved."))
}
