//! UTC times as RFC 3339 text and dates as `YYYY-MM-DD`, which sort as text on both backends.
//! Civil-date arithmetic after Howard Hinnant's `days_from_civil` / `civil_from_days`.

fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Now, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    rfc3339(unix_seconds())
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    date_from_days(unix_seconds().div_euclid(86_400))
}

pub(crate) fn rfc3339_after_seconds(seconds: i64) -> String {
    rfc3339(unix_seconds().saturating_add(seconds))
}

pub(crate) fn rfc3339_after_days(days: i64) -> String {
    rfc3339_after_seconds(days.saturating_mul(86_400))
}

fn rfc3339(seconds: i64) -> String {
    let seconds = seconds.clamp(0, 253_402_300_799);
    let in_day = seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_from_days(seconds.div_euclid(86_400)),
        in_day / 3600,
        (in_day % 3600) / 60,
        in_day % 60
    )
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub(crate) fn date_from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Days since 1970-01-01 of a civil date; `None` outside years 1..=9999 or a month 1..=12 and
/// day 1..=31 (an impossible day such as Feb 30 comes back as another date, which the caller
/// detects by formatting it again).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        for date in ["2000-02-29", "1999-12-31", "2026-01-01", "9999-12-31"] {
            let (y, m, d) = (&date[0..4], &date[5..7], &date[8..10]);
            let days = days_from_civil(
                y.parse().expect("y"),
                m.parse().expect("m"),
                d.parse().expect("d"),
            )
            .expect("valid");
            assert_eq!(date_from_days(days), date);
        }
        let feb30 = days_from_civil(2026, 2, 30).expect("in range");
        assert_ne!(date_from_days(feb30), "2026-02-30");
    }
}
