//! Identity providers: verifying a social login with the provider itself.
//!
//! Providers are reached only from here, over blocking `ureq` calls with
//! timeouts, at base URLs that come from the configuration (so tests point
//! them at loopback mocks).

pub mod facebook;
pub mod oauth1;
pub mod twitter;
