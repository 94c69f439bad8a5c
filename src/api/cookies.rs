//! JWT mode's cookies: reading `Cookie`, writing `Set-Cookie` as
//! dj-rest-auth does (Python's `SimpleCookie`: attributes in alphabetical
//! order, `expires` as an HTTP date), deleting them verbatim.

use std::time::{Duration, SystemTime};

use super::csrf;
use super::http::{Request, Response};
use crate::config::{JwtConfig, SameSite};
use crate::security::jwt::Kind;

/// The value of cookie `name` in the request's `Cookie` header(s), if sent
/// (even empty). Surrounding double quotes are removed.
pub fn get<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    if name.is_empty() {
        return None;
    }
    let header = req.header("Cookie")?;
    header.split(';').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
    })
}

fn samesite(s: SameSite) -> &'static str {
    match s {
        SameSite::Lax => "Lax",
        SameSite::Strict => "Strict",
        SameSite::None => "None",
    }
}

/// `name=value` with the attributes `config` gives, living `lifetime` from `now`.
fn line(
    config: &JwtConfig,
    name: &str,
    value: &str,
    path: &str,
    now: SystemTime,
    lifetime: Option<Duration>,
    http_only: bool,
) -> String {
    let mut out = format!("{name}={value}; ");
    if !config.cookie_domain.is_empty() {
        out.push_str(&format!("Domain={}; ", config.cookie_domain));
    }
    let (expires, max_age) = match lifetime {
        Some(l) => (httpdate::fmt_http_date(now + l), l.as_secs()),
        None => ("Thu, 01 Jan 1970 00:00:00 GMT".to_string(), 0),
    };
    out.push_str(&format!("expires={expires}; "));
    if http_only {
        out.push_str("HttpOnly; ");
    }
    out.push_str(&format!(
        "Max-Age={max_age}; Path={path}; SameSite={}",
        samesite(config.samesite)
    ));
    if config.secure {
        out.push_str("; Secure");
    }
    out
}

/// Sets the cookie of `kind` (when configured) to `token`.
pub fn set(
    response: Response,
    config: &JwtConfig,
    kind: Kind,
    token: &str,
    now: SystemTime,
) -> Response {
    let (name, path, lifetime) = match kind {
        Kind::Access => (&config.access_cookie, "/", config.access_lifetime),
        Kind::Refresh => (
            &config.refresh_cookie,
            config.refresh_cookie_path.as_str(),
            config.refresh_lifetime,
        ),
    };
    if name.is_empty() {
        return response;
    }
    let l = line(config, name, token, path, now, Some(lifetime), true);
    response.with_additional_header("Set-Cookie", l)
}

/// Django's `CSRF_COOKIE_AGE`: 52 weeks.
const CSRF_COOKIE_AGE: Duration = Duration::from_secs(31_449_600);

/// Sets the `csrftoken` cookie (readable by scripts, unlike the JWT cookies)
/// when `jwt.csrf` is on, with the JWT cookies' domain, `SameSite` and
/// `Secure`, and sends its value in the `X-CSRFToken` response header too.
pub fn set_csrf(response: Response, config: &JwtConfig, value: &str, now: SystemTime) -> Response {
    if !config.csrf {
        return response;
    }
    let l = line(
        config,
        csrf::COOKIE,
        value,
        "/",
        now,
        Some(CSRF_COOKIE_AGE),
        false,
    );
    // Also as a header, for a frontend on another site, which cannot read
    // the cookie (`document.cookie` shows only its own site's).
    response
        .with_additional_header("Set-Cookie", l)
        .with_additional_header(csrf::HEADER, value.to_string())
}

/// A token field's value unless absent or blank, else cookie `name` unless
/// absent or blank (the reference refuses a blank field instead).
pub fn field_or_cookie(field: Option<String>, req: &Request, name: &str) -> Option<String> {
    field
        .filter(|t| !t.is_empty())
        .or_else(|| get(req, name).filter(|c| !c.is_empty()).map(str::to_owned))
}

/// Deletes both cookies, with dj-rest-auth's exact lines (no `HttpOnly`).
pub fn delete_both(mut response: Response, config: &JwtConfig) -> Response {
    let now = SystemTime::UNIX_EPOCH;
    for (name, path) in [
        (&config.access_cookie, "/"),
        (&config.refresh_cookie, config.refresh_cookie_path.as_str()),
    ] {
        if !name.is_empty() {
            let l = line(config, name, "\"\"", path, now, None, false);
            response = response.with_additional_header("Set-Cookie", l);
        }
    }
    response
}
