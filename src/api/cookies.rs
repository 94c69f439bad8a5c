//! JWT mode's cookies: reading `Cookie`, writing `Set-Cookie` as
//! dj-rest-auth does (Python's `SimpleCookie`: attributes in alphabetical
//! order, `expires` as an HTTP date), deleting them verbatim.

use std::time::{Duration, SystemTime};

use super::http::{Request, Response};
use crate::config::{JwtConfig, SameSite};

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

/// Sets the access cookie (when configured) to `token`.
pub fn set_access(
    response: Response,
    config: &JwtConfig,
    token: &str,
    now: SystemTime,
) -> Response {
    if config.access_cookie.is_empty() {
        return response;
    }
    let l = line(
        config,
        &config.access_cookie,
        token,
        "/",
        now,
        Some(config.access_lifetime),
        true,
    );
    response.with_additional_header("Set-Cookie", l)
}

/// Sets the refresh cookie (when configured) to `token`.
pub fn set_refresh(
    response: Response,
    config: &JwtConfig,
    token: &str,
    now: SystemTime,
) -> Response {
    if config.refresh_cookie.is_empty() {
        return response;
    }
    let l = line(
        config,
        &config.refresh_cookie,
        token,
        &config.refresh_cookie_path,
        now,
        Some(config.refresh_lifetime),
        true,
    );
    response.with_additional_header("Set-Cookie", l)
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
