//! Social login against loopback mocks of the Graph API and the Twitter API.

mod common;
#[path = "common/provider_mock.rs"]
mod provider_mock;

use std::time::Duration;

use common::*;
use provider_mock::{Mock, Seen};
use serde_json::json;

const FB_SECRET: &str = "fb-app-secret";
const TW_KEY: &str = "tw-consumer-key";
const TW_SECRET: &str = "tw-consumer-secret";

fn graph(seen: &Seen) -> (u16, String) {
    match seen.path() {
        "/oauth/access_token" => match seen.query("code").as_deref() {
            Some("good-code") => (
                200,
                json!({"access_token": "good-token", "token_type": "bearer"}).to_string(),
            ),
            _ => (
                400,
                json!({"error": {"message": "Invalid verification code format."}}).to_string(),
            ),
        },
        "/me" => {
            let token = seen.query("access_token").unwrap_or_default();
            let profile = match token.as_str() {
                "good-token" => {
                    json!({"id": "777", "name": "John Doe", "first_name": "John", "last_name": "Doe", "email": "John@Example.com"})
                }
                "nomail-token" => json!({"id": "555", "name": "Quiet Person"}),
                "clash-token" => {
                    json!({"id": "666", "name": "Alice Again", "email": "alice@example.com"})
                }
                "other-token" => {
                    json!({"id": "888", "name": "Otto Other", "email": "otto@example.com"})
                }
                "slow-token" => {
                    std::thread::sleep(Duration::from_secs(4));
                    json!({"id": "999", "name": "Slow Sam"})
                }
                _ => {
                    return (
                        400,
                        json!({"error": {"message": "Invalid OAuth access token."}}).to_string(),
                    )
                }
            };
            (200, profile.to_string())
        }
        _ => (404, "{}".into()),
    }
}

fn twitter_mock() -> Mock {
    Mock::start(|seen| {
        let header = seen.header("Authorization").unwrap_or("").to_string();
        let params = common::oauth1::parse_authorization_header(&header).unwrap_or_default();
        let token = params
            .iter()
            .find(|(k, _)| k == "oauth_token")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let token_secret = match token.as_str() {
            "tw-token" => "tw-token-secret",
            _ => {
                return (
                    401,
                    json!({"errors": [{"code": 89, "message": "Invalid or expired token."}]})
                        .to_string(),
                )
            }
        };
        // The URL as restauth addressed it (the mock knows its own address).
        let url = format!(
            "http://{}{}",
            seen.header("Host").unwrap_or(""),
            seen.target
        );
        if seen.path() != "/1.1/account/verify_credentials.json"
            || !common::oauth1::verify("GET", &url, &header, TW_SECRET, token_secret)
        {
            return (
                401,
                json!({"errors": [{"code": 32, "message": "Could not authenticate you."}]})
                    .to_string(),
            );
        }
        (200, json!({"id": 4242, "id_str": "4242", "screen_name": "TweetyPie", "name": "Tweety Pie", "email": "tweety@example.com"}).to_string())
    })
}

fn server(fb: &Mock, tw: &Mock) -> Server {
    server_with(fb, tw, &[])
}

fn server_with(fb: &Mock, tw: &Mock, extra: &[(&str, &str)]) -> Server {
    let (fb_url, tw_url) = (fb.url(), tw.url());
    let mut env = vec![
        ("RESTAUTH_SOCIAL_FACEBOOK_APP_ID", "fb-app-id"),
        ("RESTAUTH_SOCIAL_FACEBOOK_APP_SECRET", FB_SECRET),
        ("RESTAUTH_SOCIAL_FACEBOOK_GRAPH_URL", &fb_url),
        (
            "RESTAUTH_SOCIAL_FACEBOOK_CALLBACK_URL",
            "http://localhost:3000/fb-callback",
        ),
        ("RESTAUTH_SOCIAL_FACEBOOK_TIMEOUT", "1s"),
        ("RESTAUTH_SOCIAL_TWITTER_CONSUMER_KEY", TW_KEY),
        ("RESTAUTH_SOCIAL_TWITTER_CONSUMER_SECRET", TW_SECRET),
        ("RESTAUTH_SOCIAL_TWITTER_API_URL", &tw_url),
        ("RESTAUTH_SOCIAL_TWITTER_TIMEOUT", "2s"),
    ];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn setup() -> (Mock, Mock, Server) {
    let fb = Mock::start(graph);
    let tw = twitter_mock();
    let s = server(&fb, &tw);
    (fb, tw, s)
}

fn fb_login(s: &Server, body: serde_json::Value) -> Resp {
    s.post_json("/rest-auth/facebook/", &body, None)
}

fn user_count(s: &Server) -> i64 {
    s.db().one("SELECT count(*) FROM users", params![])
}

backend_tests! {
#[test]
fn in_jwt_mode_social_login_and_connect_answer_like_login() {
    let fb = Mock::start(graph);
    let tw = twitter_mock();
    let s = server_with(&fb, &tw, &[("RESTAUTH_AUTH_MODE", "jwt")]);
    let r = fb_login(&s, json!({"access_token": "good-token"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["user"]["username"], "john_doe");
    assert_eq!(body["refresh"], "");
    let access = body["access"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {access}");
    let me = s.request("GET", "/rest-auth/user/", &[("Authorization", &bearer)], b"");
    assert_eq!(me.json()["username"], "john_doe");
    // Connect: a login answer for a new session; the caller's session stays valid.
    let r = s.request(
        "POST",
        "/rest-auth/twitter/connect/",
        &[("Content-Type", "application/json"), ("Authorization", &bearer)],
        json!({"access_token": "tw-token", "token_secret": "tw-token-secret"}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["access"].is_string() && r.json()["user"]["username"] == "john_doe");
    let me = s.request("GET", "/rest-auth/user/", &[("Authorization", &bearer)], b"");
    assert_eq!(me.status, 200);
}

#[test]
fn social_login_asks_for_the_second_factor_too() {
    let (_fb, _tw, s) = setup();
    let r = fb_login(&s, json!({"access_token": "good-token"}));
    let auth = format!("Token {}", r.json()["key"].as_str().unwrap());
    let setup = s.request("GET", "/rest-auth/mfa/totp/activate/", &[("Authorization", &auth)], b"").json();
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let codes = restauth::security::totp::Codes::new(&Default::default(), secret.as_ref());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let body = json!({"activation_token": setup["activation_token"], "code": codes.at(now)});
    let r = s.request("POST", "/rest-auth/mfa/totp/activate/",
        &[("Content-Type", "application/json"), ("Authorization", &auth)], body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    // The reference's facebook/ logs such a user in without the second factor.
    let r = fb_login(&s, json!({"access_token": "good-token"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("key").is_none());
    let token = body["ephemeral_token"].as_str().unwrap();
    let r = s.post_json("/rest-auth/mfa/verify/", &json!({"ephemeral_token": token, "code": codes.at(now + 30)}), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["key"].is_string());
}

#[test]
fn facebook_first_login_creates_the_user_and_the_second_finds_it() {
    let (fb, _tw, s) = setup();
    let r = fb_login(&s, json!({"access_token": "good-token"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_string();
    let me = s.get("/rest-auth/user/", Some(&key)).json();
    assert_eq!(me["username"], "john_doe");
    assert_eq!(me["email"], "john@example.com");
    assert_eq!(
        (me["first_name"].as_str(), me["last_name"].as_str()),
        (Some("John"), Some("Doe"))
    );
    // Unverified, with the confirmation mail sent; social login needs no verification.
    let mails = s.wait_for_mails(1);
    assert_eq!(mails[0].header("To").as_deref(), Some("john@example.com"));
    let (password, verified): (String, bool) = s
        .db()
        .row("SELECT password, email_verified FROM users", params![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the user's row");
    assert!(password.starts_with('!'), "unusable password");
    assert!(!verified);

    let again = fb_login(&s, json!({"access_token": "good-token"}));
    assert_eq!(again.status, 200);
    assert_ne!(again.json()["key"], json!(key));
    assert_eq!(
        s.get(
            "/rest-auth/user/",
            Some(again.json()["key"].as_str().unwrap())
        )
        .json()["pk"],
        me["pk"]
    );
    assert_eq!(user_count(&s), 1);

    // What restauth sent to the Graph API.
    let me_call = fb.seen().into_iter().find(|r| r.path() == "/me").unwrap();
    assert_eq!(
        me_call.query("fields").as_deref(),
        Some("id,email,name,first_name,last_name")
    );
    assert_eq!(
        me_call.query("appsecret_proof"),
        Some(restauth::social::facebook::appsecret_proof(
            FB_SECRET,
            "good-token"
        ))
    );
}

#[test]
fn usernames_are_made_unique() {
    let (_fb, _tw, s) = setup();
    s.create_user("john_doe", "someone@example.com", PASSWORD);
    let r = fb_login(&s, json!({"access_token": "good-token"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/rest-auth/user/", Some(&key)).json()["username"],
        "john_doe2"
    );
}

#[test]
fn email_clash_is_refused_without_linking() {
    let (_fb, _tw, s) = setup();
    s.create_user("alice", "alice@example.com", PASSWORD);
    fb_login(&s, json!({"access_token": "clash-token"})).assert(
        400,
        json!({"non_field_errors": ["User is already registered with this e-mail address."]}),
    );
    assert_eq!(user_count(&s), 1);
    let links: i64 = s.db().one("SELECT count(*) FROM social_accounts", params![]);
    assert_eq!(links, 0);
}

#[test]
fn profile_without_email_creates_a_user_without_email() {
    let (_fb, _tw, s) = setup();
    let r = fb_login(&s, json!({"access_token": "nomail-token"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let me = s
        .get("/rest-auth/user/", Some(r.json()["key"].as_str().unwrap()))
        .json();
    assert_eq!(me["email"], "");
    assert_eq!(me["username"], "quiet_person");
}

#[test]
fn facebook_errors() {
    let (_fb, _tw, s) = setup();
    fb_login(&s, json!({})).assert(
        400,
        json!({"non_field_errors": ["Incorrect input. access_token or code is required."]}),
    );
    fb_login(&s, json!({"id_token": "x"})).assert(
        400,
        json!({"non_field_errors": ["Incorrect input. access_token or code is required."]}),
    );
    fb_login(&s, json!({"access_token": "stolen"}))
        .assert(400, json!({"non_field_errors": ["Incorrect value"]}));
    fb_login(&s, json!({"code": "bad-code"})).assert(
        400,
        json!({"non_field_errors": ["Failed to exchange code for access token"]}),
    );
    assert_eq!(user_count(&s), 0);
    let r = s.get("/rest-auth/facebook/", None);
    assert_eq!((r.status, r.header("Allow")), (405, Some("POST, OPTIONS")));
}

#[test]
fn facebook_code_flow() {
    let (fb, _tw, s) = setup();
    let r = fb_login(&s, json!({"code": "good-code"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let exchange = fb
        .seen()
        .into_iter()
        .find(|r| r.path() == "/oauth/access_token")
        .unwrap();
    assert_eq!(exchange.query("client_id").as_deref(), Some("fb-app-id"));
    assert_eq!(exchange.query("client_secret").as_deref(), Some(FB_SECRET));
    assert_eq!(
        exchange.query("redirect_uri").as_deref(),
        Some("http://localhost:3000/fb-callback")
    );
    assert_eq!(exchange.query("code").as_deref(), Some("good-code"));
}

#[test]
fn a_slow_provider_gets_a_json_error_not_a_hang() {
    let (_fb, _tw, s) = setup();
    // The mock answers after 4 s, the configured timeout is 1 s.
    let r = fb_login(&s, json!({"access_token": "slow-token"}));
    r.assert(
        502,
        json!({"detail": "Facebook could not be reached. Try again later."}),
    );
    assert_eq!(user_count(&s), 0);
}

#[test]
fn providers_without_credentials_are_disabled() {
    let s = Server::start();
    s.post_json("/rest-auth/facebook/", &json!({"access_token": "x"}), None)
        .assert(404, json!({"detail": "Not found."}));
    s.post_json(
        "/rest-auth/twitter/",
        &json!({"access_token": "x", "token_secret": "y"}),
        None,
    )
    .assert(404, json!({"detail": "Not found."}));
}

#[test]
fn twitter_login_with_a_signed_request() {
    let (_fb, tw, s) = setup();
    s.post_json("/rest-auth/twitter/", &json!({}), None).assert(
        400,
        json!({"access_token": ["This field is required."], "token_secret": ["This field is required."]}),
    );
    let r = s.post_json(
        "/rest-auth/twitter/",
        &json!({"access_token": "tw-token", "token_secret": "tw-token-secret"}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let me = s
        .get("/rest-auth/user/", Some(r.json()["key"].as_str().unwrap()))
        .json();
    assert_eq!(me["username"], "tweetypie");
    assert_eq!(me["email"], "tweety@example.com");
    let call = &tw.seen()[0];
    assert_eq!(call.path(), "/1.1/account/verify_credentials.json");
    assert_eq!(call.query("include_email").as_deref(), Some("true"));
    assert!(call.header("Authorization").unwrap().starts_with("OAuth "));

    // A wrong token secret makes a signature the provider refuses.
    let r = s.post_json(
        "/rest-auth/twitter/",
        &json!({"access_token": "tw-token", "token_secret": "guessed"}),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let message = r.json()["non_field_errors"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("No access to private resources at \""),
        "{message}"
    );
    assert_eq!(user_count(&s), 1);
}

#[test]
fn inactive_social_users_are_refused() {
    let (_fb, _tw, s) = setup();
    assert_eq!(
        fb_login(&s, json!({"access_token": "good-token"})).status,
        200
    );
    s.db().exec("UPDATE users SET is_active = 0", params![]);
    fb_login(&s, json!({"access_token": "good-token"})).assert(
        400,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
    );
}

#[test]
fn connect_list_and_disconnect() {
    let (_fb, _tw, s) = setup();
    s.create_user("alice", "alice@example.com", PASSWORD);
    let key = s.login("alice", PASSWORD);
    // Anonymous connect: 401.
    assert_eq!(
        s.post_json(
            "/rest-auth/facebook/connect/",
            &json!({"access_token": "good-token"}),
            None
        )
        .status,
        401
    );

    s.post_json(
        "/rest-auth/facebook/connect/",
        &json!({"access_token": "good-token"}),
        Some(&key),
    )
    .assert(200, json!({"key": key}));
    s.post_json(
        "/rest-auth/twitter/connect/",
        &json!({"access_token": "tw-token", "token_secret": "tw-token-secret"}),
        Some(&key),
    )
    .assert(200, json!({"key": key}));
    let list = s.get("/rest-auth/socialaccounts/", Some(&key)).json();
    let providers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["facebook", "twitter"]);
    assert_eq!(list[0]["uid"], "777");
    assert!(list[0]["last_login"].as_str().unwrap().ends_with('Z'));
    // Logging in with Facebook now gives alice.
    let via_fb = fb_login(&s, json!({"access_token": "good-token"}));
    assert_eq!(
        s.get(
            "/rest-auth/user/",
            Some(via_fb.json()["key"].as_str().unwrap())
        )
        .json()["username"],
        "alice"
    );

    // An account that belongs to someone else: refused, and never their token.
    assert_eq!(
        fb_login(&s, json!({"access_token": "other-token"})).status,
        200
    );
    s.post_json("/rest-auth/facebook/connect/", &json!({"access_token": "other-token"}), Some(&key)).assert(
        400,
        json!({"non_field_errors": ["The social account is already connected to a different account."]}),
    );

    s.post_json(
        "/rest-auth/socialaccounts/999999/disconnect/",
        &json!({}),
        Some(&key),
    )
    .assert(404, json!({"detail": "Not found."}));
    let otto_account: i64 = s.db().one(
        "SELECT id FROM social_accounts WHERE uid = '888'",
        params![],
    );
    s.post_json(
        &format!("/rest-auth/socialaccounts/{otto_account}/disconnect/"),
        &json!({}),
        Some(&key),
    )
    .assert(404, json!({"detail": "Not found."}));
    let fb_id = list[0]["id"].as_i64().unwrap();
    s.post_json(
        &format!("/rest-auth/socialaccounts/{fb_id}/disconnect/"),
        &json!({}),
        Some(&key),
    )
    .assert(200, json!({}));
    assert_eq!(
        s.get("/rest-auth/socialaccounts/", Some(&key))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_last_way_in_cannot_be_disconnected() {
    let (_fb, _tw, s) = setup();
    let r = fb_login(&s, json!({"access_token": "good-token"}));
    let key = r.json()["key"].as_str().unwrap().to_string();
    let list = s.get("/rest-auth/socialaccounts/", Some(&key)).json();
    let id = list[0]["id"].as_i64().unwrap();
    s.post_json(
        &format!("/rest-auth/socialaccounts/{id}/disconnect/"),
        &json!({}),
        Some(&key),
    )
    .assert(
        400,
        json!({"non_field_errors": ["Your account has no password set up."]}),
    );
}
}
