//! Users: lookup, creation and updates.

use crate::db::{params, Conn, DbError, Row, ToValue};

use super::AccountError;

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Primary key (the API's `pk`).
    pub id: i64,
    /// As typed, case preserved.
    pub username: String,
    /// Lower-cased; empty when none.
    pub email: String,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Django-format hash, or `!…` when unusable.
    pub password: String,
    /// Inactive users cannot log in or use tokens.
    pub is_active: bool,
    /// Unix seconds.
    pub date_joined: i64,
    /// Unix seconds of the last successful login.
    pub last_login: Option<i64>,
}

/// The columns [`from_row_at`] reads, in its order (`id` first, unqualified).
pub(super) const COLUMNS: &str = "id, username, email, email_verified, first_name, last_name, password, is_active, date_joined, last_login";

fn from_row(r: &Row<'_>) -> Result<User, DbError> {
    from_row_at(r, 0)
}

/// The user in [`COLUMNS`] starting at column `at` of `r`.
pub(super) fn from_row_at(r: &Row<'_>, at: usize) -> Result<User, DbError> {
    Ok(User {
        id: r.get(at)?,
        username: r.get(at + 1)?,
        email: r.get(at + 2)?,
        email_verified: r.get(at + 3)?,
        first_name: r.get(at + 4)?,
        last_name: r.get(at + 5)?,
        password: r.get(at + 6)?,
        is_active: r.get(at + 7)?,
        date_joined: r.get(at + 8)?,
        last_login: r.get(at + 9)?,
    })
}

/// Django's `UnicodeUsernameValidator` message.
pub const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

/// A username that is an email address other than the account's own.
pub const NOT_YOUR_ADDRESS: &str =
    "An email address can only be the username of the account it belongs to.";

/// What Django's checks say of a username, on the NFKC-normalised value
/// (normalising can lengthen it: `㎒` becomes `MHz`): length, then allowed
/// characters; `None` if it passes.
pub fn username_problem(name: &str) -> Option<&'static str> {
    if name.chars().count() > 150 {
        Some("Ensure this field has no more than 150 characters.")
    } else if !is_valid_username(name) {
        Some(INVALID_USERNAME)
    } else {
        None
    }
}

/// A username as Django's `UsernameField` stores it: NFKC-normalised, so that
/// fullwidth `ａｌｉｃｅ` and `alice` are one name. Applied to what clients send
/// on registration, login and update.
pub fn normalize_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.nfkc().collect()
}

/// The softlock key of a login identifier (a username or an address, as
/// typed): the same for every spelling of one name, and independent of
/// whether, or which, account it names (see `security::throttle`).
pub fn softlock_key(identifier: &str) -> String {
    format!("login:{}", normalize_username(identifier).to_lowercase())
}

/// The key usernames are unique under: Unicode lower case.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

/// The user with this username, compared case-insensitively.
pub fn by_username(conn: &Conn, username: &str) -> Result<Option<User>, AccountError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username_lower = ?1");
    Ok(conn.query_opt(&sql, params![username_key(username)], from_row)?)
}

/// Users with this email address (compared case-insensitively), oldest first.
///
/// Addresses are not unique: an unverified address may be registered twice,
/// as allauth allows. At most `limit` rows.
pub fn by_email(conn: &Conn, email: &str, limit: usize) -> Result<Vec<User>, AccountError> {
    if email.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = ?1 ORDER BY id LIMIT ?2");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(conn.query_all(&sql, params![email.to_lowercase(), limit], from_row)?)
}

/// The user with this primary key.
pub fn by_id(conn: &Conn, id: i64) -> Result<Option<User>, AccountError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    Ok(conn.query_opt(&sql, params![id], from_row)?)
}

/// A user named by an administrator: a username, or an email address if it contains `@`
/// and no username matches.
pub fn by_username_or_email(conn: &Conn, name: &str) -> Result<Option<User>, AccountError> {
    if let Some(u) = by_username(conn, name)? {
        return Ok(Some(u));
    }
    if name.contains('@') {
        return Ok(by_email(conn, name, 1)?.into_iter().next());
    }
    Ok(None)
}

/// What a new user starts with.
pub struct NewUser<'a> {
    /// Validated username.
    pub username: &'a str,
    /// Address (lower-cased on insert), or empty.
    pub email: &'a str,
    /// Whether the address counts as confirmed.
    pub email_verified: bool,
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// An already hashed password (or an unusable one).
    pub password_hash: &'a str,
}

/// Inserts a user; a taken username (case-insensitively) is [`AccountError::UsernameTaken`].
pub fn create(conn: &Conn, new: &NewUser<'_>, now: i64) -> Result<User, AccountError> {
    let sql = format!(
        "INSERT INTO users (username, username_lower, email, email_verified, first_name, last_name, password, is_active, date_joined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8) RETURNING {COLUMNS}"
    );
    let result = conn.query_one(
        &sql,
        params![
            new.username,
            username_key(new.username),
            new.email.to_lowercase(),
            new.email_verified,
            new.first_name,
            new.last_name,
            new.password_hash,
            now,
        ],
        from_row,
    );
    match result {
        Err(DbError::UniqueViolation) => Err(AccountError::UsernameTaken),
        other => Ok(other?),
    }
}

/// Whether any other user than `except_id` has this username (case-insensitively).
pub fn username_taken(conn: &Conn, username: &str, except_id: i64) -> Result<bool, AccountError> {
    let found = conn.query_opt(
        "SELECT id FROM users WHERE username_lower = ?1 AND id != ?2",
        params![username_key(username), except_id],
        |r| r.get::<i64>(0),
    )?;
    Ok(found.is_some())
}

/// The fields of `PUT/PATCH user/`.
pub struct ProfileUpdate {
    /// New username, if given.
    pub username: Option<String>,
    /// New given name, if given.
    pub first_name: Option<String>,
    /// New family name, if given.
    pub last_name: Option<String>,
}

/// Applies a profile update; a username taken by someone else is [`AccountError::UsernameTaken`].
pub fn update_profile(conn: &Conn, id: i64, update: &ProfileUpdate) -> Result<(), AccountError> {
    if let Some(username) = &update.username {
        let result = conn.execute(
            "UPDATE users SET username = ?1, username_lower = ?2 WHERE id = ?3",
            params![username, username_key(username), id],
        );
        match result {
            Err(DbError::UniqueViolation) => return Err(AccountError::UsernameTaken),
            other => other?,
        };
    }
    if let Some(first_name) = &update.first_name {
        set_column(conn, id, "first_name", first_name)?;
    }
    if let Some(last_name) = &update.last_name {
        set_column(conn, id, "last_name", last_name)?;
    }
    Ok(())
}

/// Stores a new password hash.
pub fn set_password_hash(conn: &Conn, id: i64, hash: &str) -> Result<(), AccountError> {
    set_column(conn, id, "password", hash)
}

/// Records a successful login.
pub fn touch_last_login(conn: &Conn, id: i64, now: i64) -> Result<(), AccountError> {
    conn.execute(
        "UPDATE users SET last_login = ?1 WHERE id = ?2",
        params![now, id],
    )?;
    Ok(())
}

/// Whether any user has this address verified.
pub fn verified_email_exists(conn: &Conn, email: &str) -> Result<bool, AccountError> {
    Ok(verified_email_owner(conn, email)?.is_some())
}

/// The user who has this address verified, if any (at most one should).
pub fn verified_email_owner(conn: &Conn, email: &str) -> Result<Option<i64>, AccountError> {
    Ok(conn.query_opt(
        "SELECT id FROM users WHERE email = ?1 AND email_verified = 1 LIMIT 1",
        params![email.to_lowercase()],
        |r| r.get(0),
    )?)
}

/// Marks a user's address verified (or not).
pub fn set_email_verified(conn: &Conn, id: i64, verified: bool) -> Result<(), AccountError> {
    set_column(conn, id, "email_verified", verified)
}

/// Marks a user active or inactive.
pub fn set_active(conn: &Conn, id: i64, active: bool) -> Result<(), AccountError> {
    set_column(conn, id, "is_active", active)
}

/// Sets one column of a user's row (`column` is a name from this module); no such user is an error.
fn set_column(conn: &Conn, id: i64, column: &str, value: impl ToValue) -> Result<(), AccountError> {
    let sql = format!("UPDATE users SET {column} = ?1 WHERE id = ?2");
    match conn.execute(&sql, params![value, id])? {
        0 => Err(AccountError::NoSuchUser),
        _ => Ok(()),
    }
}

/// All users, by id.
pub fn list(conn: &Conn) -> Result<Vec<User>, AccountError> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id");
    Ok(conn.query_all(&sql, params![], from_row)?)
}

/// Django's `UnicodeUsernameValidator`: letters, digits and `@ . + - _`, at least one character.
pub fn is_valid_username(username: &str) -> bool {
    !username.is_empty()
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::is_valid_username;

    #[test]
    fn username_rules() {
        for ok in ["alice", "Al.ice+1@x-y_z", "José", "用户"] {
            assert!(is_valid_username(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a!b", "a\u{0}b"] {
            assert!(!is_valid_username(bad), "{bad}");
        }
    }
}
