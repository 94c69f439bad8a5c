//! `POST P/apple/` (login) and `POST P/apple/connect/` (link to the logged-in user).
//!
//! `id_token` (from the iOS SDK or Sign in with Apple JS) with an optional
//! `nonce`; `access_token` is accepted and ignored, as dj-rest-auth's clients
//! send it. Or `code`, exchanged with a client secret signed here (ES256,
//! the team's key). Either way the ID token is verified against Apple's keys
//! and accepted once.

use crate::accounts::social::ProviderProfile;
use crate::api::http::Request;
use crate::api::social_flow::{
    provider_failure, verified_id_token, Provider, ProviderInput, EXCHANGE_FAILED, NO_INPUT,
};
use crate::api::ApiError;
use crate::social::apple;
use crate::social::id_token::IdClaims;
use crate::App;

/// Apple's endpoints.
pub struct Apple;

impl Provider for Apple {
    type Answer = IdClaims;

    fn enabled(app: &App) -> bool {
        !app.config.social.apple.client_ids.is_empty()
    }

    fn verify(app: &App, req: &Request) -> Result<IdClaims, ApiError> {
        let ProviderInput {
            code,
            id_token,
            nonce,
            code_verifier,
            ..
        } = ProviderInput::read(app, req)?;
        let cfg = &app.config.social.apple;
        let token = match (code, id_token) {
            (Some(code), _) => {
                if !apple::can_exchange(cfg) {
                    crate::log!("restauth: Apple code flow needs social.apple team_id, key_id and private_key");
                    return Err(ApiError::non_field(EXCHANGE_FAILED));
                }
                apple::exchange_code(cfg, &code, code_verifier.as_deref(), app.clock.unix())
                    .map_err(|e| provider_failure("Apple", &e, EXCHANGE_FAILED))?
            }
            (None, Some(token)) => token,
            (None, None) => return Err(ApiError::non_field(NO_INPUT)),
        };
        let expected = apple::expected(cfg, nonce.as_deref());
        let keys = &app.provider_keys.apple;
        verified_id_token(app, ("Apple", "apple"), &token, keys, &expected)
    }

    fn profile(claims: &IdClaims) -> ProviderProfile<'_> {
        ProviderProfile {
            provider: "apple",
            uid: &claims.sub,
            // Apple names nobody in its tokens: the address's local part.
            username_hints: vec![claims.email.as_deref().unwrap_or("")],
            first_name: "",
            last_name: "",
            email: claims.email.as_deref(),
            email_verified: claims.email_verified,
            raw: &claims.raw,
        }
    }
}
