//! `POST P/login/`: username and/or email + password → a new token (or, in
//! JWT mode, a session with its access and refresh tokens).

use crate::api::client::throttle_client;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::{users, users::User};
use crate::api::fields::{char_field, email_field, CharSpec};
use crate::api::grant;
use crate::api::input::read_body;
use crate::api::second_factor::{self, Login};
use crate::api::{ApiError, FieldErrors};
use crate::config::{EmailVerification, LoginMethod};
use crate::App;

const UNABLE: &str = "Unable to log in with provided credentials.";
/// Users sharing one unverified address are tried in turn; this bounds the hashing work.
const MAX_EMAIL_CANDIDATES: usize = 5;

/// `POST`. Any `Authorization` header is ignored (a stale token must not block a login).
pub fn post(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_client(app, req, "login", |t| t.login)?;
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let username = char_field(&body, &mut errors, "username", CharSpec::optional(254));
    let email = email_field(&body, &mut errors, "email", CharSpec::optional(254));
    let password = char_field(&body, &mut errors, "password", CharSpec::required(4096));
    errors.into_result()?;
    let typed_username = username.unwrap_or_default();
    let username = users::normalize_username(&typed_username);
    let email = email.unwrap_or_default();
    let password = password.unwrap_or_default();

    let methods = &app.config.accounts.login_methods;
    let by_username = methods.contains(&LoginMethod::Username);
    let by_email = methods.contains(&LoginMethod::Email);
    let lookup = match (by_username, by_email) {
        (false, true) if email.is_empty() => {
            return Err(ApiError::non_field(
                r#"Must include "email" and "password"."#,
            ))
        }
        (true, false) if username.is_empty() => {
            return Err(ApiError::non_field(
                r#"Must include "username" and "password"."#,
            ))
        }
        (true, true) if email.is_empty() && username.is_empty() => {
            return Err(ApiError::non_field(
                r#"Must include either "username" or "email" and "password"."#,
            ))
        }
        (_, true) if !email.is_empty() => Lookup::Email(email),
        _ => Lookup::Username {
            name: username,
            also_email: by_email,
        },
    };

    let candidates = app.read(|conn| -> Result<Vec<User>, ApiError> {
        Ok(match &lookup {
            Lookup::Email(email) => users::by_email(conn, email, MAX_EMAIL_CANDIDATES)?,
            // An address typed into the username field is tried as an address
            // first when email login is on (as allauth), then as a username
            // (an account an older version let take such a name).
            Lookup::Username { name, also_email } if *also_email && name.contains('@') => {
                let mut found = users::by_email(conn, name, MAX_EMAIL_CANDIDATES)?;
                if let Some(u) = by_username_as_typed(conn, name, &typed_username)? {
                    if !found.iter().any(|f| f.id == u.id) {
                        found.push(u);
                    }
                }
                found
            }
            Lookup::Username { name, .. } => by_username_as_typed(conn, name, &typed_username)?
                .into_iter()
                .collect(),
        })
    })?;

    // The softlock key is the identifier as typed, never the account: keyed on
    // the account, failures by username would also lock the address, which
    // would tell that the two are one account (see README "Security").
    let lock_key = match &lookup {
        Lookup::Email(e) => users::softlock_key(e),
        Lookup::Username { name, .. } => users::softlock_key(name),
    };
    app.check_softlock(&lock_key)?;
    let nobody = candidates.is_empty();
    let mut matched = None;
    for user in candidates {
        let v = app.verify_login_password(&password, &user.password)?;
        if v.ok {
            matched = Some((user, v.needs_rehash));
            break;
        }
    }
    let Some((user, needs_rehash)) = matched else {
        if nobody {
            // Nobody to check against: spend the time a check costs anyway.
            app.spend_equal_time(&password)?;
        }
        app.softlock_failure(&lock_key);
        return Err(ApiError::non_field(UNABLE));
    };
    app.clear_softlock(&lock_key);
    if !user.is_active {
        return Err(ApiError::non_field(UNABLE));
    }
    if app.config.accounts.email_verification == EmailVerification::Mandatory
        && !user.email_verified
    {
        return Err(ApiError::non_field("E-mail is not verified."));
    }
    // Hash before the write transaction: the database is never locked during PBKDF2.
    let new_hash = if needs_rehash {
        Some(app.hash_password(&password)?)
    } else {
        None
    };
    let issued = app.clock.system();
    let now = grant::unix(issued);
    let login = app.write(|tx| -> Result<Login, ApiError> {
        if let Some(hash) = &new_hash {
            users::set_password_hash(tx, user.id, hash)?;
        }
        let login = second_factor::begin(app, tx, user.id, issued)?;
        if let Login::Granted(_) = login {
            users::touch_last_login(tx, user.id, now)?;
        }
        Ok(login)
    })?;
    Ok(second_factor::respond(app, login, &user, 200))
}

/// The user named `normalized`, else (a name stored before usernames were
/// NFKC-normalised) the one named exactly as `typed`.
fn by_username_as_typed(
    conn: &crate::db::Conn,
    normalized: &str,
    typed: &str,
) -> Result<Option<User>, ApiError> {
    if let Some(u) = users::by_username(conn, normalized)? {
        return Ok(Some(u));
    }
    if typed != normalized {
        return Ok(users::by_username(conn, typed)?);
    }
    Ok(None)
}

enum Lookup {
    Email(String),
    Username { name: String, also_email: bool },
}
