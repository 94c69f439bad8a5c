//! What browsers need: CORS for configured origins, and safe default headers.

use crate::api::http::{Request, Response};

use crate::api::csrf;
use crate::config::normal_origin;
use crate::App;

/// Headers a browser frontend may send.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Accept, Accept-Language, X-CSRFToken";
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The allowed origin of `req`, if it sent one that is configured.
fn allowed_origin<'a>(app: &App, req: &'a Request) -> Option<&'a str> {
    let origin = req.header("Origin")?;
    let normal = normal_origin(origin)?;
    app.config
        .server
        .cors_allowed_origins
        .contains(&normal)
        .then_some(origin)
}

/// Methods a preflight for a path restauth does not serve may ask for (those
/// django-cors-headers allows by default): the browser then sends the request
/// and shows its real answer, a 404.
const ANY_PATH_METHODS: &str = "DELETE, GET, OPTIONS, PATCH, POST, PUT";

/// Answers a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`)
/// without authentication, as browsers send none with it: for a route (its
/// `allow`), or for any other path under the prefix from an allowed origin.
pub fn preflight(app: &App, req: &Request, allow: Option<&'static str>) -> Option<Response> {
    if req.method() != "OPTIONS" || req.header("Access-Control-Request-Method").is_none() {
        return None;
    }
    let allowed = allowed_origin(app, req).is_some();
    let mut response = Response::empty_204();
    match allow {
        Some(allow) => response = response.with_additional_header("Allow", allow),
        None if !allowed => return None,
        None => {}
    }
    if allowed {
        response = response
            .with_additional_header(
                "Access-Control-Allow-Methods",
                allow.unwrap_or(ANY_PATH_METHODS),
            )
            .with_additional_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
            .with_additional_header("Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    }
    Some(response)
}

/// Adds the security headers every response carries, and CORS headers for allowed origins.
pub fn finish(app: &App, req: &Request, mut response: Response) -> Response {
    response = response
        .with_additional_header("X-Content-Type-Options", "nosniff")
        .with_additional_header("X-Frame-Options", "DENY")
        .with_additional_header("Referrer-Policy", "same-origin")
        // Tokens, keys and personal data: never cached, by browsers or proxies.
        .with_additional_header("Cache-Control", "no-store");
    if let Some(origin) = allowed_origin(app, req) {
        response = response
            .with_additional_header("Access-Control-Allow-Origin", origin.to_string())
            .with_additional_header("Vary", "Origin");
        if app.config.server.cors_allow_credentials {
            response = response.with_additional_header("Access-Control-Allow-Credentials", "true");
        }
        if app.config.jwt.csrf {
            response =
                response.with_additional_header("Access-Control-Expose-Headers", csrf::HEADER);
        }
    } else if !app.config.server.cors_allowed_origins.is_empty() {
        response = response.with_additional_header("Vary", "Origin");
    }
    response
}
