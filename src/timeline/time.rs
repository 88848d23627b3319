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
/// `2022-09-13 12:02:03.45 +0200` → 10:02:03.45 UTC (also `log show`'s
/// `2022-09-13 12:02:03.450000+0200`, the offset right after the fraction).
pub fn with_offset(s: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 5] = [
        "%Y-%m-%d %H:%M:%S%.f%z",
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

/// Properties of the clock conversions over their whole input range: what the module
/// promises (never a panic, `None` outside 1970-01-02..=2100, microseconds kept, the
/// seconds/nanoseconds choice made by magnitude), checked on generated values.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    const OFFSET_US: i64 = COCOA_EPOCH_OFFSET * 1_000_000;
    /// Every instant accepted, in Unix microseconds.
    const FROM_US: i64 = PLAUSIBLE_FROM * 1_000_000;
    const TO_US: i64 = PLAUSIBLE_TO * 1_000_000 + 999_999;
    /// Cocoa seconds of the accepted range.
    const COCOA_FROM: i64 = PLAUSIBLE_FROM - COCOA_EPOCH_OFFSET;
    const COCOA_TO: i64 = PLAUSIBLE_TO - COCOA_EPOCH_OFFSET;

    fn in_range(t: &DateTime<Utc>) -> bool {
        (FROM_US..=TO_US).contains(&t.timestamp_micros())
    }

    /// Any f64 bit pattern (NaN payloads, infinities, subnormals, 1e300, -0.0), 20-digit
    /// values, and values near the accepted range so that many convert.
    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            1e19..1e20f64,
            -1e12..1e12f64,
            -1.5e9..5e9f64,
            -1.5e18..5e18f64,
        ]
    }

    /// Integers as sms.db holds them: seconds or nanoseconds in range, and anything.
    fn any_cocoa_i64() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            COCOA_FROM..=COCOA_TO,
            COCOA_FROM * 1_000_000_000..=COCOA_TO * 1_000_000_000,
            -200_000_000_000i64..=200_000_000_000,
        ]
    }

    proptest! {
        #[test]
        fn float_clocks_never_panic_and_stay_in_range(v in any_f64()) {
            for t in [unix_seconds(v), cocoa_seconds(v), cocoa_auto_f64(v)].into_iter().flatten() {
                prop_assert!(in_range(&t), "{v} gave {t}");
            }
        }

        #[test]
        fn integer_clock_never_panics_and_stays_in_range(v in any_cocoa_i64()) {
            if let Some(t) = cocoa_auto_i64(v) {
                prop_assert!(in_range(&t), "{v} gave {t}");
            }
        }

        #[test]
        fn zero_nan_and_infinities_are_none(
            v in prop_oneof![Just(0.0), Just(-0.0), Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        ) {
            prop_assert_eq!(unix_seconds(v), None);
            prop_assert_eq!(cocoa_seconds(v), None);
            prop_assert_eq!(cocoa_auto_f64(v), None);
        }

        #[test]
        fn out_of_range_seconds_are_none(
            // Before 1970-01-02 (negative Unix times too) or after 2100 (year 9999,
            // 1e12 s...); 3 µs of margin for the f64 rounding at the edges.
            us in prop_oneof![i64::MIN / 2..FROM_US - 3, TO_US + 4..i64::MAX / 2],
        ) {
            let secs = us as f64 / 1e6;
            prop_assert_eq!(unix_seconds(secs), None);
            prop_assert_eq!(cocoa_seconds(secs - COCOA_EPOCH_OFFSET as f64), None);
            // As whole Cocoa seconds; beyond 1e11 the count would be read as nanoseconds.
            let cocoa = (us / 1_000_000) - COCOA_EPOCH_OFFSET;
            if (cocoa as f64).abs() <= COCOA_NANOS_THRESHOLD {
                prop_assert_eq!(cocoa_auto_i64(cocoa), None);
            }
        }

        #[test]
        fn unix_and_cocoa_seconds_round_trip_to_the_microsecond(us in FROM_US + 2..=TO_US - 2) {
            // A seconds value read from a REAL column is the nearest f64: within 1 µs.
            let unix = unix_seconds(us as f64 / 1e6).map(|t| t.timestamp_micros());
            prop_assert!(unix.is_some_and(|got| (got - us).abs() <= 1), "{us}: {unix:?}");
            // Cocoa seconds before 2001 (negative) are not iPhone times.
            let cocoa = cocoa_seconds((us - OFFSET_US) as f64 / 1e6).map(|t| t.timestamp_micros());
            if us > OFFSET_US + 2 {
                prop_assert!(cocoa.is_some_and(|got| (got - us).abs() <= 1), "{us}: {cocoa:?}");
            } else {
                prop_assert!(cocoa.is_none_or(|got| (got - us).abs() <= 1), "{us}: {cocoa:?}");
            }
        }

        #[test]
        fn whole_cocoa_seconds_are_exact(s in 1..=COCOA_TO) {
            let want = DateTime::from_timestamp(s + COCOA_EPOCH_OFFSET, 0);
            prop_assert_eq!(cocoa_auto_i64(s), want);
            prop_assert_eq!(cocoa_seconds(s as f64), want);
            prop_assert_eq!(cocoa_auto_f64(s as f64), want);
        }

        #[test]
        fn cocoa_nanoseconds_keep_every_microsecond(
            // Nanosecond readings before the first iPhone are absurd seconds values.
            us in FIRST_IPHONE * 1_000_000 + 2..=TO_US,
            sub in 0i64..1_000,
        ) {
            let ns = (us - OFFSET_US) * 1_000 + sub;
            prop_assume!(ns.unsigned_abs() as f64 > COCOA_NANOS_THRESHOLD);
            prop_assert_eq!(cocoa_auto_i64(ns).map(|t| t.timestamp_micros()), Some(us));
            // The same count as a float has 2^-53 relative precision: within 2 µs.
            let f = cocoa_auto_f64(ns as f64).map(|t| t.timestamp_micros());
            prop_assert!(f.is_some_and(|got| (got - us).abs() <= 2), "{ns}: {f:?}");
        }

        #[test]
        fn seconds_or_nanoseconds_is_decided_by_magnitude(v in any_cocoa_i64()) {
            if (v as f64).abs() <= COCOA_NANOS_THRESHOLD {
                prop_assert_eq!(cocoa_auto_i64(v), cocoa_seconds(v as f64));
            } else if let Some(t) = cocoa_auto_i64(v) {
                prop_assert_eq!(t.timestamp_micros(), v.div_euclid(1_000) + OFFSET_US);
            }
        }

        #[test]
        fn the_heuristic_is_monotonic_within_each_regime(a in any_cocoa_i64(), b in any_cocoa_i64()) {
            // Not across regimes: 3e9 s (2096) is later than 2e11 ns (2001).
            let (lo, hi) = (a.min(b), a.max(b));
            let nanos = |v: i64| (v as f64).abs() > COCOA_NANOS_THRESHOLD;
            if nanos(lo) == nanos(hi) {
                if let (Some(x), Some(y)) = (cocoa_auto_i64(lo), cocoa_auto_i64(hi)) {
                    prop_assert!(x <= y, "{lo} → {x}, {hi} → {y}");
                }
            }
        }

        #[test]
        fn float_seconds_are_monotonic(a in any_f64(), b in any_f64()) {
            // NaN has no order to keep (and converts to None anyway).
            let Some(order) = a.partial_cmp(&b) else {
                return Ok(());
            };
            let (lo, hi) = if order.is_le() { (a, b) } else { (b, a) };
            for f in [unix_seconds as fn(f64) -> Option<DateTime<Utc>>, cocoa_seconds] {
                if let (Some(x), Some(y)) = (f(lo), f(hi)) {
                    prop_assert!(x <= y, "{lo} → {x}, {hi} → {y}");
                }
            }
        }

        #[test]
        fn text_clocks_never_panic(
            s in prop_oneof![
                "\\PC{0,40}",
                "-?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}[ T][0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}(\\.[0-9]{0,12})?( ?[+-][0-9]{1,5})?Z?",
            ],
        ) {
            for t in [naive_as_utc(&s), with_offset(&s)].into_iter().flatten() {
                prop_assert!(in_range(&t), "{s:?} gave {t}");
            }
        }

        #[test]
        fn naive_text_round_trips(us in FROM_US..=TO_US) {
            let t = from_micros(us).unwrap();
            for text in [
                t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            ] {
                prop_assert_eq!(naive_as_utc(&text), Some(t), "{}", text);
            }
        }

        #[test]
        fn offset_text_is_the_same_instant(us in FROM_US..=TO_US, minutes in -14 * 60i32..=14 * 60) {
            let t = from_micros(us).unwrap();
            let zone = FixedOffset::east_opt(minutes * 60).unwrap();
            let text = t.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S%.6f %z").to_string();
            prop_assert_eq!(with_offset(&text), Some(t), "{}", text);
        }

        #[test]
        fn plist_dates_round_trip(us in FROM_US..=TO_US) {
            let st = std::time::UNIX_EPOCH + std::time::Duration::from_micros(us as u64);
            let got = plist_date(&plist::Date::from(st)).map(|t| t.timestamp_micros());
            prop_assert_eq!(got, Some(us));
        }

        #[test]
        fn micros_and_rfc3339_round_trip(us in FROM_US..=TO_US) {
            let t = from_micros(us).unwrap();
            prop_assert_eq!(from_micros(t.timestamp_micros()), Some(t));
            let parsed = DateTime::parse_from_rfc3339(&rfc3339(&t)).map(|d| d.with_timezone(&Utc));
            prop_assert_eq!(parsed.ok(), Some(t));
        }
    }
}
