//! The request flow shared by every social provider's `login/` and `connect/` paths.

use super::http::{Request, Response};
use serde_json::json;

use super::auth::presented_key;
use super::client::throttle_client;
use super::respond::ok;
use super::route::Caller;
use super::ApiError;
use crate::accounts::social::{self, ProviderProfile};
use crate::App;

/// A provider endpoint: how to verify the request with the provider, and how
/// to read the provider's answer. (The router serves its paths only when the
/// provider is configured.)
pub struct Provider<P> {
    /// Reads the request body and asks the provider who the user is.
    pub verify: fn(&App, &Request) -> Result<P, ApiError>,
    /// The provider's answer as an account profile.
    pub profile: for<'a> fn(&'a P) -> ProviderProfile<'a>,
}

/// `POST P/<provider>/`: logs in (or signs up) the provider account's user; answers like `login/`.
pub fn login<P>(app: &App, req: &Request, provider: &Provider<P>) -> Result<Response, ApiError> {
    throttle_client(app, req, "login", |t| t.login)?;
    let answer = (provider.verify)(app, req)?;
    let key = app.write(|tx| -> Result<String, ApiError> {
        Ok(social::login_with(
            tx,
            &app.config,
            &(provider.profile)(&answer),
            app.clock.unix(),
        )?)
    })?;
    app.mail_queued();
    Ok(ok(json!({ "key": key })))
}

/// `POST P/<provider>/connect/`: links the provider account to the logged-in user;
/// answers with the key the client sent.
pub fn connect<P>(
    app: &App,
    req: &Request,
    caller: &Caller,
    provider: &Provider<P>,
) -> Result<Response, ApiError> {
    let owner = caller.owner()?;
    let answer = (provider.verify)(app, req)?;
    app.write(|tx| -> Result<(), ApiError> {
        Ok(social::connect(
            tx,
            owner.user.id,
            &(provider.profile)(&answer),
            app.clock.unix(),
        )?)
    })?;
    Ok(ok(
        json!({ "key": presented_key(req.header("Authorization")) }),
    ))
}
