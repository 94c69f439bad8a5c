//! The one time format: Unix seconds → UTC text, for logs, API fields and
//! spool file names.

/// `secs` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, as Django REST
/// framework writes datetimes).
pub fn rfc3339_micros(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let mut s = rfc3339(secs);
    s.pop();
    format!("{s}.{:06}Z", d.subsec_micros())
}

/// `secs` as `YYYYMMDDTHHMMSSZ` (sorts by time; spool file names).
pub fn compact(secs: i64) -> String {
    rfc3339(secs).replace(['-', ':'], "")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, rfc3339_micros};

    #[test]
    fn micros_as_drf() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_796_154_929_066_827);
        assert_eq!(rfc3339_micros(t), "2026-12-01T19:55:29.066827Z");
        let whole = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1);
        assert_eq!(rfc3339_micros(whole), "1970-01-01T00:00:01.000000Z");
    }

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_910_399), "2026-11-28T23:59:59Z");
        assert_eq!(super::compact(1_795_886_100), "20261128T171500Z");
    }
}
