//! `POST P/mfa/verify/`: the second step of a login with MFA on. The
//! ephemeral token login answered, with a TOTP code or an unused recovery
//! code, gets exactly what login would have answered.
//!
//! Beyond the reference: the token is single use (a success, or
//! `mfa.max_failures` wrong codes, burns it); a TOTP step is accepted once;
//! requests are throttled per client and wrong codes feed the user's softlock.

use crate::accounts::{mfa, users};
use crate::api::client::throttle_client;
use crate::api::fields::{char_field, CharSpec};
use crate::api::grant::{self, Grant};
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::route::Caller;
use crate::api::second_factor::accept_totp;
use crate::api::{ApiError, FieldErrors};
use crate::App;

const INVALID_TOKEN: &str = "Invalid or expired token.";

enum Outcome {
    Granted(Grant, Box<users::User>),
    WrongCode,
    GoneToken,
}

/// `POST` `{ephemeral_token, code}`.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "mfa_verify", |t| t.mfa_verify)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let token = char_field(
        &body,
        &mut errors,
        "ephemeral_token",
        CharSpec::required(256),
    );
    let code = char_field(&body, &mut errors, "code", CharSpec::required(9));
    errors.into_result()?;
    let (token, code) = (token.unwrap_or_default(), code.unwrap_or_default());
    let issued = app.clock.system();
    let now = grant::unix(issued);
    let invalid_token = || ApiError::field("ephemeral_token", INVALID_TOKEN);
    let challenge = app
        .read(|conn| mfa::challenge(conn, &token, now))?
        .ok_or_else(invalid_token)?;
    let lock_key = format!("user:{}", challenge.user_id);
    app.check_softlock(&lock_key)?;
    let recovery_hmac = app.mfa_keys.recovery_hmac(&code);
    let outcome = app.write(|tx| -> Result<Outcome, ApiError> {
        // First, so that requests racing on one token are counted one after
        // the other: none checks a code against a challenge already burnt.
        if !mfa::claim_challenge(tx, challenge.id, now, app.config.mfa.max_failures)? {
            return Ok(Outcome::GoneToken);
        }
        // A user deleted meanwhile took the challenge with it (the reference: 500).
        let Some(user) = users::by_id(tx, challenge.user_id)? else {
            return Ok(Outcome::GoneToken);
        };
        if !user.is_active {
            // The reference's message, as a string (its `detail` is a list here).
            return Err(ApiError::BadRequest("User account is disabled."));
        }
        let accepted = match mfa::totp(tx, user.id)? {
            // MFA turned off meanwhile: no code is good.
            None => false,
            Some(totp) => {
                accept_totp(app, tx, user.id, &totp, &code, now, Some(now))?
                    || mfa::use_recovery_code(tx, user.id, &recovery_hmac, now)?
            }
        };
        if !accepted {
            mfa::fail_challenge(tx, challenge.id, app.config.mfa.max_failures)?;
            return Ok(Outcome::WrongCode);
        }
        // Single use: of two requests with one token, one logs in.
        if !mfa::end_challenge(tx, challenge.id)? {
            return Ok(Outcome::GoneToken);
        }
        users::touch_last_login(tx, user.id, now)?;
        Ok(Outcome::Granted(
            grant::issue(app, tx, user.id, issued)?,
            Box::new(user),
        ))
    });
    match outcome? {
        Outcome::Granted(grant, user) => {
            app.clear_softlock(&lock_key);
            Ok(grant::respond(app, grant, &user, 200))
        }
        Outcome::WrongCode => {
            app.softlock_failure(&lock_key);
            Err(ApiError::field("code", "Invalid code."))
        }
        Outcome::GoneToken => Err(invalid_token()),
    }
}
