//! Sign in with Apple: ID tokens (from the iOS SDK or Apple's JS), and codes
//! exchanged with a client secret that is itself a short ES256 JWT signed by
//! the team's key, as Apple requires.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::http::{self, Call, ProviderError};
use super::id_token::Expected;
use crate::config::AppleProviderConfig;

/// Apple's one issuer, also the client secret's audience.
pub const ISSUER: &str = "https://appleid.apple.com";

/// How long a client secret is good for (Apple allows up to six months; one
/// per exchange needs only minutes).
const CLIENT_SECRET_LIFETIME: i64 = 300;

/// What the ID token must say, for this configuration.
pub fn expected<'a>(cfg: &'a AppleProviderConfig, nonce: Option<&'a str>) -> Expected<'a> {
    Expected {
        algorithms: &super::id_token::RS256_OR_ES256,
        issuers: &[ISSUER],
        audiences: &cfg.client_ids,
        nonce,
    }
}

/// Whether the code flow is configured (team, key id and key).
pub fn can_exchange(cfg: &AppleProviderConfig) -> bool {
    !cfg.team_id.is_empty() && !cfg.key_id.is_empty() && !cfg.private_key.is_empty()
}

/// The client secret for `client_id` at `now`: `{iss: team, iat, exp, aud:
/// Apple, sub: client id}`, ES256 with `kid` = the key's id.
pub fn client_secret(
    cfg: &AppleProviderConfig,
    client_id: &str,
    now: i64,
) -> Result<String, ProviderError> {
    let key = EncodingKey::from_ec_pem(cfg.private_key.expose().as_bytes())
        .map_err(|e| ProviderError::Refused(format!("social.apple.private_key: {e}")))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(cfg.key_id.clone());
    let claims = json!({
        "iss": cfg.team_id,
        "iat": now,
        "exp": now + CLIENT_SECRET_LIFETIME,
        "aud": ISSUER,
        "sub": client_id,
    });
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| ProviderError::Refused(format!("client secret: {e}")))
}

/// Exchanges `code` (with the PKCE `code_verifier`, if any): Apple's ID token.
pub fn exchange_code(
    cfg: &AppleProviderConfig,
    code: &str,
    code_verifier: Option<&str>,
    now: i64,
) -> Result<String, ProviderError> {
    let client_id = cfg.client_ids.first().map_or("", String::as_str);
    let secret = client_secret(cfg, client_id, now)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client_id),
        ("client_secret", secret.as_str()),
    ];
    if !cfg.callback_url.is_empty() {
        form.push(("redirect_uri", cfg.callback_url.as_str()));
    }
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
    answer
        .json("token endpoint")?
        .get("id_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Refused("no id_token".into()))
}
