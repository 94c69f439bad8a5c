//! The router: method + path → endpoint, body-size guard, one log line per request.

mod log;
mod oversize;

use std::time::Instant;

use rouille::{Request, Response};

use crate::api::ApiError;
use crate::endpoints;
use crate::App;

pub use oversize::set_local_port;

/// Answers one request.
pub fn handle(app: &App, req: &Request) -> Response {
    let started = Instant::now();
    let response = match oversize::check(req, app.config.server.max_body_bytes) {
        Some(refusal) => refusal,
        None => route(app, req).unwrap_or_else(|e| e.to_response()),
    };
    log::request(req, response.status_code, started.elapsed());
    response
}

fn route(app: &App, req: &Request) -> Result<Response, ApiError> {
    let path = req.raw_url().split('?').next().unwrap_or("");
    let rest = path
        .strip_prefix(app.config.server.prefix.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(ApiError::not_found)?;
    let name = rest.strip_suffix('/').unwrap_or(rest);
    match name {
        "login" => endpoints::login::handle(app, req),
        "logout" => endpoints::logout::handle(app, req),
        "user" => endpoints::user::handle(app, req),
        "password/change" => endpoints::password_change::handle(app, req),
        "password/reset" => endpoints::password_reset::handle(app, req),
        "password/reset/confirm" => endpoints::password_reset_confirm::handle(app, req),
        "registration" => endpoints::registration::handle(app, req),
        "registration/verify-email" => endpoints::verify_email::handle(app, req),
        "registration/resend-email" => endpoints::resend_email::handle(app, req),
        "facebook" => endpoints::facebook::login(app, req),
        "facebook/connect" => endpoints::facebook::connect(app, req),
        "twitter" => endpoints::twitter::login(app, req),
        "twitter/connect" => endpoints::twitter::connect(app, req),
        "socialaccounts" => endpoints::social_accounts::list(app, req),
        other => match other
            .strip_prefix("socialaccounts/")
            .and_then(|r| r.strip_suffix("/disconnect"))
        {
            Some(id) => endpoints::social_accounts::disconnect(app, req, id),
            None => Err(ApiError::not_found()),
        },
    }
}
