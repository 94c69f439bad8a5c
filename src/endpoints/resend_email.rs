//! `POST P/registration/resend-email/`: sends a new confirmation mail to an unverified address.

use rouille::{Request, Response};

use crate::accounts::{confirmations, users};
use crate::api::fields::{email_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::{detail, method_not_allowed, options};
use crate::api::{ApiError, FieldErrors};
use crate::config::EmailVerification;
use crate::App;

/// Methods of this path.
pub const ALLOW: &str = "POST, OPTIONS";
/// Users sharing one unverified address who get a mail per request.
const MAX_RECIPIENTS: usize = 5;

/// Handles the request. Always 200 for a well-formed address: the answer does not tell
/// whether the address exists.
pub fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options("Resend Email Verification", ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    app.throttle_client(req, "resend_email", |t| t.resend_email)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    // Required, unlike dj-rest-auth, where an empty body mails the first unverified address in the database.
    let email = email_field(&body, &mut errors, "email", CharSpec::required(254));
    errors.into_result()?;
    let email = email.unwrap_or_default();
    app.throttle_key(&format!("resend_email:to:{}", email.to_lowercase()), |t| {
        t.resend_email_per_email
    })?;
    if app.config.accounts.email_verification != EmailVerification::None {
        let queued = app.write(|tx| -> Result<bool, ApiError> {
            let mut queued = false;
            for user in users::by_email(tx, &email, MAX_RECIPIENTS)? {
                if user.is_active && !user.email_verified {
                    confirmations::send(tx, &app.config, &user)?;
                    queued = true;
                }
            }
            Ok(queued)
        })?;
        if queued {
            app.mail_queued();
        }
    }
    Ok(detail("ok"))
}
