//! Every line restauth writes on stderr, in one format: `<UTC time> <text>`,
//! e.g. `2026-12-02T06:40:00Z restauth: listening on http://127.0.0.1:8000`
//! or, for a request, `2026-12-02T06:40:01Z GET /rest-auth/user/ 200 0.4ms
//! 127.0.0.1:50312`. Each line is formatted first and written with one
//! `write(2)`, so lines of concurrent threads never interleave (`eprintln!`
//! issues a system call per formatted piece: 21 per request line, measured).
//! Nothing here knows what a line says: callers never pass secrets.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::clock::{Clock, SystemClock};

/// Writes one line: the time, a space, `text` (its control characters as
/// `\xNN`, so that no text, an error message from a provider say, can split
/// or forge a line). Formatted in place: one buffer, escaped only if needed.
pub fn line(text: std::fmt::Arguments<'_>) {
    let mut out = crate::timefmt::rfc3339(SystemClock.unix());
    out.push(' ');
    let start = out.len();
    let _ = out.write_fmt(text);
    if out[start..].contains(char::is_control) {
        let escaped = escape(&out[start..], char::is_control).into_owned();
        out.truncate(start);
        out.push_str(&escaped);
    }
    out.push('\n');
    // Nothing useful can be done when stderr is gone.
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// `text` with every character `pick` selects as `\xNN` (its UTF-8 bytes);
/// borrowed when there is none.
pub fn escape(text: &str, pick: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(&pick) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if pick(c) {
            let mut utf8 = [0; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`line`] with `format!` arguments: `log!("restauth: stopped")`.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_stays_one_line() {
        let one_line = |t| super::escape(t, char::is_control);
        assert_eq!(one_line("mail #1: delivered"), "mail #1: delivered");
        assert_eq!(
            one_line("bad answer\r\n2026-01-01T00:00:00Z forged"),
            "bad answer\\x0d\\x0a2026-01-01T00:00:00Z forged"
        );
    }
}
