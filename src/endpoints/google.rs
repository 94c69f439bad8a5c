//! `POST P/google/` (login) and `POST P/google/connect/` (link to the logged-in user).
//!
//! Three shapes, as frontends send them: `code` (exchanged at Google's token
//! endpoint with `callback_url` and an optional PKCE `code_verifier`),
//! `access_token` with an optional `id_token` (dj-rest-auth's shape), or
//! `id_token` alone with an optional `nonce` (native sign-in, which
//! dj-rest-auth refuses). Every ID token is verified against Google's keys
//! and accepted once; an access token alone must have been issued to one of
//! our client ids.

use serde_json::Value;

use crate::accounts::social::ProviderProfile;
use crate::api::http::Request;
use crate::api::social_flow::{
    provider_failure, verified_id_token, Provider, ProviderInput, EXCHANGE_FAILED, INCORRECT_VALUE,
    NO_INPUT,
};
use crate::api::ApiError;
use crate::social::google;
use crate::social::http::ProviderError;
use crate::social::id_token;
use crate::App;

/// Google's endpoints.
pub struct Google;

/// What Google says about the person.
pub struct Answer {
    uid: String,
    email: Option<String>,
    email_verified: bool,
    given_name: String,
    family_name: String,
    raw: Value,
}

impl Answer {
    /// From ID-token claims or a userinfo answer (the same OpenID names).
    fn from_profile(raw: Value) -> Answer {
        let text = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Answer {
            uid: text("sub"),
            email: Some(text("email")).filter(|e| !e.is_empty()),
            email_verified: id_token::email_verified(&raw),
            given_name: text("given_name"),
            family_name: text("family_name"),
            raw,
        }
    }
}

fn incorrect_value() -> ApiError {
    ApiError::non_field(INCORRECT_VALUE)
}

fn failure(e: &ProviderError, refused: &'static str) -> ApiError {
    provider_failure("Google", e, refused)
}

fn from_id_token(app: &App, token: &str, nonce: Option<&str>) -> Result<Answer, ApiError> {
    let expected = google::expected(&app.config.social.google, nonce);
    let keys = &app.provider_keys.google;
    let claims = verified_id_token(app, ("Google", "google"), token, keys, &expected)?;
    Ok(Answer::from_profile(claims.raw))
}

/// The profile behind an access token issued to us.
fn from_access_token(app: &App, access_token: &str) -> Result<Answer, ApiError> {
    let cfg = &app.config.social.google;
    let refused = |e: ProviderError| failure(&e, INCORRECT_VALUE);
    if !google::access_token_is_ours(cfg, access_token).map_err(refused)? {
        crate::log!("restauth: google access token refused: issued to another client");
        return Err(incorrect_value());
    }
    let profile = google::userinfo(cfg, access_token).map_err(refused)?;
    Ok(Answer::from_profile(profile))
}

impl Provider for Google {
    type Answer = Answer;

    fn enabled(app: &App) -> bool {
        !app.config.social.google.client_ids.is_empty()
    }

    fn verify(app: &App, req: &Request) -> Result<Answer, ApiError> {
        let ProviderInput {
            access_token,
            code,
            id_token,
            nonce,
            code_verifier,
        } = ProviderInput::read(app, req)?;
        let cfg = &app.config.social.google;
        let nonce = nonce.as_deref();
        match (code, access_token, id_token) {
            (Some(code), _, _) => {
                if cfg.client_secret.is_empty() {
                    crate::log!("restauth: google code flow needs social.google.client_secret");
                    return Err(ApiError::non_field(EXCHANGE_FAILED));
                }
                let exchanged = google::exchange_code(cfg, &code, code_verifier.as_deref())
                    .map_err(|e| failure(&e, EXCHANGE_FAILED))?;
                match exchanged.id_token {
                    Some(token) => from_id_token(app, &token, nonce),
                    None => from_access_token(app, &exchanged.access_token),
                }
            }
            (None, _, Some(token)) => from_id_token(app, &token, nonce),
            (None, Some(access_token), None) => from_access_token(app, &access_token),
            (None, None, None) => Err(ApiError::non_field(NO_INPUT)),
        }
    }

    fn profile(a: &Answer) -> ProviderProfile<'_> {
        ProviderProfile {
            provider: "google",
            uid: &a.uid,
            username_hints: vec![
                &a.given_name,
                &a.family_name,
                a.email.as_deref().unwrap_or(""),
            ],
            first_name: &a.given_name,
            last_name: &a.family_name,
            email: a.email.as_deref(),
            email_verified: a.email_verified,
            raw: &a.raw,
        }
    }
}
