//! `GET P/schema/`: the OpenAPI 3.1 document of every endpoint (`openapi.json` in the repository).

use crate::api::http::{Request, Response};

use crate::api::route::Caller;
use crate::api::ApiError;
use crate::App;

/// The document, as kept in the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// `GET` (and `HEAD`, `OPTIONS`): the document, with the configured prefix in its server URL.
pub fn get(app: &App, _: &Request, _: &Caller) -> Result<Response, ApiError> {
    let body = DOCUMENT.replace(
        "\"/rest-auth\"",
        &format!("\"{}\"", app.config.server.prefix),
    );
    Ok(Response::from_data("application/json", body))
}
