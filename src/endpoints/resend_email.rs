//! `POST P/registration/resend-email/`: sends a new confirmation mail to an unverified address.

use crate::api::client::throttle_client;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::mail_requests::{self, MailRequest};
use crate::api::fields::{email_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::detail;
use crate::api::{ApiError, FieldErrors};
use crate::config::EmailVerification;
use crate::App;

/// `POST`. Always 200 for a well-formed address: the answer does not tell
/// whether the address exists.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "resend_email", |t| t.resend_email)?;
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
        // Recorded only, the same work for any address (accounts::mail_requests).
        app.write(|tx| -> Result<(), ApiError> {
            Ok(mail_requests::record(
                tx,
                MailRequest::ResendConfirmation,
                &email,
                app.clock.unix(),
            )?)
        })?;
        app.mail_queued();
    }
    Ok(detail("ok"))
}
