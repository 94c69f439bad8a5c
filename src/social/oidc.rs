//! Any OpenID Connect provider (Keycloak, Authentik, Microsoft Entra,
//! GitLab, Okta, …), configured by its issuer alone: the rest comes from its
//! discovery document, `<issuer>/.well-known/openid-configuration`, which
//! must name the same issuer. The document is cached like a key set (its
//! `Cache-Control`, within bounds), and the discovered `jwks_uri` is a
//! [`KeySet`] like Google's and Apple's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::fetched::{Fetch, Fetched};
use super::http::{self, Call, ProviderError};
use super::jwks::KeySet;
use crate::config::OidcProviderConfig;

/// How long a discovery document is kept when the provider sends no `max-age`.
const DEFAULT_MAX_AGE: u64 = 3600;
/// Bounds on the provider's `max-age`.
const MAX_AGE_BOUNDS: (u64, u64) = (300, 86_400);

/// What the discovery document says restauth needs.
#[derive(Debug)]
pub struct Discovered {
    /// Where codes are exchanged (`None`: the provider has no code flow).
    pub token_endpoint: Option<String>,
    /// Where an access token's profile is read.
    pub userinfo_endpoint: Option<String>,
    /// `true`: `client_secret_basic` (the credentials in an `Authorization`
    /// header); `false`: `client_secret_post` (in the form).
    pub basic_auth: bool,
    /// ID-token algorithms the provider uses that restauth verifies.
    pub algorithms: Vec<Algorithm>,
    /// The provider's signing keys.
    pub keys: Arc<KeySet>,
    jwks_uri: String,
}

/// One configured provider and what has been discovered about it.
pub struct Provider {
    /// The section's name: the path `P/<name>/` and `social_accounts.provider`.
    pub name: String,
    /// Its section.
    pub config: OidcProviderConfig,
    document: Fetched<Discovered>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("oidc::Provider")
            .field("name", &self.name)
            .field("issuer", &self.config.issuer)
            .finish()
    }
}

/// The configured providers by name (nothing is fetched yet).
pub fn providers(configs: &BTreeMap<String, OidcProviderConfig>) -> BTreeMap<String, Provider> {
    configs
        .iter()
        .map(|(name, config)| {
            let provider = Provider {
                name: name.clone(),
                config: config.clone(),
                document: Fetched::new(&format!(
                    "the discovery document of {name} ({})",
                    config.issuer
                )),
            };
            (name.clone(), provider)
        })
        .collect()
}

impl Provider {
    /// Whether its issuer and client ids are set (`P/<name>/` is 404 otherwise).
    pub fn enabled(&self) -> bool {
        !self.config.issuer.is_empty() && !self.config.client_ids.is_empty()
    }

    /// Where its discovery document is: the issuer without a trailing `/`,
    /// then `/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    pub fn discovery_url(&self) -> String {
        let issuer = &self.config.issuer;
        let issuer = issuer.strip_suffix('/').unwrap_or(issuer);
        format!("{issuer}/.well-known/openid-configuration")
    }

    /// The discovery document, fetched when missing or stale (the rules
    /// of [`Fetched`]: a failed refresh keeps the cached document for a
    /// minute; without one, the failure is the answer for 30 s).
    pub fn discovered(&self) -> Result<Arc<Discovered>, ProviderError> {
        self.document
            .get(Instant::now(), false, |previous| self.fetch(previous))
    }

    /// Fetches and checks the document; the key set of `previous` is kept
    /// when the `jwks_uri` is the same (with its cached keys).
    fn fetch(&self, previous: Option<&Discovered>) -> Fetch<Discovered> {
        let url = self.discovery_url();
        let answer = http::send(
            Call::Get {
                url: &url,
                bearer: None,
            },
            self.config.timeout,
        )?;
        let json = answer.json("discovery document")?;
        let bad = |why: String| ProviderError::BadResponse(format!("{url}: {why}"));
        let text = |k: &str| json.get(k).and_then(Value::as_str);
        // OpenID Connect Discovery §4.3: the issuer is exactly the one asked for.
        if text("issuer") != Some(self.config.issuer.as_str()) {
            return Err(bad(format!(
                "its issuer is {:?}, not the configured {:?}",
                text("issuer").unwrap_or(""),
                self.config.issuer
            )));
        }
        // An https issuer's endpoints are https too: no downgrade through the document.
        let secure = self.config.issuer.starts_with("https://");
        let endpoint = |k: &str| -> Result<Option<String>, ProviderError> {
            let Some(value) = text(k) else {
                return Ok(None);
            };
            let scheme_ok =
                value.starts_with("https://") || (!secure && value.starts_with("http://"));
            if !scheme_ok || value.contains(char::is_whitespace) {
                return Err(bad(format!("{k} {value:?} is not an https URL")));
            }
            Ok(Some(value.to_string()))
        };
        let jwks_uri = endpoint("jwks_uri")?.ok_or_else(|| bad("no jwks_uri".into()))?;
        let token_endpoint = endpoint("token_endpoint")?;
        let userinfo_endpoint = endpoint("userinfo_endpoint")?;
        let listed = |k: &str| -> Option<Vec<&str>> {
            let items = json.get(k)?.as_array()?;
            Some(items.iter().filter_map(Value::as_str).collect())
        };
        // Discovery §3: RS256 when the document lists nothing.
        let algs = listed("id_token_signing_alg_values_supported").unwrap_or_else(|| vec!["RS256"]);
        let algorithms: Vec<Algorithm> = [("RS256", Algorithm::RS256), ("ES256", Algorithm::ES256)]
            .into_iter()
            .filter(|(name, _)| algs.contains(name))
            .map(|(_, alg)| alg)
            .collect();
        if algorithms.is_empty() {
            return Err(bad(format!(
                "it signs ID tokens with {algs:?}; restauth verifies RS256 and ES256"
            )));
        }
        // Discovery §3: client_secret_basic when the document lists nothing.
        let methods = listed("token_endpoint_auth_methods_supported").unwrap_or_default();
        let basic_auth = methods.is_empty()
            || methods.contains(&"client_secret_basic")
            || !methods.contains(&"client_secret_post");
        let keys = match previous {
            Some(p) if p.jwks_uri == jwks_uri => p.keys.clone(),
            _ => Arc::new(KeySet::new(&jwks_uri, self.config.timeout)),
        };
        let max_age = answer.cache_seconds(DEFAULT_MAX_AGE, MAX_AGE_BOUNDS);
        let document = Discovered {
            token_endpoint,
            userinfo_endpoint,
            basic_auth,
            algorithms,
            keys,
            jwks_uri,
        };
        Ok((document, Duration::from_secs(max_age)))
    }

    /// Exchanges `code` (with the PKCE `code_verifier`, if the frontend made
    /// one) for the provider's tokens: (ID token, access token).
    pub fn exchange_code(
        &self,
        found: &Discovered,
        code: &str,
        code_verifier: Option<&str>,
    ) -> Result<(String, Option<String>), ProviderError> {
        let cfg = &self.config;
        let url = found
            .token_endpoint
            .as_deref()
            .ok_or_else(|| ProviderError::BadResponse("no token_endpoint".into()))?;
        let client_id = cfg.client_ids.first().map_or("", String::as_str);
        let secret = cfg.client_secret.expose();
        let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
        // OAuth 2 §4.1.3: sent when the authorization request had one.
        if !cfg.callback_url.is_empty() {
            form.push(("redirect_uri", cfg.callback_url.as_str()));
        }
        if let Some(verifier) = code_verifier {
            form.push(("code_verifier", verifier));
        }
        let basic = (!secret.is_empty() && found.basic_auth).then_some((client_id, secret));
        if basic.is_none() {
            // A public client names itself; client_secret_post sends the secret too.
            form.push(("client_id", client_id));
            if !secret.is_empty() {
                form.push(("client_secret", secret));
            }
        }
        let answer = http::send(
            Call::PostForm {
                url,
                form: &form,
                basic,
            },
            cfg.timeout,
        )?;
        let json = answer.json("token endpoint")?;
        let text = |k: &str| http::text(&json, k);
        let id_token = text("id_token").ok_or_else(|| {
            ProviderError::Refused("no id_token (is \"openid\" among the scopes?)".into())
        })?;
        Ok((id_token, text("access_token")))
    }

    /// The userinfo of `access_token`, which must be about `sub`.
    pub fn userinfo(
        &self,
        found: &Discovered,
        access_token: &str,
        sub: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let Some(url) = found.userinfo_endpoint.as_deref() else {
            return Ok(None);
        };
        let answer = http::send(
            Call::Get {
                url,
                bearer: Some(access_token),
            },
            self.config.timeout,
        )?;
        let json = answer.json("userinfo")?;
        // OpenID Connect Core §5.3.2: a userinfo answer about someone else is discarded.
        if json.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(ProviderError::Refused(
                "userinfo is about another subject".into(),
            ));
        }
        Ok(Some(json))
    }

    /// Whether the configured scopes ask for claims the userinfo endpoint has.
    pub fn wants_userinfo(&self) -> bool {
        self.config
            .scopes
            .iter()
            .any(|s| s == "email" || s == "profile")
    }
}

/// Whether `at_hash` is the hash of `access_token` (OpenID Connect Core
/// §3.1.3.6: the left half of its SHA-256, base64url; RS256 and ES256 both
/// hash with SHA-256).
pub fn at_hash_matches(at_hash: &str, access_token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let digest = Sha256::digest(access_token.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    bool::from(expected.as_bytes().ct_eq(at_hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_as_the_specification_computes_it() {
        // OpenID Connect Core, appendix A.3.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert!(at_hash_matches("77QmUPtjPfzWtF2AnpK9RQ", token));
        assert!(!at_hash_matches("77QmUPtjPfzWtF2AnpK9RR", token));
        assert!(!at_hash_matches("", token));
    }

    #[test]
    fn the_discovery_url_drops_one_trailing_slash_of_the_issuer() {
        let mut config = OidcProviderConfig {
            issuer: "https://sso.example/realms/app".into(),
            ..Default::default()
        };
        let url = |config: &OidcProviderConfig| {
            let map = BTreeMap::from([("kc".to_string(), config.clone())]);
            providers(&map)["kc"].discovery_url()
        };
        assert_eq!(
            url(&config),
            "https://sso.example/realms/app/.well-known/openid-configuration"
        );
        config.issuer = "https://tenant.auth0.example/".into();
        assert_eq!(
            url(&config),
            "https://tenant.auth0.example/.well-known/openid-configuration"
        );
    }
}
