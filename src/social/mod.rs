//! Identity providers: verifying a social login with the provider itself.
//!
//! Providers are reached only from here, over blocking `ureq` calls with
//! timeouts, at base URLs that come from the configuration (so tests point
//! them at loopback mocks).

pub mod apple;
pub mod facebook;
pub mod fetched;
pub mod github;
pub mod google;
pub mod http;
pub mod id_token;
pub mod jwks;
pub mod oauth1;
pub mod oidc;
pub mod twitter;

use crate::config::SocialConfig;

/// The key sets of the providers that verify ID tokens (and what the
/// OpenID Connect providers' discovery documents say).
#[derive(Debug)]
pub struct ProviderKeys {
    /// Google's certs.
    pub google: jwks::KeySet,
    /// Apple's keys.
    pub apple: jwks::KeySet,
    /// The OpenID Connect providers by name, each with its discovered keys.
    pub oidc: std::collections::BTreeMap<String, oidc::Provider>,
}

impl ProviderKeys {
    /// Key sets at the configured URLs (nothing is fetched yet).
    pub fn new(social: &SocialConfig) -> ProviderKeys {
        let (google, apple) = (&social.google, &social.apple);
        ProviderKeys {
            google: jwks::KeySet::new(&google.certs_url, google.timeout),
            apple: jwks::KeySet::new(&apple.keys_url, apple.timeout),
            oidc: oidc::providers(&social.oidc),
        }
    }
}
