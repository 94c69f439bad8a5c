//! `POST P/facebook/` (login) and `POST P/facebook/connect/` (link to the logged-in user).

use crate::accounts::social::ProviderProfile;
use crate::api::fields::{char_field, CharSpec};
use crate::api::http::Request;
use crate::api::input::read_body;
use crate::api::social_flow::Provider;
use crate::api::{ApiError, FieldErrors};
use crate::social::facebook::{self, FacebookError, Profile};
use crate::App;

/// Facebook's endpoints.
pub struct Facebook;

impl Provider for Facebook {
    type Answer = Profile;

    fn enabled(app: &App) -> bool {
        let cfg = &app.config.social.facebook;
        !cfg.app_id.is_empty() && !cfg.app_secret.is_empty()
    }

    /// Reads `access_token` or `code` and asks Facebook who it belongs to.
    fn verify(app: &App, req: &Request) -> Result<Profile, ApiError> {
        let body = read_body(req, app.config.server.max_body_bytes)?;
        let mut errors = FieldErrors::new();
        let access_token = char_field(&body, &mut errors, "access_token", CharSpec::optional(4096));
        let code = char_field(&body, &mut errors, "code", CharSpec::optional(4096));
        char_field(&body, &mut errors, "id_token", CharSpec::optional(8192));
        errors.into_result()?;
        let cfg = &app.config.social.facebook;
        let unreachable = |why: String| {
            crate::log!("restauth: facebook unreachable: {why}");
            ApiError::ProviderUnreachable("Facebook".into())
        };
        let token = match (
            access_token.filter(|t| !t.is_empty()),
            code.filter(|c| !c.is_empty()),
        ) {
            (Some(token), _) => token,
            (None, Some(code)) => facebook::exchange_code(cfg, &code).map_err(|e| match e {
                FacebookError::Unreachable(why) => unreachable(why),
                _ => ApiError::non_field("Failed to exchange code for access token"),
            })?,
            (None, None) => {
                let message = "Incorrect input. access_token or code is required.";
                return Err(ApiError::non_field(message));
            }
        };
        facebook::profile(cfg, &token).map_err(|e| match e {
            FacebookError::Unreachable(why) => unreachable(why),
            FacebookError::Refused | FacebookError::BadResponse(_) => {
                ApiError::non_field("Incorrect value")
            }
        })
    }

    fn profile(p: &Profile) -> ProviderProfile<'_> {
        ProviderProfile {
            provider: "facebook",
            uid: &p.uid,
            username_hints: vec![&p.name, &p.first_name],
            first_name: &p.first_name,
            last_name: &p.last_name,
            email: p.email.as_deref(),
            email_verified: false,
            raw: &p.raw,
        }
    }
}
