//! Every clock found on an iPhone, converted to UTC in one place.
//!
//! Rules that apply to all of them: zero, NULL, NaN and values outside
//! [`PLAUSIBLE_FROM`, `PLAUSIBLE_TO`] yield `None` (the row is kept with an empty time;
//! the caller logs a warning) rather than a 1970 or 2001 date. Sub-second precision is
//! kept down to the microsecond.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Seconds between the Unix epoch and the Cocoa (Mac absolute time) epoch 2001-01-01.
pub const COCOA_EPOCH_OFFSET: i64 = 978_307_200;

/// Earliest time accepted as real: the first iPhone shipped in 2007, but backups
/// carry 1980-era placeholder times for system files (MBFile Birth); those are
/// real values in the evidence, so the floor is the Unix epoch + 1 day.
const PLAUSIBLE_FROM: i64 = 86_400;
/// Latest: year 2100.
const PLAUSIBLE_TO: i64 = 4_102_444_800;

/// Above this magnitude a Cocoa value cannot be seconds (1e11 s is year 5170); it is
/// nanoseconds (iOS 11+ sms.db). Decided by magnitude, never by digit count.
const COCOA_NANOS_THRESHOLD: f64 = 1e11;

/// 2007-01-01 UTC. Nanosecond clocks arrived with iOS 11 (2017): a value read as
/// nanoseconds that lands before the first iPhone is not a time but an absurd seconds
/// value (year 9999 in Cocoa seconds is 2.5e11, which would otherwise read as a few
/// minutes after 2001).
const FIRST_IPHONE: i64 = 1_167_609_600;

fn from_unix_micros(us: i64) -> Option<DateTime<Utc>> {
    let secs = us.div_euclid(1_000_000);
    if !(PLAUSIBLE_FROM..=PLAUSIBLE_TO).contains(&secs) {
        return None;
    }
    DateTime::from_timestamp_micros(us)
}

/// Unix seconds (integer or fractional).
pub fn unix_seconds(v: f64) -> Option<DateTime<Utc>> {
    if !v.is_finite() || v == 0.0 {
        return None;
    }
    let us = (v * 1e6).round();
    if us.abs() > 1e17 {
        return None;
    }
    from_unix_micros(us as i64)
}

/// Cocoa seconds since 2001-01-01 UTC (REAL columns in Core Data stores, plist reals).
/// Negative values (before 2001, e.g. Core Data's `distantPast` sentinel) are not
/// times on an iPhone.
pub fn cocoa_seconds(v: f64) -> Option<DateTime<Utc>> {
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    let us = (v * 1e6).round();
    if us.abs() > 1e17 {
        return None;
    }
    from_unix_micros((us as i64).checked_add(COCOA_EPOCH_OFFSET * 1_000_000)?)
}

/// Cocoa time given as an integer that is seconds on old iOS and nanoseconds on iOS 11+.
pub fn cocoa_auto_i64(v: i64) -> Option<DateTime<Utc>> {
    if v <= 0 {
        return None;
    }
    if (v as f64) > COCOA_NANOS_THRESHOLD {
        // Integer arithmetic keeps every nanosecond digit down to the microsecond.
        let us = v.div_euclid(1_000);
        from_unix_micros(us.checked_add(COCOA_EPOCH_OFFSET * 1_000_000)?)
            .filter(|t| t.timestamp() >= FIRST_IPHONE)
    } else {
        from_unix_micros(
            v.checked_mul(1_000_000)?
                .checked_add(COCOA_EPOCH_OFFSET * 1_000_000)?,
        )
    }
}

/// Cocoa time given as a float, seconds or nanoseconds by magnitude.
pub fn cocoa_auto_f64(v: f64) -> Option<DateTime<Utc>> {
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    if v > COCOA_NANOS_THRESHOLD {
        cocoa_seconds(v / 1e9).filter(|t| t.timestamp() >= FIRST_IPHONE)
    } else {
        cocoa_seconds(v)
    }
}

/// A plist `<date>`: an absolute instant (the plist crate decodes it as UTC).
pub fn plist_date(d: &plist::Date) -> Option<DateTime<Utc>> {
    let st: std::time::SystemTime = (*d).into();
    let dt: DateTime<Utc> = st.into();
    from_unix_micros(dt.timestamp_micros())
}

/// A naive wall-clock time with no zone (e.g. addaily written as text): taken as UTC,
/// never the examiner's local zone.
pub fn naive_as_utc(s: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%SZ",
    ];
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .and_then(|n| {
            let dt = Utc.from_utc_datetime(&n);
            from_unix_micros(dt.timestamp_micros())
        })
}

/// A local wall-clock time with an explicit offset, as crash reports write it:
/// `2022-09-13 12:02:03.45 +0200` → 10:02:03.45 UTC.
pub fn with_offset(s: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
    ];
    let s = s.trim();
    FORMATS
        .iter()
        .find_map(|f| DateTime::<FixedOffset>::parse_from_str(s, f).ok())
        .and_then(|dt| from_unix_micros(dt.with_timezone(&Utc).timestamp_micros()))
}

/// RFC 3339 with microseconds and a `Z`, the one textual form chainline writes.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Microseconds since the Unix epoch (the Parquet storage unit) back to a time.
pub fn from_micros(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: Option<DateTime<Utc>>) -> String {
        t.map(|t| rfc3339(&t)).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn cocoa_nanoseconds_keep_microseconds() {
        // The real MVT test backup message: 588813210539788032 ns.
        assert_eq!(
            s(cocoa_auto_i64(588_813_210_539_788_032)),
            "2019-08-29T23:13:30.539788Z"
        );
    }

    #[test]
    fn cocoa_seconds_integer_and_real() {
        assert_eq!(
            s(cocoa_auto_i64(588_813_210)),
            "2019-08-29T23:13:30.000000Z"
        );
        assert_eq!(
            s(cocoa_seconds(588_813_210.25)),
            "2019-08-29T23:13:30.250000Z"
        );
        assert_eq!(
            s(cocoa_auto_f64(588_813_210_539_788_032.0)),
            "2019-08-29T23:13:30.539788Z"
        );
    }

    #[test]
    fn zero_null_and_absurd_are_none() {
        assert_eq!(cocoa_auto_i64(0), None);
        assert_eq!(cocoa_seconds(0.0), None);
        assert_eq!(cocoa_seconds(f64::NAN), None);
        assert_eq!(unix_seconds(0.0), None);
        assert_eq!(unix_seconds(-5.0), None);
        assert_eq!(cocoa_auto_i64(i64::MAX), None);
        assert_eq!(cocoa_auto_i64(i64::MIN), None);
        assert_eq!(cocoa_seconds(1e18), None);
        assert_eq!(unix_seconds(9e12), None);
        // A negative Cocoa value that lands before 1970 is not a real time.
        assert_eq!(cocoa_seconds(-1e9), None);
        // Nor is any negative Cocoa value: before 2001, before the iPhone.
        assert_eq!(cocoa_seconds(-1.0), None);
        assert_eq!(cocoa_auto_i64(-1), None);
        assert_eq!(cocoa_auto_f64(-1.0), None);
        // Year 9999 in Cocoa seconds is above the nanosecond threshold; read as
        // nanoseconds it would be 2001-01-01 00:04:12, so it is refused instead.
        let y9999 = 252_423_993_599_i64;
        assert_eq!(cocoa_auto_i64(y9999), None);
        assert_eq!(cocoa_auto_f64(y9999 as f64), None);
        // 20 digits do not fit an i64: SQLite hands them over as a REAL.
        assert_eq!(cocoa_auto_f64(99_999_999_999_999_999_999.0), None);
        assert_eq!(unix_seconds(99_999_999_999_999_999_999.0), None);
        assert_eq!(cocoa_auto_f64(f64::NAN), None);
        assert_eq!(cocoa_auto_f64(f64::INFINITY), None);
        assert_eq!(unix_seconds(f64::NAN), None);
        assert_eq!(with_offset("9999-12-31 23:59:59.00 +0000"), None);
        assert_eq!(naive_as_utc("9999-12-31 23:59:59"), None);
    }

    #[test]
    fn unix_seconds_fractional() {
        assert_eq!(
            s(unix_seconds(1_663_063_451.89)),
            "2022-09-13T10:04:11.890000Z"
        );
        assert_eq!(
            s(unix_seconds(1_563_090_798.0)),
            "2019-07-14T07:53:18.000000Z"
        );
    }

    #[test]
    fn offsets_convert_to_utc() {
        assert_eq!(
            s(with_offset("2022-09-13 12:02:03.45 +0200")),
            "2022-09-13T10:02:03.450000Z"
        );
        assert_eq!(
            s(with_offset("2022-09-13 05:02:03 -0500")),
            "2022-09-13T10:02:03.000000Z"
        );
        assert_eq!(with_offset("not a date"), None);
    }

    #[test]
    fn naive_plist_dates_are_utc() {
        assert_eq!(
            s(naive_as_utc("2022-09-13 10:04:11.5")),
            "2022-09-13T10:04:11.500000Z"
        );
        assert_eq!(
            s(naive_as_utc("2022-09-13T10:04:11Z")),
            "2022-09-13T10:04:11.000000Z"
        );
    }

    #[test]
    fn plist_dates_are_absolute() {
        let st = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_663_063_451_890_000);
        let d = plist::Date::from(st);
        assert_eq!(s(plist_date(&d)), "2022-09-13T10:04:11.890000Z");
    }
}
