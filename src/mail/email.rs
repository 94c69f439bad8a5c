//! Outbox row → RFC 5322 message (lettre's builder), the same for every backend.
//!
//! The message is a function of the row alone: `Date` is the row's
//! `created_at`, `Message-ID` and the MIME boundary are derived from the id,
//! the time and a hash of the content. So delivering the same row twice
//! produces the same bytes (the spool's idempotence relies on it), and an SMTP
//! duplicate after a crash carries the same `Message-ID`, which lets mail
//! clients fold it.

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use super::outbox::DueMessage;

/// Why a message could not be built. Always permanent: retrying cannot fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// Builds the message for `row`, from `from` (a mailbox such as `Site <noreply@example.com>`).
pub fn build(from: &Mailbox, row: &DueMessage) -> Result<lettre::Message, BuildError> {
    let msg = &row.message;
    let to: Mailbox = msg
        .to
        .trim()
        .parse()
        .map_err(|e| BuildError(format!("invalid recipient address: {e}")))?;

    let digest = content_hash(row);
    let domain = from.email.domain().to_string();
    let message_id = format!(
        "<restauth.{}.{}.{}@{}>",
        row.created_at,
        row.id,
        &digest[..16],
        domain
    );
    let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(row.created_at).unwrap_or(0));
    // One line: a subject with a line break would be a header injection.
    let subject: String = msg
        .subject
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");

    let builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .date(date)
        .message_id(Some(message_id));
    let plain = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(msg.text.clone());
    let built = match &msg.html {
        None => builder.singlepart(plain),
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .boundary(format!("restauth-{}", &digest[16..48]))
                .singlepart(plain)
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
        ),
    };
    built.map_err(|e| BuildError(format!("cannot build the message: {e}")))
}

/// Hex SHA-256 over the row's content: stable across deliveries of one row.
fn content_hash(row: &DueMessage) -> String {
    let mut h = Sha256::new();
    for part in [
        row.id.to_string().as_str(),
        row.created_at.to_string().as_str(),
        row.message.to.as_str(),
        row.message.subject.as_str(),
        row.message.text.as_str(),
        row.message.html.as_deref().unwrap_or(""),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The domain of an address, for logs that must not show the whole address.
pub fn recipient_domain(to: &str) -> &str {
    match to.trim().rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => domain.trim_end_matches('>'),
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::outbox::Message;

    fn row(html: Option<&str>) -> DueMessage {
        DueMessage {
            id: 42,
            created_at: 1_795_886_100, // 2026-11-28T17:15:00Z
            attempts: 0,
            message: Message {
                to: "alice@example.com".to_string(),
                subject: "[Site] Please Confirm Your Email Address".to_string(),
                text: "Go to http://x/confirm/KEY/\n.\n.leading dot\n".to_string(),
                html: html.map(str::to_string),
            },
        }
    }

    fn from() -> Mailbox {
        "Site <noreply@site.example>".parse().unwrap()
    }

    #[test]
    fn headers_and_alternative_parts() {
        let bytes = build(
            &from(),
            &row(Some("<p><a href=\"http://x/confirm/KEY/\">go</a></p>")),
        )
        .unwrap()
        .formatted();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains("From: Site <noreply@site.example>\r\n"),
            "{text}"
        );
        assert!(text.contains("To: alice@example.com\r\n"), "{text}");
        assert!(
            text.contains("Subject: [Site] Please Confirm Your Email Address\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Date: Sat, 28 Nov 2026 17:15:00 +0000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Message-ID: <restauth.1795886100.42."),
            "{text}"
        );
        assert!(text.contains("@site.example>\r\n"), "{text}");
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        assert!(
            text.contains("Content-Type: multipart/alternative;"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/html; charset=utf-8"),
            "{text}"
        );
        assert!(text.contains("http://x/confirm/KEY/"), "{text}");
    }

    #[test]
    fn text_only_is_a_single_part() {
        let text = String::from_utf8(build(&from(), &row(None)).unwrap().formatted()).unwrap();
        assert!(!text.contains("multipart"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
    }

    #[test]
    fn same_row_same_bytes() {
        let r = row(Some("<p>x</p>"));
        assert_eq!(
            build(&from(), &r).unwrap().formatted(),
            build(&from(), &r).unwrap().formatted()
        );
        let mut other = r.clone();
        other.id = 43;
        assert_ne!(
            build(&from(), &r).unwrap().formatted(),
            build(&from(), &other).unwrap().formatted()
        );
    }

    #[test]
    fn bad_recipient_and_subject_injection() {
        let mut r = row(None);
        r.message.to = "not an address".to_string();
        assert!(build(&from(), &r)
            .unwrap_err()
            .0
            .starts_with("invalid recipient address"));
        let mut r = row(None);
        r.message.subject = "Hi\r\nBcc: evil@example.com".to_string();
        let text = String::from_utf8(build(&from(), &r).unwrap().formatted()).unwrap();
        assert!(!text.contains("\r\nBcc:"), "{text}");
    }

    #[test]
    fn domains() {
        assert_eq!(recipient_domain("alice@example.com"), "example.com");
        assert_eq!(recipient_domain("nobody"), "?");
        assert_eq!(recipient_domain("x@"), "?");
    }
}
