//! The provider's side of OAuth 1.0a (tests/common/oauth1.rs): parsing
//! `Authorization: OAuth …` headers and verifying their signatures, against
//! the published examples and headers made by restauth's signer. The signer's
//! own vectors are unit tests in src/social/oauth1.rs.

mod common;

use common::oauth1::{parse_authorization_header, percent_decode, verify, verify_with_body};
use restauth::social::oauth1::{authorization_header, percent_encode, Credentials};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
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

/// RFC 5849 §1.2: the photo request's header as the RFC prints it, line
/// breaks included, verifies with client secret `kd94hf93k423kf44` and token
/// secret `pfkkdhi9sl3r4s00`; not with another secret or another URL.
#[test]
fn rfc5849_1_2_photos_request() {
    let url = "http://photos.example.net/photos?file=vacation.jpg&size=original";
    let header = "OAuth realm=\"Photos\",\n        oauth_consumer_key=\"dpf43f3p2l4k3l03\",\n        oauth_token=\"nnch734d00sl2jdk\",\n        oauth_signature_method=\"HMAC-SHA1\",\n        oauth_timestamp=\"137131202\",\n        oauth_nonce=\"chapoH\",\n        oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\"";
    assert!(verify(
        "GET",
        url,
        header,
        "kd94hf93k423kf44",
        "pfkkdhi9sl3r4s00"
    ));
    assert!(!verify("GET", url, header, "kd94hf93k423kf44", "wrong"));
    assert!(!verify(
        "GET",
        "http://photos.example.net/photos?file=vacation.jpg&size=small",
        header,
        "kd94hf93k423kf44",
        "pfkkdhi9sl3r4s00"
    ));
}

/// Twitter developer documentation, "Creating a signature" (POST with body
/// `status=…`, signature `hCtSmYh+iHYCEqBWrE7C7hYmtUk=`): the header the
/// signer makes for it verifies with its body, and not without.
#[test]
fn twitter_creating_a_signature() {
    let url = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true";
    let body = pairs(&[("status", TW_STATUS)]);
    let header = authorization_header("POST", url, &body, &TW_CREDS, TW_NONCE, TW_TIMESTAMP);
    assert!(header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""));
    assert!(verify_with_body(
        "POST",
        url,
        &body,
        &header,
        TW_CREDS.consumer_secret,
        TW_CREDS.token_secret
    ));
    // The body is signed: without it the signature does not hold.
    assert!(!verify(
        "POST",
        url,
        &header,
        TW_CREDS.consumer_secret,
        TW_CREDS.token_secret
    ));
}

#[test]
fn percent_decoding_inverts_the_encoding() {
    // Decoding is the inverse, and tolerates lower-case hex.
    for s in ["é€☃😀 +%=&\"", "plain", ""] {
        assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
    }
    assert_eq!(percent_decode("%c3%a9").as_deref(), Some("é"));
    assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(percent_decode("%zz"), None);
    assert_eq!(percent_decode("%FF"), None, "not UTF-8");
}

#[test]
fn unicode_query_and_secrets_round_trip() {
    let creds = Credentials {
        consumer_key: "ck",
        consumer_secret: "cs&é",
        token: "tk",
        token_secret: "ts +☃",
    };
    let url = "https://API.Example.com:443/path/ü?q=caf%C3%A9&x=a+b&empty";
    let header = authorization_header("GET", url, &[], &creds, "n0nce", 1700000000);
    assert!(header.starts_with("OAuth oauth_consumer_key=\"ck\", oauth_nonce=\"n0nce\", "));
    assert!(verify("GET", url, &header, "cs&é", "ts +☃"));
    // The server sees the normalised URL: same signature.
    assert!(verify(
        "get",
        "https://api.example.com/path/ü?x=a%20b&empty=&q=caf%C3%A9",
        &header,
        "cs&é",
        "ts +☃"
    ));
    assert!(!verify("GET", url, &header, "cs&e", "ts +☃"));
    assert!(!verify("POST", url, &header, "cs&é", "ts +☃"));
}

#[test]
fn parse_header_shapes() {
    let parsed = parse_authorization_header(
        "oauth  realm=\"a%20b\",oauth_token = \"x%2By\" ,\r\n oauth_nonce=\"\"",
    )
    .unwrap();
    assert_eq!(
        parsed,
        pairs(&[
            ("realm", "a b"),
            ("oauth_token", "x+y"),
            ("oauth_nonce", "")
        ])
    );
    assert_eq!(parse_authorization_header("OAuth").unwrap(), vec![]);
    assert_eq!(parse_authorization_header("Bearer abc"), None);
    assert_eq!(parse_authorization_header("OAuthx a=\"b\""), None);
    assert_eq!(parse_authorization_header("OAuth a=b"), None);
    assert_eq!(parse_authorization_header("OAuth a=\"b"), None);
    assert_eq!(parse_authorization_header("OAuth a=\"b\" c=\"d\""), None);
    assert_eq!(parse_authorization_header("OAuth a=\"%zz\""), None);
    assert_eq!(parse_authorization_header("OAuth =\"b\""), None);
}

#[test]
fn verify_rejects_malformed_headers() {
    let url = "https://api.x.com/1.1/account/verify_credentials.json?include_email=true";
    let good = authorization_header("GET", url, &[], &TW_CREDS, "abc", 1);
    assert!(verify(
        "GET",
        url,
        &good,
        TW_CREDS.consumer_secret,
        TW_CREDS.token_secret
    ));
    let check = |h: &str| {
        verify(
            "GET",
            url,
            h,
            TW_CREDS.consumer_secret,
            TW_CREDS.token_secret,
        )
    };
    // A duplicated parameter.
    assert!(!check(&format!("{good}, oauth_nonce=\"abc\"")));
    // Another signature method.
    assert!(!check(&good.replace("HMAC-SHA1", "PLAINTEXT")));
    // Missing nonce / signature.
    assert!(!check(&good.replace("oauth_nonce=\"abc\", ", "")));
    let without_sig: String = good
        .split(", ")
        .filter(|p| !p.starts_with("oauth_signature=\""))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(!check(&without_sig));
    // The query is signed: without include_email the signature fails.
    assert!(!verify(
        "GET",
        "https://api.x.com/1.1/account/verify_credentials.json",
        &good,
        TW_CREDS.consumer_secret,
        TW_CREDS.token_secret
    ));
    assert!(!check("garbage"));
}
