//! Registration mail through a real SMTP listener on loopback: relay down, relay up, restart.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::time::Duration;

use common::*;
use serde_json::json;

backend_tests! {
#[test]
fn confirmation_mail_survives_a_relay_outage_and_a_restart() {
    let port = smtp::unused_port();
    let port_text = port.to_string();
    let s = Server::start_with(&[
        ("RESTAUTH_MAIL_BACKEND", "smtp"),
        ("RESTAUTH_MAIL_SMTP_HOST", "127.0.0.1"),
        ("RESTAUTH_MAIL_SMTP_PORT", &port_text),
        ("RESTAUTH_MAIL_SMTP_SECURITY", "none"),
        ("RESTAUTH_MAIL_SMTP_TIMEOUT", "5s"),
        ("RESTAUTH_MAIL_RETRY_BASE", "1s"),
        ("RESTAUTH_MAIL_POLL_INTERVAL", "100ms"),
        ("RESTAUTH_MAIL_FROM", "Example Site <noreply@example.com>"),
    ]);
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "sam", "email": "sam@example.com", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    )
    .assert(201, json!({"detail": "Verification e-mail sent."}));

    // The relay is down: the message stays queued, with the failure recorded.
    let mut failed = false;
    for _ in 0..400 {
        let (attempts, error): (i64, Option<String>) = s
            .db()
            .row("SELECT attempts, last_error FROM outbox", params![], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("the outbox row");
        if attempts >= 1 && error.is_some() {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(failed, "no failed attempt recorded; logs:\n{}", s.logs());
    assert_eq!(s.queued_mail(), 1);

    // The relay comes up: the message arrives, once.
    let relay = smtp::SmtpServer::start_on(port).expect("listen on the freed port");
    let received = relay.wait_for(1, Duration::from_secs(30));
    assert_eq!(received.len(), 1, "logs:\n{}", s.logs());
    let msg = &received[0];
    assert_eq!(msg.rcpt_to, vec!["sam@example.com".to_string()]);
    assert_eq!(msg.mail_from, "noreply@example.com");
    let text = decode_mail(&msg.data.replace('\n', "\r\n").replace("\r\r\n", "\r\n"));
    assert!(
        text.contains("Subject: [restauth] Please Confirm Your Email Address"),
        "{text}"
    );
    let prefix = "http://localhost:8000/account-confirm-email/";
    let start = text.find(prefix).expect("link") + prefix.len();
    let key: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    s.post_json(
        "/rest-auth/registration/verify-email/",
        &json!({"key": key}),
        None,
    )
    .assert(200, json!({"detail": "ok"}));

    // Once the worker has recorded the delivery, a restart does not deliver it
    // again: a second registration's mail arrives, and it is the only new one.
    // (A crash between the relay's 250 and that record can repeat one message;
    // see the README.)
    wait_for_sent(&s, 1);
    let s = s.restart();
    s.post_json(
        "/rest-auth/registration/",
        &json!({"username": "tess", "email": "tess@example.com", "password1": PASSWORD, "password2": PASSWORD}),
        None,
    )
    .assert(201, json!({"detail": "Verification e-mail sent."}));
    let received = relay.wait_for(2, Duration::from_secs(30));
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].rcpt_to, vec!["tess@example.com".to_string()]);
    wait_for_sent(&s, 2);
    assert_eq!(relay.messages().len(), 2, "nothing delivered twice");
}

/// Polls (bounded) until `n` outbox rows are marked sent.
fn wait_for_sent(s: &Server, n: i64) {
    let mut sent = 0;
    for _ in 0..400 {
        sent = s.db().one(
            "SELECT count(*) FROM outbox WHERE status = 'sent'",
            params![],
        );
        if sent == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{sent} sent, expected {n}");
}

#[test]
fn failed_mail_is_listed_and_retried_from_the_cli() {
    let port = smtp::unused_port();
    let port_text = port.to_string();
    let s = Server::start_with(&[
        ("RESTAUTH_MAIL_BACKEND", "smtp"),
        ("RESTAUTH_MAIL_SMTP_HOST", "127.0.0.1"),
        ("RESTAUTH_MAIL_SMTP_PORT", &port_text),
        ("RESTAUTH_MAIL_SMTP_SECURITY", "none"),
        ("RESTAUTH_MAIL_MAX_ATTEMPTS", "1"),
        ("RESTAUTH_MAIL_POLL_INTERVAL", "100ms"),
    ]);
    s.post_json(
        "/rest-auth/password/reset/",
        &json!({"email": "nobody@example.com"}),
        None,
    );
    s.create_user("una", "una@example.com", PASSWORD);
    s.post_json(
        "/rest-auth/password/reset/",
        &json!({"email": "una@example.com"}),
        None,
    )
    .assert(
        200,
        json!({"detail": "Password reset e-mail has been sent."}),
    );
    let mut listed = String::new();
    for _ in 0..400 {
        let out = s.cli(&["mail", "list"], "");
        listed = String::from_utf8_lossy(&out.stdout).to_string();
        if listed.contains("failed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        listed.contains("failed") && listed.contains("una@example.com"),
        "{listed}"
    );
    assert!(listed.contains("1 message(s)"), "{listed}");

    // A failed message is not tried again on its own; `mail retry` queues it
    // again. The relay is up before the retry, so the retried message can
    // only end one way: delivered, once.
    let relay = smtp::SmtpServer::start_on(port).expect("listen on the freed port");
    let out = s.cli(&["mail", "retry"], "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 failed message(s) queued again"));
    let received = relay.wait_for(1, Duration::from_secs(30));
    assert_eq!(received[0].rcpt_to, vec!["una@example.com".to_string()]);
    wait_for_sent(&s, 1);
    // The retry reset the attempt count: the delivery is attempt 1 of 1.
    let attempts: i64 = s.db().one("SELECT attempts FROM outbox", params![]);
    assert_eq!(attempts, 1);
    assert_eq!(relay.messages().len(), 1, "delivered once");
}
}
