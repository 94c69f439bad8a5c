//! The SMTP backend: relaying through lettre's blocking `SmtpTransport`.
//!
//! `security = "starttls"` → [`SmtpTransport::starttls_relay`] (STARTTLS
//! required, so credentials never cross a plain connection), `"tls"` →
//! [`SmtpTransport::relay`] (TLS from the first byte), `"none"` →
//! [`SmtpTransport::builder_dangerous`] (no encryption: a relay on loopback,
//! tests). TLS is rustls with the bundled Mozilla roots. One connection per
//! message (no pool): mail volume is low and a fresh connection never trips
//! over a relay that closed an idle one.

use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};

use crate::config::{SmtpConfig, SmtpSecurity};

/// A failed delivery: what happened, and whether retrying is pointless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// True for 5xx replies (the relay refused for good); false for 4xx
    /// replies, connection failures and timeouts, which are retried.
    pub permanent: bool,
}

/// Builds the transport described by `cfg`; fails only for a host name TLS cannot verify.
pub fn transport(cfg: &SmtpConfig) -> Result<SmtpTransport, String> {
    let builder = match cfg.security {
        SmtpSecurity::Starttls => SmtpTransport::starttls_relay(&cfg.host),
        SmtpSecurity::Tls => SmtpTransport::relay(&cfg.host),
        SmtpSecurity::None => Ok(SmtpTransport::builder_dangerous(cfg.host.as_str())),
    }
    .map_err(|e| {
        format!(
            "cannot set up TLS for SMTP host {:?}: {}",
            cfg.host,
            describe(&e)
        )
    })?;
    let mut builder = builder.port(cfg.port).timeout(Some(cfg.timeout));
    if !cfg.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            cfg.username.clone(),
            cfg.password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// Sends one message through `transport`.
pub fn send(transport: &SmtpTransport, message: &lettre::Message) -> Result<(), SendError> {
    transport.send(message).map(|_| ()).map_err(|e| SendError {
        message: describe(&e),
        permanent: e.is_permanent(),
    })
}

/// lettre's message plus its causes ("Connection error: Connection refused (os error 111)").
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    fn message() -> lettre::Message {
        lettre::Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .subject("s")
            .body(String::from("body"))
            .unwrap()
    }

    fn plain(port: u16) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".to_string(),
            port,
            security: SmtpSecurity::None,
            timeout: Duration::from_secs(5),
            ..SmtpConfig::default()
        }
    }

    /// A relay that answers every command after EHLO with `reply`.
    fn refusing_relay(reply: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream);
            out.write_all(b"220 test ESMTP\r\n").unwrap();
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                let upper = line.to_ascii_uppercase();
                let answer = if upper.starts_with("EHLO") {
                    "250 test\r\n"
                } else if upper.starts_with("QUIT") {
                    "221 bye\r\n"
                } else {
                    reply
                };
                if out.write_all(answer.as_bytes()).is_err() {
                    break;
                }
                line.clear();
            }
        });
        port
    }

    #[test]
    fn builds_every_security_mode() {
        for security in [
            SmtpSecurity::Starttls,
            SmtpSecurity::Tls,
            SmtpSecurity::None,
        ] {
            let cfg = SmtpConfig {
                security,
                username: "user".to_string(),
                password: "pw".into(),
                ..SmtpConfig::default()
            };
            transport(&cfg).unwrap();
        }
    }

    #[test]
    fn refused_connection_is_transient() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = send(&transport(&plain(port)).unwrap(), &message()).unwrap_err();
        assert!(!err.permanent, "{err:?}");
        assert!(err.message.to_lowercase().contains("refused"), "{err:?}");
    }

    #[test]
    fn reply_4xx_is_transient_and_5xx_permanent() {
        let port = refusing_relay("451 4.3.0 try again later\r\n");
        let err = send(&transport(&plain(port)).unwrap(), &message()).unwrap_err();
        assert!(!err.permanent, "{err:?}");
        assert!(err.message.contains("451"), "{err:?}");

        let port = refusing_relay("550 5.1.1 no such user\r\n");
        let err = send(&transport(&plain(port)).unwrap(), &message()).unwrap_err();
        assert!(err.permanent, "{err:?}");
        assert!(err.message.contains("550"), "{err:?}");
    }
}
