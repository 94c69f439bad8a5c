//! Django 5.2's four default password validators, with Django's exact English messages.
//!
//! Ported from `django/contrib/auth/password_validation.py` (Django 5.2.19) and run in the
//! order of the `AUTH_PASSWORD_VALIDATORS` that `django-admin startproject` writes
//! (`django/conf/project_template/project_name/settings.py-tpl`):
//!
//! 1. `UserAttributeSimilarityValidator` (username, first name, last name, email; 0.7),
//! 2. `MinimumLengthValidator` (8 characters),
//! 3. `CommonPasswordValidator` (Django's own list, `data/common-passwords.txt.gz`),
//! 4. `NumericPasswordValidator`.
//!
//! Django runs every validator and reports every message, so [`validate_password`] does too.
//!
//! Python works on Unicode code points, so everything here works on `char`s, never bytes.
//! Where Rust's standard library and Python disagree about a character class, this module
//! carries a small table generated with CPython 3.13 (Unicode 15.1, the newest Python that
//! Django 5.2 supports); see `is_py_digit` and `is_py_word`. Characters that are newer
//! than Unicode 15.1 may be classified by Rust's newer tables instead: Django itself gives
//! different answers for them depending on the Python version it runs on.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::OnceLock;

/// Django's default `MinimumLengthValidator(min_length=8)`.
pub const DEFAULT_MIN_LENGTH: usize = 8;

/// Django's default `UserAttributeSimilarityValidator(max_similarity=0.7)`.
const MAX_SIMILARITY: f64 = 0.7;

/// Django's list of 19,640 common passwords (its docstring says 20,000; the shipped file,
/// deduplicated, holds 19,640), copied byte for byte from the Django 5.2.19 wheel
/// (`django/contrib/auth/common-passwords.txt.gz`): gzip, UTF-8, one lowercase password a line.
static COMMON_PASSWORDS_GZ: &[u8] = include_bytes!("../../data/common-passwords.txt.gz");

/// The user fields the similarity check compares against (empty strings are skipped).
#[derive(Debug, Clone, Copy, Default)]
pub struct UserAttributes<'a> {
    /// `User.username` (verbose name "username").
    pub username: &'a str,
    /// `User.first_name` (verbose name "first name").
    pub first_name: &'a str,
    /// `User.last_name` (verbose name "last name").
    pub last_name: &'a str,
    /// `User.email` (verbose name "email address").
    pub email: &'a str,
}

/// Every message Django's default validators give for `password`, in Django's order; empty = valid.
/// `user` = None skips the similarity check (as Django does without a user).
pub fn validate_password(password: &str, user: Option<&UserAttributes<'_>>) -> Vec<String> {
    validate_password_with_min_length(password, user, DEFAULT_MIN_LENGTH)
}

/// [`validate_password`] with `MinimumLengthValidator(min_length=min_length)` instead of 8.
pub fn validate_password_with_min_length(
    password: &str,
    user: Option<&UserAttributes<'_>>,
    min_length: usize,
) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(user) = user {
        errors.extend(similarity_error(password, user, MAX_SIMILARITY));
    }
    errors.extend(minimum_length_error(password, min_length));
    errors.extend(common_password_error(password));
    errors.extend(numeric_error(password));
    errors
}

/// `MinimumLengthValidator.validate`: length in code points, `ngettext` singular for 1.
fn minimum_length_error(password: &str, min_length: usize) -> Option<String> {
    if password.chars().count() >= min_length {
        return None;
    }
    let noun = if min_length == 1 {
        "character"
    } else {
        "characters"
    };
    Some(format!(
        "This password is too short. It must contain at least {min_length} {noun}."
    ))
}

/// `UserAttributeSimilarityValidator.validate`: the first attribute (in Django's order) that
/// is too similar to the password, as Django raises on the first hit.
fn similarity_error(
    password: &str,
    user: &UserAttributes<'_>,
    max_similarity: f64,
) -> Option<String> {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let attributes = [
        (user.username, "username"),
        (user.first_name, "first name"),
        (user.last_name, "last name"),
        (user.email, "email address"),
    ];
    for (value, verbose_name) in attributes {
        if value.is_empty() {
            continue;
        }
        let value_lower = value.to_lowercase();
        // value_parts = re.split(r"\W+", value_lower) + [value_lower]
        let mut parts = split_non_word(&value_lower);
        parts.push(&value_lower);
        for part in parts {
            let part: Vec<char> = part.chars().collect();
            if exceeds_maximum_length_ratio(password.len(), max_similarity, part.len()) {
                continue;
            }
            if quick_ratio(&password, &part) >= max_similarity {
                return Some(format!(
                    "The password is too similar to the {verbose_name}."
                ));
            }
        }
    }
    None
}

/// Django's `exceeds_maximum_length_ratio(password, max_similarity, value)`, on lengths in
/// code points: true when `value` is so much shorter than the password that the similarity
/// cannot reach `max_similarity`, so the comparison is skipped.
fn exceeds_maximum_length_ratio(pwd_len: usize, max_similarity: f64, value_len: usize) -> bool {
    let length_bound_similarity = max_similarity / 2.0 * pwd_len as f64;
    pwd_len >= 10 * value_len && (value_len as f64) < length_bound_similarity
}

/// `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: an upper bound on the ratio, counting
/// the multiset intersection of `a` and `b`: `2 * matches / (len(a) + len(b))`, and 1.0 when
/// both are empty.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let mut avail: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *avail.entry(c).or_insert(0) += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = avail.get_mut(c) {
            if *n > 0 {
                *n -= 1;
                matches += 1;
            }
        }
    }
    let length = a.len() + b.len();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

/// Python's `re.split(r"\W+", s)` on a `str`: splits at every run of non-word characters,
/// keeping the empty strings a leading or trailing run leaves.
fn split_non_word(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (i, c) in s.char_indices() {
        let word = is_py_word(c);
        if !word && !in_separator {
            parts.push(&s[start..i]);
            in_separator = true;
        } else if word && in_separator {
            start = i;
            in_separator = false;
        }
    }
    parts.push(if in_separator { "" } else { &s[start..] });
    parts
}

/// `CommonPasswordValidator.validate`: `password.lower().strip() in passwords`.
fn common_password_error(password: &str) -> Option<String> {
    let candidate = password.to_lowercase();
    if common_passwords().contains(py_strip(&candidate)) {
        Some("This password is too common.".to_owned())
    } else {
        None
    }
}

/// `NumericPasswordValidator.validate`: Python's `password.isdigit()`.
fn numeric_error(password: &str) -> Option<String> {
    if !password.is_empty() && password.chars().all(is_py_digit) {
        Some("This password is entirely numeric.".to_owned())
    } else {
        None
    }
}

/// The embedded list, decompressed once. The data is a build-time constant proven to load by
/// the tests; were it ever unreadable the list would be empty rather than the server down.
fn common_passwords() -> &'static HashSet<String> {
    static LIST: OnceLock<HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| parse_password_list(COMMON_PASSWORDS_GZ).unwrap_or_default())
}

/// Django's loader: `{x.strip() for x in gzip.open(path, "rt", encoding="utf-8")}`.
fn parse_password_list(gz: &[u8]) -> std::io::Result<HashSet<String>> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(gz).read_to_string(&mut text)?;
    Ok(text.lines().map(|line| py_strip(line).to_owned()).collect())
}

/// Python's `str.strip()` with no argument.
fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.isspace()` for one character: Rust's `White_Space` plus the four
/// information separators U+001C..=U+001F, which Python also counts as whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.isdigit()` for one character (Numeric_Type Decimal or Digit): every Unicode
/// decimal digit (Nd) plus digits such as superscripts `²` and circled `①`, but not `½` or
/// Roman numerals, which Rust's broader `char::is_numeric` accepts.
fn is_py_digit(c: char) -> bool {
    in_ranges(PY_DIGIT, c)
}

/// Whether `c` matches `\w` in a Python 3 `str` pattern: `c.isalnum() or c == "_"`.
/// Rust's `char::is_alphanumeric` also accepts the combining marks (Mn, Mc) and circled
/// letters (So) that have the Other_Alphabetic property; Python does not, hence the table.
fn is_py_word(c: char) -> bool {
    c == '_' || (c.is_alphanumeric() && !in_ranges(ALNUM_NOT_PY_WORD, c))
}

/// Binary search in sorted, disjoint, inclusive code point ranges.
fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Every character with Python's `str.isdigit()` true, from CPython 3.13 (Unicode 15.1):
/// `[c for c in range(0x110000) if chr(c).isdigit()]` as inclusive ranges.
#[rustfmt::skip]
const PY_DIGIT: &[(u32, u32)] = &[
    (0x0030, 0x0039), (0x00B2, 0x00B3), (0x00B9, 0x00B9), (0x0660, 0x0669),
    (0x06F0, 0x06F9), (0x07C0, 0x07C9), (0x0966, 0x096F), (0x09E6, 0x09EF),
    (0x0A66, 0x0A6F), (0x0AE6, 0x0AEF), (0x0B66, 0x0B6F), (0x0BE6, 0x0BEF),
    (0x0C66, 0x0C6F), (0x0CE6, 0x0CEF), (0x0D66, 0x0D6F), (0x0DE6, 0x0DEF),
    (0x0E50, 0x0E59), (0x0ED0, 0x0ED9), (0x0F20, 0x0F29), (0x1040, 0x1049),
    (0x1090, 0x1099), (0x1369, 0x1371), (0x17E0, 0x17E9), (0x1810, 0x1819),
    (0x1946, 0x194F), (0x19D0, 0x19DA), (0x1A80, 0x1A89), (0x1A90, 0x1A99),
    (0x1B50, 0x1B59), (0x1BB0, 0x1BB9), (0x1C40, 0x1C49), (0x1C50, 0x1C59),
    (0x2070, 0x2070), (0x2074, 0x2079), (0x2080, 0x2089), (0x2460, 0x2468),
    (0x2474, 0x247C), (0x2488, 0x2490), (0x24EA, 0x24EA), (0x24F5, 0x24FD),
    (0x24FF, 0x24FF), (0x2776, 0x277E), (0x2780, 0x2788), (0x278A, 0x2792),
    (0xA620, 0xA629), (0xA8D0, 0xA8D9), (0xA900, 0xA909), (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9), (0xAA50, 0xAA59), (0xABF0, 0xABF9), (0xFF10, 0xFF19),
    (0x104A0, 0x104A9), (0x10A40, 0x10A43), (0x10D30, 0x10D39), (0x10E60, 0x10E68),
    (0x11052, 0x1105A), (0x11066, 0x1106F), (0x110F0, 0x110F9), (0x11136, 0x1113F),
    (0x111D0, 0x111D9), (0x112F0, 0x112F9), (0x11450, 0x11459), (0x114D0, 0x114D9),
    (0x11650, 0x11659), (0x116C0, 0x116C9), (0x11730, 0x11739), (0x118E0, 0x118E9),
    (0x11950, 0x11959), (0x11C50, 0x11C59), (0x11D50, 0x11D59), (0x11DA0, 0x11DA9),
    (0x11F50, 0x11F59), (0x16A60, 0x16A69), (0x16AC0, 0x16AC9), (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF), (0x1E140, 0x1E149), (0x1E2F0, 0x1E2F9), (0x1E4F0, 0x1E4F9),
    (0x1E950, 0x1E959), (0x1F100, 0x1F10A), (0x1FBF0, 0x1FBF9),];

/// Characters that Rust's `char::is_alphanumeric` accepts but CPython 3.13's `\w` does not
/// (Other_Alphabetic marks and circled letters), as inclusive ranges; a range may also span
/// characters that neither accepts.
#[rustfmt::skip]
const ALNUM_NOT_PY_WORD: &[(u32, u32)] = &[
    (0x0345, 0x036F), (0x05B0, 0x05C7), (0x0610, 0x061A), (0x064B, 0x065F),
    (0x0670, 0x0670), (0x06D6, 0x06E4), (0x06E7, 0x06ED), (0x0711, 0x0711),
    (0x0730, 0x073F), (0x07A6, 0x07B0), (0x0816, 0x0817), (0x081B, 0x0823),
    (0x0825, 0x0827), (0x0829, 0x082C), (0x08D4, 0x0903), (0x093A, 0x093B),
    (0x093E, 0x094F), (0x0955, 0x0957), (0x0962, 0x0963), (0x0981, 0x0983),
    (0x09BE, 0x09CC), (0x09D7, 0x09D7), (0x09E2, 0x09E3), (0x0A01, 0x0A03),
    (0x0A3E, 0x0A51), (0x0A70, 0x0A71), (0x0A75, 0x0A83), (0x0ABE, 0x0ACC),
    (0x0AE2, 0x0AE3), (0x0AFA, 0x0B03), (0x0B3E, 0x0B57), (0x0B62, 0x0B63),
    (0x0B82, 0x0B82), (0x0BBE, 0x0BCC), (0x0BD7, 0x0BD7), (0x0C00, 0x0C04),
    (0x0C3E, 0x0C56), (0x0C62, 0x0C63), (0x0C81, 0x0C83), (0x0CBE, 0x0CD6),
    (0x0CE2, 0x0CE3), (0x0CF3, 0x0D03), (0x0D3E, 0x0D4C), (0x0D57, 0x0D57),
    (0x0D62, 0x0D63), (0x0D81, 0x0D83), (0x0DCF, 0x0DDF), (0x0DF2, 0x0DF3),
    (0x0E31, 0x0E31), (0x0E34, 0x0E3A), (0x0E4D, 0x0E4D), (0x0EB1, 0x0EB1),
    (0x0EB4, 0x0EBC), (0x0ECD, 0x0ECD), (0x0F71, 0x0F83), (0x0F8D, 0x0FBC),
    (0x102B, 0x103E), (0x1056, 0x1059), (0x105E, 0x1060), (0x1062, 0x1064),
    (0x1067, 0x106D), (0x1071, 0x1074), (0x1082, 0x108D), (0x108F, 0x108F),
    (0x109A, 0x109D), (0x1712, 0x1713), (0x1732, 0x1733), (0x1752, 0x1753),
    (0x1772, 0x1773), (0x17B6, 0x17C8), (0x1885, 0x1886), (0x18A9, 0x18A9),
    (0x1920, 0x1938), (0x1A17, 0x1A1B), (0x1A55, 0x1A74), (0x1ABF, 0x1B04),
    (0x1B35, 0x1B43), (0x1B80, 0x1B82), (0x1BA1, 0x1BAD), (0x1BE7, 0x1BF1),
    (0x1C24, 0x1C36), (0x1DD3, 0x1DF4), (0x24B6, 0x24E9), (0x2DE0, 0x2DFF),
    (0xA674, 0xA67B), (0xA69E, 0xA69F), (0xA802, 0xA802), (0xA80B, 0xA80B),
    (0xA823, 0xA827), (0xA880, 0xA881), (0xA8B4, 0xA8C5), (0xA8FF, 0xA8FF),
    (0xA926, 0xA92A), (0xA947, 0xA952), (0xA980, 0xA983), (0xA9B4, 0xA9BF),
    (0xA9E5, 0xA9E5), (0xAA29, 0xAA36), (0xAA43, 0xAA43), (0xAA4C, 0xAA4D),
    (0xAA7B, 0xAA7D), (0xAAB0, 0xAAB0), (0xAAB2, 0xAAB4), (0xAAB7, 0xAAB8),
    (0xAABE, 0xAABE), (0xAAEB, 0xAAEF), (0xAAF5, 0xAAF5), (0xABE3, 0xABEA),
    (0xFB1E, 0xFB1E), (0x10376, 0x1037A), (0x10A01, 0x10A0F), (0x10D24, 0x10D27),
    (0x10EAB, 0x10EAC), (0x11000, 0x11002), (0x11038, 0x11045), (0x11073, 0x11074),
    (0x11080, 0x11082), (0x110B0, 0x110C2), (0x11100, 0x11102), (0x11127, 0x11132),
    (0x11145, 0x11146), (0x11180, 0x11182), (0x111B3, 0x111BF), (0x111CE, 0x111CF),
    (0x1122C, 0x1123E), (0x11241, 0x11241), (0x112DF, 0x112E8), (0x11300, 0x11303),
    (0x1133E, 0x1134C), (0x11357, 0x11357), (0x11362, 0x11363), (0x11435, 0x11445),
    (0x114B0, 0x114C1), (0x115AF, 0x115BE), (0x115DC, 0x115DD), (0x11630, 0x11640),
    (0x116AB, 0x116B5), (0x1171D, 0x1172A), (0x1182C, 0x11838), (0x11930, 0x1193C),
    (0x11940, 0x11940), (0x11942, 0x11942), (0x119D1, 0x119DF), (0x119E4, 0x119E4),
    (0x11A01, 0x11A0A), (0x11A35, 0x11A39), (0x11A3B, 0x11A3E), (0x11A51, 0x11A5B),
    (0x11A8A, 0x11A97), (0x11C2F, 0x11C3E), (0x11C92, 0x11CB6), (0x11D31, 0x11D43),
    (0x11D47, 0x11D47), (0x11D8A, 0x11D96), (0x11EF3, 0x11F01), (0x11F03, 0x11F03),
    (0x11F34, 0x11F40), (0x16F4F, 0x16F4F), (0x16F51, 0x16F92), (0x16FF0, 0x16FF1),
    (0x1BC9E, 0x1BC9E), (0x1E000, 0x1E02A), (0x1E08F, 0x1E08F), (0x1E947, 0x1E947),
    (0x1F130, 0x1F189),];

#[cfg(test)]
mod tests {
    //! Expected values come from Django 5.2.19 itself (`validate_password` with the
    //! startproject validators and a `django.contrib.auth.models.User`) on CPython 3.13.
    use super::*;

    const SHORT: &str = "This password is too short. It must contain at least 8 characters.";
    const COMMON: &str = "This password is too common.";
    const NUMERIC: &str = "This password is entirely numeric.";

    fn user<'a>(
        username: &'a str,
        first: &'a str,
        last: &'a str,
        email: &'a str,
    ) -> UserAttributes<'a> {
        UserAttributes {
            username,
            first_name: first,
            last_name: last,
            email,
        }
    }

    fn similar(verbose_name: &str) -> String {
        format!("The password is too similar to the {verbose_name}.")
    }

    #[test]
    fn embedded_list_loads_with_djangos_real_count() {
        let list = parse_password_list(COMMON_PASSWORDS_GZ).expect("embedded list decompresses");
        assert_eq!(list.len(), 19_640);
        assert_eq!(common_passwords().len(), 19_640);
        for word in [
            "password",
            "123456",
            "qwerty",
            "fallen_angel",
            "привет",
            "я",
        ] {
            assert!(list.contains(word), "{word} is in Django's list");
        }
        assert!(!list.contains(""));
    }

    #[test]
    fn broken_list_is_an_error_not_a_panic() {
        assert!(parse_password_list(b"not gzip").is_err());
    }

    #[test]
    fn validator_order_and_messages_match_django() {
        assert_eq!(validate_password("password", None), [COMMON]);
        assert_eq!(validate_password("12345678", None), [COMMON, NUMERIC]);
        // What dj-rest-auth answers for "123".
        assert_eq!(validate_password("123", None), [SHORT, COMMON, NUMERIC]);
        assert_eq!(validate_password("", None), [SHORT]);
        assert_eq!(validate_password("a", None), [SHORT, COMMON]);
        assert!(validate_password("Xk9#mQ2vLp", None).is_empty());
        // Similarity comes first, then length, common, numeric.
        let u = user("x", "", "", "@x");
        assert_eq!(
            validate_password("", Some(&u)),
            [similar("email address"), SHORT.to_owned()]
        );
        let u = user("alice", "", "", "");
        assert_eq!(
            validate_password("alice123", Some(&u)),
            [similar("username"), COMMON.to_owned()]
        );
    }

    #[test]
    fn minimum_length_is_a_parameter() {
        let one = "This password is too short. It must contain at least 1 character.";
        assert_eq!(validate_password_with_min_length("", None, 1), [one]);
        assert!(validate_password_with_min_length("Xk9#", None, 4).is_empty());
        assert_eq!(
            validate_password_with_min_length("Xk9#", None, 12),
            ["This password is too short. It must contain at least 12 characters."]
        );
        // Code points, not bytes: 8 Cyrillic letters are 16 bytes but long enough.
        assert!(minimum_length_error("жжжжжжжж", 8).is_none());
        assert!(minimum_length_error("жжжжжжж", 8).is_some());
    }

    #[test]
    fn similarity_matches_django() {
        let alice = user("alice", "", "", "");
        assert_eq!(
            validate_password("alice1234", Some(&alice)),
            [similar("username")]
        );
        assert!(validate_password("alicealice", Some(&alice)).is_empty());
        // Without a user there is no similarity check.
        assert!(validate_password("alice1234", None).is_empty());
        // Exactly at the 0.7 threshold (2*7/(13+7)) is too similar; one more character is not.
        let u = user("abcdefg", "", "", "");
        assert_eq!(
            validate_password("abcdefg123456", Some(&u)),
            [similar("username")]
        );
        assert!(validate_password("abcdefg1234567", Some(&u)).is_empty());
        // Parts of the email address count too, and the email's verbose name is used.
        let u = user("jdoe", "John", "Doe", "jd@example.com");
        assert_eq!(
            validate_password("examplecom", Some(&u)),
            [similar("email address")]
        );
        let u = user("jdoe", "John", "Smith", "js@example.com");
        assert!(validate_password("smithjohn1", Some(&u)).is_empty());
        let u = user("alice", "Alice", "Smith", "alice@example.com");
        assert!(validate_password("Xk9#mQ2vLp", Some(&u)).is_empty());
        // Only the first similar attribute, in Django's order, is reported.
        assert_eq!(
            validate_password("alice1234", Some(&u)),
            [similar("username")]
        );
        let u = user("x", "Mary-Jane", "", "");
        assert_eq!(
            validate_password("mary-jane", Some(&u)),
            [similar("first name")]
        );
        let u = user("zed", "Zed", "Q", "zed.q@mail.example.org");
        assert!(validate_password("Zq7!Lm3#Rt", Some(&u)).is_empty());
        // A long password is never compared with a tiny part (length ratio skip).
        let u = user("a", "", "", "");
        assert_eq!(validate_password("aaaaaaaaaa", Some(&u)), [COMMON]);
        // Unicode: Python splits Devanagari at its vowel signs, which are not `\w`.
        let u = user("x", "राम", "", "");
        assert!(validate_password("राम12345", Some(&u)).is_empty());
        assert_eq!(
            validate_password("ाम", Some(&u)),
            [similar("first name"), SHORT.to_owned()]
        );
        let u = user("x", "ा_ab", "", "");
        assert_eq!(
            validate_password("ab", Some(&u)),
            [similar("first name"), SHORT.to_owned()]
        );
        // Final sigma lowercases as in Python: "σας1234" against "σας" is 0.6.
        let u = user("σας", "", "", "");
        assert_eq!(validate_password("ΣΑΣ1234", Some(&u)), [SHORT]);
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        let r = |a: &str, b: &str| {
            quick_ratio(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        // Values printed by CPython's difflib.SequenceMatcher(a=a, b=b).quick_ratio().
        assert_eq!(r("abcdefg123456", "abcdefg"), 0.7);
        assert_eq!(r("abcdefg1234567", "abcdefg"), 0.6666666666666666);
        assert_eq!(r("alice123", "alice"), 0.7692307692307693);
        assert_eq!(r("alice1234", "alice"), 0.7142857142857143);
        assert_eq!(r("mary-jane", "mary"), 0.6153846153846154);
        assert_eq!(r("examplecom", "example.com"), 0.9523809523809523);
        assert_eq!(r("examplecom", "example"), 0.8235294117647058);
        assert_eq!(r("A", "AAAAAAAAAA"), 0.18181818181818182);
        assert_eq!(r("", ""), 1.0);
        assert_eq!(r("abc", ""), 0.0);
    }

    #[test]
    fn length_ratio_rule_matches_django() {
        assert!(exceeds_maximum_length_ratio(10, 0.7, 1));
        assert!(!exceeds_maximum_length_ratio(9, 0.7, 1));
        assert!(exceeds_maximum_length_ratio(20, 0.7, 2));
        assert!(!exceeds_maximum_length_ratio(19, 0.7, 2));
        assert!(exceeds_maximum_length_ratio(1, 0.7, 0));
        assert!(!exceeds_maximum_length_ratio(0, 0.7, 0));
        // The second condition binds only for a small max_similarity: 10 >= 10 but not 1 < 0.5.
        assert!(!exceeds_maximum_length_ratio(10, 0.1, 1));
    }

    #[test]
    fn split_matches_python_re_split() {
        assert_eq!(split_non_word("mary-jane"), ["mary", "jane"]);
        assert_eq!(split_non_word("@x"), ["", "x"]);
        assert_eq!(split_non_word("a--b."), ["a", "b", ""]);
        assert_eq!(
            split_non_word("alice@example.com"),
            ["alice", "example", "com"]
        );
        assert_eq!(split_non_word(""), [""]);
        assert_eq!(split_non_word("--"), ["", ""]);
        assert_eq!(split_non_word("राम"), ["र", "म"]);
        assert_eq!(split_non_word("ा_ab"), ["", "_ab"]);
        assert_eq!(split_non_word("ⓐbc"), ["", "bc"]);
        assert_eq!(split_non_word("x²y"), ["x²y"]);
    }

    #[test]
    fn common_check_lowercases_and_strips_like_python() {
        assert_eq!(validate_password("  PASSWORD \t", None), [COMMON]);
        assert_eq!(validate_password("\u{1c}password\u{1f}", None), [COMMON]);
        assert_eq!(validate_password("\u{a0}password", None), [COMMON]);
        assert_eq!(validate_password("ПРИВЕТ", None), [SHORT, COMMON]);
        assert_eq!(validate_password("я", None), [SHORT, COMMON]);
    }

    #[test]
    fn numeric_is_python_isdigit() {
        assert_eq!(validate_password("²²²²²²²²", None), [NUMERIC]);
        assert_eq!(validate_password("١٢٣٤٥٦٧٨", None), [NUMERIC]);
        assert_eq!(validate_password("①②③④⑤⑥⑦⑧", None), [NUMERIC]);
        // Numeric but not digits for Python: vulgar fractions and Roman numerals.
        assert!(validate_password("½½½½½½½½", None).is_empty());
        assert!(validate_password("ⅫⅫⅫⅫⅫⅫⅫⅫ", None).is_empty());
        // "1234567a" is common (it is in the list) but not entirely numeric.
        assert_eq!(validate_password("1234567a", None), [COMMON]);
    }

    #[test]
    fn tables_are_sorted_and_disjoint() {
        for table in [PY_DIGIT, ALNUM_NOT_PY_WORD] {
            for pair in table.windows(2) {
                assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
            }
        }
    }
}
