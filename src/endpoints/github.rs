//! `POST P/github/` (login) and `POST P/github/connect/` (link to the logged-in user).
//!
//! `code` (exchanged with the app's secret, `callback_url` and an optional
//! PKCE `code_verifier`) or `access_token`. An access token sent as such
//! must belong to our OAuth app (GitHub checks it for us): allauth's adapter
//! would log in whoever any app's token names.

use crate::accounts::social::ProviderProfile;
use crate::api::fields::{char_field, CharSpec};
use crate::api::http::Request;
use crate::api::input::read_body;
use crate::api::social_flow::{
    provider_failure, Provider, EXCHANGE_FAILED, INCORRECT_VALUE, NO_INPUT,
};
use crate::api::{ApiError, FieldErrors};
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
        let body = read_body(req, app.config.server.max_body_bytes)?;
        let mut errors = FieldErrors::new();
        let mut field = |name: &str, max: usize| {
            char_field(&body, &mut errors, name, CharSpec::optional(max)).filter(|v| !v.is_empty())
        };
        let access_token = field("access_token", 4096);
        let code = field("code", 4096);
        let code_verifier = field("code_verifier", 256);
        field("id_token", 8192);
        errors.into_result()?;
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
