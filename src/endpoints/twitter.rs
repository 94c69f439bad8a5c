//! `POST P/twitter/` (login) and `POST P/twitter/connect/` (link to the logged-in user).

use rouille::{Request, Response};
use serde_json::json;

use crate::accounts::social::{self, ProviderProfile};
use crate::api::auth::require_user;
use crate::api::fields::{char_field, CharSpec};
use crate::api::input::read_body;
use crate::api::respond::{method_not_allowed, ok, options};
use crate::api::{ApiError, FieldErrors};
use crate::social::twitter::{self, Profile, TwitterConfig, TwitterError};
use crate::App;

/// Methods of these paths.
pub const ALLOW: &str = "POST, OPTIONS";

/// `POST P/twitter/`.
pub fn login(app: &App, req: &Request) -> Result<Response, ApiError> {
    if !app.config.social.twitter.enabled() {
        return Err(ApiError::not_found());
    }
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options("Twitter Login", ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    app.throttle_client(req, "login", |t| t.login)?;
    let profile = verified_profile(app, req)?;
    let key = app.write(|tx| -> Result<String, ApiError> {
        Ok(social::login_with(
            tx,
            &app.config,
            &provider_profile(&profile),
        )?)
    })?;
    app.mail_queued();
    Ok(ok(json!({ "key": key })))
}

/// `POST P/twitter/connect/`.
pub fn connect(app: &App, req: &Request) -> Result<Response, ApiError> {
    if !app.config.social.twitter.enabled() {
        return Err(ApiError::not_found());
    }
    let owner = app.read(|conn| require_user(conn, req.header("Authorization")))?;
    match req.method() {
        "POST" => {}
        "OPTIONS" => return Ok(options("Twitter Connect", ALLOW)),
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    let profile = verified_profile(app, req)?;
    app.write(|tx| -> Result<(), ApiError> {
        Ok(social::connect(
            tx,
            owner.user.id,
            &provider_profile(&profile),
        )?)
    })?;
    Ok(ok(
        json!({ "key": crate::api::auth::presented_key(req.header("Authorization")) }),
    ))
}

/// Reads `access_token` and `token_secret` and asks Twitter whose they are.
fn verified_profile(app: &App, req: &Request) -> Result<Profile, ApiError> {
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let access_token = char_field(&body, &mut errors, "access_token", CharSpec::required(4096));
    let token_secret = char_field(&body, &mut errors, "token_secret", CharSpec::required(4096));
    errors.into_result()?;
    let tw = &app.config.social.twitter;
    let cfg = TwitterConfig {
        api_url: &tw.api_url,
        consumer_key: &tw.consumer_key,
        consumer_secret: &tw.consumer_secret,
        timeout: tw.timeout,
    };
    twitter::verify_credentials(
        &cfg,
        &access_token.unwrap_or_default(),
        &token_secret.unwrap_or_default(),
    )
    .map_err(|e| match e {
        TwitterError::Refused(message) => ApiError::non_field(message),
        TwitterError::BadResponse(why) => {
            eprintln!("restauth: unexpected answer from twitter: {why}");
            ApiError::non_field("Incorrect value")
        }
        TwitterError::Unreachable(why) => {
            eprintln!("restauth: twitter unreachable: {why}");
            ApiError::Detail(502, "Twitter could not be reached. Try again later.".into())
        }
    })
}

fn provider_profile(p: &Profile) -> ProviderProfile<'_> {
    ProviderProfile {
        provider: "twitter",
        uid: &p.uid,
        username_hints: vec![&p.username, &p.name],
        first_name: "",
        last_name: "",
        email: p.email.as_deref(),
        raw: &p.raw,
    }
}
