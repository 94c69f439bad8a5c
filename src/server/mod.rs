//! The router: method + path → endpoint, body-size guard, one log line per request.

mod browser;
mod log;
pub mod transport;
mod write_deadline;

use std::time::Instant;

use crate::api::http::{Request, Response};

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

/// An endpoint: parameters are the `{…}` segments of its pattern, in order.
type Handler = fn(&App, &Request, &[&str]) -> Result<Response, ApiError>;

/// One route: the path after the prefix, without slashes at either end
/// (`{id}` matches one segment), and the methods it allows.
pub struct Route {
    /// Path pattern, e.g. `socialaccounts/{id}/disconnect`.
    pub pattern: &'static str,
    /// The `Allow` header of the path.
    pub allow: &'static str,
    handler: Handler,
}

/// Every route restauth serves (the OpenAPI document must list exactly these).
pub const ROUTES: &[Route] = &[
    Route {
        pattern: "login",
        allow: endpoints::login::ALLOW,
        handler: |a, r, _| endpoints::login::handle(a, r),
    },
    Route {
        pattern: "logout",
        allow: endpoints::logout::ALLOW,
        handler: |a, r, _| endpoints::logout::handle(a, r),
    },
    Route {
        pattern: "user",
        allow: endpoints::user::ALLOW,
        handler: |a, r, _| endpoints::user::handle(a, r),
    },
    Route {
        pattern: "password/change",
        allow: endpoints::password_change::ALLOW,
        handler: |a, r, _| endpoints::password_change::handle(a, r),
    },
    Route {
        pattern: "password/reset",
        allow: endpoints::password_reset::ALLOW,
        handler: |a, r, _| endpoints::password_reset::handle(a, r),
    },
    Route {
        pattern: "password/reset/confirm",
        allow: endpoints::password_reset_confirm::ALLOW,
        handler: |a, r, _| endpoints::password_reset_confirm::handle(a, r),
    },
    Route {
        pattern: "registration",
        allow: endpoints::registration::ALLOW,
        handler: |a, r, _| endpoints::registration::handle(a, r),
    },
    Route {
        pattern: "registration/verify-email",
        allow: endpoints::verify_email::ALLOW,
        handler: |a, r, _| endpoints::verify_email::handle(a, r),
    },
    Route {
        pattern: "registration/resend-email",
        allow: endpoints::resend_email::ALLOW,
        handler: |a, r, _| endpoints::resend_email::handle(a, r),
    },
    Route {
        pattern: "facebook",
        allow: endpoints::facebook::ALLOW,
        handler: |a, r, _| endpoints::facebook::login(a, r),
    },
    Route {
        pattern: "facebook/connect",
        allow: endpoints::facebook::ALLOW,
        handler: |a, r, _| endpoints::facebook::connect(a, r),
    },
    Route {
        pattern: "twitter",
        allow: endpoints::twitter::ALLOW,
        handler: |a, r, _| endpoints::twitter::login(a, r),
    },
    Route {
        pattern: "twitter/connect",
        allow: endpoints::twitter::ALLOW,
        handler: |a, r, _| endpoints::twitter::connect(a, r),
    },
    Route {
        pattern: "socialaccounts",
        allow: endpoints::social_accounts::LIST_ALLOW,
        handler: |a, r, _| endpoints::social_accounts::list(a, r),
    },
    Route {
        pattern: "socialaccounts/{id}/disconnect",
        allow: endpoints::social_accounts::DISCONNECT_ALLOW,
        handler: |a, r, p| {
            endpoints::social_accounts::disconnect(a, r, p.first().copied().unwrap_or(""))
        },
    },
    Route {
        pattern: "schema",
        allow: endpoints::schema::ALLOW,
        handler: |a, r, _| endpoints::schema::handle(a, r),
    },
];

fn route(app: &App, req: &Request) -> Result<Response, ApiError> {
    let path = req.raw_url().split('?').next().unwrap_or("");
    let rest = path
        .strip_prefix(app.config.server.prefix.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(ApiError::not_found)?;
    let name = rest.strip_suffix('/').unwrap_or(rest);
    for r in ROUTES {
        if let Some(params) = match_pattern(r.pattern, name) {
            if let Some(answer) = browser::preflight(app, req, r.allow) {
                return Ok(answer);
            }
            return (r.handler)(app, req, &params);
        }
    }
    Err(ApiError::not_found())
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
