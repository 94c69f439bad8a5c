//! `POST P/registration/`: username, email, password1, password2 → a new user.

use crate::api::client::throttle_client;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;
use serde_json::json;

use crate::accounts::email::username_may_be;
use crate::accounts::users::{self, NewUser, User};
use crate::accounts::{confirmations, AccountError};
use crate::api::fields::{char_field, email_field, CharSpec};
use crate::api::grant::{self, Grant};
use crate::api::input::read_body;
use crate::api::respond::created;
use crate::api::{ApiError, FieldErrors};
use crate::config::EmailVerification;
use crate::security::validators::{validate_password, UserAttributes};
use crate::App;

const USERNAME_TAKEN: &str = "A user with that username already exists.";
const EMAIL_TAKEN: &str = "User is already registered with this e-mail address.";

/// `POST`.
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "registration", |t| t.registration)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let verification = app.config.accounts.email_verification;
    // A mandatory confirmation needs an address to confirm.
    let email_spec = CharSpec {
        required: verification == EmailVerification::Mandatory,
        allow_blank: verification != EmailVerification::Mandatory,
        max_length: 254,
    };

    // Field phase, in declaration order.
    let mut errors = FieldErrors::new();
    let username = char_field(&body, &mut errors, "username", CharSpec::required(150))
        .map(|name| users::normalize_username(&name));
    if let Some(name) = &username {
        if let Some(problem) = users::username_problem(name) {
            errors.add("username", problem);
        }
    }
    let email = email_field(&body, &mut errors, "email", email_spec).unwrap_or_default();
    if let Some(name) = username.as_deref().filter(|_| !errors.has("username")) {
        if !username_may_be(name, &email) {
            errors.add("username", users::NOT_YOUR_ADDRESS);
        }
    }
    let password1 = char_field(&body, &mut errors, "password1", CharSpec::required(128));
    if let Some(p) = &password1 {
        for message in validate_password(p, None) {
            errors.add("password1", message);
        }
    }
    let password2 = char_field(&body, &mut errors, "password2", CharSpec::required(128));
    let (username_ok, email_ok) = (!errors.has("username"), !errors.has("email"));
    app.read(|conn| -> Result<(), ApiError> {
        if let Some(name) = username.as_deref().filter(|_| username_ok) {
            if users::by_username(conn, name)?.is_some() {
                errors.add("username", USERNAME_TAKEN);
            }
        }
        if email_ok && !email.is_empty() && users::verified_email_exists(conn, &email)? {
            errors.add("email", EMAIL_TAKEN);
        }
        Ok(())
    })?;
    std::mem::take(&mut errors).into_result()?;
    let (username, password1, password2) = (
        username.unwrap_or_default(),
        password1.unwrap_or_default(),
        password2.unwrap_or_default(),
    );

    // Object phase: mismatch (ASCII apostrophe here, as dj-rest-auth), then the
    // validators again with the user, which adds the similarity check.
    if password1 != password2 {
        return Err(ApiError::non_field("The two password fields didn't match."));
    }
    let attributes = UserAttributes {
        username: &username,
        first_name: "",
        last_name: "",
        email: &email,
    };
    for message in validate_password(&password1, Some(&attributes)) {
        errors.add("non_field_errors", message);
    }
    errors.into_result()?;

    let mails = verification != EmailVerification::None && !email.is_empty();
    if mails {
        // Per typed address, registered or not: no inbox gets more than the
        // rate of confirmation mails from registrations, however many clients ask.
        app.throttle_key(&format!("registration:to:{}", email.to_lowercase()), |t| {
            t.registration_per_email
        })?;
    }
    let hash = app.hash_password(&password1)?;
    let issued = app.clock.system();
    let now = grant::unix(issued);
    let granted = app.write(|tx| -> Result<Option<(Grant, User)>, ApiError> {
        // Checked again inside the transaction: concurrent registrations race here.
        if !email.is_empty() && users::verified_email_exists(tx, &email)? {
            return Err(ApiError::field("email", EMAIL_TAKEN));
        }
        let user = users::create(
            tx,
            &NewUser {
                username: &username,
                email: &email,
                email_verified: false,
                first_name: "",
                last_name: "",
                password_hash: &hash,
            },
            now,
        )
        .map_err(|e| match e {
            AccountError::UsernameTaken => ApiError::field("username", USERNAME_TAKEN),
            other => other.into(),
        })?;
        // The limit on mail, counted from the outbox (it survives restarts and
        // cannot be evicted): past it the account is still created (the answer
        // must not differ), and resend-email can mail it later.
        if mails && confirmations::may_mail(tx, &app.config, &user.email, now)? {
            confirmations::send(tx, &app.config, &user, now)?;
        }
        if verification == EmailVerification::Mandatory {
            Ok(None)
        } else {
            let grant = grant::issue(app, tx, user.id, issued)?;
            Ok(Some((grant, user)))
        }
    })?;
    app.mail_queued();
    // In JWT mode the same body and cookies as login (the reference sets no
    // cookies here and puts the refresh token in the body).
    Ok(match granted {
        None => created(json!({"detail": "Verification e-mail sent."})),
        Some((grant, user)) => grant::respond(app, grant, &user, 201),
    })
}
