//! `GET P/schema/`: the OpenAPI 3.1 document of every endpoint (`openapi.json` in the repository).

use serde_json::Value;

use crate::api::http::{Request, Response};
use crate::api::route::Caller;
use crate::api::ApiError;
use crate::App;

/// The document, as kept in the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// The paths of the OpenID Connect providers, templated by their name.
pub const PROVIDER_PATHS: [&str; 2] = ["/{provider}/", "/{provider}/connect/"];

/// `GET` (and `HEAD`, `OPTIONS`): the document, with the configured prefix
/// in its server URL and the configured OpenID Connect providers' names as
/// the only values of `{provider}` (without any, those paths are left out).
pub fn get(app: &App, _: &Request, _: &Caller) -> Result<Response, ApiError> {
    let body = DOCUMENT.replace(
        "\"/rest-auth\"",
        &format!("\"{}\"", app.config.server.prefix),
    );
    let names: Vec<Value> = app
        .provider_keys
        .oidc
        .values()
        .filter(|p| p.enabled())
        .map(|p| Value::from(p.name.as_str()))
        .collect();
    let Ok(mut doc) = serde_json::from_str::<Value>(&body) else {
        return Ok(Response::from_data("application/json", body));
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for path in PROVIDER_PATHS {
            if names.is_empty() {
                paths.remove(path);
            } else if let Some(Value::Object(schema)) = paths
                .get_mut(path)
                .and_then(|item| item.pointer_mut("/parameters/0/schema"))
            {
                schema.remove("pattern");
                schema.insert("enum".into(), Value::Array(names.clone()));
            }
        }
    }
    Ok(Response::from_data("application/json", doc.to_string()))
}
