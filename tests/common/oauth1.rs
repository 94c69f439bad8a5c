//! The provider's side of OAuth 1.0a, for mock providers: parsing an
//! `Authorization: OAuth …` header (RFC 5849 §3.5.1) and verifying its
//! HMAC-SHA1 signature (§3.4), built on restauth's public signer
//! (`restauth::social::oauth1`), which only signs. Its tests: tests/oauth1.rs.

use percent_encoding::percent_decode_str;
use restauth::social::oauth1::{sign, signature_base_string, SIGNATURE_METHOD, VERSION};
use subtle::ConstantTimeEq;

/// Decodes `%XX` escapes (either hex case); other characters are kept as they are.
/// `None` for a broken escape or bytes that are not UTF-8. `+` stays `+` (§3.6).
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let escapes_well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_well_formed {
        return None;
    }
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Parses an `Authorization: OAuth ...` header value into its (decoded)
/// parameters, in order, `realm` included.
///
/// `None` if the scheme is not `OAuth` (any case) or the parameter list is
/// malformed: each parameter must be `name="value"`, separated by commas and
/// optional whitespace (line breaks included, as in the RFC's examples).
pub fn parse_authorization_header(value: &str) -> Option<Vec<(String, String)>> {
    let value = value.trim();
    let scheme_end = value
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("OAuth") {
        return None;
    }
    let mut rest = &value[scheme_end..];
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(params);
        }
        if !params.is_empty() {
            rest = rest.strip_prefix(',')?.trim_start();
        }
        let eq = rest.find('=')?;
        let name = rest[..eq].trim_end();
        if name.is_empty() || name.contains(|c: char| c == ',' || c == '"' || c.is_whitespace()) {
            return None;
        }
        let after = rest[eq + 1..].trim_start().strip_prefix('"')?;
        let close = after.find('"')?;
        params.push((percent_decode(name)?, percent_decode(&after[..close])?));
        rest = &after[close + 1..];
    }
}

/// Verifies the HMAC-SHA1 signature of a request without a form body.
pub fn verify(
    method: &str,
    url: &str,
    header_value: &str,
    consumer_secret: &str,
    token_secret: &str,
) -> bool {
    verify_with_body(
        method,
        url,
        &[],
        header_value,
        consumer_secret,
        token_secret,
    )
}

/// Verifies the HMAC-SHA1 signature of a request, given its decoded form-body
/// parameters.
///
/// Checks the header's shape (each parameter at most once; consumer key,
/// nonce, timestamp, signature method `HMAC-SHA1` and signature present;
/// `oauth_version`, if sent, is `1.0`) and the signature, compared in constant
/// time. Which consumer key and token were sent, and whether the timestamp
/// and nonce are fresh, are the caller's to check (with
/// [`parse_authorization_header`]).
pub fn verify_with_body(
    method: &str,
    url: &str,
    body_params: &[(String, String)],
    header_value: &str,
    consumer_secret: &str,
    token_secret: &str,
) -> bool {
    let Some(params) = parse_authorization_header(header_value) else {
        return false;
    };
    for (i, (name, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(n, _)| n == name) {
            return false;
        }
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("oauth_signature_method") != Some(SIGNATURE_METHOD) {
        return false;
    }
    if get("oauth_consumer_key").is_none()
        || get("oauth_nonce").is_none()
        || get("oauth_timestamp").is_none()
    {
        return false;
    }
    if get("oauth_version").is_some_and(|v| v != VERSION) {
        return false;
    }
    let Some(received) = get("oauth_signature") else {
        return false;
    };
    // signature_base_string skips `realm` and `oauth_signature` itself.
    let base = signature_base_string(method, url, body_params, &params);
    let expected = sign(&base, consumer_secret, token_secret);
    bool::from(expected.as_bytes().ct_eq(received.as_bytes()))
}
