//! The domain: users, API tokens, JWT-mode sessions and server settings. All SQL lives here.
//!
//! Functions take a [`crate::db::Conn`], whichever backend is behind it: the
//! caller decides the transaction, so a request's writes commit or roll back together.

pub mod confirmations;
pub mod email;
pub mod mail_requests;
pub mod mfa;
pub mod server_settings;
pub mod sessions;
pub mod social;
pub mod tokens;
pub mod users;

/// Errors of the domain layer.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The OS random source failed.
    #[error("random source failed: {0}")]
    Random(#[from] std::io::Error),
    /// Another user already has this username (case-insensitively).
    #[error("A user with that username already exists.")]
    UsernameTaken,
    /// No such user.
    #[error("no such user")]
    NoSuchUser,
}

/// Revokes every login of `user_id`, token-mode keys and JWT-mode sessions
/// alike, except the one `keep` names, and every login half-way through its
/// second factor; how many keys and sessions were revoked.
pub fn revoke_logins(
    conn: &crate::db::Conn,
    user_id: i64,
    keep: Option<&tokens::TokenOwner>,
) -> Result<usize, AccountError> {
    // A password that changed (or a deactivation) ends pending second steps
    // begun with the old password.
    mfa::end_challenges_of(conn, user_id)?;
    let keep_of = |kind| keep.filter(|k| k.via == kind).map(|k| k.token_id);
    Ok(
        tokens::revoke_all_for_user(conn, user_id, keep_of(tokens::LoginKind::Token))?
            + sessions::revoke_all_for_user(conn, user_id, keep_of(tokens::LoginKind::Session))?,
    )
}
