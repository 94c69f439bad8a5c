//! `GET | PUT | PATCH P/user/`: the authenticated user's details.

use crate::api::http::{Request, Response};

use crate::accounts::email::username_may_be;
use crate::accounts::tokens::TokenOwner;
use crate::accounts::users::{self, ProfileUpdate};
use crate::api::fields::{char_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::{ok, user_json};
use crate::api::route::Caller;
use crate::api::{ApiError, FieldErrors};
use crate::App;

/// `GET` (and `HEAD`): the user's details.
pub fn get(_: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    Ok(ok(user_json(&caller.owner()?.user)))
}

/// `PUT`: replaces the details (every field required that DRF requires).
pub fn put(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    update(app, req, caller.owner()?, false)
}

/// `PATCH`: changes the fields sent.
pub fn patch(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    update(app, req, caller.owner()?, true)
}

fn update(
    app: &App,
    req: &Request,
    owner: &TokenOwner,
    partial: bool,
) -> Result<Response, ApiError> {
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let username = char_field(
        &body,
        &mut errors,
        "username",
        CharSpec::required(150).partial(partial),
    )
    .map(|name| users::normalize_username(&name));
    if let Some(name) = &username {
        if let Some(problem) = users::username_problem(name) {
            errors.add("username", problem);
        } else if !username_may_be(name, &owner.user.email) {
            errors.add("username", users::NOT_YOUR_ADDRESS);
        }
    }
    let first_name = char_field(&body, &mut errors, "first_name", CharSpec::optional(150));
    let last_name = char_field(&body, &mut errors, "last_name", CharSpec::optional(150));
    let user_id = owner.user.id;
    let update = ProfileUpdate {
        username,
        first_name,
        last_name,
    };
    let user = app.write(|tx| -> Result<users::User, ApiError> {
        let mut errors = errors.clone();
        // Unlike dj-rest-auth (which compares against every user, self included),
        // keeping one's own username is not a clash.
        if let Some(name) = update
            .username
            .as_deref()
            .filter(|_| !errors.has("username"))
        {
            if users::username_taken(tx, name, user_id)? {
                errors.add("username", "A user with that username already exists.");
            }
        }
        errors.into_result()?;
        users::update_profile(tx, user_id, &update)?;
        users::by_id(tx, user_id)?.ok_or_else(|| ApiError::Internal("user vanished".into()))
    })?;
    Ok(ok(user_json(&user)))
}
