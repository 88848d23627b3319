//! A small finished analysis (OUT folder) built in code: one zero-click-shaped chain
//! F001 (a message at 10:00:00, network use at 10:01:30, a crash at 10:04:00) with rows
//! just inside and just outside a ±5 minute window around it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chainline::timeline::{self, Event, TimelineBuilder};
use chrono::{DateTime, Utc};

pub const SMS_DB: &str = "HomeDomain/Library/SMS/sms.db";

pub fn at(s: &str) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(s)
            .expect("fixture time")
            .with_timezone(&Utc),
    )
}

pub fn events() -> Vec<Event> {
    vec![
        Event::new("manifest", "file_created", at("2023-03-01T09:00:00Z"))
            .actor("HomeDomain")
            .target("HomeDomain/Library/Preferences/com.example.plist")
            .message("---B file HomeDomain/Library/Preferences/com.example.plist, 120 bytes")
            .at("Manifest.db", "Files:0a1b")
            .tag("macb:---B")
            .tag("B"),
        Event::new("shutdown", "reboot", at("2023-03-01T09:54:59Z"))
            .message("reboot")
            .at("sysdiagnose/system_logs.logarchive/Extra/shutdown.log", "line:40"),
        Event::new("idstatus", "identity_lookup", at("2023-03-01T09:55:00Z"))
            .actor("com.apple.madrid")
            .target("mailto:attacker@example.com")
            .message("iMessage looked up mailto:attacker@example.com")
            .at("HomeDomain/Library/Preferences/com.apple.identityservices.idstatuscache.plist", "key:com.apple.madrid/mailto:attacker@example.com")
            .tag("status:1"),
        Event::new("sms", "message_received", at("2023-03-01T10:00:00Z"))
            .actor("attacker@example.com")
            .target("attacker@example.com")
            .message("=HYPERLINK(\"http://evil.example/\",\"click\")")
            .at(SMS_DB, "message:7")
            .tag("imessage")
            .tag("finding:F001"),
        Event::new("datausage", "network_usage", at("2023-03-01T10:01:30Z"))
            .actor("BackupAgent")
            .target("com.apple.BackupAgent")
            .message("BackupAgent: 1200000 bytes in, 3000 out")
            .bytes(Some(1_200_000), Some(3_000))
            .at("WirelessDomain/Library/Databases/DataUsage.sqlite", "ZLIVEUSAGE:12")
            .tag("finding:F001"),
        Event::new("crash", "crash", at("2023-03-01T10:04:00Z"))
            .actor("IMTranscoderAgent")
            .target("/System/Library/PrivateFrameworks/IMTranscoding.framework/XPCServices/IMTranscoderAgent.xpc/IMTranscoderAgent")
            .message("IMTranscoderAgent crashed: EXC_BAD_ACCESS")
            .at("IMTranscoderAgent-2023-03-01-100400.ips", "file")
            .tag("bug_type:309")
            .tag("finding:F001"),
        Event::new("tcc", "permission_changed", at("2023-03-01T10:09:00Z"))
            .actor("com.example.app")
            .target("kTCCServiceMicrophone")
            .message("com.example.app allowed kTCCServiceMicrophone")
            .at("HomeDomain/Library/TCC/TCC.db", "access:5")
            .tag("auth:allowed"),
        Event::new("safari", "web_visit", at("2023-03-01T10:09:01Z"))
            .actor("Safari")
            .target("https://news.example/")
            .message("visited https://news.example/")
            .at("HomeDomain/Library/Safari/History.db", "history_visits:33"),
        Event::new("sms", "message_received", None)
            .actor("+15555550100")
            .target("+15555550100")
            .message("a message whose date is zero")
            .at(SMS_DB, "message:8")
            .tag("sms"),
    ]
}

pub const FINDINGS_JSON: &str = r#"{"findings": [{
  "id": "F001", "rule": "message_then_activity", "title": "Message followed by network use and a crash",
  "severity": "high", "score": 0.82,
  "start": "2023-03-01T10:00:00.000000Z", "end": "2023-03-01T10:04:00.000000Z",
  "explanation": "An iMessage from an unknown sender, then BackupAgent traffic and an IMTranscoderAgent crash within 4 minutes.",
  "events": [
    {"ts": "2023-03-01T10:00:00.000000Z", "source": "sms", "kind": "message_received", "actor": "attacker@example.com",
     "target": "attacker@example.com", "message": "=HYPERLINK(\"http://evil.example/\",\"click\")",
     "artifact": "HomeDomain/Library/SMS/sms.db", "record": "message:7", "role": "trigger", "offset_s": 0.0, "class": ""},
    {"ts": "2023-03-01T10:01:30.000000Z", "source": "datausage", "kind": "network_usage", "actor": "BackupAgent",
     "target": "com.apple.BackupAgent", "message": "BackupAgent: 1200000 bytes in, 3000 out",
     "artifact": "WirelessDomain/Library/Databases/DataUsage.sqlite", "record": "ZLIVEUSAGE:12", "role": "follow_up",
     "offset_s": 90.0, "class": "net"},
    {"ts": "2023-03-01T10:04:00.000000Z", "source": "crash", "kind": "crash", "actor": "IMTranscoderAgent",
     "target": "/System/Library/PrivateFrameworks/IMTranscoding.framework/XPCServices/IMTranscoderAgent.xpc/IMTranscoderAgent",
     "message": "IMTranscoderAgent crashed: EXC_BAD_ACCESS", "artifact": "IMTranscoderAgent-2023-03-01-100400.ips",
     "record": "file", "role": "follow_up", "offset_s": 240.0, "class": "crash"}
  ],
  "iocs": [{"type": "email", "value": "attacker@example.com", "malware": "TestSpy", "file": "test.stix2"}]
}]}"#;

/// Writes the fixture OUT folder: timeline.parquet and findings.json.
pub fn write_case(out: &Path) {
    let mut b = TimelineBuilder::new("00008030-000A1B2C3D4E5F60");
    for e in events() {
        b.push(e);
    }
    let df = timeline::assemble(vec![b.finish().expect("frame")]).expect("assemble");
    timeline::write_parquet(&df, &out.join("timeline.parquet")).expect("parquet");
    std::fs::write(out.join("findings.json"), FINDINGS_JSON).expect("findings.json");
}

pub fn case() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out");
    write_case(&out);
    (dir, out)
}

pub fn chainline(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chainline");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

pub fn shell(out: &Path, script: &str) -> Output {
    chainline(&["shell", out.to_str().expect("utf-8 path")], script)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
