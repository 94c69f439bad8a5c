//! `POST P/<name>/` (login) and `POST P/<name>/connect/` (link to the
//! logged-in user) for each `[social.oidc.<name>]` provider.
//!
//! `code` (exchanged at the discovered token endpoint with `callback_url`
//! and an optional PKCE `code_verifier`), or `id_token` with an optional
//! `nonce` and an optional `access_token`. Every ID token is verified
//! against the discovered keys and accepted once. An access token alone is
//! refused: nothing shows which app it was issued to (dj-rest-auth reads
//! its userinfo and logs its holder in). An access token that comes with
//! an ID token must match its `at_hash`, and reads the userinfo claims the
//! ID token lacks (an address, names), which must be about the same `sub`.

use serde_json::Value;

use crate::accounts::social::ProviderProfile;
use crate::api::http::{Request, Response};
use crate::api::route::Caller;
use crate::api::social_flow::{
    self, provider_failure, verified_id_token, ProviderInput, EXCHANGE_FAILED, INCORRECT_VALUE,
    NO_INPUT,
};
use crate::api::ApiError;
use crate::social::http::ProviderError;
use crate::social::id_token::{self, Expected};
use crate::social::oidc::{at_hash_matches, Discovered, Provider};
use crate::App;

/// dj-rest-auth has no such case: it logs in whoever an access token names.
pub const NEEDS_ID_TOKEN: &str = "Incorrect input. An id_token is required with access_token.";

/// The configured, enabled provider `name`.
fn enabled_provider<'a>(app: &'a App, name: &str) -> Option<&'a Provider> {
    app.provider_keys.oidc.get(name).filter(|p| p.enabled())
}

/// Whether `name` is a configured, enabled provider.
pub fn known(app: &App, name: &str) -> bool {
    enabled_provider(app, name).is_some()
}

/// `POST P/<name>/`.
pub fn login(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let provider = provider(app, caller)?;
    social_flow::throttle_login(app, req)?;
    let answer = verify(app, provider, req)?;
    social_flow::log_in(app, &answer.profile(&provider.name))
}

/// `POST P/<name>/connect/`.
pub fn connect(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let provider = provider(app, caller)?;
    let owner = caller.owner()?;
    let answer = verify(app, provider, req)?;
    social_flow::link(app, req, owner, &answer.profile(&provider.name))
}

/// The route's provider (the router serves only names [`known`] accepts).
fn provider<'a>(app: &'a App, caller: &Caller) -> Result<&'a Provider, ApiError> {
    enabled_provider(app, caller.param(0)).ok_or(ApiError::NotFound)
}

/// What the provider says about the person: the ID token's claims, with
/// userinfo's for those it lacks.
struct Answer {
    claims: Value,
    sub: String,
}

impl Answer {
    fn profile<'a>(&'a self, provider: &'a str) -> ProviderProfile<'a> {
        let text = |k: &str| self.claims.get(k).and_then(Value::as_str).unwrap_or("");
        let email = Some(text("email")).filter(|e| !e.is_empty());
        ProviderProfile {
            provider,
            uid: &self.sub,
            username_hints: vec![
                text("preferred_username"),
                text("nickname"),
                text("given_name"),
                text("family_name"),
                email.unwrap_or(""),
            ],
            first_name: text("given_name"),
            last_name: text("family_name"),
            email,
            email_verified: id_token::email_verified(&self.claims),
            raw: &self.claims,
        }
    }
}

/// What the client sent to log in with.
enum Sent {
    /// A code to exchange for the provider's tokens.
    Code(String),
    /// An ID token, and maybe the access token that came with it.
    Tokens(String, Option<String>),
}

fn verify(app: &App, provider: &Provider, req: &Request) -> Result<Answer, ApiError> {
    let ProviderInput {
        access_token,
        code,
        id_token,
        nonce,
        code_verifier,
    } = ProviderInput::read(app, req)?;
    let name = provider.name.as_str();
    // Nothing the provider publishes can be checked without its document.
    let unreachable = |e| {
        crate::log!("restauth: {name}: discovery failed: {e:?}");
        ApiError::ProviderUnreachable(name.to_string())
    };
    // The input is judged first: a body that cannot log in asks the provider nothing.
    let sent = match (code, id_token, access_token) {
        (Some(code), _, _) => Sent::Code(code),
        (None, Some(id_token), access_token) => Sent::Tokens(id_token, access_token),
        (None, None, Some(_)) => return Err(ApiError::non_field(NEEDS_ID_TOKEN)),
        (None, None, None) => return Err(ApiError::non_field(NO_INPUT)),
    };
    let found = provider.discovered().map_err(unreachable)?;
    let from_client = matches!(sent, Sent::Tokens(..));
    let (id_token, access_token) = match sent {
        Sent::Tokens(id_token, access_token) => (id_token, access_token),
        Sent::Code(code) => provider
            .exchange_code(&found, &code, code_verifier.as_deref())
            .map_err(|e| provider_failure(name, &e, EXCHANGE_FAILED))?,
    };
    let issuer = [provider.config.issuer.as_str()];
    let expected = Expected {
        algorithms: &found.algorithms,
        issuers: &issuer,
        audiences: &provider.config.client_ids,
        nonce: nonce.as_deref(),
    };
    let claims = verified_id_token(app, (name, name), &id_token, &found.keys, &expected)?;
    if from_client {
        if let (Some(token), Some(at_hash)) = (&access_token, claims.raw.get("at_hash")) {
            if !at_hash.as_str().is_some_and(|h| at_hash_matches(h, token)) {
                crate::log!(
                    "restauth: {name}: the access token does not match the ID token's at_hash"
                );
                return Err(ApiError::non_field(INCORRECT_VALUE));
            }
        }
    }
    let mut answer = Answer {
        sub: claims.sub.clone(),
        claims: claims.raw,
    };
    if let Some(token) = access_token {
        fill_in_from_userinfo(provider, &found, &token, &mut answer)?;
    }
    Ok(answer)
}

/// Adds the userinfo claims the ID token lacks, when it lacks an address or
/// names and the scopes ask for them (Entra and others keep ID tokens lean).
fn fill_in_from_userinfo(
    provider: &Provider,
    found: &Discovered,
    access_token: &str,
    answer: &mut Answer,
) -> Result<(), ApiError> {
    let has = |k: &str| has_text(&answer.claims, k);
    let lacking = !has("email") || !(has("given_name") || has("preferred_username"));
    if !lacking || !provider.wants_userinfo() {
        return Ok(());
    }
    let info = match provider.userinfo(found, access_token, &answer.sub) {
        Ok(info) => info,
        // Not JSON (a provider set to sign its userinfo answers): the ID
        // token, verified, is enough to log in with.
        Err(ProviderError::BadResponse(why)) => {
            crate::log!("restauth: {}: userinfo not used: {why}", provider.name);
            return Ok(());
        }
        Err(e) => return Err(provider_failure(&provider.name, &e, INCORRECT_VALUE)),
    };
    // An address and whether it is verified come from one source: else the
    // userinfo's `email_verified` (about its own address) could vouch for
    // the ID token's unverified one.
    let token_has_email = has_text(&answer.claims, "email");
    let (Some(Value::Object(info)), Value::Object(claims)) = (info, &mut answer.claims) else {
        return Ok(());
    };
    if !token_has_email {
        claims.remove("email");
        claims.remove("email_verified");
    }
    for (k, v) in info {
        if token_has_email && (k == "email" || k == "email_verified") {
            continue;
        }
        claims.entry(k).or_insert(v);
    }
    Ok(())
}

/// Whether `claims` has `key` as a non-empty value.
fn has_text(claims: &Value, key: &str) -> bool {
    claims.get(key).is_some_and(|v| v.as_str() != Some(""))
}
