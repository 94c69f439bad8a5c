//! `POST P/registration/verify-email/`: a key from the confirmation mail → the address is verified.

use crate::api::client::throttle_client;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::confirmations::{self, Confirmed};
use crate::api::fields::{char_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::detail;
use crate::api::{ApiError, FieldErrors};
use crate::App;

/// `POST`.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "verify_email", |t| t.verify_email)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let key = char_field(&body, &mut errors, "key", CharSpec::required(256));
    errors.into_result()?;
    let key = key.unwrap_or_default();
    app.write(|tx| -> Result<(), ApiError> {
        match confirmations::confirm(tx, &key, app.clock.unix())? {
            Confirmed::User(_) => Ok(()),
            Confirmed::NotFound => Err(ApiError::NotFound),
            // Only the holder of the key sees this: they read the mail.
            Confirmed::AddressTaken => Err(ApiError::field(
                "email",
                "User is already registered with this e-mail address.",
            )),
        }
    })?;
    Ok(detail("ok"))
}
