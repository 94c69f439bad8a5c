//! The two mails restauth sends, one function each: subject, text and HTML bodies.
//!
//! Built-in templates (in `src/mail/builtin/`, allauth's wording) can be
//! overridden file by file from `[mail] templates_dir`:
//!
//! | file | used for |
//! |---|---|
//! | `email_confirmation_subject.txt` | subject of the confirmation mail |
//! | `email_confirmation_message.txt` | its plain-text body |
//! | `email_confirmation_message.html` | its HTML alternative (an empty file: no HTML part) |
//! | `password_reset_subject.txt` | subject of the password-reset mail |
//! | `password_reset_message.txt` | its plain-text body |
//! | `password_reset_message.html` | its HTML alternative (an empty file: no HTML part) |
//!
//! Placeholders: `{site_name}`, `{username}`, `{link}`, replaced in one pass
//! (a value that itself contains `{link}` is not expanded again); in `.html`
//! templates the values are HTML-escaped. Any other text in braces is left as
//! is. A missing file falls back to the built-in template; an unreadable one
//! (permissions, not UTF-8) is logged and falls back too. Files are read for
//! each mail, so edits apply without a restart. A subject is made one line.

use std::borrow::Cow;
use std::path::Path;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::outbox::Message;
use crate::config::MailConfig;

const CONFIRMATION_SUBJECT: &str = include_str!("builtin/email_confirmation_subject.txt");
const CONFIRMATION_TEXT: &str = include_str!("builtin/email_confirmation_message.txt");
const CONFIRMATION_HTML: &str = include_str!("builtin/email_confirmation_message.html");
const RESET_SUBJECT: &str = include_str!("builtin/password_reset_subject.txt");
const RESET_TEXT: &str = include_str!("builtin/password_reset_message.txt");
const RESET_HTML: &str = include_str!("builtin/password_reset_message.html");

/// The email-confirmation mail: `key` goes into `email_confirm_url` at `{key}`.
pub fn confirmation_email(cfg: &MailConfig, to: &str, username: &str, key: &str) -> Message {
    let link = cfg
        .email_confirm_url
        .replace("{key}", &encode_component(key));
    compose(
        cfg,
        to,
        username,
        &link,
        [
            ("email_confirmation_subject.txt", CONFIRMATION_SUBJECT),
            ("email_confirmation_message.txt", CONFIRMATION_TEXT),
            ("email_confirmation_message.html", CONFIRMATION_HTML),
        ],
    )
}

/// The password-reset mail: `uid` and `token` go into `password_reset_url`.
/// The body also tells the username.
pub fn password_reset_email(
    cfg: &MailConfig,
    to: &str,
    username: &str,
    uid: &str,
    token: &str,
) -> Message {
    // Encoded values contain no braces, so the second replace cannot touch the first.
    let link = cfg
        .password_reset_url
        .replace("{uid}", &encode_component(uid))
        .replace("{token}", &encode_component(token));
    compose(
        cfg,
        to,
        username,
        &link,
        [
            ("password_reset_subject.txt", RESET_SUBJECT),
            ("password_reset_message.txt", RESET_TEXT),
            ("password_reset_message.html", RESET_HTML),
        ],
    )
}

/// `[subject, text, html]` as (override file name, built-in text).
fn compose(
    cfg: &MailConfig,
    to: &str,
    username: &str,
    link: &str,
    [subject, text, html]: [(&str, &'static str); 3],
) -> Message {
    let dir = cfg.templates_dir.as_deref();
    let values = [
        ("site_name", cfg.site_name.as_str()),
        ("username", username),
        ("link", link),
    ];
    let subject = render(&load(dir, subject.0, subject.1), &values, false);
    let subject = subject
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text = render(&load(dir, text.0, text.1), &values, false);
    let html = load(dir, html.0, html.1);
    let html = if html.trim().is_empty() {
        None
    } else {
        Some(render(&html, &values, true))
    };
    Message {
        to: to.to_string(),
        subject,
        text,
        html,
    }
}

/// The override `dir/name` if there is one, else `builtin`.
fn load(dir: Option<&Path>, name: &str, builtin: &'static str) -> Cow<'static, str> {
    let Some(dir) = dir else {
        return Cow::Borrowed(builtin);
    };
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Cow::Owned(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Cow::Borrowed(builtin),
        Err(e) => {
            crate::log!(
                "restauth: mail template {} is unreadable ({e}); using the built-in one",
                path.display()
            );
            Cow::Borrowed(builtin)
        }
    }
}

/// Replaces `{name}` for each known name in one left-to-right pass.
fn render(template: &str, values: &[(&str, &str)], html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let known = after.find('}').and_then(|end| {
            let name = &after[..end];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (end, *v))
        });
        match known {
            Some((end, value)) => {
                if html {
                    out.push_str(&escape_html(value));
                } else {
                    out.push_str(value);
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Everything but RFC 3986 unreserved characters and `:` (allauth's keys
/// contain colons) is percent-encoded, so a value cannot break out of the URL.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// `s` percent-encoded with [`COMPONENT`] (UTF-8 bytes, upper-case hex).
fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn cfg() -> MailConfig {
        MailConfig {
            site_name: "Example".to_string(),
            ..MailConfig::default()
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("restauth-templates-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn confirmation_built_in() {
        let m = confirmation_email(&cfg(), "alice@example.com", "alice", "k3y-_Abc:1");
        assert_eq!(m.to, "alice@example.com");
        assert_eq!(m.subject, "[Example] Please Confirm Your Email Address");
        let link = "http://localhost:8000/account-confirm-email/k3y-_Abc:1/";
        assert!(m.text.starts_with("Hello from Example!\n"), "{}", m.text);
        assert!(m.text.contains(&format!("go to {link}\n")), "{}", m.text);
        assert!(m.text.contains("user alice has given"), "{}", m.text);
        let html = m.html.unwrap();
        assert!(
            html.contains(&format!("<a href=\"{link}\">{link}</a>")),
            "{html}"
        );
        assert!(!html.contains('{'), "{html}");
        assert!(!m.text.contains('{'), "{}", m.text);
    }

    #[test]
    fn password_reset_built_in() {
        let m = password_reset_email(&cfg(), "bob@example.com", "bob", "1z", "cz1-0a1b2c");
        assert_eq!(m.subject, "[Example] Password Reset Email");
        let link = "http://localhost:8000/password-reset/confirm/1z/cz1-0a1b2c/";
        assert!(m.text.contains(&format!("\n{link}\n")), "{}", m.text);
        assert!(
            m.text.contains("In case you forgot, your username is bob."),
            "{}",
            m.text
        );
        let html = m.html.unwrap();
        assert!(html.contains(link), "{html}");
        assert!(html.contains("your username is bob."), "{html}");
    }

    #[test]
    fn values_are_escaped_in_html_and_encoded_in_links() {
        let mut c = cfg();
        c.site_name = "Tom & Jerry's".to_string();
        let m = password_reset_email(&c, "x@example.com", "<b>eve</b>", "1", "a/b?c&d");
        assert!(m.subject.contains("[Tom & Jerry's]"), "{}", m.subject);
        assert!(
            m.text.contains("your username is <b>eve</b>."),
            "{}",
            m.text
        );
        let html = m.html.unwrap();
        assert!(html.contains("&lt;b&gt;eve&lt;/b&gt;"), "{html}");
        assert!(html.contains("Tom &amp; Jerry&#x27;s"), "{html}");
        assert!(!html.contains("<b>eve"), "{html}");
        assert!(m.text.contains("/confirm/1/a%2Fb%3Fc%26d/"), "{}", m.text);
    }

    #[test]
    fn render_is_one_pass_and_leaves_unknown_braces() {
        let values = [("username", "{link}"), ("link", "L")];
        assert_eq!(
            render("{username} {link} {other} {} {unclosed", &values, false),
            "{link} L {other} {} {unclosed"
        );
        assert_eq!(render("", &values, false), "");
        assert_eq!(render("{{link}}", &values, false), "{L}");
    }

    #[test]
    fn overrides_from_templates_dir() {
        let dir = temp_dir("override");
        std::fs::write(
            dir.join("email_confirmation_subject.txt"),
            "Welcome to\n{site_name}, {username}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("email_confirmation_message.txt"),
            "Hi {username}: {link}",
        )
        .unwrap();
        // No .html override: the built-in HTML stays.
        std::fs::write(dir.join("password_reset_message.html"), "  \n").unwrap();
        let mut c = cfg();
        c.templates_dir = Some(dir.clone());
        c.email_confirm_url = "https://app.example/verify?key={key}".to_string();

        let m = confirmation_email(&c, "a@example.com", "ann", "KEY");
        assert_eq!(m.subject, "Welcome to Example, ann");
        assert_eq!(m.text, "Hi ann: https://app.example/verify?key=KEY");
        assert!(m
            .html
            .unwrap()
            .contains("https://app.example/verify?key=KEY"));

        // An empty HTML override means: no HTML part. Other files fall back.
        let m = password_reset_email(&c, "a@example.com", "ann", "1", "t");
        assert_eq!(m.html, None);
        assert_eq!(m.subject, "[Example] Password Reset Email");
        assert!(m.text.contains("your username is ann."));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unreadable_override_falls_back() {
        let dir = temp_dir("unreadable");
        // Not UTF-8: read_to_string fails with InvalidData.
        std::fs::write(dir.join("password_reset_subject.txt"), [0xff, 0xfe, 0x00]).unwrap();
        // A directory where a file is expected: unreadable as well.
        std::fs::create_dir_all(dir.join("password_reset_message.txt")).unwrap();
        let mut c = cfg();
        c.templates_dir = Some(dir.clone());
        let m = password_reset_email(&c, "a@example.com", "ann", "1", "t");
        assert_eq!(m.subject, "[Example] Password Reset Email");
        assert!(m.text.contains("your username is ann."));
        // A templates_dir that does not exist at all: built-ins.
        c.templates_dir = Some(dir.join("missing"));
        let m = confirmation_email(&c, "a@example.com", "ann", "k");
        assert_eq!(m.subject, "[Example] Please Confirm Your Email Address");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn link_components_keep_unreserved_and_colon() {
        assert_eq!(encode_component("AZaz09-._~:"), "AZaz09-._~:");
        assert_eq!(
            encode_component("a/b?c&d=e#f g+h%i@j"),
            "a%2Fb%3Fc%26d%3De%23f%20g%2Bh%25i%40j"
        );
        // UTF-8 bytes, upper-case hex.
        assert_eq!(encode_component("é€😀"), "%C3%A9%E2%82%AC%F0%9F%98%80");
        assert_eq!(encode_component("\n\0"), "%0A%00");
        assert_eq!(encode_component(""), "");
    }
}
