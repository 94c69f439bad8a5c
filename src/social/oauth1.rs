//! OAuth 1.0a request signing, HMAC-SHA1 only (RFC 5849 §3.4–3.6).
//!
//! The steps, each with its section of the RFC:
//! * §3.6 percent-encoding: the unreserved characters `A-Za-z0-9-._~` stay,
//!   every other UTF-8 byte becomes `%XX` with upper-case hex.
//! * §3.4.1.3 parameters: the query of the URL and the form body (both
//!   `application/x-www-form-urlencoded`, so decoded with `+` as space), plus
//!   the `oauth_*` protocol parameters except `oauth_signature` (and `realm`,
//!   which is not a parameter). §3.4.1.3.2 normalises them: names and values
//!   encoded, sorted by name then value, joined with `=` and `&`.
//! * §3.4.1.2 base string URI: scheme and host lower-case, the default port
//!   (80 for http, 443 for https) dropped, no query and no fragment.
//! * §3.4.1.1 base string: `METHOD&enc(base_uri)&enc(normalised parameters)`.
//! * §3.4.2 HMAC-SHA1 with the key `enc(consumer_secret)&enc(token_secret)`,
//!   base64-encoded.
//! * §3.5.1 the `Authorization: OAuth …` header: each parameter encoded and
//!   quoted, comma-separated (no `realm`: the providers we call need none).
//!
//! This is the client's side only. The provider's (parsing that header,
//! verifying its signature) is test code, for the mock providers:
//! `tests/common/oauth1.rs`. The nonce and timestamp are arguments, so tests
//! can reproduce published vectors; [`fresh_nonce`] gives a real nonce, the
//! caller's clock the timestamp. Nothing here logs.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// The only signature method implemented.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// The `oauth_version` sent (optional in RFC 5849, sent by Twitter's own examples and by allauth).
pub const VERSION: &str = "1.0";

/// The client (consumer) and token credentials of a signed request.
///
/// No `Debug`: two of the four fields are secrets.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    /// The token (access token); empty for a request made without one.
    pub token: &'a str,
    pub token_secret: &'a str,
}

/// RFC 5849 §3.6: every byte but the unreserved `A-Za-z0-9-._~` is encoded.
const UNRESERVED_ONLY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 5849 §3.6 percent-encoding of the UTF-8 bytes of `s` (upper-case hex).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED_ONLY).to_string()
}

/// Splits `url` into its §3.4.1.2 base string URI and its query (if any).
///
/// A string without `scheme://` is taken as it is (minus query and fragment):
/// this function never fails, a malformed URL simply signs as written.
fn split_url(url: &str) -> (String, Option<&str>) {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let Some((scheme, rest)) = before_query.split_once("://") else {
        return (before_query.to_string(), query);
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // Userinfo is not part of the base string URI.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if host_port.starts_with('[') {
        // IPv6 literal: "[::1]" or "[::1]:8080".
        match host_port.find(']') {
            Some(end) => {
                let after = &host_port[end + 1..];
                (&host_port[..=end], after.strip_prefix(':'))
            }
            None => (host_port, None),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let default_port = match scheme.as_str() {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    };
    let mut base = format!("{scheme}://{}", host.to_ascii_lowercase());
    if let Some(port) = port {
        if !port.is_empty() && Some(port) != default_port {
            base.push(':');
            base.push_str(port);
        }
    }
    base.push_str(path);
    (base, query)
}

/// The §3.4.1.3.2 normalised parameter string of `params`.
fn normalize_parameters(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(n, v)| (percent_encode(n), percent_encode(v)))
        .collect();
    encoded.sort();
    let pairs: Vec<String> = encoded.iter().map(|(n, v)| format!("{n}={v}")).collect();
    pairs.join("&")
}

/// The RFC 5849 §3.4.1 signature base string.
///
/// `url` is the full request URL: its query is parsed as
/// `application/x-www-form-urlencoded` and signed. `extra_params` are the
/// decoded form-body parameters (empty for a GET). `oauth_params` are the
/// protocol parameters; `realm` and `oauth_signature` among them are skipped.
pub fn signature_base_string(
    method: &str,
    url: &str,
    extra_params: &[(String, String)],
    oauth_params: &[(String, String)],
) -> String {
    let (base_uri, query) = split_url(url);
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(query) = query {
        params.extend(
            form_urlencoded::parse(query.as_bytes()).map(|(n, v)| (n.into_owned(), v.into_owned())),
        );
    }
    params.extend(extra_params.iter().cloned());
    params.extend(oauth_params.iter().filter(|(n, _)| n != "realm").cloned());
    params.retain(|(n, _)| n != "oauth_signature");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(&base_uri),
        percent_encode(&normalize_parameters(&params))
    )
}

/// The §3.4.2 HMAC-SHA1 signature of `base_string`, base64-encoded.
pub fn sign(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    );
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(base_string.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value of a request to `url` whose decoded
/// form-body parameters are `body_params` (empty for a GET; signed, not sent
/// in the header), with `oauth_version="1.0"`.
///
/// Parameters appear sorted by name, `oauth_signature` among them (the layout
/// of Twitter's documentation).
pub fn authorization_header(
    method: &str,
    url: &str,
    body_params: &[(String, String)],
    creds: &Credentials<'_>,
    nonce: &str,
    timestamp: u64,
) -> String {
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), creds.consumer_key.into()),
        ("oauth_nonce".into(), nonce.into()),
        ("oauth_signature_method".into(), SIGNATURE_METHOD.into()),
        ("oauth_timestamp".into(), timestamp.to_string()),
        ("oauth_version".into(), VERSION.into()),
    ];
    if !creds.token.is_empty() {
        oauth.push(("oauth_token".into(), creds.token.into()));
    }
    let base = signature_base_string(method, url, body_params, &oauth);
    let signature = sign(&base, creds.consumer_secret, creds.token_secret);
    oauth.push(("oauth_signature".into(), signature));
    oauth.sort();
    let params: Vec<String> = oauth
        .iter()
        .map(|(n, v)| format!("{}=\"{}\"", percent_encode(n), percent_encode(v)))
        .collect();
    format!("OAuth {}", params.join(", "))
}

/// A fresh nonce: 32 characters from `[A-Za-z0-9]`, from the OS random source.
pub fn fresh_nonce() -> std::io::Result<String> {
    crate::security::random::alphanumeric(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// RFC 5849 §3.4.1.1: the request
    /// `POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b` to `example.com`, body
    /// `c2&a3=2+q`, and the base string the RFC gives for it (its line
    /// breaks removed). The RFC's header carries a placeholder signature and
    /// no secrets, so only the base string is a vector here.
    #[test]
    fn rfc5849_3_4_1_1_base_string() {
        let body: Vec<(String, String)> = form_urlencoded::parse(b"c2&a3=2+q")
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(body, pairs(&[("c2", ""), ("a3", "2 q")]));
        let oauth = pairs(&[
            ("realm", "Example"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("oauth_signature", "bYT5CMsGcbgUdFHObYMEfcx6bsw="),
        ]);
        let expected = concat!(
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q",
            "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_",
            "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m",
            "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk",
            "9d7dh3k39sjv7",
        );
        let url = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b";
        assert_eq!(signature_base_string("POST", url, &body, &oauth), expected);
        // §3.4.1.2: scheme and host case and the default port do not change it.
        let url = "HTTP://Example.COM:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b#frag";
        assert_eq!(signature_base_string("post", url, &body, &oauth), expected);
    }

    /// RFC 5849 §3.4.1.2's base string URI examples.
    #[test]
    fn rfc5849_3_4_1_2_base_uri() {
        assert_eq!(
            split_url("http://EXAMPLE.COM:80/r%20v/X?id=123").0,
            "http://example.com/r%20v/X"
        );
        assert_eq!(
            split_url("https://www.example.net:8080/?q=1").0,
            "https://www.example.net:8080/"
        );
        assert_eq!(split_url("https://api.x.com:443").0, "https://api.x.com/");
        assert_eq!(split_url("http://[::1]:8080/a?b").0, "http://[::1]:8080/a");
        assert_eq!(split_url("http://u:p@h.example/a").0, "http://h.example/a");
    }

    /// RFC 5849 §1.2: the photo request, `GET
    /// http://photos.example.net/photos?file=vacation.jpg&size=original`,
    /// signed with client secret `kd94hf93k423kf44` and token secret
    /// `pfkkdhi9sl3r4s00`, realm `Photos` and no `oauth_version`: the RFC's
    /// signature, and its encoding in the RFC's header. (That header, as
    /// printed, is verified in tests/oauth1.rs.)
    #[test]
    fn rfc5849_1_2_photos_request() {
        let url = "http://photos.example.net/photos?file=vacation.jpg&size=original";
        let oauth = pairs(&[
            ("realm", "Photos"),
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_token", "nnch734d00sl2jdk"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131202"),
            ("oauth_nonce", "chapoH"),
        ]);
        let base = signature_base_string("GET", url, &[], &oauth);
        // §3.4.1.3.1: the realm is not signed.
        assert_eq!(base, signature_base_string("GET", url, &[], &oauth[1..]));
        let signature = sign(&base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00");
        assert_eq!(signature, "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
        assert_eq!(
            percent_encode(&signature),
            "MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"
        );
        assert_ne!(sign(&base, "kd94hf93k423kf44", "wrong"), signature);
    }

    const TW_CREDS: Credentials<'static> = Credentials {
        consumer_key: "xvz1evFS4wEEPTGEFPHBog",
        consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    };
    const TW_NONCE: &str = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
    const TW_TIMESTAMP: u64 = 1318622958;
    const TW_STATUS: &str = "Hello Ladies + Gentlemen, a signed OAuth request!";

    /// Twitter developer documentation, "Creating a signature": POST
    /// https://api.twitter.com/1.1/statuses/update.json?include_entities=true
    /// with body `status=…`; its parameter string, base string, signing key
    /// and signature `hCtSmYh+iHYCEqBWrE7C7hYmtUk=`.
    #[test]
    fn twitter_creating_a_signature() {
        let url = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true";
        let body = pairs(&[("status", TW_STATUS)]);
        let oauth = pairs(&[
            ("oauth_consumer_key", TW_CREDS.consumer_key),
            ("oauth_nonce", TW_NONCE),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            ("oauth_token", TW_CREDS.token),
            ("oauth_version", "1.0"),
        ]);
        let base = signature_base_string("POST", url, &body, &oauth);
        assert_eq!(
            base,
            "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
        );
        assert_eq!(
            sign(&base, TW_CREDS.consumer_secret, TW_CREDS.token_secret),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );

        let header = authorization_header("POST", url, &body, &TW_CREDS, TW_NONCE, TW_TIMESTAMP);
        assert!(header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""));
        // Verified with and without its body in tests/oauth1.rs.
    }

    /// Twitter developer documentation, "Authorizing a request": the header
    /// printed there, byte for byte. Its signature belongs to the page's
    /// earlier edition, whose URL was `/1/statuses/update.json` (the
    /// "Creating a signature" page of that edition prints the same value).
    #[test]
    fn twitter_authorizing_a_request_header() {
        let url = "https://api.twitter.com/1/statuses/update.json?include_entities=true";
        let header = authorization_header(
            "POST",
            url,
            &pairs(&[("status", TW_STATUS)]),
            &TW_CREDS,
            TW_NONCE,
            TW_TIMESTAMP,
        );
        assert_eq!(
            header,
            "OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", oauth_signature=\"tnnArxj06cWHq44gCs1OSKk%2FjLY%3D\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1318622958\", oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", oauth_version=\"1.0\""
        );
    }

    #[test]
    fn percent_encoding_rfc3986_unreserved_only() {
        assert_eq!(
            percent_encode("AZaz09-._~"),
            "AZaz09-._~",
            "unreserved characters stay"
        );
        assert_eq!(
            percent_encode("Ladies + Gentlemen, a signed OAuth request!"),
            "Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21"
        );
        assert_eq!(
            percent_encode(":/?#[]@!$&'()*+,;=%\" <>\\^`{|}"),
            "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25%22%20%3C%3E%5C%5E%60%7B%7C%7D"
        );
        // UTF-8 bytes, upper-case hex: é (2 bytes), € (3 bytes), ☃ (3), 😀 (4).
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("€☃"), "%E2%82%AC%E2%98%83");
        assert_eq!(percent_encode("a😀b"), "a%F0%9F%98%80b");
        assert_eq!(percent_encode("\n\t\0"), "%0A%09%00");
        assert_eq!(percent_encode(""), "");
        // Decoding (the provider's side) is tested in tests/oauth1.rs.
    }

    #[test]
    fn normalisation_sorts_by_encoded_name_then_value() {
        let params = pairs(&[
            ("b", "2"),
            ("a", "z"),
            ("a", "b"),
            ("a b", "1"),
            ("A", "x"),
            ("é", "ü"),
        ]);
        // Encoded names sort byte-wise: "%" (0x25) < "A" < "a"; then values.
        assert_eq!(
            normalize_parameters(&params),
            "%C3%A9=%C3%BC&A=x&a=b&a=z&a%20b=1&b=2"
        );
    }

    #[test]
    fn fresh_nonce_is_32_alphanumerics() {
        let a = fresh_nonce().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, fresh_nonce().unwrap());
    }
}
