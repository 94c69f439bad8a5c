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
    /// metadata unless given; anything else is 405.
    pub methods: Methods,
    /// Whether the route is served at all (a provider without credentials
    /// is 404); checked first.
    pub served: Served,
}

/// When a route is served (else it is a 404, whatever the method or credentials).
#[derive(Clone, Copy)]
pub enum Served {
    /// Always.
    Always,
    /// While the configuration says so.
    When(fn(&App) -> bool),
    /// For the names (the pattern's first `{…}` segment) the configuration knows.
    ForName(fn(&App, &str) -> bool),
}

impl Served {
    /// Whether a request whose `{…}` segments are `params` is served.
    pub fn serves(self, app: &App, params: &[&str]) -> bool {
        match self {
            Served::Always => true,
            Served::When(enabled) => enabled(app),
            Served::ForName(known) => params.first().is_some_and(|name| known(app, name)),
        }
    }
}

/// A route's handler for each method it serves.
#[derive(Clone, Copy)]
pub struct Methods {
    /// `GET` and `HEAD`.
    pub get: Option<Handler>,
    /// `POST`.
    pub post: Option<Handler>,
    /// `PUT`.
    pub put: Option<Handler>,
    /// `PATCH`.
    pub patch: Option<Handler>,
    /// `OPTIONS`, when not DRF's metadata.
    pub options: Option<Handler>,
}

impl Methods {
    /// No method at all.
    pub const NONE: Methods = Methods {
        get: None,
        post: None,
        put: None,
        patch: None,
        options: None,
    };

    /// The handler for `method` (`HEAD` is `GET`).
    pub fn get_handler(&self, method: &str) -> Option<Handler> {
        match method {
            "GET" | "HEAD" => self.get,
            "POST" => self.post,
            "PUT" => self.put,
            "PATCH" => self.patch,
            "OPTIONS" => self.options,
            _ => None,
        }
    }
}

impl Route {
    /// A path with one `POST` handler (`Allow: POST, OPTIONS`), always served.
    pub const fn post(
        pattern: &'static str,
        name: &'static str,
        access: Access,
        handler: Handler,
    ) -> Route {
        Route {
            pattern,
            name,
            allow: "POST, OPTIONS",
            access,
            methods: Methods {
                post: Some(handler),
                ..Methods::NONE
            },
            served: Served::Always,
        }
    }

    /// The same route, served only while `enabled` says so.
    pub const fn when(mut self, enabled: fn(&App) -> bool) -> Route {
        self.served = Served::When(enabled);
        self
    }

    /// The same route, served only for the names `known` accepts.
    pub const fn for_names(mut self, known: fn(&App, &str) -> bool) -> Route {
        self.served = Served::ForName(known);
        self
    }
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
