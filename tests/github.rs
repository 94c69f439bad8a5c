//! GitHub login against a loopback stand-in for github.com and its REST
//! API, which records what restauth sent.

mod common;
#[path = "common/provider_mock.rs"]
mod provider_mock;

use base64::Engine as _;
use common::*;
use provider_mock::Mock;
use serde_json::{json, Value};

const CLIENT_ID: &str = "Iv1.gh-client";
const SECRET: &str = "gh-secret";

fn basic() -> String {
    let raw = format!("{CLIENT_ID}:{SECRET}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn github_mock() -> Mock {
    Mock::start(|seen| {
        let bearer = seen
            .header("Authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        match (seen.method.as_str(), seen.path()) {
            ("POST", "/login/oauth/access_token") => {
                if seen.form("code").as_deref() == Some("good-code")
                    && seen.form("client_secret").as_deref() == Some(SECRET)
                {
                    (200, json!({"access_token": "ours-token", "token_type": "bearer", "scope": "user:email"}).to_string())
                } else {
                    // GitHub's way: a 200 that says no.
                    (200, json!({"error": "bad_verification_code"}).to_string())
                }
            }
            ("POST", path) if path == format!("/applications/{CLIENT_ID}/token") => {
                let ours = seen.header("Authorization") == Some(basic().as_str())
                    && ["ours-token", "unverified-token"]
                        .iter()
                        .any(|t| seen.body.contains(t));
                if ours {
                    (200, json!({"id": 1, "token": "…"}).to_string())
                } else {
                    (404, json!({"message": "Not Found"}).to_string())
                }
            }
            ("GET", "/user")
                if ["ours-token", "foreign-token", "unverified-token"].contains(&bearer) =>
            {
                let id = if bearer == "unverified-token" {
                    77
                } else {
                    4242
                };
                (200, json!({"id": id, "login": format!("octo{id}"), "name": "The Octocat", "email": null}).to_string())
            }
            ("GET", "/user/emails") if bearer == "unverified-token" => (
                200,
                json!([{"email": "octo77@example.com", "primary": true, "verified": false}])
                    .to_string(),
            ),
            ("GET", "/user/emails") if !bearer.is_empty() => (
                200,
                json!([
                    {"email": "old@example.com", "primary": false, "verified": true},
                    {"email": "Octo@Example.com", "primary": true, "verified": true},
                ])
                .to_string(),
            ),
            _ => (401, json!({"message": "Bad credentials"}).to_string()),
        }
    })
}

fn server_with(m: &Mock, extra: &[(&str, &str)]) -> Server {
    let url = m.url();
    let mut env = vec![
        ("RESTAUTH_SOCIAL_GITHUB_CLIENT_ID", CLIENT_ID),
        ("RESTAUTH_SOCIAL_GITHUB_CLIENT_SECRET", SECRET),
        (
            "RESTAUTH_SOCIAL_GITHUB_CALLBACK_URL",
            "http://localhost:3000/gh-callback",
        ),
        ("RESTAUTH_SOCIAL_GITHUB_OAUTH_URL", &url),
        ("RESTAUTH_SOCIAL_GITHUB_API_URL", &url),
        ("RESTAUTH_SOCIAL_GITHUB_TIMEOUT", "2s"),
    ];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn github(s: &Server, body: Value) -> Resp {
    s.post_json("/rest-auth/github/", &body, None)
}

backend_tests! {
#[test]
fn the_code_flow_logs_in_with_the_primary_verified_address() {
    let m = github_mock();
    let s = server_with(&m, &[]);
    let r = github(&s, json!({"code": "good-code", "code_verifier": "v-1"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = m.seen().into_iter().find(|r| r.path() == "/login/oauth/access_token").unwrap();
    for (field, value) in [
        ("client_id", CLIENT_ID), ("client_secret", SECRET), ("code", "good-code"),
        ("redirect_uri", "http://localhost:3000/gh-callback"), ("code_verifier", "v-1"),
    ] {
        assert_eq!(sent.form(field).as_deref(), Some(value), "{field}");
    }
    assert_eq!(sent.header("Accept"), Some("application/json"));
    assert_eq!(s.count("SELECT count(*) FROM users WHERE username = 'octo4242' AND email = 'octo@example.com' AND email_verified = 1"), 1);
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0, "a verified address needs no mail");
    // The same person again, by an access token of our app.
    assert_eq!(github(&s, json!({"access_token": "ours-token"})).status, 200);
    assert_eq!(s.count("SELECT count(*) FROM users"), 1);
    github(&s, json!({"code": "stale-code"}))
        .assert(400, json!({"non_field_errors": ["Failed to exchange code for access token"]}));
    github(&s, json!({})).assert(400, json!({"non_field_errors": ["Incorrect input. access_token or code is required."]}));
}

#[test]
fn an_access_token_of_another_app_is_refused() {
    let m = github_mock();
    let s = server_with(&m, &[]);
    github(&s, json!({"access_token": "foreign-token"})).assert(400, json!({"non_field_errors": ["Incorrect value"]}));
    let check = m.seen().into_iter().find(|r| r.path().starts_with("/applications/")).unwrap();
    assert_eq!(check.header("Authorization"), Some(basic().as_str()), "asked as the app");
    assert_eq!(s.count("SELECT count(*) FROM users"), 0);
    // An unverified primary address is not taken at all.
    assert_eq!(github(&s, json!({"access_token": "unverified-token"})).status, 200);
    assert_eq!(s.count("SELECT count(*) FROM users WHERE username = 'octo77' AND email = ''"), 1);
}

#[test]
fn github_down_is_a_502_and_unconfigured_is_a_404() {
    let m = github_mock();
    let s = server_with(&m, &[("RESTAUTH_SOCIAL_GITHUB_OAUTH_URL", "http://127.0.0.1:1")]);
    github(&s, json!({"code": "good-code"}))
        .assert(502, json!({"detail": "GitHub could not be reached. Try again later."}));
    let s = server_with(&m, &[("RESTAUTH_SOCIAL_GITHUB_CLIENT_SECRET", "")]);
    assert_eq!(github(&s, json!({"code": "good-code"})).status, 404);
}
}
