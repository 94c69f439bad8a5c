//! `POST P/password/reset/`: mails a reset link to the users with that address (through the mail worker).

use crate::api::client::throttle_client;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::mail_requests::{self, MailRequest};
use crate::api::fields::{email_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::detail;
use crate::api::{ApiError, FieldErrors};
use crate::App;

/// `POST`. Always the same answer for a well-formed address (no enumeration).
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "password_reset", |t| t.password_reset)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let email = email_field(&body, &mut errors, "email", CharSpec::required(254));
    errors.into_result()?;
    let email = email.unwrap_or_default();
    app.throttle_key(
        &format!("password_reset:to:{}", email.to_lowercase()),
        |t| t.password_reset_per_email,
    )?;
    // Only the request is recorded here, the same work for any address; the
    // mail worker finds the accounts and mails them (accounts::mail_requests).
    app.write(|tx| -> Result<(), ApiError> {
        Ok(mail_requests::record(
            tx,
            MailRequest::PasswordReset,
            &email,
            app.clock.unix(),
        )?)
    })?;
    app.mail_queued();
    Ok(detail("Password reset e-mail has been sent."))
}
