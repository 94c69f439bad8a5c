//! Fuzzes `restauth::api::auth::parse_authorization`, the `Authorization` header parser.
//!
//! The input, as text (invalid UTF-8 replaced), is the header value. Checked: no panic;
//! errors are 401s with `WWW-Authenticate: Token` and a JSON body; and the outcome is
//! the one of DRF's `TokenAuthentication`, whose steps are re-implemented here:
//! `header.split()` on bytes (ASCII whitespace: space, \t, \n, \v, \f, \r), no parts
//! or a first part other than `token` (ASCII case-insensitive) is no credential, one
//! part is "No credentials provided.", more than two is "should not contain spaces".
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use restauth::api::auth::{parse_authorization, presented_key, Credentials};
use restauth::api::ApiError;

/// Known divergence, found by this target (minimised input `b"Token\x0b"`): restauth
/// splits on Rust's ASCII whitespace, which lacks the vertical tab (\x0b) that Python's
/// `bytes.split()` includes, so `Token\x0b<key>` is no credential in restauth and a token
/// in DRF. While this is `true` headers containing \x0b skip the comparison with DRF
/// (the other checks still apply); set it to `false` once `parse_authorization` splits
/// on \x0b too.
const SKIP_VERTICAL_TAB: bool = false;

/// Python's `bytes.split()` separators (`bytes.isspace`).
fn python_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// What DRF 3.15's `TokenAuthentication.authenticate` does with this header.
fn drf(header: &str) -> Result<Option<&str>, &'static str> {
    let parts: Vec<&str> = header
        .split(python_space)
        .filter(|p| !p.is_empty())
        .collect();
    match parts.first() {
        Some(word) if word.eq_ignore_ascii_case("token") => {}
        _ => return Ok(None),
    }
    match parts.len() {
        1 => Err("Invalid token header. No credentials provided."),
        2 => Ok(Some(parts[1])),
        _ => Err("Invalid token header. Token string should not contain spaces."),
    }
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let parsed = parse_authorization(Some(&header));
    let key = presented_key(Some(&header));
    match &parsed {
        Ok(Credentials::Token(k)) => {
            assert!(!k.is_empty());
            assert!(header.contains(k.as_str()));
            assert_eq!(&key, k);
        }
        Ok(Credentials::None) => assert!(key.is_empty()),
        Err(error) => {
            assert!(key.is_empty());
            let response = error.to_response();
            assert_eq!(response.status_code, 401, "{error:?}");
            assert!(
                response
                    .headers
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("WWW-Authenticate") && v == "Token"),
                "{:?}",
                response.headers
            );
            let (mut reader, _) = response.data.into_reader_and_size();
            let mut body = Vec::new();
            reader.read_to_end(&mut body).expect("response body");
            serde_json::from_slice::<serde_json::Value>(&body).expect("error bodies are JSON");
        }
    }
    let ours = match parsed {
        Ok(Credentials::None) => Ok(None),
        Ok(Credentials::Token(k)) => Ok(Some(k)),
        Err(ApiError::AuthenticationFailed(message)) => Err(message),
        Err(other) => panic!("unexpected error {other:?}"),
    };
    if SKIP_VERTICAL_TAB && header.contains('\x0b') {
        return;
    }
    let theirs = drf(&header).map(|k| k.map(str::to_string));
    assert_eq!(ours, theirs, "header {header:?}");
});
