//! `Authorization: Token <key>` → the authenticated user, with DRF's messages.

use crate::db::Conn;

use super::error::ApiError;
use crate::accounts::tokens::{lookup, TokenOwner};

/// What the `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// No header, or another scheme (`Bearer …`): no credential at all.
    None,
    /// A token key to look up.
    Token(String),
}

/// Parses the header as DRF's `TokenAuthentication` does.
///
/// The keyword is case-insensitive; any other scheme is no credential;
/// a missing key or a key with spaces is a 401.
pub fn parse_authorization(header: Option<&str>) -> Result<Credentials, ApiError> {
    let Some(header) = header else {
        return Ok(Credentials::None);
    };
    // Python's bytes.split(), as DRF: ASCII whitespace including vertical tab.
    let mut parts = header
        .split([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
        .filter(|p| !p.is_empty());
    match parts.next() {
        Some(word) if word.eq_ignore_ascii_case("token") => {}
        _ => return Ok(Credentials::None),
    }
    let Some(key) = parts.next() else {
        return Err(ApiError::AuthenticationFailed(
            "Invalid token header. No credentials provided.",
        ));
    };
    if parts.next().is_some() {
        return Err(ApiError::AuthenticationFailed(
            "Invalid token header. Token string should not contain spaces.",
        ));
    }
    Ok(Credentials::Token(key.to_string()))
}

/// The user behind the request's token: `Ok(None)` without a credential,
/// 401 for an unknown, revoked or expired key or an inactive user.
pub fn authenticate(
    conn: &Conn,
    header: Option<&str>,
    now: i64,
) -> Result<Option<TokenOwner>, ApiError> {
    let Credentials::Token(key) = parse_authorization(header)? else {
        return Ok(None);
    };
    let Some(owner) = lookup(conn, &key, now)? else {
        return Err(ApiError::AuthenticationFailed("Invalid token."));
    };
    if !owner.user.is_active {
        return Err(ApiError::AuthenticationFailed("User inactive or deleted."));
    }
    Ok(Some(owner))
}

/// The key of a `Token` header (call only after authentication succeeded).
pub fn presented_key(header: Option<&str>) -> String {
    match parse_authorization(header) {
        Ok(Credentials::Token(key)) => key,
        _ => String::new(),
    }
}

/// Like [`authenticate`], but a missing credential is a 401 too.
pub fn require_user(conn: &Conn, header: Option<&str>, now: i64) -> Result<TokenOwner, ApiError> {
    authenticate(conn, header, now)?.ok_or(ApiError::NotAuthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(r: Result<Credentials, ApiError>) -> String {
        match r {
            Err(ApiError::AuthenticationFailed(m)) => m.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn header_forms() {
        assert_eq!(parse_authorization(None).unwrap(), Credentials::None);
        assert_eq!(
            parse_authorization(Some("Bearer abc")).unwrap(),
            Credentials::None
        );
        assert_eq!(parse_authorization(Some("")).unwrap(), Credentials::None);
        assert_eq!(
            parse_authorization(Some("TOKEN abc")).unwrap(),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            parse_authorization(Some("  token   abc  ")).unwrap(),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            detail(parse_authorization(Some("Token"))),
            "Invalid token header. No credentials provided."
        );
        // Found by fuzzing against DRF's rules: \x0b is whitespace to Python.
        assert_eq!(
            parse_authorization(Some("Token\x0babc")).unwrap(),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            detail(parse_authorization(Some("Token\x0b"))),
            "Invalid token header. No credentials provided."
        );
        assert_eq!(
            detail(parse_authorization(Some("Token a b"))),
            "Invalid token header. Token string should not contain spaces."
        );
    }
}
