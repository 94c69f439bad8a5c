//! What a route declares, and what its handlers receive: the router
//! (`server`) answers preflights, `OPTIONS`, 405 and missing credentials once
//! for every route, so a handler starts with its own work.

use super::http::{Request, Response};
use super::ApiError;
use crate::accounts::tokens::TokenOwner;
use crate::App;

/// A method's handler.
pub type Handler = fn(&App, &Request, &Caller) -> Result<Response, ApiError>;

/// Who may call a route. As in DRF, authentication runs before the method
/// check: a wrong method with a bad token is a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; the `Authorization` header is not read.
    Anyone,
    /// Anyone, but a token that is presented must be valid (401 otherwise).
    TokenIfAny,
    /// An authenticated user only (401 without one).
    User,
}

/// One route: a path under the prefix and its methods.
pub struct Route {
    /// Path after the prefix, without slashes at either end (`{id}` matches one segment).
    pub pattern: &'static str,
    /// The view's name in DRF's `OPTIONS` answer.
    pub name: &'static str,
    /// The `Allow` header, as DRF lists it for the view.
    pub allow: &'static str,
    /// Checked before the method.
    pub access: Access,
    /// Handlers by method; `HEAD` runs `GET`'s, `OPTIONS` answers DRF's
    /// metadata unless listed; anything else is 405.
    pub methods: &'static [(&'static str, Handler)],
    /// Whether the route is served at all (a provider without credentials
    /// is 404); checked first.
    pub enabled: fn(&App) -> bool,
}

/// What the router established about a request.
pub struct Caller<'a> {
    /// The `{…}` segments of the pattern, in order.
    pub params: Vec<&'a str>,
    /// The token's owner, on routes that read the token and got one.
    pub user: Option<TokenOwner>,
}

impl Caller<'_> {
    /// The authenticated user (always there on [`Access::User`] routes).
    pub fn owner(&self) -> Result<&TokenOwner, ApiError> {
        self.user.as_ref().ok_or(ApiError::NotAuthenticated)
    }

    /// The `n`-th `{…}` segment.
    pub fn param(&self, n: usize) -> &str {
        self.params.get(n).copied().unwrap_or("")
    }
}

/// Every route is served.
pub fn always(_: &App) -> bool {
    true
}
