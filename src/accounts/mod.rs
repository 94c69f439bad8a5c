//! The domain: users, API tokens and server settings. All SQL lives here.
//!
//! Functions take a `&Connection` (a `Transaction` derefs to one): the caller
//! decides the transaction, so a request's writes commit or roll back together.

pub mod confirmations;
pub mod email;
pub mod mail_requests;
pub mod server_settings;
pub mod social;
pub mod tokens;
pub mod users;

/// Errors of the domain layer.
#[derive(Debug)]
pub enum AccountError {
    /// The database failed.
    Db(rusqlite::Error),
    /// The OS random source failed.
    Random(std::io::Error),
    /// Another user already has this username (case-insensitively).
    UsernameTaken,
    /// No such user.
    NoSuchUser,
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountError::Db(e) => write!(f, "database error: {e}"),
            AccountError::Random(e) => write!(f, "random source failed: {e}"),
            AccountError::UsernameTaken => f.write_str("A user with that username already exists."),
            AccountError::NoSuchUser => f.write_str("no such user"),
        }
    }
}

impl std::error::Error for AccountError {}

impl From<rusqlite::Error> for AccountError {
    fn from(e: rusqlite::Error) -> Self {
        AccountError::Db(e)
    }
}

impl From<std::io::Error> for AccountError {
    fn from(e: std::io::Error) -> Self {
        AccountError::Random(e)
    }
}
