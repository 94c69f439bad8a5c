//! The request flow shared by every social provider's `login/` and `connect/` paths.

use super::http::{Request, Response};
use serde_json::json;

use super::auth::presented_key;
use super::client::throttle_client;
use super::fields::{char_field, CharSpec};
use super::grant;
use super::input::read_body;
use super::respond::ok;
use super::route::Caller;
use super::second_factor;
use super::{ApiError, FieldErrors};
use crate::accounts::social::{self, ProviderProfile};
use crate::accounts::tokens::TokenOwner;
use crate::config::AuthMode;
use crate::social::http::ProviderError;
use crate::social::id_token::{self, Expected, IdClaims, IdTokenError};
use crate::social::jwks::KeySet;
use crate::App;

/// A provider's endpoints: whether it is configured, how to verify a request
/// with it, and how to read its answer. The router serves [`login`] and
/// [`connect`] for each provider, only when it is configured.
pub trait Provider {
    /// What the provider says about the user.
    type Answer;
    /// Whether the credentials are configured (the paths are 404 otherwise).
    fn enabled(app: &App) -> bool;
    /// Reads the request body and asks the provider who the user is.
    fn verify(app: &App, req: &Request) -> Result<Self::Answer, ApiError>;
    /// The provider's answer as an account profile.
    fn profile(answer: &Self::Answer) -> ProviderProfile<'_>;
}

/// `POST P/<provider>/`: logs in (or signs up) the provider account's user; answers like `login/`.
pub fn login<P: Provider>(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    throttle_login(app, req)?;
    let answer = P::verify(app, req)?;
    log_in(app, &P::profile(&answer))
}

/// The login rate, counted before the provider is asked anything.
pub fn throttle_login(app: &App, req: &Request) -> Result<(), ApiError> {
    throttle_client(app, req, "login", |t| t.login)
}

/// Logs in (or signs up) the user of the verified `profile`.
pub fn log_in(app: &App, profile: &ProviderProfile<'_>) -> Result<Response, ApiError> {
    let issued = app.clock.system();
    let now = grant::unix(issued);
    // A user with MFA on gives the second factor here too (the reference's
    // social login skips it).
    let (login, user) = app.write(|tx| -> Result<_, ApiError> {
        let user = social::login_or_signup(tx, &app.config, profile, now)?;
        Ok((second_factor::begin(app, tx, user.id, issued)?, user))
    })?;
    app.mail_queued();
    Ok(second_factor::respond(app, login, &user, 200))
}

/// `POST P/<provider>/connect/`: links the provider account to the logged-in user;
/// answers with the key the client sent (in JWT mode, as the reference, a
/// login answer: a new session's tokens; the caller's session stays valid).
pub fn connect<P: Provider>(
    app: &App,
    req: &Request,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let owner = caller.owner()?;
    let answer = P::verify(app, req)?;
    link(app, req, owner, &P::profile(&answer))
}

/// Links the verified `profile` to `owner`, the caller of `req`.
pub fn link(
    app: &App,
    req: &Request,
    owner: &TokenOwner,
    profile: &ProviderProfile<'_>,
) -> Result<Response, ApiError> {
    let now = app.clock.unix();
    if app.config.auth.mode == AuthMode::Jwt {
        let issued = app.clock.system();
        let grant = app.write(|tx| -> Result<_, ApiError> {
            social::connect(tx, owner.user.id, profile, now)?;
            grant::issue(app, tx, owner.user.id, issued)
        })?;
        return Ok(grant::respond(app, grant, &owner.user, 200));
    }
    app.write(|tx| Ok::<_, ApiError>(social::connect(tx, owner.user.id, profile, now)?))?;
    let key = presented_key(req.header("Authorization"));
    Ok(ok(json!({ "key": key })))
}

/// A call to `provider` that failed, as the answer: 502 naming the provider
/// when it could not be reached, else 400 `refused` (the reason, which may
/// come from the provider, goes to the log only).
pub fn provider_failure(provider: &str, e: &ProviderError, refused: &'static str) -> ApiError {
    crate::log!("restauth: {provider}: {e:?}");
    match e {
        ProviderError::Unreachable(_) => ApiError::ProviderUnreachable(provider.to_string()),
        _ => ApiError::non_field(refused),
    }
}

/// The body of an OAuth 2 or OpenID Connect login: each field optional,
/// blank read as absent, bounded (a field error above the bound, as DRF's
/// `max_length`). A provider ignores the fields it has no use for.
pub struct ProviderInput {
    /// An access token from the provider's SDK.
    pub access_token: Option<String>,
    /// An authorization code of the redirect flow.
    pub code: Option<String>,
    /// The PKCE verifier of the code flow.
    pub code_verifier: Option<String>,
    /// An OpenID Connect ID token.
    pub id_token: Option<String>,
    /// The nonce the app asked the ID token for.
    pub nonce: Option<String>,
}

impl ProviderInput {
    /// Reads the request's body.
    pub fn read(app: &App, req: &Request) -> Result<ProviderInput, ApiError> {
        let body = read_body(req, app.config.server.max_body_bytes)?;
        let mut errors = FieldErrors::new();
        let mut field = |name: &str, max: usize| {
            char_field(&body, &mut errors, name, CharSpec::optional(max)).filter(|v| !v.is_empty())
        };
        let input = ProviderInput {
            access_token: field("access_token", 4096),
            code: field("code", 4096),
            code_verifier: field("code_verifier", 256),
            id_token: field("id_token", 8192),
            nonce: field("nonce", 512),
        };
        errors.into_result()?;
        Ok(input)
    }
}

/// dj-rest-auth's answer to a token the provider refused or that fails verification.
pub const INCORRECT_VALUE: &str = "Incorrect value";
/// dj-rest-auth's answer to a code the provider would not exchange.
pub const EXCHANGE_FAILED: &str = "Failed to exchange code for access token";
/// dj-rest-auth's answer to a body with neither token nor code.
pub const NO_INPUT: &str = "Incorrect input. access_token or code is required.";

/// Verifies the ID token `token` of `provider` (`slug` in `used_id_tokens`)
/// against `keys` and `expected`, then spends it: a second use is a replay.
/// Every refusal is dj-rest-auth's 400 `Incorrect value`, its reason logged.
pub fn verified_id_token(
    app: &App,
    (provider, slug): (&str, &str),
    token: &str,
    keys: &KeySet,
    expected: &Expected<'_>,
) -> Result<IdClaims, ApiError> {
    let now = app.clock.unix();
    let claims = id_token::verify(token, keys, expected, now).map_err(|e| match e {
        IdTokenError::Invalid(why) => {
            crate::log!("restauth: {provider} ID token refused: {why}");
            ApiError::non_field(INCORRECT_VALUE)
        }
        // The provider's keys could not be had: its fault, not the token's.
        IdTokenError::Unreachable(e) => {
            crate::log!("restauth: {provider}: {e:?}");
            ApiError::ProviderUnreachable(provider.to_string())
        }
    })?;
    let until = claims.exp.saturating_add(id_token::LEEWAY);
    // The signed part only: an ECDSA signature can be rewritten into another
    // valid one, so the whole token would let a replay pass as new.
    let signed_part = token.rsplit_once('.').map_or(token, |(signed, _)| signed);
    if !app.write(|tx| social::spend_id_token(tx, slug, signed_part, now, until))? {
        crate::log!("restauth: {provider} ID token refused: used before");
        return Err(ApiError::non_field(INCORRECT_VALUE));
    }
    Ok(claims)
}
