//! The router: method + path → endpoint, body-size guard, one log line per request.

mod browser;
mod log;
pub mod transport;
mod write_deadline;

use std::time::Instant;

use crate::api::http::{Request, Response};

use crate::api::auth::{authenticate, require_user};
use crate::api::csrf::{self, Credential};
use crate::api::jwt_auth;
use crate::api::respond::options;
use crate::api::route::Access::{Anyone, TokenIfAny, User};
use crate::api::route::{Caller, Methods, Route, Served};
use crate::api::social_flow::{connect, login, Provider};
use crate::api::ApiError;
use crate::config::AuthMode;
use crate::endpoints;
use crate::endpoints::apple::Apple;
use crate::endpoints::facebook::Facebook;
use crate::endpoints::github::Github;
use crate::endpoints::google::Google;
use crate::endpoints::twitter::Twitter;
use crate::App;

/// Served in JWT mode only.
fn jwt_mode(app: &App) -> bool {
    app.config.auth.mode == AuthMode::Jwt
}

/// Answers one complete request (the transport has read and bounded it).
pub fn handle(app: &App, req: &Request) -> Response {
    if req.path() == endpoints::health::PATH {
        // Outside the prefix, and not logged: a load balancer polls it every few seconds.
        return browser::finish(app, req, health(app, req));
    }
    let started = Instant::now();
    let response = route(app, req).unwrap_or_else(|e| e.to_response());
    finish_timed(app, req, response, started)
}

/// The headers every answer carries, and its log line: for answers the
/// transport gives itself (413, 408, 503) before a worker sees the request.
pub fn finish(app: &App, req: &Request, response: Response) -> Response {
    finish_timed(app, req, response, Instant::now())
}

fn finish_timed(app: &App, req: &Request, response: Response, started: Instant) -> Response {
    let response = browser::finish(app, req, response);
    log::request(req, response.status_code, started.elapsed());
    response
}

/// Every route restauth serves (the OpenAPI document must list exactly these).
pub const ROUTES: &[Route] = &[
    Route::post("login", "Login", Anyone, endpoints::login::post),
    Route {
        pattern: "logout",
        name: "Logout",
        allow: endpoints::logout::ALLOW,
        access: TokenIfAny,
        methods: Methods {
            post: Some(endpoints::logout::post),
            get: Some(endpoints::logout::get),
            ..Methods::NONE
        },
        served: Served::Always,
    },
    Route {
        pattern: "user",
        name: "User Details",
        allow: "GET, PUT, PATCH, HEAD, OPTIONS",
        access: User,
        methods: Methods {
            get: Some(endpoints::user::get),
            put: Some(endpoints::user::put),
            patch: Some(endpoints::user::patch),
            ..Methods::NONE
        },
        served: Served::Always,
    },
    Route::post(
        "password/change",
        "Password Change",
        User,
        endpoints::password_change::post,
    ),
    Route::post(
        "password/reset",
        "Password Reset",
        Anyone,
        endpoints::password_reset::post,
    ),
    Route::post(
        "password/reset/confirm",
        "Password Reset Confirm",
        Anyone,
        endpoints::password_reset_confirm::post,
    ),
    Route::post(
        "registration",
        "Register",
        Anyone,
        endpoints::registration::post,
    ),
    Route {
        // As dj-rest-auth's view lists it (HEAD is still a 405).
        allow: "POST, OPTIONS, HEAD",
        ..Route::post(
            "registration/verify-email",
            "Verify Email",
            Anyone,
            endpoints::verify_email::post,
        )
    },
    Route::post(
        "registration/resend-email",
        "Resend Email Verification",
        Anyone,
        endpoints::resend_email::post,
    ),
    Route::post(
        "token/verify",
        "Token Verify",
        Anyone,
        endpoints::token_verify::post,
    )
    .when(jwt_mode),
    Route::post(
        "token/refresh",
        "Refresh View With Cookie Support",
        Anyone,
        endpoints::token_refresh::post,
    )
    .when(jwt_mode),
    Route {
        pattern: "mfa/status",
        name: "MFA Status",
        allow: "GET, HEAD, OPTIONS",
        access: User,
        methods: Methods {
            get: Some(endpoints::mfa_status::get),
            ..Methods::NONE
        },
        served: Served::Always,
    },
    Route {
        pattern: "mfa/totp/activate",
        name: "TOTP Activate",
        allow: "GET, POST, HEAD, OPTIONS",
        access: User,
        methods: Methods {
            get: Some(endpoints::mfa_activate::get),
            post: Some(endpoints::mfa_activate::post),
            ..Methods::NONE
        },
        served: Served::Always,
    },
    Route::post(
        "mfa/totp/deactivate",
        "TOTP Deactivate",
        User,
        endpoints::mfa_deactivate::post,
    ),
    Route::post(
        "mfa/recovery-codes",
        "Recovery Codes",
        User,
        endpoints::mfa_recovery_codes::list,
    ),
    Route::post(
        "mfa/recovery-codes/regenerate",
        "Recovery Codes Regenerate",
        User,
        endpoints::mfa_recovery_codes::regenerate,
    ),
    Route::post(
        "mfa/verify",
        "MFA Verify",
        Anyone,
        endpoints::mfa_verify::post,
    ),
    Route::post("facebook", "Facebook Login", Anyone, login::<Facebook>).when(Facebook::enabled),
    Route::post(
        "facebook/connect",
        "Facebook Connect",
        User,
        connect::<Facebook>,
    )
    .when(Facebook::enabled),
    Route::post("apple", "Apple Login", Anyone, login::<Apple>).when(Apple::enabled),
    Route::post("apple/connect", "Apple Connect", User, connect::<Apple>).when(Apple::enabled),
    Route::post("github", "GitHub Login", Anyone, login::<Github>).when(Github::enabled),
    Route::post("github/connect", "GitHub Connect", User, connect::<Github>).when(Github::enabled),
    Route::post("google", "Google Login", Anyone, login::<Google>).when(Google::enabled),
    Route::post("google/connect", "Google Connect", User, connect::<Google>).when(Google::enabled),
    Route::post("twitter", "Twitter Login", Anyone, login::<Twitter>).when(Twitter::enabled),
    Route::post(
        "twitter/connect",
        "Twitter Connect",
        User,
        connect::<Twitter>,
    )
    .when(Twitter::enabled),
    Route {
        pattern: "socialaccounts",
        name: "Social Account List",
        allow: "GET, HEAD, OPTIONS",
        access: User,
        methods: Methods {
            get: Some(endpoints::social_accounts::list),
            ..Methods::NONE
        },
        served: Served::Always,
    },
    Route::post(
        "socialaccounts/{id}/disconnect",
        "Social Account Disconnect",
        User,
        endpoints::social_accounts::disconnect,
    ),
    Route {
        pattern: "schema",
        name: "Schema",
        allow: "GET, HEAD, OPTIONS",
        access: Anyone,
        // OPTIONS answers the document too.
        methods: Methods {
            get: Some(endpoints::schema::get),
            options: Some(endpoints::schema::get),
            ..Methods::NONE
        },
        served: Served::Always,
    },
    // Last: any other first segment may name an OpenID Connect provider.
    Route::post(
        "{provider}",
        "OpenID Connect Login",
        Anyone,
        endpoints::oidc::login,
    )
    .for_names(endpoints::oidc::known),
    Route::post(
        "{provider}/connect",
        "OpenID Connect Connect",
        User,
        endpoints::oidc::connect,
    )
    .for_names(endpoints::oidc::known),
];

fn health(app: &App, req: &Request) -> Response {
    match req.method() {
        "GET" | "HEAD" => endpoints::health::get(app),
        method => ApiError::MethodNotAllowed {
            method: method.to_string(),
            allow: endpoints::health::ALLOW,
        }
        .to_response(),
    }
}

fn route(app: &App, req: &Request) -> Result<Response, ApiError> {
    let rest = req
        .path()
        .strip_prefix(app.config.server.prefix.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .ok_or(ApiError::NotFound)?;
    let name = rest.strip_suffix('/').unwrap_or(rest);
    // A route that is not served (a provider without credentials, a name no
    // provider has) is no route at all: a 404 whatever the method.
    let found = ROUTES
        .iter()
        .find_map(|r| match_pattern(r.pattern, name).map(|params| (r, params)))
        .filter(|(r, params)| r.served.serves(app, params));
    // Any path under the prefix, so that a browser sees the real answer (a
    // 404 JSON for an unknown path) rather than a failed preflight.
    if let Some(answer) = browser::preflight(app, req, found.as_ref().map(|(r, _)| r.allow)) {
        return Ok(answer);
    }
    let (route, params) = found.ok_or(ApiError::NotFound)?;
    let header = req.header("Authorization");
    let now = app.clock.unix();
    let jwt = app.config.auth.mode == AuthMode::Jwt;
    if jwt {
        let credential = match route.access {
            Anyone => Credential::NoCookie,
            TokenIfAny => Credential::AnyCookie,
            User => Credential::AccessCookie,
        };
        csrf::check(app, req, credential)?;
    }
    let user = match route.access {
        Anyone => None,
        // JWT mode's logout reads its tokens itself: a stale one must not stop it.
        TokenIfAny if jwt => None,
        TokenIfAny => app.read(|conn| authenticate(conn, header, now))?,
        User if jwt => Some(app.read(|conn| jwt_auth::require(app, conn, req, now))?),
        User => Some(app.read(|conn| require_user(conn, header, now))?),
    };
    let caller = Caller { params, user };
    match route.methods.get_handler(req.method()) {
        Some(handler) => handler(app, req, &caller),
        None if req.method() == "OPTIONS" => Ok(options(route.name, route.allow)),
        None => Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: route.allow,
        }),
    }
}

/// The `{…}` segments of `path` if it matches `pattern`.
fn match_pattern<'a>(pattern: &str, path: &'a str) -> Option<Vec<&'a str>> {
    let mut params = Vec::new();
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with('{') && !s.is_empty() => params.push(s),
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::match_pattern;

    #[test]
    fn no_provider_name_can_hide_a_route() {
        // A provider named like a route's first segment would be unreachable:
        // the configuration refuses those names.
        for route in super::ROUTES {
            let first = route.pattern.split('/').next().unwrap_or("");
            if !first.starts_with('{') {
                assert!(
                    crate::config::RESERVED_PROVIDER_NAMES.contains(&first),
                    "{first} is not reserved"
                );
            }
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(match_pattern("login", "login"), Some(vec![]));
        assert_eq!(match_pattern("login", "login/x"), None);
        assert_eq!(match_pattern("a/{id}/b", "a/12/b"), Some(vec!["12"]));
        assert_eq!(match_pattern("a/{id}/b", "a//b"), None);
        assert_eq!(match_pattern("a/{id}/b", "a/1/2/b"), None);
    }
}
