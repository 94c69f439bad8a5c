//! `POST P/twitter/` (login) and `POST P/twitter/connect/` (link to the logged-in user).

use crate::accounts::social::ProviderProfile;
use crate::api::fields::{char_field, CharSpec};
use crate::api::http::Request;
use crate::api::input::read_body;
use crate::api::social_flow::Provider;
use crate::api::{ApiError, FieldErrors};
use crate::social::twitter::{self, Profile, TwitterError};
use crate::App;

/// Twitter's (X's) endpoints.
pub struct Twitter;

impl Provider for Twitter {
    type Answer = Profile;

    fn enabled(app: &App) -> bool {
        let cfg = &app.config.social.twitter;
        !cfg.consumer_key.is_empty() && !cfg.consumer_secret.is_empty()
    }

    /// Reads `access_token` and `token_secret` and asks Twitter whose they are.
    fn verify(app: &App, req: &Request) -> Result<Profile, ApiError> {
        let body = read_body(req, app.config.server.max_body_bytes)?;
        let mut errors = FieldErrors::new();
        let access_token = char_field(&body, &mut errors, "access_token", CharSpec::required(4096));
        let token_secret = char_field(&body, &mut errors, "token_secret", CharSpec::required(4096));
        errors.into_result()?;
        twitter::verify_credentials(
            &app.config.social.twitter,
            &access_token.unwrap_or_default(),
            &token_secret.unwrap_or_default(),
            u64::try_from(app.clock.unix()).unwrap_or(0),
        )
        .map_err(|e| match e {
            TwitterError::Refused(message) => ApiError::non_field(message),
            TwitterError::BadResponse(why) => {
                crate::log!("restauth: unexpected answer from twitter: {why}");
                ApiError::non_field("Incorrect value")
            }
            TwitterError::Unreachable(why) => {
                crate::log!("restauth: twitter unreachable: {why}");
                ApiError::ProviderUnreachable("Twitter".into())
            }
        })
    }

    fn profile(p: &Profile) -> ProviderProfile<'_> {
        ProviderProfile {
            provider: "twitter",
            uid: &p.uid,
            username_hints: vec![&p.username, &p.name],
            first_name: "",
            last_name: "",
            email: p.email.as_deref(),
            email_verified: false,
            raw: &p.raw,
        }
    }
}
