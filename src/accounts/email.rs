//! Django's `EmailValidator`, ported: what "Enter a valid email address." means.
//!
//! Differences from Django, both deliberate: internationalised domain names
//! are accepted as Unicode labels (Django converts them to punycode first, with
//! the same outcome for real names), and IP-literal domains (`user@[1.2.3.4]`)
//! are accepted only for IPv4/IPv6 syntax that Rust's parser accepts.

/// Whether `value` passes Django's email validation.
pub fn is_valid_email(value: &str) -> bool {
    if value.is_empty() || value.chars().count() > 320 {
        return false;
    }
    let Some((user, domain)) = value.rsplit_once('@') else {
        return false;
    };
    if !valid_user(user) {
        return false;
    }
    domain.eq_ignore_ascii_case("localhost") || valid_domain(domain) || valid_literal(domain)
}

/// Whether `username` may be the username of an account whose address is
/// `own_email`: a username that is an email address must be that address.
/// Otherwise one account could take another's address as its username, and
/// the other's login by address would find the wrong account. The rule looks
/// at the request alone, so refusing tells nothing about other accounts.
pub fn username_may_be(username: &str, own_email: &str) -> bool {
    !is_valid_email(username) || username.eq_ignore_ascii_case(own_email)
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{}|~-".contains(c)
}

fn valid_user(user: &str) -> bool {
    if user.is_empty() {
        return false;
    }
    // dot-atom
    if user
        .split('.')
        .all(|part| !part.is_empty() && part.chars().all(is_atext))
    {
        return true;
    }
    // quoted-string: "..." with printable ASCII, backslash escapes
    let Some(inner) = user.strip_prefix('"').and_then(|u| u.strip_suffix('"')) else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if matches!(e as u32, 1..=9 | 11 | 12 | 14..=127) => {}
                _ => return false,
            },
            // Django's qtext: \x01-\x08, \x0b, \x0c, \x0e-\x1f, '!', '#'-'[', ']'-\x7f;
            // so no NUL, tab, LF, CR, space, '"' or bare '\\'. Escapes take
            // \x01-\x09, \x0b, \x0c, \x0e-\x7f (never CR or LF).
            c if !matches!(c as u32, 1..=8 | 11 | 12 | 14..=31 | 33 | 35..=91 | 93..=127) => {
                return false
            }
            _ => {}
        }
    }
    true
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let (tld, rest) = labels.split_last().unwrap_or((&"", &[]));
    let label_ok = |l: &str| {
        let n = l.chars().count();
        (1..=63).contains(&n)
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = {
        let n = tld.chars().count();
        (2..=63).contains(&n)
            && tld.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !tld.ends_with('-')
    };
    rest.iter().all(|l| label_ok(l)) && tld_ok
}

fn valid_literal(domain: &str) -> bool {
    let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) else {
        return false;
    };
    // Django: `\[([A-F0-9:.]+)\]` then an IPv4 or IPv6 address (no "IPv6:" tag).
    if inner.is_empty()
        || !inner
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    {
        return false;
    }
    inner.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_valid_email;

    #[test]
    fn accepts_what_django_accepts() {
        for ok in [
            "alice@example.com",
            "a.b+c@sub.example.co.uk",
            "x@localhost",
            "\"john.doe\"@example.com",
            "\"a\\ b\"@example.com",
            "user@[127.0.0.1]",
            "user@[::1]",
            "élise@exämple.de",
        ] {
            // Django rejects non-ASCII user parts; keep that.
            let expect = !ok.starts_with('é');
            assert_eq!(is_valid_email(ok), expect, "{ok}");
        }
    }

    #[test]
    fn rejects_what_django_rejects() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@-b.com",
            "a@b-.com",
            "a..b@example.com",
            ".a@example.com",
            "a@example.c",
            "a b@example.com",
            "a@exa mple.com",
            "a@[300.1.1.1]",
            "user@[IPv6:::1]",
            "\"john doe\"@example.com",
            "\"x\r\nBcc: victim@example.org\"@example.org",
            "\"a\tb\"@example.com",
            "\"a\\\r\"@example.com",
            "\"a\u{0}\"@example.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(320))));
    }
}
