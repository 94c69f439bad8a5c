//! Accounts at identity providers, and logging in or signing up with one.
//!
//! Rules (see README "Social login"):
//! * a known (provider, uid) logs in its user;
//! * a new one whose email belongs to any user is refused: linking silently by
//!   email would let whoever controls a provider account take over a local one;
//! * otherwise a user is created with an unusable password, an unverified
//!   address (the confirmation mail is queued) and a username derived from the
//!   provider's name, made unique with a number.

use crate::db::{params, Conn, DbError, Row};
use serde_json::Value;

use super::users::{self, NewUser, User};
use super::{confirmations, AccountError};
use crate::config::{Config, EmailVerification};

/// What a provider told us about the person.
pub struct ProviderProfile<'a> {
    /// `facebook`, `twitter`, `google`, ….
    pub provider: &'a str,
    /// The provider's id for the person.
    pub uid: &'a str,
    /// Preferred usernames, best first (e.g. the screen name, then the full name).
    pub username_hints: Vec<&'a str>,
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// Address, if the provider gave one.
    pub email: Option<&'a str>,
    /// Whether the provider vouches for the address (stored as verified then;
    /// otherwise it is confirmed by mail like a registration's).
    pub email_verified: bool,
    /// The provider's answer, kept in `social_accounts.profile`.
    pub raw: &'a Value,
}

/// A linked provider account.
#[derive(Debug, Clone)]
pub struct SocialAccount {
    /// Row id.
    pub id: i64,
    /// Provider name.
    pub provider: String,
    /// Provider's id.
    pub uid: String,
    /// Owner.
    pub user_id: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub last_login_at: i64,
}

/// Why a social login or connect was refused.
#[derive(Debug)]
pub enum SocialError {
    /// A new provider account whose address belongs to an existing user.
    EmailTaken,
    /// The linked user is inactive.
    Inactive,
    /// The provider account is linked to another user.
    OtherUser,
    /// Storage failed.
    Account(AccountError),
}

impl From<AccountError> for SocialError {
    fn from(e: AccountError) -> Self {
        SocialError::Account(e)
    }
}

impl From<DbError> for SocialError {
    fn from(e: DbError) -> Self {
        SocialError::Account(e.into())
    }
}

const COLUMNS: &str = "id, provider, uid, user_id, created_at, last_login_at";

fn from_row(r: &Row<'_>) -> Result<SocialAccount, DbError> {
    Ok(SocialAccount {
        id: r.get(0)?,
        provider: r.get(1)?,
        uid: r.get(2)?,
        user_id: r.get(3)?,
        created_at: r.get(4)?,
        last_login_at: r.get(5)?,
    })
}

/// The account for (provider, uid).
pub fn find(conn: &Conn, provider: &str, uid: &str) -> Result<Option<SocialAccount>, AccountError> {
    let sql = format!("SELECT {COLUMNS} FROM social_accounts WHERE provider = ?1 AND uid = ?2");
    Ok(conn.query_opt(&sql, params![provider, uid], from_row)?)
}

/// A user's linked accounts, oldest first.
pub fn list_for_user(conn: &Conn, user_id: i64) -> Result<Vec<SocialAccount>, AccountError> {
    let sql = format!("SELECT {COLUMNS} FROM social_accounts WHERE user_id = ?1 ORDER BY id");
    Ok(conn.query_all(&sql, params![user_id], from_row)?)
}

/// Removes a linked account.
pub fn delete(conn: &Conn, id: i64) -> Result<(), AccountError> {
    conn.execute("DELETE FROM social_accounts WHERE id = ?1", params![id])?;
    Ok(())
}

fn touch(conn: &Conn, id: i64, raw: &Value, now: i64) -> Result<(), AccountError> {
    conn.execute(
        "UPDATE social_accounts SET profile = ?1, last_login_at = ?2 WHERE id = ?3",
        params![raw.to_string(), now, id],
    )?;
    Ok(())
}

fn link(conn: &Conn, p: &ProviderProfile<'_>, user_id: i64, now: i64) -> Result<(), AccountError> {
    conn.execute(
        "INSERT INTO social_accounts (provider, uid, user_id, profile, created_at, last_login_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![p.provider, p.uid, user_id, p.raw.to_string(), now],
    )?;
    Ok(())
}

/// Logs in the user of a provider account, creating user and link on first use.
/// Runs inside the caller's write transaction.
pub fn login_or_signup(
    conn: &Conn,
    config: &Config,
    p: &ProviderProfile<'_>,
    now: i64,
) -> Result<User, SocialError> {
    if let Some(account) = find(conn, p.provider, p.uid)? {
        let user = users::by_id(conn, account.user_id)?.ok_or(AccountError::NoSuchUser)?;
        if !user.is_active {
            return Err(SocialError::Inactive);
        }
        touch(conn, account.id, p.raw, now)?;
        users::touch_last_login(conn, user.id, now)?;
        return Ok(user);
    }
    let email = p.email.map(str::to_lowercase).unwrap_or_default();
    if !email.is_empty() && !users::by_email(conn, &email, 1)?.is_empty() {
        return Err(SocialError::EmailTaken);
    }
    let username = unique_username(conn, &p.username_hints)?;
    let password = crate::security::password::unusable_password().map_err(AccountError::from)?;
    let user = users::create(
        conn,
        &NewUser {
            username: &username,
            email: &email,
            email_verified: p.email_verified && !email.is_empty(),
            first_name: &truncate(p.first_name, 150),
            last_name: &truncate(p.last_name, 150),
            password_hash: &password,
        },
        now,
    )?;
    link(conn, p, user.id, now)?;
    users::touch_last_login(conn, user.id, now)?;
    if !user.email.is_empty()
        && !user.email_verified
        && config.accounts.email_verification != EmailVerification::None
    {
        confirmations::send(conn, config, &user, now)?;
    }
    Ok(user)
}

/// Links a provider account to `user_id` (connect). Linking one that is already
/// the user's refreshes it; one of another user is refused.
pub fn connect(
    conn: &Conn,
    user_id: i64,
    p: &ProviderProfile<'_>,
    now: i64,
) -> Result<(), SocialError> {
    match find(conn, p.provider, p.uid)? {
        Some(account) if account.user_id != user_id => Err(SocialError::OtherUser),
        Some(account) => Ok(touch(conn, account.id, p.raw, now)?),
        None => Ok(link(conn, p, user_id, now)?),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// allauth's username generation: the first usable hint, cleaned to Django's
/// username characters, lower-cased, with `_` for spaces; `user` when nothing
/// is left; then `2`, `3`, … appended until it is free.
fn unique_username(conn: &Conn, hints: &[&str]) -> Result<String, AccountError> {
    let base = hints
        .iter()
        .map(|h| clean_username(h))
        .find(|c| !c.is_empty())
        .unwrap_or_else(|| "user".to_string());
    if users::by_username(conn, &base)?.is_none() {
        return Ok(base);
    }
    for n in 2..10_000u32 {
        let suffix = n.to_string();
        let candidate = format!("{}{suffix}", truncate(&base, 150 - suffix.len()));
        if users::by_username(conn, &candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    let random = crate::security::random::alphanumeric(8)?.to_lowercase();
    Ok(format!("{}{random}", truncate(&base, 142)))
}

fn clean_username(hint: &str) -> String {
    let hint = hint.split('@').next().unwrap_or("");
    let words: Vec<String> = hint
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'))
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    truncate(&words.join("_"), 150)
}

/// Records that the ID token `token` (its signed part) of `provider` was used, until `expires_at`:
/// `false` if it was before (a replay). Used tokens past their expiry go.
pub fn spend_id_token(
    tx: &Conn,
    provider: &str,
    token: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, AccountError> {
    tx.execute(
        "DELETE FROM used_id_tokens WHERE expires_at <= ?1",
        params![now],
    )?;
    Ok(tx.execute(
        "INSERT INTO used_id_tokens (token_sha256, provider, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (token_sha256) DO NOTHING",
        params![
            crate::security::tokens::key_hash(token),
            provider,
            expires_at
        ],
    )? == 1)
}

#[cfg(test)]
mod tests {
    use super::clean_username;

    #[test]
    fn usernames_from_names() {
        assert_eq!(clean_username("John Doe"), "john_doe");
        assert_eq!(clean_username("  Zoë  O'Brien!! "), "zoë_obrien");
        assert_eq!(clean_username("jack@example.com"), "jack");
        assert_eq!(clean_username("!!!"), "");
    }
}
