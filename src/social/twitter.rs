//! Twitter/X: verifying an OAuth 1.0a access token with the provider.
//!
//! One signed, blocking call, as allauth makes it for dj-rest-auth's
//! `TwitterLoginSerializer`:
//! `GET {api_url}/1.1/account/verify_credentials.json?include_email=true`
//! with an `Authorization: OAuth …` header (HMAC-SHA1, consumer key and
//! secret from the configuration, the user's access token and token
//! secret), under one global timeout. The query parameter is part of the
//! signature, as RFC 5849 §3.4.1.3.1 requires.
//!
//! Tokens and secrets never appear in errors or logs: the URL carries none.

use super::http::{self, ProviderError};
use serde_json::Value;

use super::oauth1;
use crate::config::TwitterProviderConfig;

/// The verify_credentials path, with the query that asks for the email.
pub const VERIFY_CREDENTIALS_PATH: &str = "/1.1/account/verify_credentials.json?include_email=true";

/// Largest answer read from the provider (a profile is a few kilobytes).
const MAX_BODY: u64 = 1024 * 1024;

/// The account as the provider describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `id_str` (or `id`, as a decimal string).
    pub uid: String,
    /// `screen_name` (empty if the provider sent none).
    pub username: String,
    /// `name` (empty if the provider sent none).
    pub name: String,
    /// `email`, trimmed; `None` when absent, null or empty (the app may not
    /// be allowed to ask, or the user has none).
    pub email: Option<String>,
    /// The whole JSON object, for the social account's stored profile.
    pub raw: Value,
}

/// Why the token could not be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwitterError {
    /// The provider answered, but not 200: the message to show the client.
    #[error("twitter refused the token: {0}")]
    Refused(String),
    /// Network failure or timeout (or no random source for the nonce).
    #[error("twitter unreachable: {0}")]
    Unreachable(String),
    /// A 200 whose body is not a usable profile.
    #[error("twitter bad response: {0}")]
    BadResponse(String),
}

/// Verifies the user's access token and token secret with the provider and
/// returns the profile; `now` (Unix seconds) is the request's `oauth_timestamp`.
pub fn verify_credentials(
    cfg: &TwitterProviderConfig,
    access_token: &str,
    token_secret: &str,
    now: u64,
) -> Result<Profile, TwitterError> {
    let base = cfg.api_url.trim_end_matches('/');
    let url = format!("{base}{VERIFY_CREDENTIALS_PATH}");
    let nonce =
        oauth1::fresh_nonce().map_err(|e| TwitterError::Unreachable(format!("no nonce: {e}")))?;
    let creds = oauth1::Credentials {
        consumer_key: &cfg.consumer_key,
        consumer_secret: cfg.consumer_secret.expose(),
        token: access_token,
        token_secret,
    };
    let authorization = oauth1::authorization_header("GET", &url, &[], &creds, &nonce, now);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(cfg.timeout))
        .http_status_as_error(false)
        // A redirect would not carry a valid signature; answer it as a refusal.
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .header("Authorization", &authorization)
        .header("Accept", "application/json")
        .call()
        .map_err(transport_error)?;
    if response.status().as_u16() != 200 {
        return Err(TwitterError::Refused(refused_message(base)));
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(transport_error)?;
    parse_profile(&body)
}

/// dj-rest-auth's (allauth's) message for a non-200 answer:
/// `No access to private resources at "<netloc>".`, where netloc is the
/// authority of the API URL (`api.x.com`; a non-default port stays, as in
/// Python's `urlparse(url).netloc`).
pub fn refused_message(api_url: &str) -> String {
    format!("No access to private resources at \"{}\".", netloc(api_url))
}

fn netloc(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority.rsplit_once('@').map_or(authority, |(_, hp)| hp)
}

/// A ureq error as ours (see [`http::transport_error`]).
fn transport_error(e: ureq::Error) -> TwitterError {
    match http::transport_error(e) {
        ProviderError::BadResponse(why) => TwitterError::BadResponse(why),
        ProviderError::Unreachable(why) | ProviderError::Refused(why) => {
            TwitterError::Unreachable(why)
        }
    }
}

/// Parses a verify_credentials answer into a [`Profile`].
pub fn parse_profile(body: &str) -> Result<Profile, TwitterError> {
    let raw: Value = serde_json::from_str(body)
        .map_err(|e| TwitterError::BadResponse(format!("not JSON: {e}")))?;
    let obj = raw
        .as_object()
        .ok_or_else(|| TwitterError::BadResponse("not a JSON object".into()))?;
    let uid = match obj.get("id_str") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => match obj.get("id") {
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(TwitterError::BadResponse("no id in the profile".into())),
        },
    };
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let username = text("screen_name");
    let name = text("name");
    let email = obj
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(Profile {
        uid,
        username,
        name,
        email,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// A fixed `oauth_timestamp`: 2026-12-02T00:00:00Z.
    const T0: u64 = 1_796_169_600;

    /// Shaped like a verify_credentials answer (abridged; values illustrative).
    const FIXTURE: &str = r#"{
        "id": 2244994945,
        "id_str": "2244994945",
        "name": "Twitter Dev",
        "screen_name": "TwitterDev",
        "location": "Internet",
        "protected": false,
        "followers_count": 502,
        "email": "dev@example.com",
        "status": {"id": 1, "text": "hi"}
    }"#;

    #[test]
    fn parses_the_profile() {
        let p = parse_profile(FIXTURE).unwrap();
        assert_eq!(p.uid, "2244994945");
        assert_eq!(p.username, "TwitterDev");
        assert_eq!(p.name, "Twitter Dev");
        assert_eq!(p.email.as_deref(), Some("dev@example.com"));
        assert_eq!(p.raw["followers_count"], 502);
    }

    #[test]
    fn id_falls_back_to_the_number() {
        // Larger than 2^53: kept exactly, as serde_json reads u64.
        let p = parse_profile(r#"{"id": 1234567890123456789, "screen_name": "x"}"#).unwrap();
        assert_eq!(p.uid, "1234567890123456789");
        let p = parse_profile(r#"{"id_str": "", "id": 42}"#).unwrap();
        assert_eq!(p.uid, "42");
        assert_eq!(p.username, "");
        assert_eq!(p.name, "");
    }

    #[test]
    fn email_absent_null_or_empty_is_none() {
        for body in [
            r#"{"id_str": "1"}"#,
            r#"{"id_str": "1", "email": null}"#,
            r#"{"id_str": "1", "email": ""}"#,
            r#"{"id_str": "1", "email": "  "}"#,
        ] {
            assert_eq!(parse_profile(body).unwrap().email, None, "{body}");
        }
    }

    #[test]
    fn unusable_answers_are_bad_responses() {
        for body in [
            "",
            "<html>",
            "[]",
            r#"{"screen_name": "x"}"#,
            r#"{"id": 1.5}"#,
            r#"{"id_str": null}"#,
        ] {
            assert!(
                matches!(parse_profile(body), Err(TwitterError::BadResponse(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn refusal_message_names_the_api_host() {
        assert_eq!(
            refused_message("https://api.x.com"),
            "No access to private resources at \"api.x.com\"."
        );
        assert_eq!(
            refused_message("http://127.0.0.1:8080/"),
            "No access to private resources at \"127.0.0.1:8080\"."
        );
    }

    /// A one-request HTTP server on loopback: checks the request with `check`
    /// and answers `status` + `body`.
    fn one_shot_server(
        status: &'static str,
        body: &'static str,
        check: impl FnOnce(&str, &str, &str) + Send + 'static,
    ) -> (String, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let base2 = base.clone();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut authorization = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("authorization") {
                        authorization = value.trim().to_string();
                    }
                }
            }
            let target = request_line.split(' ').nth(1).unwrap_or("").to_string();
            let url = format!("{base2}{target}");
            check(
                request_line.split(' ').next().unwrap(),
                &url,
                &authorization,
            );
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        (base, handle)
    }

    fn config(api_url: &str, timeout_ms: u64) -> TwitterProviderConfig {
        TwitterProviderConfig {
            api_url: api_url.to_string(),
            consumer_key: "ck".into(),
            consumer_secret: "cs".into(),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[test]
    fn signed_call_to_loopback_provider() {
        let (base, server) = one_shot_server("200 OK", FIXTURE, |method, url, auth| {
            assert_eq!(method, "GET");
            assert!(url.ends_with(VERIFY_CREDENTIALS_PATH), "{url}");
            // Byte for byte the signer's header for this URL, these
            // credentials and T0, with a fresh nonce. (The signer is checked
            // against published vectors in oauth1.rs; tests/social.rs has a
            // mock provider verify the signature.)
            let nonce = auth
                .split("oauth_nonce=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default();
            assert_eq!(nonce.len(), 32, "{auth}");
            let creds = oauth1::Credentials {
                consumer_key: "ck",
                consumer_secret: "cs",
                token: "tok-1",
                token_secret: "token secret",
            };
            assert_eq!(
                auth,
                oauth1::authorization_header("GET", url, &[], &creds, nonce, T0)
            );
        });
        let cfg = config(&base, 5000);
        let result = verify_credentials(&cfg, "tok-1", "token secret", T0);
        // The server's own assertions first: a failed one closes the socket.
        server.join().unwrap();
        let p = result.unwrap();
        assert_eq!(p.uid, "2244994945");
        assert_eq!(p.email.as_deref(), Some("dev@example.com"));
    }

    #[test]
    fn non_200_is_refused_with_the_host() {
        let (base, server) = one_shot_server(
            "401 Unauthorized",
            r#"{"errors":[{"code":89,"message":"Invalid or expired token."}]}"#,
            |_, _, _| {},
        );
        let with_slash = format!("{base}/");
        let cfg = config(&with_slash, 5000);
        let err = verify_credentials(&cfg, "t", "s", T0).unwrap_err();
        server.join().unwrap();
        let host = base.trim_start_matches("http://");
        assert_eq!(
            err,
            TwitterError::Refused(format!("No access to private resources at \"{host}\"."))
        );
    }

    /// A provider that accepts the connection and never answers: the call
    /// ends with ureq's global timeout, the configured bound on the whole
    /// call. The provider holds the connection until the call has returned
    /// (at most 30 s, so that a missing timeout fails the test instead of
    /// hanging it): nothing but that timeout can end the call, and any other
    /// ending (the provider closing, another timeout) is a different error.
    #[test]
    fn silent_provider_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (returned, wait_returned) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let _ = wait_returned.recv_timeout(Duration::from_secs(30));
            drop(stream);
        });
        let err = verify_credentials(&config(&base, 300), "t", "s", T0).unwrap_err();
        let _ = returned.send(());
        holder.join().unwrap();
        assert_eq!(err, TwitterError::Unreachable("timeout: global".into()));
    }

    #[test]
    fn closed_port_is_unreachable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let err = verify_credentials(&config(&base, 2000), "t", "s", T0).unwrap_err();
        assert!(matches!(err, TwitterError::Unreachable(_)), "{err:?}");
    }
}
