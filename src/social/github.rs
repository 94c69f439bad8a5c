//! GitHub: codes exchanged at `/login/oauth/access_token`, access tokens
//! checked to belong to our OAuth app, the profile from `/user` and the
//! address from `/user/emails` (the primary one, and only if verified).

use serde_json::{json, Value};

use super::http::{self, Call, ProviderError};
use crate::config::GithubProviderConfig;

/// What GitHub says about the token's owner.
#[derive(Debug, Clone)]
pub struct Profile {
    /// GitHub's numeric user id, as text.
    pub uid: String,
    /// The login (`octocat`).
    pub login: String,
    /// The display name, if set.
    pub name: String,
    /// The primary address, when GitHub has verified it.
    pub email: Option<String>,
    /// `/user`'s answer, kept as the account's profile.
    pub raw: Value,
}

/// Exchanges `code` (with the PKCE `code_verifier`, if any) for an access token.
pub fn exchange_code(
    cfg: &GithubProviderConfig,
    code: &str,
    code_verifier: Option<&str>,
) -> Result<String, ProviderError> {
    let mut form = vec![
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.expose()),
        ("code", code),
    ];
    if !cfg.callback_url.is_empty() {
        form.push(("redirect_uri", cfg.callback_url.as_str()));
    }
    if let Some(verifier) = code_verifier {
        form.push(("code_verifier", verifier));
    }
    let url = format!("{}/login/oauth/access_token", cfg.oauth_url);
    let answer = http::send(
        Call::PostForm {
            url: &url,
            form: &form,
            basic: None,
        },
        cfg.timeout,
    )?;
    // A refused code is a 200 with `error` at GitHub.
    let json = answer.json("token endpoint")?;
    json.get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            let error = json
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no access_token");
            ProviderError::Refused(error.to_string())
        })
}

/// Whether `access_token` was issued to our OAuth app (GitHub's "check a
/// token", authenticated as the app): a token another app got for the same
/// person must not log them in here.
pub fn access_token_is_ours(
    cfg: &GithubProviderConfig,
    access_token: &str,
) -> Result<bool, ProviderError> {
    let url = format!("{}/applications/{}/token", cfg.api_url, cfg.client_id);
    let body = json!({ "access_token": access_token });
    let answer = http::send(
        Call::PostJson {
            url: &url,
            basic: (&cfg.client_id, cfg.client_secret.expose()),
            body: &body,
        },
        cfg.timeout,
    )?;
    match answer.status {
        200 => Ok(true),
        404 | 422 => Ok(false),
        _ => Err(ProviderError::Refused(format!(
            "token check: status {}",
            answer.status
        ))),
    }
}

/// The profile behind `access_token`.
pub fn profile(cfg: &GithubProviderConfig, access_token: &str) -> Result<Profile, ProviderError> {
    let get = |path: &str| {
        http::send(
            Call::Get {
                url: &format!("{}{path}", cfg.api_url),
                bearer: Some(access_token),
            },
            cfg.timeout,
        )
    };
    let raw = get("/user")?.json("/user")?;
    let text = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let uid = match raw.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ProviderError::BadResponse("/user has no id".into())),
    };
    // Without the `user:email` scope this is a 404: the user simply has no address here.
    let emails = get("/user/emails")?;
    let email = if emails.status == 200 {
        primary_verified(&emails.json("/user/emails")?)
    } else {
        None
    };
    Ok(Profile {
        uid,
        login: text("login"),
        name: text("name"),
        email,
        raw,
    })
}

/// The address marked both primary and verified, if any.
fn primary_verified(emails: &Value) -> Option<String> {
    emails.as_array()?.iter().find_map(|e| {
        let flag = |k: &str| e.get(k).and_then(Value::as_bool) == Some(true);
        (flag("primary") && flag("verified"))
            .then(|| e.get("email").and_then(Value::as_str))
            .flatten()
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_primary_verified_address_counts() {
        let emails = json!([
            {"email": "old@example.com", "primary": false, "verified": true},
            {"email": "main@example.com", "primary": true, "verified": true},
        ]);
        assert_eq!(
            primary_verified(&emails).as_deref(),
            Some("main@example.com")
        );
        let unverified = json!([{"email": "main@example.com", "primary": true, "verified": false}]);
        assert_eq!(primary_verified(&unverified), None);
        assert_eq!(primary_verified(&json!({"message": "Not Found"})), None);
    }
}
