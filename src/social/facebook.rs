//! Facebook: exchange a code for a token, and read the profile behind a token.
//!
//! Both are single blocking GETs to the Graph API. The profile call carries
//! `appsecret_proof = HEX(HMAC-SHA256(app_secret, access_token))`, so a token
//! stolen from another app cannot be used against ours (when the app requires it).

use super::http::{self, Call, ProviderError};
use std::time::Duration;

use crate::config::FacebookProviderConfig;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// What Facebook says about the token's owner.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Facebook's user id for this app.
    pub uid: String,
    /// Display name.
    pub name: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The address, when the user granted it.
    pub email: Option<String>,
    /// The whole answer, kept as the account's profile.
    pub raw: Value,
}

/// Why a Facebook call failed.
#[derive(Debug)]
pub enum FacebookError {
    /// Facebook refused the token or the code.
    Refused,
    /// Facebook could not be reached in time.
    Unreachable(String),
    /// The answer was not what the Graph API sends.
    BadResponse(String),
}

/// Exchanges an authorization `code` for an access token.
pub fn exchange_code(cfg: &FacebookProviderConfig, code: &str) -> Result<String, FacebookError> {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &cfg.app_id)
        .append_pair("redirect_uri", &cfg.callback_url)
        .append_pair("client_secret", cfg.app_secret.expose())
        .append_pair("code", code)
        .finish();
    let (status, body) = get(
        &format!("{}/oauth/access_token?{query}", cfg.graph_url),
        cfg.timeout,
    )?;
    if status != 200 {
        return Err(FacebookError::Refused);
    }
    let json: Value = serde_json::from_str(&body)
        .map_err(|e| FacebookError::BadResponse(format!("token answer is not JSON: {e}")))?;
    json.get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or(FacebookError::Refused)
}

/// The profile of the user `access_token` belongs to.
pub fn profile(cfg: &FacebookProviderConfig, access_token: &str) -> Result<Profile, FacebookError> {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("fields", "id,email,name,first_name,last_name")
        .append_pair("access_token", access_token)
        .append_pair(
            "appsecret_proof",
            &appsecret_proof(cfg.app_secret.expose(), access_token),
        )
        .finish();
    let (status, body) = get(&format!("{}/me?{query}", cfg.graph_url), cfg.timeout)?;
    if status != 200 {
        return Err(FacebookError::Refused);
    }
    parse_profile(&body)
}

/// `HEX(HMAC-SHA256(key = app_secret, message = access_token))`.
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(access_token.as_bytes());
    crate::security::random::to_hex(&mac.finalize().into_bytes())
}

fn parse_profile(body: &str) -> Result<Profile, FacebookError> {
    let raw: Value = serde_json::from_str(body)
        .map_err(|e| FacebookError::BadResponse(format!("profile is not JSON: {e}")))?;
    let text = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let uid = match raw.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(FacebookError::BadResponse("profile has no id".into())),
    };
    let email = Some(text("email")).filter(|e| !e.is_empty());
    Ok(Profile {
        uid,
        name: text("name"),
        first_name: text("first_name"),
        last_name: text("last_name"),
        email,
        raw,
    })
}

/// One GET with a global timeout; the status and (bounded) body, whatever the status.
fn get(url: &str, timeout: Duration) -> Result<(u16, String), FacebookError> {
    let answer = http::send(Call::Get { url, bearer: None }, timeout).map_err(|e| match e {
        ProviderError::BadResponse(why) => FacebookError::BadResponse(why),
        ProviderError::Unreachable(why) | ProviderError::Refused(why) => {
            FacebookError::Unreachable(why)
        }
    })?;
    Ok((answer.status, answer.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_is_hmac_sha256_hex() {
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog"), RFC 4231-style well-known value.
        assert_eq!(
            appsecret_proof("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn profiles() {
        let p = parse_profile(r#"{"id":"777","name":"John Doe","first_name":"John","last_name":"Doe","email":"John@Example.com"}"#).unwrap();
        assert_eq!(
            (p.uid.as_str(), p.email.as_deref()),
            ("777", Some("John@Example.com"))
        );
        let p = parse_profile(r#"{"id":12,"name":"No Mail"}"#).unwrap();
        assert_eq!((p.uid.as_str(), p.email), ("12", None));
        assert!(parse_profile(r#"{"name":"x"}"#).is_err());
        assert!(parse_profile("<html>").is_err());
    }
}
