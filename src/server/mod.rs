//! The router: method + path → endpoint, body-size guard, one log line per request.

mod browser;
mod log;
pub mod transport;
mod write_deadline;

use std::time::Instant;

use crate::api::http::{Request, Response};

use crate::api::auth::{authenticate, require_user};
use crate::api::respond::options;
use crate::api::route::{always, Access, Caller, Route};
use crate::api::ApiError;
use crate::endpoints;
use crate::App;

/// Answers one complete request (the transport has read and bounded it).
pub fn handle(app: &App, req: &Request) -> Response {
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
    Route {
        pattern: "login",
        name: "Login",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::login::post)],
        enabled: always,
    },
    Route {
        pattern: "logout",
        name: "Logout",
        allow: endpoints::logout::ALLOW,
        access: Access::TokenIfAny,
        methods: &[
            ("POST", endpoints::logout::post),
            ("GET", endpoints::logout::get),
        ],
        enabled: always,
    },
    Route {
        pattern: "user",
        name: "User Details",
        allow: "GET, PUT, PATCH, HEAD, OPTIONS",
        access: Access::User,
        methods: &[
            ("GET", endpoints::user::get),
            ("PUT", endpoints::user::put),
            ("PATCH", endpoints::user::patch),
        ],
        enabled: always,
    },
    Route {
        pattern: "password/change",
        name: "Password Change",
        allow: "POST, OPTIONS",
        access: Access::User,
        methods: &[("POST", endpoints::password_change::post)],
        enabled: always,
    },
    Route {
        pattern: "password/reset",
        name: "Password Reset",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::password_reset::post)],
        enabled: always,
    },
    Route {
        pattern: "password/reset/confirm",
        name: "Password Reset Confirm",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::password_reset_confirm::post)],
        enabled: always,
    },
    Route {
        pattern: "registration",
        name: "Register",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::registration::post)],
        enabled: always,
    },
    Route {
        pattern: "registration/verify-email",
        name: "Verify Email",
        // As dj-rest-auth's view lists it (HEAD is still a 405).
        allow: "POST, OPTIONS, HEAD",
        access: Access::Anyone,
        methods: &[("POST", endpoints::verify_email::post)],
        enabled: always,
    },
    Route {
        pattern: "registration/resend-email",
        name: "Resend Email Verification",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::resend_email::post)],
        enabled: always,
    },
    Route {
        pattern: "facebook",
        name: "Facebook Login",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::facebook::login)],
        enabled: endpoints::facebook::enabled,
    },
    Route {
        pattern: "facebook/connect",
        name: "Facebook Connect",
        allow: "POST, OPTIONS",
        access: Access::User,
        methods: &[("POST", endpoints::facebook::connect)],
        enabled: endpoints::facebook::enabled,
    },
    Route {
        pattern: "twitter",
        name: "Twitter Login",
        allow: "POST, OPTIONS",
        access: Access::Anyone,
        methods: &[("POST", endpoints::twitter::login)],
        enabled: endpoints::twitter::enabled,
    },
    Route {
        pattern: "twitter/connect",
        name: "Twitter Connect",
        allow: "POST, OPTIONS",
        access: Access::User,
        methods: &[("POST", endpoints::twitter::connect)],
        enabled: endpoints::twitter::enabled,
    },
    Route {
        pattern: "socialaccounts",
        name: "Social Account List",
        allow: "GET, HEAD, OPTIONS",
        access: Access::User,
        methods: &[("GET", endpoints::social_accounts::list)],
        enabled: always,
    },
    Route {
        pattern: "socialaccounts/{id}/disconnect",
        name: "Social Account Disconnect",
        allow: "POST, OPTIONS",
        access: Access::User,
        methods: &[("POST", endpoints::social_accounts::disconnect)],
        enabled: always,
    },
    Route {
        pattern: "schema",
        name: "Schema",
        allow: "GET, HEAD, OPTIONS",
        access: Access::Anyone,
        // OPTIONS answers the document too.
        methods: &[
            ("GET", endpoints::schema::get),
            ("OPTIONS", endpoints::schema::get),
        ],
        enabled: always,
    },
];

fn route(app: &App, req: &Request) -> Result<Response, ApiError> {
    let rest = req
        .path()
        .strip_prefix(app.config.server.prefix.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .ok_or(ApiError::NotFound)?;
    let name = rest.strip_suffix('/').unwrap_or(rest);
    let found = ROUTES
        .iter()
        .find_map(|r| match_pattern(r.pattern, name).map(|params| (r, params)));
    // Any path under the prefix, so that a browser sees the real answer (a
    // 404 JSON for an unknown path) rather than a failed preflight.
    if let Some(answer) = browser::preflight(app, req, found.as_ref().map(|(r, _)| r.allow)) {
        return Ok(answer);
    }
    let (route, params) = found.ok_or(ApiError::NotFound)?;
    if !(route.enabled)(app) {
        return Err(ApiError::NotFound);
    }
    let header = req.header("Authorization");
    let now = app.clock.unix();
    let user = match route.access {
        Access::Anyone => None,
        Access::TokenIfAny => app.read(|conn| authenticate(conn, header, now))?,
        Access::User => Some(app.read(|conn| require_user(conn, header, now))?),
    };
    let method = match req.method() {
        "HEAD" => "GET",
        other => other,
    };
    let caller = Caller { params, user };
    match route.methods.iter().find(|(m, _)| *m == method) {
        Some((_, handler)) => handler(app, req, &caller),
        None if method == "OPTIONS" => Ok(options(route.name, route.allow)),
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
    fn patterns() {
        assert_eq!(match_pattern("login", "login"), Some(vec![]));
        assert_eq!(match_pattern("login", "login/x"), None);
        assert_eq!(match_pattern("a/{id}/b", "a/12/b"), Some(vec!["12"]));
        assert_eq!(match_pattern("a/{id}/b", "a//b"), None);
        assert_eq!(match_pattern("a/{id}/b", "a/1/2/b"), None);
    }
}
