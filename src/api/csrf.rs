//! JWT mode's CSRF defence (`jwt.csrf = true`): Django's double submit, as
//! dj-rest-auth's `JWTCookieAuthentication` runs it, with its 403 messages,
//! plus the cookie the reference never hands out (iMerica#338).
//!
//! - Every unsafe request (not `GET`, `HEAD`, `OPTIONS`, `TRACE`) that sends
//!   `Origin` must come from the server's own origin or one of
//!   `server.cors_allowed_origins` — the only origins whose pages can read
//!   restauth's answers anyway. (The reference checks `Origin` only on
//!   cookie-authenticated requests; checking it on login too stops login CSRF.)
//! - An unsafe request without `Authorization` that a cookie authenticates
//!   (the access cookie on a protected route; either cookie at logout) also
//!   needs the `csrftoken` cookie echoed in the `X-CSRFToken` header.
//! - `csrftoken` (readable by scripts, 32 characters of `[a-zA-Z0-9]`) is set
//!   with the JWT cookies: new at each login, kept (renewed) at each refresh.
//!   Django's masked 64-character form is accepted in the cookie and the header.

use subtle::ConstantTimeEq;

use super::cookies;
use super::http::Request;
use super::ApiError;
use crate::accounts::AccountError;
use crate::config::normal_origin;
use crate::security::random;
use crate::App;

/// The cookie's name, as Django's `CSRF_COOKIE_NAME`.
pub const COOKIE: &str = "csrftoken";
/// The header a frontend echoes the cookie in (Django's `CSRF_HEADER_NAME`).
pub const HEADER: &str = "X-CSRFToken";

/// Django's `CSRF_SECRET_LENGTH`: the cookie's value.
const SECRET_LEN: usize = 32;
/// Django's `CSRF_TOKEN_LENGTH`: a masked token (mask, then masked secret).
const MASKED_LEN: usize = 64;
/// Django's `CSRF_ALLOWED_CHARS`, in its order (unmasking depends on it).
const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Which cookies can authenticate a route's unsafe requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// No cookie: the route needs no login (or reads only bodies).
    NoCookie,
    /// The access cookie (protected routes).
    AccessCookie,
    /// The access or the refresh cookie (logout).
    AnyCookie,
}

/// Whether `method` may change state (Django's `CsrfViewMiddleware`).
fn is_unsafe(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The 403 of a failed check: `{"detail": "CSRF Failed: <reason>"}`.
fn failed(reason: impl std::fmt::Display) -> ApiError {
    ApiError::Forbidden(format!("CSRF Failed: {reason}"))
}

/// Checks `req` when `jwt.csrf` is on; `credential` says which cookies can
/// authenticate it. Runs before authentication, as the reference's does.
pub fn check(app: &App, req: &Request, credential: Credential) -> Result<(), ApiError> {
    if !app.config.jwt.csrf || !is_unsafe(req.method()) {
        return Ok(());
    }
    // A bearer token is a credential no other site can make a browser send:
    // such a request needs neither check (a native app's `capacitor://`
    // origin included).
    let bearer = req
        .header("Authorization")
        .is_some_and(|h| h.trim_start().starts_with("Bearer"));
    if bearer && credential == Credential::AccessCookie {
        return Ok(());
    }
    if let Some(origin) = req.header("Origin") {
        if !origin_trusted(app, req, origin) {
            return Err(failed(format_args!(
                "Origin checking failed - {origin} does not match any trusted origins."
            )));
        }
    }
    let jwt = &app.config.jwt;
    let sent = |name: &str| cookies::get(req, name).is_some();
    // With an `Authorization` header the access cookie is not read (whatever
    // the scheme); logout reads the refresh cookie whatever the header says.
    let no_header = req.header("Authorization").is_none();
    let by_cookie = match credential {
        Credential::NoCookie => false,
        Credential::AccessCookie => no_header && sent(&jwt.access_cookie),
        Credential::AnyCookie => {
            sent(&jwt.refresh_cookie) || (no_header && sent(&jwt.access_cookie))
        }
    };
    if !by_cookie {
        return Ok(());
    }
    let cookie = cookies::get(req, COOKIE).ok_or_else(|| failed("CSRF cookie not set."))?;
    let secret = unmask(cookie).map_err(|why| failed(format_args!("CSRF cookie {why}.")))?;
    let source = "CSRF token from the 'X-Csrftoken' HTTP header";
    let token = req
        .header(HEADER)
        .ok_or_else(|| failed("CSRF token missing."))?;
    let presented = unmask(token).map_err(|why| failed(format_args!("{source} {why}.")))?;
    if bool::from(presented.ct_eq(&secret)) {
        Ok(())
    } else {
        Err(failed(format_args!("{source} incorrect.")))
    }
}

/// Whether `origin` is the server's own (its `Host`, over HTTPS — or HTTP too
/// unless `jwt.secure`, since the cookies then travel over plain HTTP anyway)
/// or one of `server.cors_allowed_origins`, compared as browsers serialise
/// origins (lower case, no default port).
fn origin_trusted(app: &App, req: &Request, origin: &str) -> bool {
    let Some(origin) = normal_origin(origin) else {
        return false;
    };
    if app.config.server.cors_allowed_origins.contains(&origin) {
        return true;
    }
    let Some(host) = req.header("Host").filter(|h| !h.is_empty()) else {
        return false;
    };
    let own = |scheme: &str| normal_origin(&format!("{scheme}://{host}")) == Some(origin.clone());
    own("https") || (!app.config.jwt.secure && own("http"))
}

/// The 32-byte secret of a cookie or header value, unmasking Django's
/// 64-character form; the reason (Django's words) when it is malformed.
fn unmask(token: &str) -> Result<[u8; SECRET_LEN], &'static str> {
    let bytes = token.as_bytes();
    if bytes.len() != SECRET_LEN && bytes.len() != MASKED_LEN {
        return Err("has incorrect length");
    }
    let index = |b: &u8| CHARS.iter().position(|c| c == b);
    let indices: Vec<usize> = bytes
        .iter()
        .map(index)
        .collect::<Option<_>>()
        .ok_or("has invalid characters")?;
    let mut secret = [0u8; SECRET_LEN];
    if indices.len() == MASKED_LEN {
        let (mask, masked) = indices.split_at(SECRET_LEN);
        for (i, (m, s)) in mask.iter().zip(masked).enumerate() {
            secret[i] = CHARS[(s + CHARS.len() - m) % CHARS.len()];
        }
    } else {
        secret.copy_from_slice(bytes);
    }
    Ok(secret)
}

/// The `csrftoken` value to set with new JWT cookies: a new secret at a
/// login (`req` = `None`); at a refresh, the request's own when well formed,
/// so that a refresh in one tab does not fail a request another tab is making.
pub fn cookie_value(req: Option<&Request>) -> Result<String, ApiError> {
    if let Some(secret) = req
        .and_then(|r| cookies::get(r, COOKIE))
        .and_then(|c| unmask(c).ok())
    {
        return Ok(String::from_utf8_lossy(&secret).into_owned());
    }
    Ok(random::alphanumeric(SECRET_LEN).map_err(AccountError::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Django's `_mask_cipher_secret`, to make masked tokens for the tests.
    fn mask(secret: &str, mask: &str) -> String {
        let idx = |c: u8| CHARS.iter().position(|&x| x == c).unwrap();
        let masked: String = secret
            .bytes()
            .zip(mask.bytes())
            .map(|(s, m)| CHARS[(idx(s) + idx(m)) % CHARS.len()] as char)
            .collect();
        format!("{mask}{masked}")
    }

    #[test]
    fn plain_and_masked_forms_give_the_same_secret() {
        let secret = "abcdefghijABCDEFGHIJ0123456789zZ";
        assert_eq!(&unmask(secret).unwrap(), secret.as_bytes());
        let masked = mask(secret, "9876543210ZYXWVUTSRQzyxwvutsrqQq");
        assert_eq!(masked.len(), MASKED_LEN);
        assert_eq!(&unmask(&masked).unwrap(), secret.as_bytes());
    }

    /// Django's own test values (`tests/csrf_tests/tests.py`): two masks of one secret.
    #[test]
    fn djangos_masked_test_secrets_unmask_to_its_test_secret() {
        let secret = b"lcccccccX2kcccccccY2jcccccccssIC";
        for masked in [
            "1bcdefghij2bcdefghij3bcdefghij4bcdefghij5bcdefghij6bcdefghijABCD",
            "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf",
        ] {
            assert_eq!(&unmask(masked).unwrap(), secret);
        }
    }

    #[test]
    fn malformed_tokens_are_named_as_django_names_them() {
        assert_eq!(unmask(""), Err("has incorrect length"));
        assert_eq!(unmask(&"a".repeat(33)), Err("has incorrect length"));
        assert_eq!(
            unmask(&format!("{}-", "a".repeat(31))),
            Err("has invalid characters")
        );
        assert_eq!(unmask(&"é".repeat(16)), Err("has invalid characters"));
    }
}
