//! Request/response plumbing shared by the endpoints.

pub mod auth;
pub mod client;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod fields;
pub mod grant;
pub mod http;
pub mod input;
pub mod jwt_auth;
pub mod passwords;
pub mod qr;
pub mod respond;
pub mod route;
pub mod second_factor;
pub mod social_flow;

pub use error::{ApiError, FieldErrors};
