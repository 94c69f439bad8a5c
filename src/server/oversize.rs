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
        shutdown_socket(self.peer, LOCAL_PORT.load(Ordering::Relaxed));
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

/// Shuts down (without closing) our socket connected to `peer` on `local_port`,
/// so the client sees the end of the response.
#[cfg(target_os = "linux")]
fn shutdown_socket(peer: SocketAddr, local_port: u16) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if sock_addr(fd, true) == Some(peer)
            && sock_addr(fd, false).map(|a| a.port()) == Some(local_port)
        {
            // SAFETY: shutdown(2) on a descriptor we own; it does not close or free it.
            unsafe {
                libc::shutdown(fd, libc::SHUT_RDWR);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn shutdown_socket(_peer: SocketAddr, _local_port: u16) {}

/// The peer (`peer = true`) or local address of socket `fd`, if it is an IP socket.
#[cfg(target_os = "linux")]
fn sock_addr(fd: i32, peer: bool) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    // SAFETY: sockaddr_storage is plain data; the kernel writes at most `len` bytes into it.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let ptr = &mut storage as *mut libc::sockaddr_storage as *mut libc::sockaddr;
        let rc = if peer {
            libc::getpeername(fd, ptr, &mut len)
        } else {
            libc::getsockname(fd, ptr, &mut len)
        };
        if rc != 0 {
            return None;
        }
        match storage.ss_family as i32 {
            libc::AF_INET => {
                let a = *(ptr as *const libc::sockaddr_in);
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let a = *(ptr as *const libc::sockaddr_in6);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
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
