//! `POST P/github/` (login) and `POST P/github/connect/` (link to the logged-in user).
//!
//! `code` (exchanged with the app's secret, `callback_url` and an optional
//! PKCE `code_verifier`) or `access_token`. An access token sent as such
//! must belong to our OAuth app (GitHub checks it for us): allauth's adapter
//! would log in whoever any app's token names.

use crate::accounts::social::ProviderProfile;
use crate::api::http::Request;
use crate::api::social_flow::{
    provider_failure, Provider, ProviderInput, EXCHANGE_FAILED, INCORRECT_VALUE, NO_INPUT,
};
use crate::api::ApiError;
use crate::social::github::{self, Profile};
use crate::App;

/// GitHub's endpoints.
pub struct Github;

impl Provider for Github {
    type Answer = Profile;

    fn enabled(app: &App) -> bool {
        let cfg = &app.config.social.github;
        !cfg.client_id.is_empty() && !cfg.client_secret.is_empty()
    }

    fn verify(app: &App, req: &Request) -> Result<Profile, ApiError> {
        let ProviderInput {
            access_token,
            code,
            code_verifier,
            ..
        } = ProviderInput::read(app, req)?;
        let cfg = &app.config.social.github;
        let failure = |e, refused| provider_failure("GitHub", &e, refused);
        let token = match (code, access_token) {
            (Some(code), _) => github::exchange_code(cfg, &code, code_verifier.as_deref())
                .map_err(|e| failure(e, EXCHANGE_FAILED))?,
            (None, Some(token)) => {
                let ours = github::access_token_is_ours(cfg, &token)
                    .map_err(|e| failure(e, INCORRECT_VALUE))?;
                if !ours {
                    crate::log!("restauth: GitHub access token refused: issued to another app");
                    return Err(ApiError::non_field(INCORRECT_VALUE));
                }
                token
            }
            (None, None) => return Err(ApiError::non_field(NO_INPUT)),
        };
        github::profile(cfg, &token).map_err(|e| failure(e, INCORRECT_VALUE))
    }

    fn profile(p: &Profile) -> ProviderProfile<'_> {
        ProviderProfile {
            provider: "github",
            uid: &p.uid,
            username_hints: vec![&p.login, &p.name],
            first_name: "",
            last_name: "",
            email: p.email.as_deref(),
            // Only a verified address is taken from GitHub.
            email_verified: p.email.is_some(),
            raw: &p.raw,
        }
    }
}
