//! Calls to OAuth 2 and OpenID Connect providers (Google, Apple, GitHub and
//! discovered OpenID Connect providers): one blocking request with a global
//! timeout, no redirects, a bounded body, and errors sorted into "the
//! provider said no", "could not reach it" and "it answered nonsense".

use std::time::Duration;

use serde_json::Value;

/// Largest answer read from a provider.
const MAX_BODY: u64 = 1024 * 1024;

/// Why a call to a provider failed.
#[derive(Debug)]
pub enum ProviderError {
    /// The provider refused (a non-2xx status, or an answer without what was asked for).
    Refused(String),
    /// The provider could not be reached in time.
    Unreachable(String),
    /// The answer was not what the provider sends.
    BadResponse(String),
}

/// A provider's answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Cache-Control`, if any.
    pub cache_control: Option<String>,
    /// The body, at most 1 MiB.
    pub body: String,
}

impl Answer {
    /// The body as JSON when the status is 2xx; else [`ProviderError::Refused`].
    pub fn json(&self, what: &str) -> Result<Value, ProviderError> {
        if !(200..300).contains(&self.status) {
            return Err(ProviderError::Refused(format!(
                "{what}: status {}",
                self.status
            )));
        }
        serde_json::from_str(&self.body)
            .map_err(|e| ProviderError::BadResponse(format!("{what}: not JSON: {e}")))
    }
}

impl Answer {
    /// How long the answer may be cached, in seconds: its `Cache-Control`
    /// `max-age` (else `default`) within `bounds`.
    pub fn cache_seconds(&self, default: u64, bounds: (u64, u64)) -> u64 {
        self.cache_control
            .as_deref()
            .and_then(max_age)
            .unwrap_or(default)
            .clamp(bounds.0, bounds.1)
    }
}

/// The non-empty string `key` of a JSON answer.
pub fn text(json: &Value, key: &str) -> Option<String> {
    json.get(key)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A request to send.
pub enum Call<'a> {
    /// `GET url`, with an optional bearer token.
    Get {
        /// The URL, query included.
        url: &'a str,
        /// `Authorization: Bearer …`.
        bearer: Option<&'a str>,
    },
    /// `POST url` with a form body.
    PostForm {
        /// The URL.
        url: &'a str,
        /// The form's fields.
        form: &'a [(&'a str, &'a str)],
        /// OAuth client credentials for `Authorization: Basic` (RFC 6749
        /// §2.3.1: each form-encoded first).
        basic: Option<(&'a str, &'a str)>,
    },
    /// `POST url` with a JSON body and HTTP Basic credentials.
    PostJson {
        /// The URL.
        url: &'a str,
        /// User and password of `Authorization: Basic`.
        basic: (&'a str, &'a str),
        /// The body.
        body: &'a Value,
    },
}

/// Whether `token` is an RFC 6750 §2.1 `b64token`, all that an
/// `Authorization: Bearer` header can carry.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Sends `call`, whatever its status comes back as.
pub fn send(call: Call<'_>, timeout: Duration) -> Result<Answer, ProviderError> {
    if let Call::Get {
        bearer: Some(token),
        ..
    } = &call
    {
        // A client's token no provider could have issued (a line break would
        // even split the header) is refused as the provider would refuse it.
        if !is_b64token(token) {
            return Err(ProviderError::Refused(
                "the access token is not a bearer token (RFC 6750 b64token)".into(),
            ));
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let result = match call {
        Call::Get { url, bearer } => {
            let mut request = agent.get(url).header("Accept", "application/json");
            if let Some(token) = bearer {
                request = request.header("Authorization", &format!("Bearer {token}"));
            }
            request.call()
        }
        Call::PostForm { url, form, basic } => {
            let mut request = agent.post(url).header("Accept", "application/json");
            if let Some((id, secret)) = basic {
                let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect();
                let (id, secret): (String, String) = (encode(id), encode(secret));
                request = request.header("Authorization", &basic_authorization(&id, &secret));
            }
            request.send_form(form.iter().copied())
        }
        Call::PostJson { url, basic, body } => agent
            .post(url)
            .header("Accept", "application/json")
            .header("Authorization", &basic_authorization(basic.0, basic.1))
            .content_type("application/json")
            .send(body.to_string()),
    };
    let mut response = result.map_err(transport_error)?;
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get("Cache-Control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(transport_error)?;
    Ok(Answer {
        status,
        cache_control,
        body,
    })
}

/// `Basic …` for `user` and `password`.
fn basic_authorization(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {credentials}")
}

/// A ureq error as ours: a malformed or oversized answer is a bad response,
/// anything else (DNS, connect, TLS, I/O, timeout) means unreachable.
pub fn transport_error(e: ureq::Error) -> ProviderError {
    match e {
        ureq::Error::BodyExceedsLimit(_)
        | ureq::Error::Protocol(_)
        | ureq::Error::LargeResponseHeader(..) => ProviderError::BadResponse(e.to_string()),
        other => ProviderError::Unreachable(other.to_string()),
    }
}

/// `max-age` of a `Cache-Control` value, in seconds.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|d| {
        let (name, value) = d.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::{is_b64token, max_age};

    #[test]
    fn only_b64tokens_go_into_a_bearer_header() {
        for good in [
            "ya29.a0AfH6SM-x_y~z+/9",
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "abc==",
        ] {
            assert!(is_b64token(good), "{good}");
        }
        for bad in ["", "==", "a b", "a\r\nX-Evil: 1", "tök", "a=b"] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }

    #[test]
    fn max_age_is_read_from_any_position() {
        assert_eq!(
            max_age("public, max-age=19790, must-revalidate, no-transform"),
            Some(19790)
        );
        assert_eq!(max_age("Max-Age=\"60\""), Some(60));
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
