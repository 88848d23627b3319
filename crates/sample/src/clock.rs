//! Time for the generator: every instant is an `i64` of microseconds since the Unix
//! epoch (UTC), converted here to each clock an iPhone artifact keeps. Dates are
//! fixed per case; nothing reads the wall clock.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rand::Rng as _;

use super::Rng;
use chainline::timeline::time::COCOA_EPOCH_OFFSET;

pub const SEC: i64 = 1_000_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

const COCOA_US: i64 = COCOA_EPOCH_OFFSET * SEC;

/// A UTC instant from its calendar parts (microseconds last).
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: i64) -> i64 {
    let day = NaiveDate::from_ymd_opt(y, mo, d).unwrap_or_default();
    let t = day.and_hms_opt(h, mi, s).unwrap_or_default();
    Utc.from_utc_datetime(&t).timestamp_micros() + us
}

/// Whole Unix seconds (Manifest MBFile times, shutdown.log, TCC).
pub fn unix_secs(us: i64) -> i64 {
    us.div_euclid(SEC)
}

/// Cocoa seconds as a REAL (Core Data stores, locationd and IDS plists).
pub fn cocoa_f64(us: i64) -> f64 {
    (us - COCOA_US) as f64 / 1e6
}

/// Whole Cocoa seconds (sms.db `attachment.created_date`).
pub fn cocoa_secs(us: i64) -> i64 {
    (us - COCOA_US).div_euclid(SEC)
}

/// Cocoa nanoseconds (sms.db `message.date` since iOS 11); `extra_ns` is the
/// sub-microsecond part the phone keeps and chainline drops.
pub fn cocoa_ns(us: i64, extra_ns: i64) -> i64 {
    (us - COCOA_US) * 1000 + extra_ns
}

pub fn datetime(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn local(us: i64, tz: Tz) -> DateTime<Tz> {
    datetime(us).with_timezone(&tz)
}

/// RFC 3339 with microseconds and `Z`, the form chainline writes.
pub fn rfc3339(us: i64) -> String {
    chainline::timeline::time::rfc3339(&datetime(us))
}

pub fn plist_date(us: i64) -> plist::Date {
    let st = if us >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(us as u64)
    } else {
        std::time::UNIX_EPOCH
    };
    plist::Date::from(st)
}

/// Crash-report wall clock: `2021-06-22 17:37:08.51 +0300` (`digits` after the point).
pub fn crash_stamp(us: i64, tz: Tz, digits: usize) -> String {
    let l = local(us, tz);
    let frac = format!("{:06}", us.rem_euclid(SEC));
    format!(
        "{}.{} {}",
        l.format("%Y-%m-%d %H:%M:%S"),
        &frac[..digits.min(6)],
        l.format("%z")
    )
}

/// Half-open time ranges kept sorted and merged, asked "does `t` fall inside?".
#[derive(Debug, Default, Clone)]
pub struct Intervals {
    spans: Vec<(i64, i64)>,
    dirty: bool,
}

impl Intervals {
    pub fn add(&mut self, from: i64, to: i64) {
        if to > from {
            self.spans.push((from, to));
            self.dirty = true;
        }
    }

    fn settle(&mut self) {
        if !self.dirty {
            return;
        }
        self.spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(self.spans.len());
        for &(a, b) in &self.spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.spans = merged;
        self.dirty = false;
    }

    pub fn contains(&mut self, t: i64) -> bool {
        self.settle();
        let i = self.spans.partition_point(|&(a, _)| a <= t);
        i > 0 && t < self.spans[i - 1].1
    }

    /// Whether any part of `[from, to)` is inside.
    pub fn overlaps(&mut self, from: i64, to: i64) -> bool {
        self.settle();
        let i = self.spans.partition_point(|&(a, _)| a < to);
        i > 0 && self.spans[i - 1].1 > from
    }
}

/// How busy each local hour is for a person (messages, browsing): quiet at night.
const HUMAN_HOURS: [u32; 24] = [
    2, 1, 1, 1, 1, 1, 3, 8, 12, 12, 11, 11, 13, 12, 11, 11, 12, 13, 15, 16, 16, 14, 9, 5,
];

/// A random instant on local `day` (days after `first_day`, local midnight) in the
/// person's waking rhythm.
pub fn human_time(rng: &mut Rng, first_day: NaiveDate, day: i64, tz: Tz) -> i64 {
    const TOTAL: u32 = {
        let mut t = 0;
        let mut i = 0;
        while i < 24 {
            t += HUMAN_HOURS[i];
            i += 1;
        }
        t
    };
    let mut pick = rng.random_range(0..TOTAL);
    let mut hour = 0u32;
    for (h, w) in HUMAN_HOURS.iter().enumerate() {
        if pick < *w {
            hour = h as u32;
            break;
        }
        pick -= w;
    }
    local_instant(rng, first_day, day, hour, tz)
}

/// A random instant on local `day` within `hour` (local).
pub fn local_instant(rng: &mut Rng, first_day: NaiveDate, day: i64, hour: u32, tz: Tz) -> i64 {
    let date = first_day + chrono::Duration::days(day);
    let naive = date
        .and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
        .unwrap_or_default();
    // A time skipped by a DST change is moved on by an hour, as a clock would show it.
    let dt = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    });
    let base = dt
        .map(|d| d.with_timezone(&Utc).timestamp_micros())
        .unwrap_or(0);
    base + rng.random_range(0..SEC)
}

/// The local calendar date of an instant.
pub fn local_date(us: i64, tz: Tz) -> NaiveDate {
    local(us, tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cocoa_clocks() {
        let t0 = utc(2022, 9, 13, 10, 4, 11, 890_000);
        assert_eq!(unix_secs(t0), 1_663_063_451);
        assert_eq!(cocoa_secs(t0), 684_756_251);
        assert_eq!(cocoa_ns(t0, 123), 684_756_251_890_000_123);
        assert!((cocoa_f64(t0) - 684_756_251.89).abs() < 1e-6);
        assert_eq!(rfc3339(t0), "2022-09-13T10:04:11.890000Z");
        assert_eq!(
            crash_stamp(t0, chrono_tz::Europe::Moscow, 2),
            "2022-09-13 13:04:11.89 +0300"
        );
    }

    #[test]
    fn intervals_merge_and_answer() {
        let mut iv = Intervals::default();
        iv.add(10, 20);
        iv.add(15, 30);
        iv.add(40, 50);
        assert!(
            iv.contains(10)
                && iv.contains(29)
                && !iv.contains(30)
                && !iv.contains(35)
                && iv.contains(45)
        );
        assert!(iv.overlaps(25, 41) && !iv.overlaps(30, 40) && !iv.overlaps(0, 10));
    }
}
