//! `POST P/facebook/` (login) and `POST P/facebook/connect/` (link to the logged-in user).

use crate::api::http::{Request, Response};
use crate::api::route::Caller;

use crate::accounts::social::ProviderProfile;
use crate::api::fields::{char_field, CharSpec};
use crate::api::input::read_body;
use crate::api::social_flow::{self, Provider};
use crate::api::{ApiError, FieldErrors};
use crate::social::facebook::{self, FacebookConfig, FacebookError, Profile};
use crate::App;

/// Whether the provider is configured (its paths are 404 otherwise).
pub fn enabled(app: &App) -> bool {
    app.config.social.facebook.enabled()
}

fn provider() -> Provider<Profile> {
    Provider {
        verify: verified_profile,
        profile: provider_profile,
    }
}

/// `POST P/facebook/`.
pub fn login(app: &App, req: &Request, _: &Caller) -> Result<Response, ApiError> {
    social_flow::login(app, req, &provider())
}

/// `POST P/facebook/connect/`.
pub fn connect(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    social_flow::connect(app, req, caller, &provider())
}

/// Reads `access_token` or `code` and asks Facebook who it belongs to.
fn verified_profile(app: &App, req: &Request) -> Result<Profile, ApiError> {
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let access_token = char_field(&body, &mut errors, "access_token", CharSpec::optional(4096));
    let code = char_field(&body, &mut errors, "code", CharSpec::optional(4096));
    char_field(&body, &mut errors, "id_token", CharSpec::optional(8192));
    errors.into_result()?;
    let fb = &app.config.social.facebook;
    let cfg = FacebookConfig {
        graph_url: &fb.graph_url,
        app_id: &fb.app_id,
        app_secret: fb.app_secret.expose(),
        callback_url: &fb.callback_url,
        timeout: fb.timeout,
    };
    let token = match (
        access_token.filter(|t| !t.is_empty()),
        code.filter(|c| !c.is_empty()),
    ) {
        (Some(token), _) => token,
        (None, Some(code)) => facebook::exchange_code(&cfg, &code).map_err(|e| match e {
            FacebookError::Unreachable(why) => unreachable_provider(&why),
            _ => ApiError::non_field("Failed to exchange code for access token"),
        })?,
        (None, None) => {
            return Err(ApiError::non_field(
                "Incorrect input. access_token or code is required.",
            ))
        }
    };
    facebook::profile(&cfg, &token).map_err(|e| match e {
        FacebookError::Unreachable(why) => unreachable_provider(&why),
        FacebookError::Refused | FacebookError::BadResponse(_) => {
            ApiError::non_field("Incorrect value")
        }
    })
}

fn unreachable_provider(why: &str) -> ApiError {
    crate::log!("restauth: facebook unreachable: {why}");
    ApiError::ProviderUnreachable("Facebook")
}

fn provider_profile(p: &Profile) -> ProviderProfile<'_> {
    ProviderProfile {
        provider: "facebook",
        uid: &p.uid,
        username_hints: vec![&p.name, &p.first_name],
        first_name: &p.first_name,
        last_name: &p.last_name,
        email: p.email.as_deref(),
        raw: &p.raw,
    }
}
