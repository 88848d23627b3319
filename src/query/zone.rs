//! The zone the analyst reads times in. Stored values stay UTC (docs/SCHEMA.md); this
//! only decides how an instant is shown and how a time the analyst types is read.
//! Evidence clocks are converted in `timeline::time`, not here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::timeline::time;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    #[default]
    Utc,
    Named(chrono_tz::Tz),
}

#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {0:?}: use an IANA name such as Europe/Paris, America/New_York or UTC")]
pub struct UnknownZone(pub String);

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, UnknownZone> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("utc") || name == "Z" {
            return Ok(Zone::Utc);
        }
        name.parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| UnknownZone(name.to_string()))
    }

    pub fn name(&self) -> &str {
        match self {
            Zone::Utc => "UTC",
            Zone::Named(tz) => tz.name(),
        }
    }

    /// RFC 3339 with microseconds: `…Z` in UTC, the local offset otherwise, so a shown
    /// time is never ambiguous and can be pasted back into `.around`.
    pub fn show(&self, t: &DateTime<Utc>) -> String {
        match self {
            Zone::Utc => time::rfc3339(t),
            Zone::Named(tz) => t
                .with_timezone(tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        }
    }

    /// A time the analyst typed. An explicit `Z` or offset is honoured; a time without
    /// one is wall-clock time in this zone (what the analyst sees on screen). A date
    /// alone means its midnight. `None` for text that is no time, or a local time that
    /// does not exist (inside a daylight-saving gap).
    pub fn parse_time(&self, s: &str) -> Option<DateTime<Utc>> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        if let Some(t) = time::with_offset(s) {
            return Some(t);
        }
        const NAIVE: [&str; 4] = [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ];
        let naive = NAIVE
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })?;
        match self {
            Zone::Utc => Some(Utc.from_utc_datetime(&naive)),
            Zone::Named(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn shows_utc_with_z_and_local_with_offset() {
        let t = utc("2019-08-29T23:13:30.539788Z");
        assert_eq!(Zone::Utc.show(&t), "2019-08-29T23:13:30.539788Z");
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(paris.show(&t), "2019-08-30T01:13:30.539788+02:00");
        // Winter: the offset follows the date, not the zone's name.
        assert_eq!(
            paris.show(&utc("2019-12-01T12:00:00Z")),
            "2019-12-01T13:00:00.000000+01:00"
        );
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(Zone::parse("utc").unwrap(), Zone::Utc);
    }

    #[test]
    fn typed_times_without_offset_are_in_the_display_zone() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(
            paris.parse_time("2019-08-30 01:13:30"),
            Some(utc("2019-08-29T23:13:30Z"))
        );
        assert_eq!(
            Zone::Utc.parse_time("2019-08-29 23:13"),
            Some(utc("2019-08-29T23:13:00Z"))
        );
        assert_eq!(
            paris.parse_time("2019-08-29T23:13:30Z"),
            Some(utc("2019-08-29T23:13:30Z"))
        );
        assert_eq!(
            paris.parse_time("2019-08-30T01:13:30+02:00"),
            Some(utc("2019-08-29T23:13:30Z"))
        );
        assert_eq!(
            Zone::Utc.parse_time("2019-08-29"),
            Some(utc("2019-08-29T00:00:00Z"))
        );
        // 02:30 on 2019-03-31 does not exist in Paris (clocks jump from 02:00 to 03:00).
        assert_eq!(paris.parse_time("2019-03-31 02:30"), None);
        assert_eq!(Zone::Utc.parse_time("F001"), None);
    }
}
