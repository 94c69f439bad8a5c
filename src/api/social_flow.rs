//! The request flow shared by every social provider's `login/` and `connect/` paths.

use super::http::{Request, Response};
use serde_json::json;

use super::auth::{presented_key, require_user};
use super::respond::{method_not_allowed, ok, options};
use super::ApiError;
use crate::accounts::social::{self, ProviderProfile};
use crate::App;

/// Methods of social paths.
pub const ALLOW: &str = "POST, OPTIONS";

/// A provider endpoint: whether it is configured, its name for `OPTIONS`, how to
/// verify the request with the provider, and how to read the provider's answer.
pub struct Provider<P> {
    /// Credentials configured; otherwise every path is 404.
    pub enabled: bool,
    /// `OPTIONS` name, e.g. "Facebook".
    pub name: &'static str,
    /// Reads the request body and asks the provider who the user is.
    pub verify: fn(&App, &Request) -> Result<P, ApiError>,
    /// The provider's answer as an account profile.
    pub profile: for<'a> fn(&'a P) -> ProviderProfile<'a>,
}

/// `POST P/<provider>/`: logs in (or signs up) the provider account's user; answers like `login/`.
pub fn login<P>(app: &App, req: &Request, provider: &Provider<P>) -> Result<Response, ApiError> {
    if !provider.enabled {
        return Err(ApiError::not_found());
    }
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options(&format!("{} Login", provider.name), ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    app.throttle_client(req, "login", |t| t.login)?;
    let answer = (provider.verify)(app, req)?;
    let key = app.write(|tx| -> Result<String, ApiError> {
        Ok(social::login_with(
            tx,
            &app.config,
            &(provider.profile)(&answer),
        )?)
    })?;
    app.mail_queued();
    Ok(ok(json!({ "key": key })))
}

/// `POST P/<provider>/connect/`: links the provider account to the logged-in user;
/// answers with the key the client sent.
pub fn connect<P>(app: &App, req: &Request, provider: &Provider<P>) -> Result<Response, ApiError> {
    if !provider.enabled {
        return Err(ApiError::not_found());
    }
    let owner = app.read(|conn| require_user(conn, req.header("Authorization")))?;
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options(&format!("{} Connect", provider.name), ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    let answer = (provider.verify)(app, req)?;
    app.write(|tx| -> Result<(), ApiError> {
        Ok(social::connect(
            tx,
            owner.user.id,
            &(provider.profile)(&answer),
        )?)
    })?;
    Ok(ok(
        json!({ "key": presented_key(req.header("Authorization")) }),
    ))
}
