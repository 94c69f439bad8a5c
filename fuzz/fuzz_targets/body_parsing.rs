//! Fuzzes `restauth::api::input::read_body`: the one bounded reader and the JSON,
//! urlencoded and multipart parsers behind every endpoint.
//!
//! Input layout: byte 0 chooses the size limit (high bit clear: the default 64 KiB;
//! set: `(b & 0x7f) * 8` bytes, so that the 413 path is reached with small inputs);
//! then the `Content-Type` value up to the first `\n` (none when empty); the rest
//! is the body.
//!
//! Checked: no panic; every error maps to a 4xx whose body is JSON; a body over the
//! limit is a 413, an empty one is no data, an unsupported media type is a 415; JSON
//! bodies agree with serde_json.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use restauth::api::input::read_body;

const DEFAULT_LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let limit = if selector & 0x80 == 0 {
        DEFAULT_LIMIT
    } else {
        usize::from(selector & 0x7f) * 8
    };
    let (content_type, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&rest[..i]).into_owned(),
            &rest[i + 1..],
        ),
        None => (String::new(), rest),
    };
    let mut headers = Vec::new();
    if !content_type.is_empty() {
        headers.push(("Content-Type".to_string(), content_type.clone()));
    }
    let request = rouille::Request::fake_http("POST", "/x", headers, body.to_vec());
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();

    match read_body(&request, limit) {
        Ok(parsed) => {
            assert!(
                body.len() <= limit,
                "{} bytes accepted over a limit of {limit}",
                body.len()
            );
            if body.is_empty() {
                assert!(parsed.0.is_empty(), "an empty body must be no data");
                return;
            }
            match media_type.as_str() {
                "application/json" => {
                    let expected: serde_json::Value =
                        serde_json::from_slice(body).expect("accepted JSON must parse");
                    assert_eq!(serde_json::Value::Object(parsed.0), expected);
                }
                "application/x-www-form-urlencoded" | "multipart/form-data" => {
                    assert!(
                        parsed.0.values().all(|v| v.is_string()),
                        "form values are strings"
                    );
                }
                other => panic!("media type {other:?} accepted"),
            }
        }
        Err(error) => {
            let response = error.to_response();
            let status = response.status_code;
            assert!((400..500).contains(&status), "{error:?} maps to {status}");
            let (mut reader, _) = response.data.into_reader_and_size();
            let mut json = Vec::new();
            reader.read_to_end(&mut json).expect("response body");
            serde_json::from_slice::<serde_json::Value>(&json).expect("error bodies are JSON");
            if body.len() > limit {
                assert_eq!(status, 413, "{error:?}");
            } else {
                assert!(!body.is_empty(), "an empty body is no data, not {error:?}");
                match media_type.as_str() {
                    "application/json" => assert_eq!(status, 400, "{error:?}"),
                    "application/x-www-form-urlencoded" => {
                        panic!("urlencoded never fails: {error:?}")
                    }
                    "multipart/form-data" => assert_eq!(status, 400, "{error:?}"),
                    _ => assert_eq!(status, 415, "{error:?}"),
                }
            }
        }
    }
});
