//! Secrets and their checks: password hashing, validators, API tokens, JWTs, random values.

pub mod hash_limiter;
pub mod jwt;
pub mod mfa;
pub mod password;
pub mod random;
pub mod reset_token;
pub mod sealed;
pub mod shared_throttle;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod validators;
