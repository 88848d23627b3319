//! `mobile_installation.log`: what installd (MobileInstallation) did — apps and app
//! extensions installed, uninstalled, their data containers made live or destroyed.
//!
//! A sysdiagnose carries it (and rotated copies `mobile_installation.log.0`, ...) under
//! `logs/MobileInstallation/`. Each entry starts with
//! `Wed Aug 11 05:51:02 2021 [176] <notice> (0x16bae7000) <function>: <message>`
//! (local time, no zone: see `textlog`), and may continue over further lines (plist and
//! array dumps), which belong to it. An app that appeared right after a message, or a
//! container made for a bundle id nobody installed, is what an analyst looks for here.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use crate::evidence::{BytesLines, Evidence, FileSet, LineSource, Lookup};
use crate::timeline::Event;

use super::textlog::{self, LocalZone};
use super::{Output, Parse, Source, SourceError};

pub struct InstallLog;

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &["private/var/installd/Library/Logs/MobileInstallation"],
    sysdiagnose: &["logs/MobileInstallation"],
    crash_folders: false,
    name: is_install_log,
};

fn is_install_log(name: &str) -> bool {
    name.to_ascii_lowercase()
        .starts_with("mobile_installation.log")
}

/// Message text kept per entry (continuation lines included).
const MAX_MESSAGE: usize = 2000;

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2}) (\d{4}) \[(\d+)\] <(\w+)> \((0x[0-9a-fA-F]+)\) (.*)$",
    )
    .expect("constant regex")
});

impl Source for InstallLog {
    fn name(&self) -> &'static str {
        "mobileinstallation"
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

struct Entry {
    line: usize,
    event: Event,
}

pub fn parse_lines(
    reader: &mut impl LineSource,
    zone: LocalZone,
    p: &mut Output,
) -> Result<(), SourceError> {
    let mut current: Option<Entry> = None;
    let mut orphan_lines = 0usize;
    let mut bad_time = 0usize;
    let zone_tag = zone.tag();
    let result = textlog::each_line(reader, p, |n, text, p| {
        let Some(c) = HEADER.captures(text) else {
            match current.as_mut() {
                Some(e) if !text.trim().is_empty() => {
                    let m = &mut e.event.message;
                    if m.len() < MAX_MESSAGE {
                        m.push(' ');
                        m.push_str(text.trim());
                        truncate(m, MAX_MESSAGE);
                    }
                }
                Some(_) => {}
                None if text.trim().is_empty() => {}
                None => orphan_lines += 1,
            }
            return;
        };
        if let Some(e) = current.take() {
            emit(e, p);
        }
        let local = textlog::month(&c[1])
            .and_then(|m| NaiveDate::from_ymd_opt(c[4].parse().ok()?, m, c[2].parse().ok()?))
            .and_then(|d| textlog::date_time(d, &c[3]));
        let ts = local.and_then(|l| zone.utc(l));
        if ts.is_none() {
            bad_time += 1;
        }
        let body = &c[8];
        let (kind, bundle, path) = classify(body);
        let mut message = body.to_string();
        truncate(&mut message, MAX_MESSAGE);
        let event = Event::new("mobileinstallation", kind, ts)
            .actor(bundle)
            .target(path)
            .message(message)
            .tag(format!("level:{}", &c[6]))
            .tag(format!("pid:{}", &c[5]))
            .tag(zone_tag.clone());
        current = Some(Entry { line: n, event });
    });
    if let Some(e) = current.take() {
        emit(e, p);
    }
    if orphan_lines > 0 {
        p.warn(format!(
            "{orphan_lines} lines before the first entry header were not read as entries"
        ));
    }
    if bad_time > 0 {
        p.warn(format!(
            "{bad_time} entries have a date that does not exist; kept without a time"
        ));
    }
    result.map(|_| ())
}

fn emit(e: Entry, p: &mut Output) {
    let mut ev = e.event;
    ev.record = format!("line:{}", e.line);
    p.emit(ev);
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

/// What an entry says happened, the bundle id and the path it names.
fn classify(body: &str) -> (&'static str, String, String) {
    let word_after = |marker: &str| -> Option<String> {
        let i = body.find(marker)? + marker.len();
        let w: String = body[i..]
            .trim_start_matches(['(', '"', ' '])
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | ')' | '"' | ','))
            .collect();
        (!w.is_empty()).then_some(w)
    };
    let path = word_after(" at ")
        .filter(|p| p.starts_with('/'))
        .unwrap_or_default();
    if let Some(b) = word_after("Made container live for ") {
        return ("container_created", b, path);
    }
    if body.contains("Destroying container") || body.contains("Destroyed container") {
        let b = word_after("identifier ").unwrap_or_default();
        return ("container_destroyed", b, path);
    }
    if let Some(b) = word_after("Uninstalling identifier ") {
        return ("app_uninstalled", b, path);
    }
    if body.contains("Install Successful for") {
        let b = word_after("Placeholder:")
            .or_else(|| word_after("Install Successful for "))
            .unwrap_or_default();
        return ("app_installed", b, path);
    }
    if let Some(b) = word_after("Installing <MIInstallableBundle ID=") {
        return ("app_install_started", b, path);
    }
    if body.to_ascii_lowercase().contains("profile") && body.contains("nstall") {
        return ("profile_installed", String::new(), path);
    }
    ("log_entry", String::new(), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, zone: LocalZone) -> Output {
        let mut o = Output::new(
            "",
            "sysdiagnose/logs/MobileInstallation/mobile_installation.log",
        );
        parse_bytes(text.as_bytes(), zone, &mut o).unwrap();
        o
    }

    #[test]
    fn entries_with_continuations_and_kinds() {
        let zone = LocalZone::from_name("sysdiagnose_2021.08.11_06-00-00-0700_x");
        let log = "\
Wed Aug 11 05:51:02 2021 [176] <notice> (0x16bae7000) -[MIContainer makeContainerLiveReplacingContainer:reason:waitForDeletion:withError:]: Made container live for com.example.app at /private/var/mobile/Containers/Data/Application/B327BDD9-BD0D-490A-9A31-D07E95DB23E1
Wed Aug 11 05:52:00 2021 [176] <notice> (0x16bae7000) -[MIClientConnection uninstallIdentifiers:]: Uninstalling identifier com.example.old
Wed Aug 11 05:53:00 2021 [176] <err> (0x16bae7000) dump: values (
    \"systemgroup.com.apple.configurationprofiles\"
)
";
        let o = rows(log, zone);
        let (b, _, _) = o.into_parts();
        let df = b.finish().unwrap();
        assert_eq!(df.height(), 3);
        let col = |n: &str| crate::sources::fixture::texts(&df, n);
        assert_eq!(
            col("kind"),
            ["container_created", "app_uninstalled", "log_entry"]
        );
        assert_eq!(col("actor"), ["com.example.app", "com.example.old", ""]);
        let msg = &col("message")[2];
        assert!(
            msg.contains("systemgroup.com.apple.configurationprofiles"),
            "{msg}"
        );
        assert_eq!(col("record"), ["line:1", "line:2", "line:3"]);
        // 05:51:02 at -0700 is 12:51:02 UTC.
        assert_eq!(
            crate::sources::fixture::ts_at(&df, 0).as_deref(),
            Some("2021-08-11T12:51:02+00:00")
        );
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let o = rows("\u{0}\u{1}junk\nmore junk\n", LocalZone::UNKNOWN);
        assert_eq!(o.rows(), 0);
        assert!(o
            .warnings()
            .iter()
            .any(|w| w.contains("before the first entry")));
    }
}
