//! Request/response plumbing shared by the endpoints.

pub mod auth;
pub mod client;
pub mod email;
pub mod error;
pub mod fields;
pub mod input;
pub mod respond;

pub use error::{ApiError, FieldErrors};
