//! `GET /health`, outside the prefix: whether this node can serve, for a load
//! balancer. Unauthenticated, never throttled, not in the request log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::api::error::json_response;
use crate::api::http::Response;
use crate::App;

/// The path, the same under any prefix.
pub const PATH: &str = "/health";

/// Its methods (`HEAD` answers as `GET`); anything else is 405.
pub const ALLOW: &str = "GET, HEAD";

/// The longest the database may take to answer (or `database.busy_timeout`, if shorter).
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the last check failed: the log says when the state changes, not on every poll.
static FAILING: AtomicBool = AtomicBool::new(false);

/// 200 `{"status": "ok"}` when the database answers a read within [`TIMEOUT`],
/// else 503 `{"status": "unavailable", "detail": …}`.
pub fn get(app: &App) -> Response {
    match app.pool.ping(TIMEOUT).err() {
        None => {
            if FAILING.swap(false, Ordering::Relaxed) {
                crate::log!("restauth: health: the database answers again");
            }
            json_response(200, &json!({ "status": "ok" }))
        }
        Some(why) => {
            if !FAILING.swap(true, Ordering::Relaxed) {
                crate::log!("restauth: health: the database does not answer: {why}");
            }
            let body = json!({ "status": "unavailable", "detail": "The database did not answer." });
            json_response(503, &body).with_additional_header("Retry-After", "1")
        }
    }
}
