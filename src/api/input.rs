//! Reading request bodies: one bounded reader, then JSON, urlencoded or multipart into one map.
//!
//! The transport (`server::transport`) has already refused a declared
//! `Content-Length` over the limit before reading a byte, cut a chunked body
//! at the limit, and read the body within its deadline; the limit is checked
//! here again so that no endpoint depends on how the body arrived.

use std::future::Future;

use super::http::Request;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A parsed request body: field name → value, in the order the client sent them.
///
/// Form fields are strings; JSON keeps its types so that the field readers can
/// give DRF's messages for lists, objects and nulls.
#[derive(Debug, Default, Clone)]
pub struct Body(pub Map<String, Value>);

impl Body {
    /// The value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

/// Reads and parses the body of `req`, allowing at most `limit` bytes.
pub fn read_body(req: &Request, limit: usize) -> Result<Body, ApiError> {
    let raw = read_bounded(req, limit)?;
    if raw.is_empty() {
        // DRF: an empty body is no data, whatever the content type says.
        return Ok(Body::default());
    }
    let content_type = req.header("Content-Type").unwrap_or("");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => parse_json(raw),
        "application/x-www-form-urlencoded" => Ok(parse_urlencoded(raw)),
        "multipart/form-data" => parse_multipart(raw, content_type),
        _ => Err(ApiError::UnsupportedMediaType(content_type.to_string())),
    }
}

fn read_bounded(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let body = req.body();
    if body.len() > limit {
        return Err(ApiError::TooLarge(limit));
    }
    Ok(body)
}

fn parse_json(raw: &[u8]) -> Result<Body, ApiError> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::Parse(format!("JSON parse error - {e}")))?;
    match value {
        Value::Object(map) => Ok(Body(map)),
        Value::Null => Err(ApiError::non_field("No data provided")),
        other => Err(ApiError::non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            python_type_name(&other)
        ))),
    }
}

/// The name Python (and so DRF's message) gives a JSON value's type.
fn python_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `application/x-www-form-urlencoded`; invalid UTF-8 becomes U+FFFD, a repeated name keeps its last value (as Django's QueryDict).
fn parse_urlencoded(raw: &[u8]) -> Body {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(raw) {
        map.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    Body(map)
}

fn parse_multipart(raw: &[u8], content_type: &str) -> Result<Body, ApiError> {
    let bad = |why: &str| ApiError::Parse(format!("Multipart form parse error - {why}"));
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("Invalid boundary in multipart: None"))?;
    let mut multipart = multer::Multipart::with_reader(raw, boundary);
    let parse = async {
        let mut map = Map::new();
        while let Some(field) = multipart.next_field().await? {
            let name = field.name().unwrap_or_default().to_string();
            let is_file = field.file_name().is_some();
            let value = field.bytes().await?;
            if !is_file {
                map.insert(
                    name,
                    Value::String(String::from_utf8_lossy(&value).into_owned()),
                );
            }
        }
        Ok::<_, multer::Error>(Body(map))
    };
    // The whole body is in memory: the parser never waits, so one poll ends it.
    let mut parse = std::pin::pin!(parse);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match parse.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(parsed) => parsed.map_err(|e| bad(&e.to_string())),
        std::task::Poll::Pending => Err(bad("incomplete body")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes() {
        assert!(parse_json(br#"{"a": 1}"#).is_ok());
        let msg = |raw: &[u8]| match parse_json(raw) {
            Err(ApiError::Validation(e)) => format!("{e:?}"),
            other => format!("{other:?}"),
        };
        assert!(msg(b"[1]").contains("Expected a dictionary, but got list."));
        assert!(msg(b"\"x\"").contains("but got str."));
        assert!(msg(b"1.5").contains("but got float."));
        assert!(msg(b"null").contains("No data provided"));
        assert!(msg(b"{").contains("JSON parse error - "));
        assert!(msg(b"{\"a\": NaN}").contains("JSON parse error - "));
    }

    #[test]
    fn urlencoded_is_lenient() {
        let b = parse_urlencoded(b"username=al%20ice&password=a+b&x=%FF&username=bob");
        assert_eq!(b.get("username"), Some(&Value::String("bob".into())));
        assert_eq!(b.get("password"), Some(&Value::String("a b".into())));
        assert_eq!(b.get("x"), Some(&Value::String("\u{FFFD}".into())));
    }

    #[test]
    fn multipart_fields() {
        let raw = b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--XyZ--\r\n";
        let b = parse_multipart(raw, "multipart/form-data; boundary=XyZ").unwrap();
        assert_eq!(b.get("username"), Some(&Value::String("alice".into())));
        assert!(parse_multipart(raw, "multipart/form-data").is_err());
    }
}
