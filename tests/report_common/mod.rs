//! A small case folder (OUT) built in code for the report tests: a Triangulation-like
//! chain (iMessage → IMTransferAgent download → emptied attachment folder → BackupAgent),
//! with attacker-controlled text where an attacker would put it.
#![allow(dead_code)]

use std::path::Path;

use chainline::analyze::{ArtifactReport, ArtifactStatus, ContainerReport, RunLog};
use chainline::annotations::{Annotations, Note, TagMark as Tag};
use chainline::evidence::{ContainerKind, DeviceInfo, InputRecord};
use chainline::timeline::{self, Event, TimelineBuilder};
use chrono::{DateTime, TimeZone, Utc};

pub const UDID: &str = "00008030-000A1B2C3D4E5F60";
pub const SMS_DB: &str = "HomeDomain/Library/SMS/sms.db";
pub const DATAUSAGE: &str = "WirelessDomain/Library/Databases/DataUsage.sqlite";
pub const PWN_MESSAGE: &str = "<script>window.__pwned=1</script>";
/// A process name that would run script if it ever reached innerHTML.
pub const PWN_PROCESS: &str = "<img src=x onerror=window.__pwned=2>";

fn at(h: u32, m: u32, s: u32, us: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2022, 9, 13, h, m, s)
        .single()
        .map(|t| t + chrono::Duration::microseconds(us as i64))
}

fn day(d: u32, h: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2022, 9, d, h, 30, 0).single()
}

/// The timeline rows, in the order sources would emit them.
pub fn events() -> Vec<Event> {
    let manifest = |t, kind: &'static str, path: &str, id: &str, macb: &str| {
        let mut e = Event::new("manifest", kind, t)
            .actor("MediaDomain")
            .target(format!("MediaDomain/{path}"))
            .message(format!("{macb} directory MediaDomain/{path}"))
            .at("Manifest.db", format!("Files:{id}"))
            .tag(format!("macb:{macb}"));
        for l in ['M', 'C'] {
            if macb.contains(l) {
                e = e.tag(l.to_string());
            }
        }
        e
    };
    vec![
        // Earlier days: ordinary use.
        Event::new("sms", "message_received", day(10, 18))
            .actor("+15555550100")
            .target("+15555550100")
            .message("See you at 8")
            .at(SMS_DB, "message:1")
            .tag("imessage"),
        Event::new("datausage", "network_usage", day(12, 9))
            .actor("MobileSafari")
            .target("com.apple.mobilesafari")
            .message("MobileSafari used the network")
            .bytes(Some(1_200_000), Some(34_000))
            .at(DATAUSAGE, "ZLIVEUSAGE:3"),
        Event::new("tcc", "permission_changed", day(12, 11))
            .actor("com.example.chat")
            .target("kTCCServiceCamera")
            .message("com.example.chat: kTCCServiceCamera allowed")
            .at("HomeDomain/Library/TCC/TCC.db", "access:4")
            .tag("auth:allowed"),
        manifest(at(9, 55, 2, 0), "file_modified", "Library/SMS/Attachments/12", "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", "M-C-")
            .tag("attachment_dir"),
        // The chain.
        Event::new("sms", "message_received", at(10, 4, 1, 500_000))
            .actor("attacker@example.com")
            .target("attacker@example.com")
            .message(PWN_MESSAGE)
            .at(SMS_DB, "message:3")
            .tag("imessage")
            .tag("has_attachment"),
        Event::new("sms", "attachment_received", at(10, 4, 1, 600_000))
            .actor("attacker@example.com")
            .target("~/Library/SMS/Attachments/65/05/a.watchface")
            .message("attachment a.watchface (com.apple.watchface), file missing")
            .at(SMS_DB, "attachment:12")
            .tag("uti:com.apple.watchface")
            .tag("file_missing"),
        Event::new("datausage", "network_usage", at(10, 4, 11, 890_000))
            .actor("IMTransferAgent")
            .target("com.apple.datausage.messages")
            .message("IMTransferAgent used the network (WWAN in 76,000,000 B)")
            .bytes(Some(76_000_000), Some(0))
            .at(DATAUSAGE, "ZLIVEUSAGE:12"),
        manifest(at(10, 4, 54, 0), "file_modified", "Library/SMS/Attachments/65/05", "5e0f8a7d6c5b4a392817f6e5d4c3b2a190817263", "M-C-")
            .tag("attachment_dir")
            .tag("empty_dir"),
        Event::new("datausage", "network_usage", at(10, 5, 14, 740_000))
            .actor("BackupAgent")
            .target("")
            .message("BackupAgent used the network (WWAN in 183,412 B)")
            .bytes(Some(183_412), Some(9_031))
            .at(DATAUSAGE, "ZLIVEUSAGE:13")
            .tag("no_bundle_id")
            .tag("ioc:Operation Triangulation"),
        // Context after the chain, with attacker-named things.
        Event::new("crash", "crash", at(10, 9, 30, 0))
            .actor(PWN_PROCESS)
            .target("/private/var/tmp/=cmd|' /C calc'!A0")
            .message(format!("{PWN_PROCESS} crashed (EXC_BAD_ACCESS)"))
            .at("sysdiagnose/crashes_and_spins/x.ips", "file")
            .tag("bug_type:309"),
        Event::new("datausage", "process_first_seen", at(10, 12, 0, 0))
            .actor("com.apple.WebKit.WebContent")
            .target("com.apple.WebKit")
            .message("com.apple.WebKit.WebContent first seen; line\u{2028}separator & </script> end")
            .at(DATAUSAGE, "ZPROCESS:7"),
        // Later and untimed.
        Event::new("sms", "message_sent", day(14, 8))
            .actor("me")
            .target("+15555550100")
            .message("ok")
            .at(SMS_DB, "message:4")
            .tag("from_me"),
        Event::new("manifest", "file_created", None)
            .actor("HomeDomain")
            .target("HomeDomain/Library/Preferences/com.apple.ImageIO.plist")
            .message("---- file HomeDomain/Library/Preferences/com.apple.ImageIO.plist (time out of range)")
            .at("Manifest.db", "Files:ffeeddccbbaa99887766554433221100ffeeddcc"),
    ]
}

pub fn findings() -> serde_json::Value {
    let ev = |ts: &str,
              source: &str,
              kind: &str,
              actor: &str,
              target: &str,
              message: &str,
              artifact: &str,
              record: &str,
              role: &str,
              offset: f64,
              class: &str| {
        serde_json::json!({"ts": ts, "source": source, "kind": kind, "actor": actor, "target": target, "message": message,
            "artifact": artifact, "record": record, "role": role, "offset_s": offset, "class": class})
    };
    serde_json::json!({"findings": [
        {
            "id": "F001", "rule": "imessage_zero_click", "title": "iMessage followed by download, emptied attachment folder and BackupAgent",
            "severity": "critical", "score": 9.5,
            "start": "2022-09-13T10:04:01.500000Z", "end": "2022-09-13T10:05:14.740000Z",
            "explanation": "A message from attacker@example.com with an attachment arrived; within 73 s IMTransferAgent downloaded 76 MB, \
    its attachment folder was modified and left empty, and BackupAgent (never networks on a clean phone) used the network.\n\
    This matches the published Operation Triangulation sequence.",
            "events": [
                ev("2022-09-13T10:04:01.500000Z", "sms", "message_received", "attacker@example.com", "attacker@example.com", PWN_MESSAGE, SMS_DB, "message:3", "trigger", 0.0, ""),
                ev("2022-09-13T10:04:11.890000Z", "datausage", "network_usage", "IMTransferAgent", "com.apple.datausage.messages", "IMTransferAgent used the network (WWAN in 76,000,000 B)", DATAUSAGE, "ZLIVEUSAGE:12", "follow_up", 10.39, "net"),
                ev("2022-09-13T10:04:54.000000Z", "manifest", "file_modified", "MediaDomain", "MediaDomain/Library/SMS/Attachments/65/05", "M-C- directory MediaDomain/Library/SMS/Attachments/65/05", "Manifest.db", "Files:5e0f8a7d6c5b4a392817f6e5d4c3b2a190817263", "follow_up", 52.5, "file"),
                ev("2022-09-13T10:05:14.740000Z", "datausage", "network_usage", "BackupAgent", "", "BackupAgent used the network (WWAN in 183,412 B)", DATAUSAGE, "ZLIVEUSAGE:13", "follow_up", 73.24, "process"),
            ],
            "iocs": [{"type": "process", "value": "BackupAgent", "malware": "Operation Triangulation", "file": "iocs/operation_triangulation.stix2"}]
        },
        {
            "id": "F002", "rule": "crash_after_message", "title": "Process crash with a script-like name",
            "severity": "medium", "score": 4,
            "start": "2022-09-13T10:09:30.000000Z", "end": "2022-09-13T10:09:30.000000Z",
            "explanation": format!("{PWN_PROCESS} crashed 5 min after the message."),
            "events": [
                ev("2022-09-13T10:09:30.000000Z", "crash", "crash", PWN_PROCESS, "/private/var/tmp/=cmd|' /C calc'!A0", &format!("{PWN_PROCESS} crashed (EXC_BAD_ACCESS)"), "sysdiagnose/crashes_and_spins/x.ips", "file", "trigger", 0.0, ""),
            ],
            "iocs": []
        }
    ]})
}

pub fn annotations() -> Annotations {
    Annotations {
        tags: vec![Tag {
            artifact: SMS_DB.into(),
            record: "message:3".into(),
            tag: "lure <b>".into(),
            added: "2024-03-01T09:00:00.000000Z".parse().expect("fixture time"),
        }],
        notes: vec![Note {
            finding: "F001".into(),
            text: "The owner saw no message at that time. <i>not markup</i>".into(),
            added: "2024-03-01T09:05:00.000000Z".parse().expect("fixture time"),
        }],
    }
}

pub fn run_log(tl: &polars::prelude::DataFrame) -> RunLog {
    let mut log = RunLog::start(std::path::Path::new("out/case"));
    log.started = "2024-03-01T08:00:00.000000Z".into();
    log.command = vec![
        "chainline".into(),
        "analyze".into(),
        "evidence/backup".into(),
        "-o".into(),
        "out/case".into(),
    ];
    log.containers = vec![ContainerReport {
        kind: ContainerKind::Backup,
        origin: "evidence/backup".into(),
        device: DeviceInfo {
            udid: Some(UDID.into()),
            name: Some("Alice’s iPhone <3".into()),
            product_type: Some("iPhone12,1".into()),
            ios_version: Some("15.7".into()),
            build: Some("19H12".into()),
            serial: Some("F2LXXXXXXXXX".into()),
            last_backup: None,
        },
        encryption: None,
        label: None,
    }];
    log.inputs = vec![
        InputRecord {
            path: "evidence/backup/Manifest.db".into(),
            logical: "Manifest.db".into(),
            size: 1_294_336,
            mtime: Some("2022-09-20T15:40:03.000000Z".into()),
            sha256: "9f".repeat(32),
            plaintext: None,
        },
        InputRecord {
            path: "evidence/backup/3d/3d0d7e".into(),
            logical: SMS_DB.into(),
            size: 40_960,
            mtime: None,
            sha256: "3d".repeat(32),
            plaintext: None,
        },
    ];
    log.artifacts = vec![
        ArtifactReport {
            source: "sms".into(),
            artifact: SMS_DB.into(),
            path: Some("evidence/backup/3d/3d0d7e".into()),
            container: 0,
            status: ArtifactStatus::Partial,
            rows: 4,
            warnings: vec!["attachment:12: file </script> not in the backup".into()],
            error: None,
            facts: Default::default(),
            elapsed_ms: 1.0,
        },
        ArtifactReport::missing(
            "safari",
            "HomeDomain/Library/Safari/History.db",
            0,
            "listed in Manifest.db but not present",
        ),
        ArtifactReport {
            source: "datausage".into(),
            artifact: DATAUSAGE.into(),
            path: Some("evidence/backup/0d/0d609c".into()),
            container: 0,
            status: ArtifactStatus::Parsed,
            rows: 4,
            warnings: vec![],
            error: None,
            facts: serde_json::from_value(serde_json::json!({"zpk_gaps": [5, 9]})).unwrap(),
            elapsed_ms: 1.0,
        },
        ArtifactReport {
            source: "shutdown".into(),
            artifact: "sysdiagnose/system_logs.logarchive/Extra/shutdown.log".into(),
            path: None,
            container: 0,
            status: ArtifactStatus::Failed,
            rows: 0,
            warnings: vec![],
            error: Some("not UTF-8 at byte 12".into()),
            facts: Default::default(),
            elapsed_ms: 1.0,
        },
    ];
    log.rules = vec![
        serde_json::json!({"id": "imessage_zero_click", "title": "iMessage then activity within minutes", "window_s": 300, "min_classes": 2, "source": "built-in"}),
        serde_json::json!({"id": "crash_after_message", "title": "Crash of a message parser after a message", "window_s": 120, "min_classes": 1, "source": "rules/crash.toml"}),
    ];
    log.ioc_files = vec![
        serde_json::json!({"path": "iocs/operation_triangulation.stix2", "sha256": "ab".repeat(32), "indicators": 42, "malware": ["Operation Triangulation"]}),
    ];
    log.summarise(tl);
    log.finish();
    log.finished = Some("2024-03-01T08:00:07.250000Z".into());
    log
}

/// Writes timeline.parquet, findings.json, run.json and annotations.json into `out`.
pub fn write_case(out: &Path) {
    let mut b = TimelineBuilder::new(UDID);
    for e in events() {
        b.push(e);
    }
    let tl = timeline::assemble(vec![b.finish().unwrap()]).unwrap();
    timeline::write_parquet(&tl, &out.join("timeline.parquet")).unwrap();
    std::fs::write(
        out.join("findings.json"),
        serde_json::to_vec_pretty(&findings()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        out.join("run.json"),
        serde_json::to_vec_pretty(&run_log(&tl)).unwrap(),
    )
    .unwrap();
    annotations().save(out).unwrap();
}

/// The report with its one run-dependent part (the generation time) and the temp
/// folder replaced by fixed text.
pub fn normalised(html: &str, out: &Path) -> String {
    let mut s = html.replace(&out.display().to_string(), "<OUT>");
    let open = "<time id=\"generated\">";
    if let Some(a) = s.find(open) {
        if let Some(b) = s[a..].find("</time>") {
            s.replace_range(a + open.len()..a + b, "GENERATED");
        }
    }
    s
}
