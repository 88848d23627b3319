//! `lockdownd.log`: what lockdownd — the daemon a computer talks to over USB or Wi-Fi
//! — was asked for: pairing with a host, services started for it, device values read.
//!
//! A sysdiagnose carries it (and rotated copies) under `logs/MobileLockdown/`. Lines are
//! `10/13/21 07:57:42.865446 pid=69 <function>: <message>` in local time without a zone
//! (see `textlog`); a line that does not start so continues the one before. A pairing or
//! a service started for an unknown host around the time of a compromise is a lead
//! (forensic and jailbreak tools use these services).

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use crate::evidence::{BytesLines, Evidence, FileSet, LineSource, Lookup};
use crate::timeline::Event;

use super::textlog::{self, LocalZone};
use super::{Output, Parse, Source, SourceError};

pub struct LockdownLog;

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &["private/var/mobile/Library/Logs/lockdownd"],
    sysdiagnose: &["logs/MobileLockdown"],
    crash_folders: false,
    name: is_lockdown_log,
};

fn is_lockdown_log(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("lockdownd.log")
}

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{2})/(\d{2})/(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) pid=(\d+) ([^:\s]+):? ?(.*)$",
    )
    .expect("constant regex")
});

/// A service name a lockdownd message names (`com.apple.mobile.…`, `com.apple.afc`, …).
static SERVICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"com\.apple\.[A-Za-z0-9_.\-]+").expect("constant regex"));

impl Source for LockdownLog {
    fn name(&self) -> &'static str {
        "lockdownd"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.files(&FILES)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let zone = LocalZone::of(p.evidence, p.artifact);
        let mut reader = p.evidence.open(p.artifact)?;
        parse_lines(&mut reader, zone, p)
    }
}

/// The bytes of one log (tests and the fuzz target).
pub fn parse_bytes(bytes: &[u8], zone: LocalZone, p: &mut Output) -> Result<(), SourceError> {
    parse_lines(&mut BytesLines::new(bytes), zone, p)
}

pub fn parse_lines(
    reader: &mut impl LineSource,
    zone: LocalZone,
    p: &mut Output,
) -> Result<(), SourceError> {
    let zone_tag = zone.tag();
    let (mut continued, mut bad_time) = (0usize, 0usize);
    let result = textlog::each_line(reader, p, |n, text, p| {
        let Some(c) = LINE.captures(text) else {
            if !text.trim().is_empty() {
                continued += 1;
            }
            return;
        };
        // MM/DD/YY: two-digit years are 20YY (lockdownd's logs postdate 2000).
        let local = (|| {
            let (m, d, y): (u32, u32, i32) =
                (c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
            textlog::date_time(NaiveDate::from_ymd_opt(2000 + y, m, d)?, &c[4])
        })();
        let ts = local.and_then(|l| zone.utc(l));
        if ts.is_none() {
            bad_time += 1;
        }
        let (function, body) = (&c[6], &c[7]);
        let lower = body.to_ascii_lowercase();
        let service = SERVICE
            .find(body)
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let kind = if lower.contains("pair") || function.contains("pair") {
            "pairing"
        } else if function.contains("start_service") || function.contains("spawn_xpc_service") {
            "service_started"
        } else {
            "log_entry"
        };
        let e = Event::new("lockdownd", kind, ts)
            .actor(function.to_string())
            .target(service)
            .message(body.chars().take(2000).collect::<String>())
            .at("", format!("line:{n}"))
            .tag(format!("pid:{}", &c[5]))
            .tag(zone_tag.clone());
        p.emit(e);
    });
    if continued > 0 {
        // Multi-line values (dictionaries, object descriptions) continue a line; their
        // text is not a row of its own.
        p.facts
            .insert("continuation_lines".into(), continued.into());
    }
    if bad_time > 0 {
        p.warn(format!(
            "{bad_time} lines have a date that does not exist; kept without a time"
        ));
    }
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_kinds_and_zone() {
        let zone = LocalZone::from_name("sysdiagnose_2021.10.13_08-00-00-0400_x");
        let log = "\
10/13/21 07:57:42.865446 pid=69 mglog: libMobileGestalt MGBasebandSupport.c:183: No IMEI
10/13/21 07:57:43.000001 pid=69 handle_start_service: Started \"com.apple.mobile.notification_proxy\" for host
   continuation of something
10/13/21 07:57:44.5 pid=69 validate_pairing: pairing record for host ABC is valid
13/45/21 07:57:44.5 pid=69 f: impossible date
";
        let mut o = Output::new("", "sysdiagnose/logs/MobileLockdown/lockdownd.log");
        parse_bytes(log.as_bytes(), zone, &mut o).unwrap();
        let (b, warnings, facts) = o.into_parts();
        let df = b.finish().unwrap();
        let col = |n: &str| crate::sources::fixture::texts(&df, n);
        assert_eq!(
            col("kind"),
            ["log_entry", "service_started", "pairing", "log_entry"]
        );
        assert_eq!(col("target")[1], "com.apple.mobile.notification_proxy");
        assert_eq!(col("record"), ["line:1", "line:2", "line:4", "line:5"]);
        let ts = df
            .column("ts")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .clone();
        // 07:57:42.865446 at -0400 → 11:57:42.865446 UTC.
        assert_eq!(
            crate::timeline::time::from_micros(ts.get(0).unwrap())
                .unwrap()
                .to_rfc3339(),
            "2021-10-13T11:57:42.865446+00:00"
        );
        assert_eq!(ts.get(3), None);
        assert_eq!(facts["continuation_lines"], 1);
        assert!(warnings
            .iter()
            .any(|w| w.contains("date that does not exist")));
    }
}
