//! `POST P/password/reset/`: mails a reset link to the users with that address.

use rouille::{Request, Response};

use crate::accounts::{now, users};
use crate::api::fields::{email_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::{detail, method_not_allowed, options};
use crate::api::{ApiError, FieldErrors};
use crate::mail::{outbox, templates};
use crate::security::reset_token::{make_token, to_base36, TokenState};
use crate::App;

/// Methods of this path.
pub const ALLOW: &str = "POST, OPTIONS";
const MAX_RECIPIENTS: usize = 5;

/// Handles the request. Always the same answer for a well-formed address (no enumeration).
pub fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options("Password Reset", ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    app.throttle_client(req, "password_reset", |t| t.password_reset)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let email = email_field(&body, &mut errors, "email", CharSpec::required(254));
    errors.into_result()?;
    let email = email.unwrap_or_default();
    app.throttle_key(
        &format!("password_reset:to:{}", email.to_lowercase()),
        |t| t.password_reset_per_email,
    )?;
    let queued = app.write(|tx| -> Result<bool, ApiError> {
        let mut queued = false;
        for user in users::by_email(tx, &email, MAX_RECIPIENTS)? {
            if !user.is_active {
                continue;
            }
            let state = TokenState {
                user_id: user.id,
                password_hash: &user.password,
                last_login: user.last_login,
                email: &user.email,
            };
            let token = make_token(&app.secret_key, &state, now());
            let uid = to_base36(user.id as u64);
            let message = templates::password_reset_email(
                &app.config.mail,
                &user.email,
                &user.username,
                &uid,
                &token,
            );
            outbox::enqueue(tx, &message)?;
            queued = true;
        }
        Ok(queued)
    })?;
    if queued {
        app.mail_queued();
    }
    Ok(detail("Password reset e-mail has been sent."))
}
