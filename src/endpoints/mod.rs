//! One module per endpoint: parse the input, call the domain, shape the response. No SQL here.

pub mod apple;
pub mod facebook;
pub mod github;
pub mod google;
pub mod health;
pub mod login;
pub mod logout;
pub mod mfa_activate;
pub mod mfa_deactivate;
pub mod mfa_recovery_codes;
pub mod mfa_status;
pub mod mfa_verify;
pub mod oidc;
pub mod password_change;
pub mod password_reset;
pub mod password_reset_confirm;
pub mod registration;
pub mod resend_email;
pub mod schema;
pub mod social_accounts;
pub mod token_refresh;
pub mod token_verify;
pub mod twitter;
pub mod user;
pub mod verify_email;
