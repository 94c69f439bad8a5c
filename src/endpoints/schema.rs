//! `GET P/schema/`: the OpenAPI 3.1 document of every endpoint (`openapi.json` in the repository).

use crate::api::http::{Request, Response};

use crate::api::respond::method_not_allowed;
use crate::api::ApiError;
use crate::App;

/// Methods of this path.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The document, as kept in the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// Serves the document, with the configured prefix in its server URL.
pub fn handle(app: &App, req: &Request) -> Result<Response, ApiError> {
    match req.method() {
        "GET" | "HEAD" | "OPTIONS" => {}
        _ => return Err(method_not_allowed(req, ALLOW)),
    }
    let body = DOCUMENT.replace(
        "\"/rest-auth\"",
        &format!("\"{}\"", app.config.server.prefix),
    );
    Ok(Response::from_data("application/json", body))
}
