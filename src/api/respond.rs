//! Success responses and the method checks every endpoint shares.

use super::http::{Request, Response};
use serde_json::{json, Value};

use super::error::{json_response, ApiError};
use crate::accounts::users::User;

/// 200 with a JSON body.
pub fn ok(body: Value) -> Response {
    json_response(200, &body)
}

/// 201 with a JSON body.
pub fn created(body: Value) -> Response {
    json_response(201, &body)
}

/// 200 `{"detail": message}`.
pub fn detail(message: &str) -> Response {
    ok(json!({ "detail": message }))
}

/// The user object of `GET user/`.
pub fn user_json(user: &User) -> Value {
    json!({
        "pk": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
    })
}

/// The 405 for `req` on a path that supports `allow`.
pub fn method_not_allowed(req: &Request, allow: &'static str) -> ApiError {
    ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allow,
    }
}

/// DRF's `OPTIONS` answer: what the view is and which types it reads and writes.
pub fn options(name: &str, allow: &'static str) -> Response {
    ok(json!({
        "name": name,
        "description": "",
        "renders": ["application/json"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }))
    .with_additional_header("Allow", allow)
}
