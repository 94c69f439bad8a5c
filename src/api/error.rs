//! `ApiError` and its one mapping to an HTTP response with a DRF-shaped JSON body.
//!
//! This is the only place that decides status codes, headers and error
//! bodies. Internal failures are logged here (without request data) and the
//! client gets a generic 500: never a stack trace or an SQL message.

use super::http::Response;
use serde_json::{json, Map, Value};

use crate::accounts::AccountError;
use crate::db::DbError;

/// Field-keyed validation errors, in the order fields are declared.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    /// Adds `message` under `field` (after any earlier message for it).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, list)) => list.push(message),
            None => self.0.push((field.to_string(), vec![message])),
        }
    }

    /// Whether `field` has an error.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// Whether there is no error at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(ApiError::Validation)` if any error was recorded.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (field, messages) in &self.0 {
            map.insert(field.clone(), json!(messages));
        }
        Value::Object(map)
    }
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with field-keyed messages.
    Validation(FieldErrors),
    /// 400 `{"detail": message}`: a body that could not be parsed (DRF's `ParseError`).
    Parse(String),
    /// 400 `{"detail": message}`: a request that cannot be served as sent.
    BadRequest(&'static str),
    /// 404 `{"detail": "Not found."}`.
    NotFound,
    /// 408: the body did not arrive within `server.read_timeout`.
    RequestTimeout,
    /// 413: a body over the limit, in bytes.
    TooLarge(usize),
    /// 415 for this `Content-Type`.
    UnsupportedMediaType(String),
    /// 502: an identity provider (by name) could not be reached.
    ProviderUnreachable(String),
    /// 401 `Authentication credentials were not provided.` with `WWW-Authenticate: Token`.
    NotAuthenticated,
    /// 401 with the given message and `WWW-Authenticate: Token`.
    AuthenticationFailed(&'static str),
    /// 401 of JWT mode, with `WWW-Authenticate: Bearer realm="api"`.
    Jwt(JwtRefusal),
    /// 403 `{"detail": message}` (DRF's `PermissionDenied`): a failed CSRF check.
    Forbidden(String),
    /// 405 with an `Allow` header.
    MethodNotAllowed {
        /// The method the client used.
        method: String,
        /// The methods the path supports.
        allow: &'static str,
    },
    /// 429: over a rate or softlocked; wait this many seconds.
    Throttled(u64),
    /// 503 with `Retry-After: 1`: every worker is busy and the queue is full.
    Busy,
    /// 503 as [`ApiError::Busy`], because the database is busy or away; the
    /// reason is logged when the answer is made (not when a retried
    /// transaction meets it).
    DatabaseBusy(String),
    /// A failure of ours; logged, answered with a generic 500.
    Internal(String),
}

/// JWT mode's 401s, each with simplejwt's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtRefusal {
    /// No access token on a route that needs one.
    NotProvided,
    /// `Authorization: Bearer` without exactly one more word.
    BadHeader,
    /// A bad access token on a protected route: the message of the `messages` entry.
    Access(&'static str),
    /// The access token's user is inactive.
    UserInactive,
    /// A bad token at `token/verify/`, `token/refresh/`: `{"detail", "code": "token_not_valid"}`.
    Token(&'static str),
    /// A refresh token of an inactive user.
    NoActiveAccount,
    /// A logout that revoked nothing: `{"detail"}` only, as the reference's.
    Logout(&'static str),
}

impl JwtRefusal {
    fn body(self) -> Value {
        match self {
            JwtRefusal::NotProvided => {
                json!({"detail": "Authentication credentials were not provided."})
            }
            JwtRefusal::BadHeader => json!({
                "detail": "Authorization header must contain two space-delimited values",
                "code": "bad_authorization_header",
            }),
            JwtRefusal::Access(message) => json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
            }),
            JwtRefusal::UserInactive => {
                json!({"detail": "User is inactive", "code": "user_inactive"})
            }
            JwtRefusal::Token(detail) => json!({"detail": detail, "code": "token_not_valid"}),
            JwtRefusal::Logout(detail) => json!({"detail": detail}),
            JwtRefusal::NoActiveAccount => json!({
                "detail": "No active account found for the given token.",
                "code": "no_active_account",
            }),
        }
    }
}

impl ApiError {
    /// 400 `{"non_field_errors": [message]}`.
    pub fn non_field(message: impl Into<String>) -> ApiError {
        ApiError::field("non_field_errors", message)
    }

    /// 400 `{field: [message]}`.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        let mut e = FieldErrors::new();
        e.add(field, message);
        ApiError::Validation(e)
    }

    /// The HTTP response for this error.
    pub fn to_response(&self) -> Response {
        use ApiError::*;
        let (status, detail) = match self {
            Validation(errors) => return json_response(400, &errors.to_json()),
            Jwt(refusal) => {
                return json_response(401, &refusal.body())
                    .with_additional_header("WWW-Authenticate", r#"Bearer realm="api""#)
            }
            Parse(detail) => (400, detail.clone()),
            BadRequest(detail) => (400, detail.to_string()),
            Forbidden(detail) => (403, detail.clone()),
            NotFound => (404, "Not found.".into()),
            RequestTimeout => (408, "The request body did not arrive in time.".into()),
            TooLarge(limit) => (
                413,
                format!("Request body is larger than the limit of {limit} bytes."),
            ),
            UnsupportedMediaType(content_type) => (
                415,
                format!("Unsupported media type \"{content_type}\" in request."),
            ),
            ProviderUnreachable(provider) => (
                502,
                format!("{provider} could not be reached. Try again later."),
            ),
            NotAuthenticated => (401, "Authentication credentials were not provided.".into()),
            AuthenticationFailed(message) => (401, message.to_string()),
            MethodNotAllowed { method, .. } => (405, format!("Method \"{method}\" not allowed.")),
            // DRF's ngettext: "1 second", "2 seconds".
            Throttled(wait) => {
                let s = if *wait == 1 { "" } else { "s" };
                (
                    429,
                    format!("Request was throttled. Expected available in {wait} second{s}."),
                )
            }
            Busy => (503, "The server is busy; try again shortly.".into()),
            DatabaseBusy(why) => {
                crate::log!("restauth: answering 503: {why}");
                (503, "The server is busy; try again shortly.".into())
            }
            Internal(what) => {
                crate::log!("restauth: internal error: {what}");
                (500, "A server error occurred.".into())
            }
        };
        let response = json_response(status, &json!({ "detail": detail }));
        match self {
            NotAuthenticated | AuthenticationFailed(_) => {
                response.with_additional_header("WWW-Authenticate", "Token")
            }
            MethodNotAllowed { allow, .. } => response.with_additional_header("Allow", *allow),
            Throttled(wait) => response.with_additional_header("Retry-After", wait.to_string()),
            Busy | DatabaseBusy(_) => response.with_additional_header("Retry-After", "1"),
            _ => response,
        }
    }
}

/// A JSON response with the given status.
pub fn json_response(status: u16, body: &Value) -> Response {
    Response::from_data("application/json", body.to_string()).with_status_code(status)
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            // The database is down or saturated, or a transaction kept losing
            // races: 503 with Retry-After, which clients and balancers retry.
            DbError::Unavailable(_) | DbError::Conflict => ApiError::DatabaseBusy(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::UsernameTaken => {
                ApiError::field("username", "A user with that username already exists.")
            }
            AccountError::Db(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::accounts::social::SocialError> for ApiError {
    fn from(e: crate::accounts::social::SocialError) -> Self {
        use crate::accounts::social::SocialError;
        match e {
            SocialError::EmailTaken => {
                ApiError::non_field("User is already registered with this e-mail address.")
            }
            SocialError::Inactive => {
                ApiError::non_field("Unable to log in with provided credentials.")
            }
            SocialError::OtherUser => ApiError::non_field(
                "The social account is already connected to a different account.",
            ),
            SocialError::Account(e) => e.into(),
        }
    }
}

impl From<crate::security::throttle::Wait> for ApiError {
    fn from(w: crate::security::throttle::Wait) -> Self {
        ApiError::Throttled(w.0)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(format!("I/O error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_declaration_order() {
        let mut e = FieldErrors::new();
        e.add("new_password1", "a");
        e.add("new_password2", "b");
        e.add("new_password1", "c");
        assert_eq!(
            e.to_json().to_string(),
            r#"{"new_password1":["a","c"],"new_password2":["b"]}"#
        );
    }
}
