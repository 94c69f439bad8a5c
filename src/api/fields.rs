//! DRF `CharField`/`EmailField` semantics for reading one field of a [`Body`].
//!
//! Each reader records its errors in a [`FieldErrors`] and returns the clean
//! value (trimmed, as DRF's `trim_whitespace`) when there is one. Callers read
//! fields in declaration order, then call [`FieldErrors::into_result`].

use serde_json::Value;

use super::error::FieldErrors;
use super::input::Body;

/// How one string field is validated.
#[derive(Debug, Clone, Copy)]
pub struct CharSpec {
    /// Missing → `This field is required.`
    pub required: bool,
    /// `""` (after trimming) allowed.
    pub allow_blank: bool,
    /// At most this many characters (Unicode scalar values, as Python's `len`).
    pub max_length: usize,
}

impl CharSpec {
    /// Required, not blank, at most `max_length` characters.
    pub const fn required(max_length: usize) -> CharSpec {
        CharSpec {
            required: true,
            allow_blank: false,
            max_length,
        }
    }

    /// Optional, blank allowed, at most `max_length` characters.
    pub const fn optional(max_length: usize) -> CharSpec {
        CharSpec {
            required: false,
            allow_blank: true,
            max_length,
        }
    }

    /// The same spec, but never required (PATCH).
    pub const fn partial(self, partial: bool) -> CharSpec {
        CharSpec {
            required: self.required && !partial,
            ..self
        }
    }
}

/// Reads `name` as a DRF `CharField`: `None` when absent or invalid.
pub fn char_field(
    body: &Body,
    errors: &mut FieldErrors,
    name: &str,
    spec: CharSpec,
) -> Option<String> {
    let raw = match body.get(name) {
        None => {
            if spec.required {
                errors.add(name, "This field is required.");
            }
            return None;
        }
        Some(Value::Null) => {
            errors.add(name, "This field may not be null.");
            return None;
        }
        Some(Value::String(s)) => s.clone(),
        // DRF accepts numbers where a string is expected, as str(number).
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            errors.add(name, "Not a valid string.");
            return None;
        }
    };
    let value = raw.trim().to_string();
    if value.is_empty() {
        if !spec.allow_blank {
            errors.add(name, "This field may not be blank.");
            return None;
        }
        return Some(value);
    }
    let mut ok = true;
    if value.chars().count() > spec.max_length {
        errors.add(
            name,
            format!(
                "Ensure this field has no more than {} characters.",
                spec.max_length
            ),
        );
        ok = false;
    }
    if value.contains('\0') {
        errors.add(name, "Null characters are not allowed.");
        ok = false;
    }
    ok.then_some(value)
}

/// Reads `name` as a DRF `EmailField` (a `CharField` plus Django's email check).
pub fn email_field(
    body: &Body,
    errors: &mut FieldErrors,
    name: &str,
    spec: CharSpec,
) -> Option<String> {
    let value = char_field(body, errors, name, spec)?;
    if !value.is_empty() && !crate::accounts::email::is_valid_email(&value) {
        errors.add(name, "Enter a valid email address.");
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value, spec: CharSpec) -> (Option<String>, String) {
        let Value::Object(map) = json!({ "f": v }) else {
            unreachable!()
        };
        let mut e = FieldErrors::new();
        let out = char_field(&Body(map), &mut e, "f", spec);
        (out, format!("{e:?}"))
    }

    #[test]
    fn drf_messages() {
        let spec = CharSpec::required(5);
        assert!(read(json!(null), spec).1.contains("may not be null"));
        assert!(read(json!([1]), spec).1.contains("Not a valid string."));
        assert!(read(json!({}), spec).1.contains("Not a valid string."));
        assert!(read(json!(true), spec).1.contains("Not a valid string."));
        assert!(read(json!("  "), spec).1.contains("may not be blank"));
        assert!(read(json!("abcdef"), spec)
            .1
            .contains("Ensure this field has no more than 5 characters."));
        assert!(read(json!("a\u{0}b"), spec)
            .1
            .contains("Null characters are not allowed."));
        assert_eq!(read(json!(12), spec).0.as_deref(), Some("12"));
        assert_eq!(read(json!(" ab "), spec).0.as_deref(), Some("ab"));
        assert_eq!(read(json!("ééééé"), spec).0.as_deref(), Some("ééééé"));
        assert_eq!(
            read(json!(""), CharSpec::optional(5)).0.as_deref(),
            Some("")
        );
    }

    #[test]
    fn missing_fields() {
        let mut e = FieldErrors::new();
        assert_eq!(
            char_field(&Body::default(), &mut e, "f", CharSpec::optional(5)),
            None
        );
        assert!(e.is_empty());
        char_field(&Body::default(), &mut e, "f", CharSpec::required(5));
        assert!(format!("{e:?}").contains("This field is required."));
    }
}
