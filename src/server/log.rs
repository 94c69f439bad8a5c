//! One line per request on stderr: time, method, path, status, duration, client.
//!
//! Only the path is logged, never the query string, a header or a body, so no
//! password, token or key can reach the log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rouille::Request;

/// Writes the log line for a finished request.
pub fn request(req: &Request, status: u16, took: Duration) {
    let path = req.raw_url().split('?').next().unwrap_or("");
    eprintln!(
        "{} {} {} {} {:.1}ms {}",
        rfc3339_now(),
        req.method(),
        path,
        status,
        took.as_secs_f64() * 1000.0,
        req.remote_addr()
    );
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    crate::timefmt::rfc3339(secs)
}
