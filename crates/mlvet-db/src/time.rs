//! The little RFC 3339 handling the database needs: OSV `modified` times become integers (UTC
//! nanoseconds since the Unix epoch) so that "newer wins" compares instants, not strings
//! (`…:00Z` and `…:00.5Z` sort wrongly as text).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into UTC nanoseconds since the epoch.
/// Also accepts a lower-case `t`/`z`, a space as separator, and a date alone (midnight UTC),
/// which some hand-written advisories use. Returns `None` for anything else or outside the
/// representable range (years 1677 to 2262).
pub fn parse_rfc3339_nanos(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b'-')?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b'-')?;
    let day = digits(bytes, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if bytes.len() == 10 {
        return days.checked_mul(86_400)?.checked_mul(NANOS_PER_SECOND);
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    expect(bytes, 13, b':')?;
    let minute = digits(bytes, 14, 2)?;
    expect(bytes, 16, b':')?;
    let second = digits(bytes, 17, 2)?;
    // 60 is a leap second; fold it into the next second rather than rejecting the record.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut nanos: i64 = 0;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        let mut scale = NANOS_PER_SECOND;
        while let Some(d) = bytes.get(pos).filter(|b| b.is_ascii_digit()) {
            scale /= 10;
            nanos += i64::from(d - b'0') * scale;
            pos += 1;
        }
        if pos == start {
            return None;
        }
    }
    let offset_seconds = match bytes.get(pos) {
        Some(b'Z' | b'z') if bytes.len() == pos + 1 => 0,
        Some(sign @ (b'+' | b'-')) if bytes.len() == pos + 6 => {
            let hours = digits(bytes, pos + 1, 2)?;
            expect(bytes, pos + 3, b':')?;
            let minutes = digits(bytes, pos + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let seconds = days
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?
        .checked_sub(offset_seconds)?;
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

/// Formats UTC nanoseconds since the epoch as RFC 3339 with second precision (`…Z`).
pub fn format_rfc3339(nanos: i64) -> String {
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        (in_day % 3600) / 60,
        in_day % 60
    )
}

/// The current time in UTC nanoseconds since the epoch (0 if the clock is before 1970).
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The non-negative duration from `earlier` to `later` (zero when the clock went backwards).
pub fn elapsed(earlier: i64, later: i64) -> Duration {
    let nanos = later.saturating_sub(earlier).max(0);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

fn digits(bytes: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = bytes.get(start..start.checked_add(len)?)?;
    slice.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn expect(bytes: &[u8], pos: usize, want: u8) -> Option<()> {
    (bytes.get(pos) == Some(&want)).then_some(())
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_osv_uses() {
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339_nanos("2021-08-27T03:22:22.150023Z"),
            Some(1_630_034_542_150_023_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-02-29"),
            Some(1_709_164_800 * NANOS_PER_SECOND)
        );
        for bad in [
            "",
            "2024-02-30T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "x",
        ] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn fractions_order_as_instants_not_as_text() {
        let whole = parse_rfc3339_nanos("2024-01-01T00:00:00Z");
        let half = parse_rfc3339_nanos("2024-01-01T00:00:00.5Z");
        assert!(half > whole);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339_nanos(&s);
        }

        #[test]
        fn format_then_parse_round_trips(seconds in -5_000_000_000i64..9_000_000_000i64) {
            let nanos = seconds * NANOS_PER_SECOND;
            prop_assert_eq!(parse_rfc3339_nanos(&format_rfc3339(nanos)), Some(nanos));
        }
    }
}
