//! Unified log exports: `log show --style ndjson` (what an analyst with a Mac writes
//! from a sysdiagnose's `system_logs.logarchive`), given directly or lying in a case
//! folder.
//!
//! Each line is one JSON object with the fields `log show` writes: `timestamp`
//! (`2022-09-13 12:04:11.890000+0200`: local time with its offset), `machTimestamp`,
//! `processImagePath`, `senderImagePath`, `processID`, `threadID`, `subsystem`,
//! `category`, `messageType` (Default, Info, Debug, Error, Fault), `eventType`,
//! `eventMessage`, `bootUUID`, `traceID`, .... A real archive holds millions of entries,
//! so only those of the processes and subsystems listed in `rules/unifiedlog_keep.toml`
//! become rows (each listed with the reason a zero-click case needs it); the others are
//! counted per subsystem in run.json (`facts.skipped_by_subsystem`).
//!
//! Reading the binary tracev3 files of a logarchive directly is not done yet (see
//! docs/SOURCES.md): no public iOS logarchive was available to test against.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

use crate::evidence::{BytesLines, Evidence, LineSource, Lookup};
use crate::timeline::{time, Event};

use super::textlog;
use super::{Output, Parse, Source, SourceError};

pub struct UnifiedLog;

/// `log show --style ndjson` output: any `.ndjson` export that is not an App Privacy
/// Report.
pub fn is_log_export(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".ndjson") && !super::privacyreport::is_privacy_report(name)
}

const KEEP_TOML: &str = include_str!("../../rules/unifiedlog_keep.toml");

#[derive(Deserialize)]
struct KeepFile {
    #[serde(default)]
    process: Vec<KeepEntry>,
    #[serde(default)]
    subsystem: Vec<KeepEntry>,
}

#[derive(Deserialize)]
struct KeepEntry {
    name: String,
    #[allow(dead_code)]
    why: String,
}

/// Which entries become rows.
pub struct KeepList {
    processes: HashSet<String>,
    subsystems: Vec<String>,
}

impl KeepList {
    pub fn builtin() -> &'static KeepList {
        static KEEP: LazyLock<KeepList> = LazyLock::new(|| {
            // The file ships inside the binary and is checked by a test; an error here
            // would keep nothing rather than stop the analysis.
            let f: KeepFile = toml::from_str(KEEP_TOML).unwrap_or(KeepFile {
                process: Vec::new(),
                subsystem: Vec::new(),
            });
            KeepList {
                processes: f.process.into_iter().map(|e| e.name).collect(),
                subsystems: f.subsystem.into_iter().map(|e| e.name).collect(),
            }
        });
        &KEEP
    }

    /// Kept when the process is listed, or the subsystem is one listed or below it.
    pub fn keeps(&self, process: &str, subsystem: &str) -> bool {
        self.processes.contains(process)
            || self.subsystems.iter().any(|s| {
                subsystem == s
                    || (subsystem.starts_with(s.as_str())
                        && subsystem.as_bytes().get(s.len()) == Some(&b'.'))
            })
    }
}

impl Source for UnifiedLog {
    fn name(&self) -> &'static str {
        "unifiedlog"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.exports(is_log_export)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let mut reader = p.evidence.open(p.artifact)?;
        parse_lines(&mut reader, KeepList::builtin(), p)
    }
}

/// The bytes of one export (tests and the fuzz target), with the built-in keep list.
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    parse_lines(&mut BytesLines::new(bytes), KeepList::builtin(), p)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Entry {
    timestamp: Option<String>,
    process_image_path: Option<String>,
    #[serde(rename = "processID")]
    process_id: Option<i64>,
    subsystem: Option<String>,
    category: Option<String>,
    message_type: Option<String>,
    event_type: Option<String>,
    event_message: Option<String>,
    #[serde(rename = "bootUUID")]
    boot_uuid: Option<String>,
}

/// What a kept entry is, from its process and message.
fn kind_of(process: &str, message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    match process {
        "imagent" | "IMTransferAgent" if m.contains("download") || m.contains("transfer") => {
            "attachment_download"
        }
        p if p.contains("BlastDoor") => "blastdoor_parse",
        "launchd" if m.contains("spawn") => "process_spawn",
        "ReportCrash" | "osanalyticshelper" if m.contains(".ips") || m.contains("crash") => {
            "crash_report_written"
        }
        "nsurlsessiond" | "networkd" | "mDNSResponder"
            if m.contains("connect") || m.contains("task <") =>
        {
            "network_connection"
        }
        _ => "log_entry",
    }
}

pub fn parse_lines(
    reader: &mut impl LineSource,
    keep: &KeepList,
    p: &mut Output,
) -> Result<(), SourceError> {
    let (mut bad, mut kept, mut no_time) = (0usize, 0usize, 0usize);
    let mut first_bad = None;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let result = textlog::each_line(reader, p, |n, text, p| {
        let text = text.trim();
        // `log show` may print a header or a closing summary line around the JSON.
        if text.is_empty() || !text.starts_with('{') {
            return;
        }
        let e: Entry = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(err) => {
                bad += 1;
                first_bad.get_or_insert(format!("line {n}: {err}"));
                return;
            }
        };
        let path = e.process_image_path.unwrap_or_default();
        let process = path.rsplit('/').next().unwrap_or("").to_string();
        let subsystem = e.subsystem.unwrap_or_default();
        if !keep.keeps(&process, &subsystem) {
            // Bounded: a hostile export with endless distinct subsystems is summed
            // under one key past the first thousand.
            let key = if skipped.len() < 1000 || skipped.contains_key(&subsystem) {
                subsystem
            } else {
                "(others)".to_string()
            };
            *skipped.entry(key).or_default() += 1;
            return;
        }
        kept += 1;
        let ts = e.timestamp.as_deref().and_then(time::with_offset);
        if ts.is_none() {
            no_time += 1;
        }
        let message = e.event_message.unwrap_or_default();
        let kind = kind_of(&process, &message);
        let target = match e.category.as_deref().filter(|c| !c.is_empty()) {
            Some(c) if !subsystem.is_empty() => format!("{subsystem}/{c}"),
            _ => subsystem.clone(),
        };
        let mut ev = Event::new("unifiedlog", kind, ts)
            .actor(process.clone())
            .target(target)
            .message(format!(
                "{process}[{}]: {}",
                e.process_id.map(|p| p.to_string()).unwrap_or_default(),
                message.chars().take(2000).collect::<String>()
            ))
            .at("", format!("line:{n}"));
        if let Some(t) = e.message_type.filter(|t| !t.is_empty()) {
            ev = ev.tag(format!("level:{}", t.to_ascii_lowercase()));
        }
        if let Some(pid) = e.process_id {
            ev = ev.tag(format!("pid:{pid}"));
        }
        if let Some(b) = e.boot_uuid.filter(|b| !b.is_empty()) {
            ev = ev.tag(format!("boot:{b}"));
        }
        if e.event_type.as_deref().is_some_and(|t| t != "logEvent") {
            ev = ev.tag(format!("event:{}", e.event_type.unwrap_or_default()));
        }
        if message.is_empty() {
            // Entries whose format strings were not in the archive come back empty.
            ev = ev.tag("incomplete");
        }
        if !path.is_empty() && path != process {
            ev = ev.tag(format!("image:{path}"));
        }
        p.emit(ev);
    });
    p.facts.insert("kept".into(), kept.into());
    p.facts.insert(
        "skipped_by_subsystem".into(),
        serde_json::to_value(&skipped).unwrap_or_default(),
    );
    if bad > 0 {
        p.warn(format!(
            "{bad} lines are not log entries (JSON objects) and were skipped (first: {})",
            first_bad.unwrap_or_default()
        ));
    }
    if no_time > 0 {
        p.warn(format!(
            "{no_time} kept entries have no readable timestamp; kept without a time"
        ));
    }
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keep_list_parses_and_keeps_what_it_lists() {
        let f: KeepFile = toml::from_str(KEEP_TOML).expect("rules/unifiedlog_keep.toml");
        assert!(f.process.iter().all(|e| !e.why.trim().is_empty()));
        let k = KeepList::builtin();
        assert!(k.keeps("IMTransferAgent", ""));
        assert!(k.keeps("someapp", "com.apple.network"));
        assert!(k.keeps("someapp", "com.apple.network.connection"));
        assert!(!k.keeps("someapp", "com.apple.networkextension"));
        assert!(!k.keeps("SpringBoard", "com.apple.springboard"));
    }

    #[test]
    fn entries_kinds_and_skips() {
        let lines = [
            r#"{"timestamp":"2022-09-13 12:04:11.890000+0200","processImagePath":"/System/Library/PrivateFrameworks/IMTransferServices.framework/IMTransferAgent.app/IMTransferAgent","processID":412,"subsystem":"com.apple.Messages","category":"IMTransferAgent","messageType":"Default","eventType":"logEvent","eventMessage":"Starting download of attachment 0A1B","bootUUID":"B00T"}"#,
            r#"{"timestamp":"2022-09-13 12:04:12.000000+0200","processImagePath":"/System/Library/CoreServices/SpringBoard.app/SpringBoard","processID":60,"subsystem":"com.apple.springboard","eventMessage":"not kept"}"#,
            r#"{"timestamp":"2022-09-13 12:04:13.000000+0200","processImagePath":"/sbin/launchd","processID":1,"subsystem":"com.apple.xpc","eventMessage":"Successfully spawned roleaboutd[812] because ipc message"}"#,
            r#"{"timestamp":"2022-09-13 12:04:14.000000+0200","processImagePath":"/usr/libexec/imagent","processID":90,"eventMessage":""}"#,
            r#"{"timestamp": "cut short"#,
            "Filtering the log data using \"...\"",
        ]
        .join("\n");
        let mut o = Output::new("", "log.ndjson");
        parse_bytes(lines.as_bytes(), &mut o).unwrap();
        let (b, warnings, facts) = o.into_parts();
        let df = b.finish().unwrap();
        let col = |n: &str| crate::sources::fixture::texts(&df, n);
        assert_eq!(
            col("kind"),
            ["attachment_download", "process_spawn", "log_entry"]
        );
        assert_eq!(col("actor"), ["IMTransferAgent", "launchd", "imagent"]);
        assert_eq!(col("record"), ["line:1", "line:3", "line:4"]);
        let ts = df
            .column("ts")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .get(0)
            .unwrap();
        assert_eq!(
            time::from_micros(ts).unwrap().to_rfc3339(),
            "2022-09-13T10:04:11.890+00:00"
        );
        assert_eq!(facts["kept"], 3);
        assert_eq!(facts["skipped_by_subsystem"]["com.apple.springboard"], 1);
        assert!(warnings
            .iter()
            .any(|w| w.contains("1 lines are not log entries")));
    }
}
