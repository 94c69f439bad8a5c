//! One module per endpoint: parse the input, call the domain, shape the response. No SQL here.

pub mod login;
pub mod logout;
pub mod password_change;
pub mod user;
