//! Refuses bodies over the limit from their declared `Content-Length`, before any byte is read.
//!
//! # The hazard
//! tiny_http 0.12 (under rouille) drains an unread body after the handler
//! returns by allocating the *declared* remaining length in one buffer
//! (`EqualReader::drop` → `vec![0; remaining]`). A request declaring
//! `Content-Length: 999999999999999` and sending three bytes makes that
//! allocation fail, and a failed allocation aborts the whole process. Reading
//! the body to EOF does not help: tiny_http drops the reader at EOF, which
//! runs the same drain. No handler can prevent it on the normal path, because
//! the drop happens after the handler returns.
//!
//! # The defence
//! * Declared length ≤ `max_body_bytes`: read normally (bounded, `api::input`).
//! * Declared length up to [`DRAIN_SAFE_BYTES`]: answer 413 normally. tiny_http's
//!   drain then allocates at most 64 MiB of untouched (lazily mapped) memory and
//!   reads what the client really sends.
//! * Above that: answer 413 through rouille's "upgrade" hand-over, which gives
//!   us the connection, body reader included, after the response is written.
//!   The reader must never be dropped, so it is leaked on purpose, and the TCP
//!   connection is shut down so the client sees the end of the answer.
//!
//! # The cost
//! Each refused request of the third kind keeps, until the process exits, one
//! parked tiny_http connection thread (blocked on a channel, a few KiB of
//! memory) and two file descriptors (of an already shut-down socket). Start-up
//! raises the soft open-file limit to the hard limit to leave room. A reverse
//! proxy with `client_max_body_size` in front (see README) stops such requests
//! before they reach restauth at all.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use rouille::{Request, Response, Upgrade};

use crate::api::ApiError;

/// Largest declared body length whose drain tiny_http may run.
pub const DRAIN_SAFE_BYTES: u64 = 64 * 1024 * 1024;

static LOCAL_PORT: AtomicU16 = AtomicU16::new(0);
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// Records the port the server listens on (used to find a connection's socket).
pub fn set_local_port(port: u16) {
    LOCAL_PORT.store(port, Ordering::Relaxed);
    raise_open_file_limit();
}

/// The port set by [`set_local_port`].
pub fn local_port() -> u16 {
    LOCAL_PORT.load(Ordering::Relaxed)
}

/// How many connections have been parked since start.
pub fn parked_connections() -> usize {
    PARKED.load(Ordering::Relaxed)
}

/// `Some(413)` when the declared body is over `limit`.
pub fn check(req: &Request, limit: usize) -> Option<Response> {
    let declared: u64 = req.header("Content-Length")?.trim().parse().ok()?;
    if declared <= limit as u64 {
        return None;
    }
    let mut response = ApiError::too_large(limit).to_response();
    if declared > DRAIN_SAFE_BYTES {
        response = response.with_additional_header("Upgrade", "restauth-refused");
        response.upgrade = Some(Box::new(Park {
            peer: *req.remote_addr(),
            body: too_large_body(limit),
        }));
    }
    Some(response)
}

/// Takes the connection after the 413 is written and parks it for good.
///
/// In this hand-over tiny_http writes the status line and headers but no body,
/// so the JSON body is written here, before the socket is shut down.
struct Park {
    peer: SocketAddr,
    body: Vec<u8>,
}

fn too_large_body(limit: usize) -> Vec<u8> {
    let ApiError::Detail(_, detail) = ApiError::too_large(limit) else {
        return Vec::new();
    };
    serde_json::json!({ "detail": detail })
        .to_string()
        .into_bytes()
}

impl Upgrade for Park {
    fn build(&mut self, mut socket: Box<dyn rouille::ReadWrite + Send>) {
        // The client may already be gone; nothing more to do then.
        let _ = socket.write_all(&self.body).and_then(|()| socket.flush());
        super::sockets::shutdown_socket(self.peer, LOCAL_PORT.load(Ordering::Relaxed));
        PARKED.fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "restauth: refused a body declared over {DRAIN_SAFE_BYTES} bytes from {}; connection parked ({} so far)",
            self.peer,
            parked_connections()
        );
        // Dropping this would run tiny_http's drain of the declared length.
        std::mem::forget(socket);
    }
}

/// Raises the soft open-file limit to the hard one (parked connections keep descriptors).
#[cfg(unix)]
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() {}
