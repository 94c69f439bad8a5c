//! Reaching tiny_http's sockets from outside it: by scanning our own descriptors.
//!
//! tiny_http (under rouille) exposes neither its listening socket nor its
//! connections, and sets no timeouts. Linux lets a process find its sockets in
//! `/proc/self/fd` and identify them with getsockname/getpeername; that is how
//! restauth gives a connection whose body a worker is about to read
//! read/write timeouts, and shuts down a parked connection.

use std::net::SocketAddr;
use std::time::Duration;

/// Shuts down (without closing) our socket connected to `peer` on `local_port`,
/// so the client sees the end of the response.
#[cfg(target_os = "linux")]
pub fn shutdown_socket(peer: SocketAddr, local_port: u16) {
    for fd in connection_fds(peer, local_port) {
        // SAFETY: shutdown(2) on a descriptor we own; it does not close or free it.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
}

/// Our descriptors of the TCP connection from `peer` to `local_port`
/// (tiny_http holds two: one for reading, one for writing).
#[cfg(target_os = "linux")]
fn connection_fds(peer: SocketAddr, local_port: u16) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
        })
        .filter(|&fd| {
            sock_addr(fd, true) == Some(peer)
                && sock_addr(fd, false).map(|a| a.port()) == Some(local_port)
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn shutdown_socket(_peer: SocketAddr, _local_port: u16) {}

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

/// Gives the connection from `peer` to `port` receive and send timeouts, so a
/// worker reading its body is freed after `timeout` if the client stops sending.
///
/// Only receives that start afterwards see the timeout, so this cannot free a
/// thread already blocked (tiny_http's connection threads reading the next
/// request's header); it is called before a worker reads a body.
#[cfg(target_os = "linux")]
pub fn set_timeouts_for_peer(peer: SocketAddr, port: u16, timeout: Duration) {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    };
    for fd in connection_fds(peer, port) {
        if has_receive_timeout(fd) {
            continue;
        }
        for option in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
            // SAFETY: setsockopt with a valid timeval of the size we pass; on a
            // descriptor that was closed and reused meanwhile it fails or sets
            // a harmless timeout.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    option,
                    &tv as *const libc::timeval as *const libc::c_void,
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                );
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn set_timeouts_for_peer(_peer: SocketAddr, _port: u16, _timeout: Duration) {}

#[cfg(target_os = "linux")]
fn has_receive_timeout(fd: i32) -> bool {
    // SAFETY: getsockopt writes at most `len` bytes into a zeroed timeval.
    unsafe {
        let mut tv: libc::timeval = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &mut tv as *mut libc::timeval as *mut libc::c_void,
            &mut len,
        );
        rc != 0 || tv.tv_sec != 0 || tv.tv_usec != 0
    }
}
