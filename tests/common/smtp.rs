//! A small SMTP server for tests, on 127.0.0.1, written against RFC 5321.
//!
//! It speaks what a relay client needs: the 220 greeting, EHLO/HELO (no
//! STARTTLS, no AUTH advertised), MAIL FROM, RCPT TO, DATA (354, a body ended
//! by a line holding a single dot, with dot-unstuffing), RSET, NOOP and QUIT.
//! Each accepted message is recorded with its envelope. [`Mode`] makes it
//! misbehave like a relay in trouble (421 at the greeting, 451 or 550 to the
//! envelope); [`unused_port`] gives a port with nothing listening, for a relay
//! that is down, on which [`SmtpServer::start_on`] can start one later.
//!
//! Include it with `#[path = "common/smtp.rs"] mod smtp;` or as
//! `common::smtp`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A working relay.
    Accept,
    /// `421` instead of the greeting, then the connection closes (relay shutting down).
    Greeting421,
    /// `451` to MAIL FROM (temporary local problem).
    Reject451,
    /// `550` to RCPT TO (no such mailbox: permanent).
    Reject550,
}

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The MAIL FROM address, without angle brackets.
    pub mail_from: String,
    /// The RCPT TO addresses, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, without the final dot line.
    pub data: String,
}

struct State {
    mode: Mutex<Mode>,
    messages: Mutex<Vec<Received>>,
    arrived: Condvar,
    connections: Mutex<usize>,
    stop: AtomicBool,
}

/// A running server; dropping it stops accepting connections.
pub struct SmtpServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

/// A loopback port with nothing listening on it (bound once, then released).
pub fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

impl SmtpServer {
    /// Starts a working relay on a free loopback port.
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(0).expect("start the test SMTP server")
    }

    /// Starts a working relay on `127.0.0.1:port`.
    pub fn start_on(port: u16) -> std::io::Result<SmtpServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Accept),
            messages: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            connections: Mutex::new(0),
            stop: AtomicBool::new(false),
        });
        let accept_state = state.clone();
        let accept = std::thread::spawn(move || {
            while !accept_state.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        *accept_state.connections.lock().unwrap() += 1;
                        let conn_state = accept_state.clone();
                        std::thread::spawn(move || {
                            let _ = session(stream, &conn_state);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(SmtpServer {
            addr,
            state,
            accept: Some(accept),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Changes how later commands are answered.
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        *self.state.connections.lock().unwrap()
    }

    /// Waits until at least `n` messages have arrived; panics after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut messages = self.state.messages.lock().unwrap();
        while messages.len() < n {
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for {n} message(s); got {}",
                messages.len()
            );
            messages = self
                .state
                .arrived
                .wait_timeout(messages, deadline - now)
                .unwrap()
                .0;
        }
        messages.clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn mode(state: &State) -> Mode {
    *state.mode.lock().unwrap()
}

/// The address inside `<…>` after `FROM:` / `TO:`; parameters after it are ignored.
fn path_arg(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let start = rest.find('<')?;
    let end = rest[start..].find('>')? + start;
    Some(rest[start + 1..end].to_string())
}

fn session(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nonblocking(false)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let reply = |out: &mut TcpStream, text: &str| out.write_all(text.as_bytes());

    if mode(state) == Mode::Greeting421 {
        reply(&mut out, "421 4.3.2 test relay not available, closing\r\n")?;
        return Ok(());
    }
    reply(&mut out, "220 localhost ESMTP restauth-test\r\n")?;

    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(()); // client went away
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let upper = text.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => reply(&mut out, "250-localhost greets you\r\n250 HELP\r\n")?,
            "HELO" => reply(&mut out, "250 localhost\r\n")?,
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                if mode(state) == Mode::Reject451 {
                    reply(&mut out, "451 4.3.0 test relay: try again later\r\n")?;
                    continue;
                }
                match path_arg(&text[10..]) {
                    Some(addr) => {
                        mail_from = Some(addr);
                        rcpt_to.clear();
                        reply(&mut out, "250 2.1.0 ok\r\n")?;
                    }
                    None => reply(&mut out, "501 5.5.4 syntax: MAIL FROM:<address>\r\n")?,
                }
            }
            "RCPT" if upper.starts_with("RCPT TO:") => {
                if mail_from.is_none() {
                    reply(&mut out, "503 5.5.1 MAIL first\r\n")?;
                } else if mode(state) == Mode::Reject550 {
                    reply(&mut out, "550 5.1.1 test relay: no such user\r\n")?;
                } else {
                    match path_arg(&text[8..]) {
                        Some(addr) => {
                            rcpt_to.push(addr);
                            reply(&mut out, "250 2.1.5 ok\r\n")?;
                        }
                        None => reply(&mut out, "501 5.5.4 syntax: RCPT TO:<address>\r\n")?,
                    }
                }
            }
            "DATA" => {
                if mail_from.is_none() || rcpt_to.is_empty() {
                    reply(&mut out, "503 5.5.1 need MAIL and RCPT first\r\n")?;
                    continue;
                }
                reply(&mut out, "354 end data with <CR><LF>.<CR><LF>\r\n")?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if input.read_until(b'\n', &mut line)? == 0 {
                        return Ok(()); // cut off mid-message: nothing recorded
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 §4.5.2).
                    let content = if line.first() == Some(&b'.') {
                        &line[1..]
                    } else {
                        &line[..]
                    };
                    data.extend_from_slice(content);
                }
                let received = Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data: String::from_utf8_lossy(&data).into_owned(),
                };
                // Recorded before the 250, as a real relay queues before acknowledging.
                state.messages.lock().unwrap().push(received);
                state.arrived.notify_all();
                reply(&mut out, "250 2.0.0 queued\r\n")?;
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                reply(&mut out, "250 2.0.0 ok\r\n")?;
            }
            "NOOP" => reply(&mut out, "250 2.0.0 ok\r\n")?,
            "QUIT" => {
                reply(&mut out, "221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => reply(&mut out, "502 5.5.2 command not implemented\r\n")?,
        }
    }
}

impl Received {
    /// The header block (before the first empty line), continuation lines unfolded.
    fn headers_of(block: &str) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in block.split("\r\n").flat_map(|l| l.split('\n')) {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        headers
    }

    /// The value of the top-level header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        Self::headers_of(&self.data)
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every leaf part as (content type, decoded body): one part for a
    /// single-part message, one per alternative for multipart/alternative.
    pub fn parts(&self) -> Vec<(String, String)> {
        leaf_parts(&self.data)
    }

    /// The decoded body of the first part whose content type starts with `mime`.
    pub fn part(&self, mime: &str) -> Option<String> {
        self.parts()
            .into_iter()
            .find(|(t, _)| t.to_ascii_lowercase().starts_with(mime))
            .map(|(_, b)| b)
    }
}

fn split_head_body(entity: &str) -> (&str, &str) {
    if let Some(i) = entity.find("\r\n\r\n") {
        (&entity[..i], &entity[i + 4..])
    } else if let Some(i) = entity.find("\n\n") {
        (&entity[..i], &entity[i + 2..])
    } else {
        (entity, "")
    }
}

fn leaf_parts(entity: &str) -> Vec<(String, String)> {
    let (head, body) = split_head_body(entity);
    let headers = Received::headers_of(head);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let content_type = get("Content-Type").unwrap_or_else(|| "text/plain".to_string());
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string())
            .expect("multipart without boundary");
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        for chunk in body.split(&delimiter).skip(1) {
            if chunk.starts_with("--") {
                break; // closing delimiter
            }
            let chunk = chunk
                .strip_prefix("\r\n")
                .or_else(|| chunk.strip_prefix('\n'))
                .unwrap_or(chunk);
            let chunk = chunk
                .strip_suffix("\r\n")
                .or_else(|| chunk.strip_suffix('\n'))
                .unwrap_or(chunk);
            parts.extend(leaf_parts(chunk));
        }
        return parts;
    }
    let encoding = get("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("valid base64 body");
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => body.to_string(),
    };
    vec![(content_type, decoded.replace("\r\n", "\n"))]
}

/// RFC 2045 §6.7: `=XX` escapes and `=` soft line breaks.
fn decode_quoted_printable(body: &str) -> String {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
