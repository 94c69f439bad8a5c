//! The request and response types endpoints read and write: a complete,
//! already bounded request (the transport has read the whole body within its
//! limits), and a response held in memory. No I/O happens through them.

use std::borrow::Cow;
use std::net::SocketAddr;

/// A complete request as the transport read it.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    /// Names lower-case; the lines of a repeated name joined with `", "`.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    peer: SocketAddr,
}

impl Request {
    /// A request from its parts; `url` is the path with its query string.
    /// Header names are compared case-insensitively; a name given twice
    /// keeps its first value (the transport joins repeated lines first).
    pub fn new(
        method: &str,
        url: impl Into<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        peer: SocketAddr,
    ) -> Request {
        Request {
            method: method.to_string(),
            url: url.into(),
            headers,
            body,
            peer,
        }
    }

    /// The method, as sent (`GET`, `POST`, …).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path with its query string, as sent.
    pub fn raw_url(&self) -> &str {
        &self.url
    }

    /// The path without its query string.
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }

    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body (empty when none was sent).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The address of the connection's peer (a proxy, when there is one).
    pub fn remote_addr(&self) -> &SocketAddr {
        &self.peer
    }
}

/// A response held in memory.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status_code: u16,
    /// Header lines in order (a name may repeat).
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// 200 with `body` of `content_type`.
    pub fn from_data(content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status_code: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// 204 without a body.
    pub fn empty_204() -> Response {
        Response {
            status_code: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The same response with another status.
    pub fn with_status_code(mut self, status: u16) -> Response {
        self.status_code = status;
        self
    }

    /// The same response with one more header line.
    pub fn with_additional_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}
