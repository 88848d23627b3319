//! `ps.txt` (and `ps_thread.txt`): every process running when the sysdiagnose was taken,
//! with its full executable path, arguments, user, parent and start time.
//!
//! sysdiagnose runs BSD `ps` with a header line naming its columns
//! (`USER UID PRSNA PID PPID F %CPU %MEM PRI NI VSZ RSS WCHAN TT STAT STARTED TIME COMMAND`
//! on recent versions); the columns are found by that header, not by position, and
//! `COMMAND` (path then arguments) is the rest of the line. `STARTED` is local time
//! without a zone, at the precision BSD `ps` chooses by age: `6:40PM` (today), `Tue06PM`
//! (this week), `18Aug22` (older). It is resolved against the collection time and zone
//! from the sysdiagnose's name (see `textlog`); the row's time is the start, to the
//! precision written (tag `started:<minute|hour|day>`). An implant running from
//! `/private/var/tmp/` or `/private/var/db/` at collection is what Kaspersky's iShutdown
//! and Amnesty's methods look for.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

use crate::evidence::{BytesLines, Evidence, FileSet, LineSource, Lookup};
use crate::timeline::Event;

use super::textlog::{self, LocalZone};
use super::{Output, Parse, Source, SourceError};

pub struct ProcessList;

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &[],
    sysdiagnose: &[""],
    crash_folders: false,
    name: is_ps,
};

fn is_ps(name: &str) -> bool {
    matches!(name, "ps.txt" | "ps_thread.txt")
}

/// Where system and App Store code lives on iOS; an executable elsewhere is tagged
/// `unusual_path`. `/private/var/containers/Bundle/Application/` holds installed apps,
/// `/Developer/` the developer disk image; `/private/var/tmp/` and `/private/var/db/`
/// are where Pegasus, Reign and Predator ran from (iShutdown, Amnesty).
const SYSTEM_PREFIXES: [&str; 10] = [
    "/System/",
    "/usr/",
    "/sbin/",
    "/bin/",
    "/Applications/",
    "/private/var/containers/Bundle/Application/",
    "/var/containers/Bundle/Application/",
    "/Developer/",
    "/AppleInternal/",
    "/Library/Developer/",
];

pub fn is_unusual_path(path: &str) -> bool {
    path.starts_with('/') && !SYSTEM_PREFIXES.iter().any(|p| path.starts_with(p))
}

impl Source for ProcessList {
    fn name(&self) -> &'static str {
        "ps"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        // Only the top of the sysdiagnose (the archive's one folder), not files named
        // ps.txt deeper down.
        ev.files(&FILES)
            .into_iter()
            .filter(|l| match l {
                Lookup::Found(a) => {
                    let root = &ev.container(a.container).root;
                    a.path
                        .strip_prefix(root)
                        .map(|r| r.components().count() <= 2)
                        .unwrap_or(false)
                }
                Lookup::Missing { .. } => true,
            })
            .collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let zone = LocalZone::of(p.evidence, p.artifact);
        let mut reader = p.evidence.open(p.artifact)?;
        parse_lines(&mut reader, zone, p)
    }
}

/// The bytes of one ps.txt (tests and the fuzz target).
pub fn parse_bytes(bytes: &[u8], zone: LocalZone, p: &mut Output) -> Result<(), SourceError> {
    parse_lines(&mut BytesLines::new(bytes), zone, p)
}

/// Column positions from the header.
struct Header {
    names: Vec<String>,
}

impl Header {
    fn parse(line: &str) -> Option<Header> {
        let names: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if !names.iter().any(|n| n == "PID") || names.last().map(String::as_str) != Some("COMMAND")
        {
            return None;
        }
        Some(Header { names })
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

pub fn parse_lines(
    reader: &mut impl LineSource,
    zone: LocalZone,
    p: &mut Output,
) -> Result<(), SourceError> {
    let mut header: Option<Header> = None;
    let (mut skipped, mut no_time) = (0usize, 0usize);
    let zone_tag = zone.tag();
    let collected = zone.collected_local();
    let result = textlog::each_line(reader, p, |n, text, p| {
        if text.trim().is_empty() {
            return;
        }
        let Some(h) = header.as_ref() else {
            header = Header::parse(text);
            if header.is_none() {
                skipped += 1;
            }
            return;
        };
        if Header::parse(text).is_some() {
            return; // a repeated header (ps_thread.txt)
        }
        // Fields before COMMAND are whitespace-separated; COMMAND is the rest.
        let fixed = h.names.len() - 1;
        let mut fields = Vec::with_capacity(fixed);
        let mut rest = text;
        for _ in 0..fixed {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let command = rest.trim();
        if fields.len() < fixed || command.is_empty() {
            // ps_thread.txt lists threads under each process with fewer columns.
            skipped += 1;
            return;
        }
        let get = |name: &str| {
            h.index(name)
                .and_then(|i| fields.get(i))
                .copied()
                .unwrap_or("")
        };
        let pid = get("PID");
        if pid.parse::<u32>().is_err() {
            skipped += 1;
            return;
        }
        let (path, args) = match command.split_once(char::is_whitespace) {
            Some((p, a)) => (p, a.trim()),
            None => (command, ""),
        };
        let started = get("STARTED");
        let (ts, precision) = match collected.and_then(|c| started_local(started, c)) {
            Some((local, precision)) => (zone.utc(local), Some(precision)),
            None => (None, None),
        };
        if ts.is_none() {
            no_time += 1;
        }
        let user = get("USER");
        let mut e = Event::new("ps", "process_running", ts)
            .actor(path.to_string())
            .target(pid.to_string())
            .message(format!(
                "{command} running at collection (pid {pid}, parent {}, user {user}, started {started})",
                get("PPID"),
            ))
            .at("", format!("line:{n}"))
            .tag(format!("user:{user}"))
            .tag(format!("ppid:{}", get("PPID")))
            .tag(zone_tag.clone());
        if let Some(pr) = precision {
            e = e.tag(format!("started:{pr}"));
        }
        if !args.is_empty() {
            e = e.tag("has_arguments");
        }
        if is_unusual_path(path) {
            e = e.tag("unusual_path");
        }
        p.emit(e);
    });
    if header.is_none() {
        p.warn("no ps header line (USER … PID … COMMAND) found; nothing read");
    } else if skipped > 0 {
        p.facts.insert("lines_not_processes".into(), skipped.into());
    }
    if no_time > 0 {
        p.facts
            .insert("rows_without_start_time".into(), no_time.into());
    }
    result.map(|_| ())
}

/// A BSD `ps` STARTED value as a local time, given the local collection time.
fn started_local(s: &str, collected: NaiveDateTime) -> Option<(NaiveDateTime, &'static str)> {
    let s = s.trim();
    // `6:40PM` / `18:40`: today (or yesterday when later than collection).
    if s.contains(':') {
        let t = NaiveTime::parse_from_str(&s.to_ascii_uppercase(), "%I:%M%p")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .ok()?;
        let mut d = collected.date().and_time(t);
        if d > collected {
            d -= Duration::days(1);
        }
        return Some((d, "minute"));
    }
    // `18Aug22`: day, month, two-digit year.
    if s.len() == 7 && s.as_bytes()[..2].iter().all(u8::is_ascii_digit) {
        let day: u32 = s[..2].parse().ok()?;
        let m = textlog::month(&s[2..5])?;
        let y: i32 = s[5..7].parse().ok()?;
        let d = NaiveDate::from_ymd_opt(2000 + y, m, day)?;
        return Some((d.and_hms_opt(0, 0, 0)?, "day"));
    }
    // `Tue06PM`: weekday and hour within the last week.
    if s.len() == 7 {
        let wd: Weekday = s[..3].parse().ok()?;
        let h: u32 = s[3..5].parse().ok()?;
        let pm = match &s[5..7].to_ascii_uppercase()[..] {
            "AM" => false,
            "PM" => true,
            _ => return None,
        };
        let hour = match (h % 12, pm) {
            (h, false) => h,
            (h, true) => h + 12,
        };
        let mut d = collected.date();
        // Today, if that hour has passed, else the same weekday a week before.
        for _ in 0..8 {
            if d.weekday() == wd {
                let t = d.and_hms_opt(hour, 0, 0)?;
                if t <= collected {
                    return Some((t, "hour"));
                }
            }
            d = d.pred_opt()?;
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn started_values() {
        let c = at("2022-09-20 18:40");
        assert_eq!(
            started_local("6:10PM", c),
            Some((at("2022-09-20 18:10"), "minute"))
        );
        assert_eq!(
            started_local("7:10PM", c),
            Some((at("2022-09-19 19:10"), "minute"))
        );
        assert_eq!(
            started_local("18Aug22", c),
            Some((at("2022-08-18 00:00"), "day"))
        );
        // 2022-09-20 is a Tuesday; Sun06AM is two days before.
        assert_eq!(
            started_local("Sun06AM", c),
            Some((at("2022-09-18 06:00"), "hour"))
        );
        assert_eq!(
            started_local("Tue08PM", c),
            Some((at("2022-09-13 20:00"), "hour"))
        );
        assert_eq!(started_local("garbage", c), None);
    }

    #[test]
    fn header_driven_rows() {
        let zone =
            LocalZone::from_name("sysdiagnose_2022.09.20_18-40-03+0300_iPhone-OS_iPhone_19H12");
        let text = "\
USER               UID PRSNA   PID  PPID        F  %CPU %MEM PRI NI      VSZ    RSS WCHAN    TT  STAT STARTED      TIME COMMAND
root                 0     -     1     0     4004   0.7  2.3  31  0  4435210  22749 -         ??  Ss   18Aug22    5:52.53 /sbin/launchd
root                 0     -    57     1     4004   1.4  1.0  31  0  4088860  67843 -         ??  Ss   18Aug22    5:43.25 /usr/libexec/UserEventAgent (System)
mobile             501     -   812     1     4004   0.0  0.1  31  0    10000    100 -         ??  Ss    6:30PM    0:00.01 /private/var/tmp/UserEventAgent -x
";
        let mut o = Output::new("", "sysdiagnose/ps.txt");
        parse_bytes(text.as_bytes(), zone, &mut o).unwrap();
        let (b, _, _) = o.into_parts();
        let df = b.finish().unwrap();
        let col = |n: &str| crate::sources::fixture::texts(&df, n);
        assert_eq!(
            col("actor"),
            [
                "/sbin/launchd",
                "/usr/libexec/UserEventAgent",
                "/private/var/tmp/UserEventAgent"
            ]
        );
        assert_eq!(col("target"), ["1", "57", "812"]);
        let tags = df.column("tags").unwrap().list().unwrap().clone();
        let tags_of = |i: usize| -> Vec<String> {
            tags.get_as_series(i)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|t| t.unwrap().to_string())
                .collect()
        };
        assert!(!tags_of(1).contains(&"unusual_path".to_string()));
        assert!(tags_of(2).contains(&"unusual_path".to_string()));
        assert!(tags_of(2).contains(&"zone:+0300".to_string()));
        // 6:30PM local at +0300 on the collection day → 15:30 UTC.
        let ts = df
            .column("ts")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .get(2)
            .unwrap();
        assert_eq!(
            crate::timeline::time::from_micros(ts).unwrap().to_rfc3339(),
            "2022-09-20T15:30:00+00:00"
        );
    }
}
