//! One line per request (through `crate::log`): method, path, status, duration, client.
//!
//! Only the path is logged, never the query string, a header or a body, so no
//! password, token or key can reach the log.

use std::time::Duration;

use crate::api::http::Request;

/// Writes the log line for a finished request.
pub fn request(req: &Request, status: u16, took: Duration) {
    crate::log!(
        "{} {} {} {:.1}ms {}",
        escape(req.method()),
        escape(req.path()),
        status,
        took.as_secs_f64() * 1000.0,
        req.remote_addr()
    );
}

/// Writes the log line for a request refused while its head was read (431,
/// 400): there is no method or path to show.
pub fn refused(peer: std::net::SocketAddr, status: u16) {
    crate::log!("- - {status} 0.0ms {peer}");
}

/// `text` with control characters, spaces and backslashes as `\xNN`, so that
/// a client cannot forge or split log lines (or shift their fields).
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    crate::log::escape(text, |c| c.is_control() || c == ' ' || c == '\\')
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escape("/rest-auth/login/"), "/rest-auth/login/");
        assert_eq!(super::escape("/a\r\nfake 200"), "/a\\x0d\\x0afake\\x20200");
        assert_eq!(super::escape("/\u{1b}[31m"), "/\\x1b[31m");
        assert_eq!(super::escape("/\\"), "/\\x5c");
    }
}
