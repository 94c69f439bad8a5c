//! Google: ID tokens (native sign-in and the code flow), codes exchanged at
//! the token endpoint (PKCE verifier passed on), and access tokens checked
//! for their audience before their profile is read.

use serde_json::Value;

use super::http::{self, Call, ProviderError};
use super::id_token::Expected;
use crate::config::GoogleProviderConfig;

/// The two ways Google writes its issuer.
pub const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// What the ID token must say, for this configuration.
pub fn expected<'a>(cfg: &'a GoogleProviderConfig, nonce: Option<&'a str>) -> Expected<'a> {
    Expected {
        algorithms: &super::id_token::RS256_OR_ES256,
        issuers: &ISSUERS,
        audiences: &cfg.client_ids,
        nonce,
    }
}

/// The token endpoint's answer to a code.
#[derive(Debug)]
pub struct Exchanged {
    /// The access token.
    pub access_token: String,
    /// The ID token (present when the `openid` scope was asked for).
    pub id_token: Option<String>,
}

/// Exchanges `code` (with the PKCE `code_verifier`, if the frontend made one).
pub fn exchange_code(
    cfg: &GoogleProviderConfig,
    code: &str,
    code_verifier: Option<&str>,
) -> Result<Exchanged, ProviderError> {
    let client_id = cfg.client_ids.first().map_or("", String::as_str);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client_id),
        ("client_secret", cfg.client_secret.expose()),
        ("redirect_uri", cfg.callback_url.as_str()),
    ];
    if let Some(verifier) = code_verifier {
        form.push(("code_verifier", verifier));
    }
    let answer = http::send(
        Call::PostForm {
            url: &cfg.token_url,
            form: &form,
            basic: None,
        },
        cfg.timeout,
    )?;
    let json = answer.json("token endpoint")?;
    let text = |k: &str| http::text(&json, k);
    Ok(Exchanged {
        access_token: text("access_token")
            .ok_or_else(|| ProviderError::Refused("no access_token".into()))?,
        id_token: text("id_token"),
    })
}

/// Whether `access_token` was issued to one of our client ids (Google's
/// `tokeninfo` says so in `aud`, or `azp`): an access token another app got
/// for the same person must not log them in here.
pub fn access_token_is_ours(
    cfg: &GoogleProviderConfig,
    access_token: &str,
) -> Result<bool, ProviderError> {
    // In a form body, not the URL: a URL may end up in a proxy's log.
    let answer = http::send(
        Call::PostForm {
            url: &cfg.tokeninfo_url,
            form: &[("access_token", access_token)],
            basic: None,
        },
        cfg.timeout,
    )?;
    if answer.status == 400 {
        return Ok(false);
    }
    let json = answer.json("tokeninfo")?;
    let ours = |k: &str| {
        json.get(k)
            .and_then(Value::as_str)
            .is_some_and(|a| cfg.client_ids.iter().any(|id| id == a))
    };
    Ok(ours("aud") || ours("azp"))
}

/// The OpenID userinfo of `access_token`: `sub`, `email`, `email_verified`, names.
pub fn userinfo(cfg: &GoogleProviderConfig, access_token: &str) -> Result<Value, ProviderError> {
    let answer = http::send(
        Call::Get {
            url: &cfg.userinfo_url,
            bearer: Some(access_token),
        },
        cfg.timeout,
    )?;
    let json = answer.json("userinfo")?;
    if json
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ProviderError::BadResponse("userinfo has no sub".into()));
    }
    Ok(json)
}
