//! Random values from the operating system (getrandom).

/// Alphabet of Django's salts and of restauth's generated secrets.
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Fills `buf` from the OS random source.
///
/// The OS source failing is not something a server can work around; it is
/// reported as an I/O error so callers can refuse the request cleanly.
pub fn fill(buf: &mut [u8]) -> std::io::Result<()> {
    getrandom::fill(buf).map_err(|e| std::io::Error::other(format!("getrandom: {e}")))
}

/// `len` characters drawn uniformly from `[a-zA-Z0-9]` (rejection sampling, no modulo bias).
pub fn alphanumeric(len: usize) -> std::io::Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf)?;
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the draw.
            if b < 248 && out.len() < len {
                out.push(ALNUM[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// `n` random bytes as lowercase hex (2n characters).
pub fn hex(n: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; n];
    fill(&mut buf)?;
    Ok(to_hex(&buf))
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphanumeric_has_length_and_alphabet() {
        let s = alphanumeric(100).unwrap();
        assert_eq!(s.len(), 100);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn hex_is_lowercase() {
        let s = hex(20).unwrap();
        assert_eq!(s.len(), 40);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(to_hex(&[0, 255, 16]), "00ff10");
    }
}
