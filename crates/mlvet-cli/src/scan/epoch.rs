//! `SOURCE_DATE_EPOCH` for the CycloneDX timestamp.

use anyhow::Context;

/// `SOURCE_DATE_EPOCH` (reproducible builds) as an RFC 3339 timestamp for the CycloneDX
/// metadata; `None` when unset, so the BOM carries no time and stays byte-identical across runs.
pub fn source_date_epoch() -> anyhow::Result<Option<String>> {
    let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    let seconds: i64 = text
        .trim()
        .parse()
        .ok()
        .filter(|s| (0..=253_402_300_799).contains(s))
        .with_context(|| format!("SOURCE_DATE_EPOCH `{text}` is not a number of seconds"))?;
    Ok(Some(rfc3339_utc(seconds)))
}

/// Seconds since the epoch (0 ..= 9999-12-31T23:59:59) as `YYYY-MM-DDTHH:MM:SSZ`, by Howard
/// Hinnant's `civil_from_days`.
fn rfc3339_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
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
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        (in_day % 3600) / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn epoch_seconds_format_as_rfc3339() {
        assert_eq!(super::rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339_utc(253_402_300_799), "9999-12-31T23:59:59Z");
    }
}
