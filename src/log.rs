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
/// or forge a line).
pub fn line(text: std::fmt::Arguments<'_>) {
    let mut out = crate::timefmt::rfc3339(SystemClock.unix());
    out.push(' ');
    out.push_str(&one_line(&text.to_string()));
    out.push('\n');
    // Nothing useful can be done when stderr is gone.
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            for b in c.to_string().bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            out.push(c);
        }
    }
    out
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
        assert_eq!(super::one_line("mail #1: delivered"), "mail #1: delivered");
        assert_eq!(
            super::one_line("bad answer\r\n2026-01-01T00:00:00Z forged"),
            "bad answer\\x0d\\x0a2026-01-01T00:00:00Z forged"
        );
    }
}
