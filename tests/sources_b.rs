//! shutdown.log, crash reports, addaily, locationd, IDStatusCache and the MVT import,
//! each read from a temp folder laid out as the evidence it comes from (filesystem dump,
//! sysdiagnose, crash folder, backup with a real Manifest.db, MVT output).

use std::path::Path;

use chainline::evidence::{file_id, mbfile, ContainerKind, Evidence, EvidenceError, Lookup};
use chainline::sources::{addaily, crash, idstatus, import, locationd, shutdown, Parse, Source};
use chainline::timeline::time;
use polars::prelude::*;
use serde_json::json;

// ---------------------------------------------------------------- helpers

#[derive(Debug, Clone, PartialEq)]
struct Row {
    ts: Option<String>,
    source: String,
    kind: String,
    actor: String,
    target: String,
    message: String,
    bytes: (Option<i64>, Option<i64>),
    artifact: String,
    record: String,
    tags: Vec<String>,
}

fn row(
    ts: Option<&str>,
    source: &str,
    kind: &str,
    actor: &str,
    target: &str,
    message: &str,
) -> Row {
    Row {
        ts: ts.map(str::to_string),
        source: source.into(),
        kind: kind.into(),
        actor: actor.into(),
        target: target.into(),
        message: message.into(),
        bytes: (None, None),
        artifact: String::new(),
        record: String::new(),
        tags: Vec::new(),
    }
}

impl Row {
    fn at(mut self, artifact: &str, record: &str) -> Self {
        self.artifact = artifact.into();
        self.record = record.into();
        self
    }
    fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }
    fn bytes(mut self, bytes_in: Option<i64>, bytes_out: Option<i64>) -> Self {
        self.bytes = (bytes_in, bytes_out);
        self
    }
}

fn rows(df: &DataFrame) -> Vec<Row> {
    let text = |name: &str| -> Vec<String> {
        df.column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect()
    };
    let ts: Vec<Option<String>> = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .iter()
        .map(|v| v.and_then(time::from_micros).map(|t| time::rfc3339(&t)))
        .collect();
    let ints = |name: &str| -> Vec<Option<i64>> {
        df.column(name).unwrap().i64().unwrap().iter().collect()
    };
    let tags = df.column("tags").unwrap().list().unwrap().clone();
    let (source, kind, actor, target, message, artifact, record) = (
        text("source"),
        text("kind"),
        text("actor"),
        text("target"),
        text("message"),
        text("artifact"),
        text("record"),
    );
    let (bytes_in, bytes_out) = (ints("bytes_in"), ints("bytes_out"));
    (0..df.height())
        .map(|i| Row {
            ts: ts[i].clone(),
            source: source[i].clone(),
            kind: kind[i].clone(),
            actor: actor[i].clone(),
            target: target[i].clone(),
            message: message[i].clone(),
            bytes: (bytes_in[i], bytes_out[i]),
            artifact: artifact[i].clone(),
            record: record[i].clone(),
            tags: tags
                .get_as_series(i)
                .map(|s| {
                    s.str()
                        .unwrap()
                        .iter()
                        .map(|t| t.unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// What one source made of one artifact.
#[derive(Debug)]
struct Outcome {
    artifact: String,
    result: Result<(), String>,
    rows: Vec<Row>,
    warnings: Vec<String>,
    facts: serde_json::Map<String, serde_json::Value>,
}

/// Runs a source over every artifact it discovers, as the pipeline does.
fn run(source: &dyn Source, ev: &Evidence) -> Vec<Outcome> {
    let mut out = Vec::new();
    for l in source.discover(ev) {
        let Lookup::Found(art) = l else { continue };
        let mut p = Parse::new(ev, &art);
        let result = source.parse(&mut p).map_err(|e| e.to_string());
        let (builder, warnings, facts) = p.into_parts();
        let df = builder.finish().unwrap();
        out.push(Outcome {
            artifact: art.logical.clone(),
            result,
            rows: rows(&df),
            warnings,
            facts,
        });
    }
    out.sort_by(|a, b| a.artifact.cmp(&b.artifact));
    out
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A backup folder with a real Manifest.db listing `files` (domain, relativePath, bytes),
/// each stored at `<id[0:2]>/<id>`.
fn backup(root: &Path, files: &[(&str, &str, Vec<u8>)]) {
    std::fs::create_dir_all(root).unwrap();
    let db = rusqlite::Connection::open(root.join("Manifest.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    for (domain, rel, bytes) in files {
        let id = file_id(domain, rel);
        let blob = mbfile::encode(&mbfile::MbFile {
            last_modified: Some(1_663_063_494),
            last_status_change: Some(1_663_063_494),
            birth: Some(1_663_063_400),
            size: Some(bytes.len() as i64),
            mode: Some(0o100644),
            relative_path: Some(rel.to_string()),
            ..Default::default()
        });
        db.execute(
            "INSERT INTO Files VALUES (?1, ?2, ?3, 1, ?4)",
            rusqlite::params![id, domain, rel, blob],
        )
        .unwrap();
        put(root, &format!("{}/{id}", &id[..2]), bytes);
    }
}

fn binary_plist(v: &plist::Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.to_writer_binary(&mut out).unwrap();
    out
}

fn xml_plist(v: &plist::Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.to_writer_xml(&mut out).unwrap();
    out
}

fn dict(entries: Vec<(&str, plist::Value)>) -> plist::Value {
    plist::Value::Dictionary(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn unix_date(micros: u64) -> plist::Value {
    plist::Value::Date((std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros)).into())
}

fn discover(dir: &Path) -> Evidence {
    Evidence::discover(&[dir.to_path_buf()]).unwrap()
}

// ---------------------------------------------------------------- shutdown.log

const SHUTDOWN_LOG: &str = "After 0.51s, these clients are still here:
\t\tremaining client pid: 4242 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)
\t\tremaining client pid: 155 (/usr/libexec/nfcd/6A8E2D1B-1C3F-3A59-9D0E-1F2A3B4C5D6E)
After 1.52s, these clients are still here:
\t\tremaining client pid: 4242 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)
After 3.04s, these clients are still here:
\t\tremaining client pid: 4242 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)
SIGTERM: [1663063451] All buffers flushed
SIGTERM: [1663150000]
After 0.25s, these clients are still here:
\t\tremaining client pid: 77 (/private/var/tmp/UserEventAgent)
";

#[test]
fn shutdown_log_in_a_filesystem_dump() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "private/var/db/diagnostics/shutdown.log",
        SHUTDOWN_LOG.as_bytes(),
    );
    put(
        dir.path(),
        "private/var/db/diagnostics/shutdown.0.log",
        b"SIGTERM: [1663000000]\n",
    );
    put(
        dir.path(),
        "private/var/db/diagnostics/Persist/0000000000000001.tracev3",
        b"not a shutdown log",
    );
    let ev = discover(dir.path());
    let out = run(&shutdown::ShutdownLog, &ev);
    assert_eq!(out.len(), 2, "shutdown.log and its rotated copy");

    let rotated = &out[0];
    assert_eq!(
        rotated.artifact,
        "private/var/db/diagnostics/shutdown.0.log"
    );
    assert_eq!(
        rotated.rows,
        vec![row(
            Some("2022-09-12T16:26:40.000000Z"),
            "shutdown",
            "reboot",
            "",
            "",
            "reboot (SIGTERM) with no delay notice"
        )
        .at("private/var/db/diagnostics/shutdown.0.log", "line:1")
        .tags(&["delays:0"])]
    );

    let log = &out[1];
    let a = "private/var/db/diagnostics/shutdown.log";
    assert_eq!(log.result, Ok(()));
    assert_eq!(
        log.rows,
        vec![
            row(Some("2022-09-13T10:04:11.000000Z"), "shutdown", "reboot", "", "", "reboot (SIGTERM) after 3 delay notices, total delay 3.04 s")
                .at(a, "line:8")
                .tags(&["delays:3"]),
            row(
                Some("2022-09-13T10:04:11.000000Z"),
                "shutdown",
                "shutdown_client",
                "/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd",
                "4242",
                "pid 4242 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd) still running at shutdown: listed in 3 of 3 delay notices, total delay 3.04 s"
            )
            .at(a, "line:2")
            .tags(&["delays:3"]),
            row(
                Some("2022-09-13T10:04:11.000000Z"),
                "shutdown",
                "shutdown_client",
                "/usr/libexec/nfcd",
                "155",
                "pid 155 (/usr/libexec/nfcd/6A8E2D1B-1C3F-3A59-9D0E-1F2A3B4C5D6E) still running at shutdown: listed in 1 of 3 delay notices, total delay 3.04 s"
            )
            .at(a, "line:3")
            .tags(&["delays:3"]),
            row(Some("2022-09-14T10:06:40.000000Z"), "shutdown", "reboot", "", "", "reboot (SIGTERM) with no delay notice")
                .at(a, "line:9")
                .tags(&["delays:0"]),
            row(
                None,
                "shutdown",
                "shutdown_client",
                "/private/var/tmp/UserEventAgent",
                "77",
                "pid 77 (/private/var/tmp/UserEventAgent) still running at shutdown: listed in 1 of 1 delay notices, total delay 0.25 s"
            )
            .at(a, "line:11")
            .tags(&["delays:1"]),
        ]
    );
    assert_eq!(log.warnings.len(), 1, "{:?}", log.warnings);
    assert!(
        log.warnings[0].contains("after the last SIGTERM"),
        "{:?}",
        log.warnings
    );
    assert_eq!(log.facts.get("reboots"), Some(&json!(2)));
    assert_eq!(log.facts.get("most_delay_notices"), Some(&json!(3)));
}

#[test]
fn shutdown_log_in_a_sysdiagnose_with_a_broken_sigterm_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = "SIGTERM: [1663063451]
After 1.00s, these clients are still here:
\t\tremaining client pid: 9 (/usr/sbin/mediaserverd)
SIGTERM: [16630634xx
remaining client pid: garbage
SIGTERM: [1663150000]
";
    put(dir.path(), "sysdiagnose_2022.09.14_12-00-00+0200_iPhone-OS_iPhone_19H12/system_logs.logarchive/Extra/shutdown.log", log.as_bytes());
    let ev = discover(dir.path());
    let out = run(&shutdown::ShutdownLog, &ev);
    assert_eq!(out.len(), 1);
    let a = "sysdiagnose/system_logs.logarchive/Extra/shutdown.log";
    assert_eq!(out[0].artifact, a);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(
        out[0].rows,
        vec![
            row(Some("2022-09-13T10:04:11.000000Z"), "shutdown", "reboot", "", "", "reboot (SIGTERM) with no delay notice")
                .at(a, "line:1")
                .tags(&["delays:0"]),
            row(None, "shutdown", "reboot", "", "", "reboot (SIGTERM) after 1 delay notice, total delay 1.00 s")
                .at(a, "line:4")
                .tags(&["delays:1"]),
            row(
                None,
                "shutdown",
                "shutdown_client",
                "/usr/sbin/mediaserverd",
                "9",
                "pid 9 (/usr/sbin/mediaserverd) still running at shutdown: listed in 1 of 1 delay notices, total delay 1.00 s"
            )
            .at(a, "line:3")
            .tags(&["delays:1"]),
            row(Some("2022-09-14T10:06:40.000000Z"), "shutdown", "reboot", "", "", "reboot (SIGTERM) with no delay notice")
                .at(a, "line:6")
                .tags(&["delays:0"]),
        ]
    );
    assert_eq!(out[0].warnings.len(), 2, "{:?}", out[0].warnings);
    assert!(out[0].warnings[0].starts_with("line:4: SIGTERM line without a readable time"));
    assert!(out[0].warnings[1].starts_with("line:5: unreadable remaining client line"));
}

#[test]
fn empty_shutdown_log_is_a_fact() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "private/var/db/diagnostics/shutdown.log", b"\n");
    let ev = discover(dir.path());
    let out = run(&shutdown::ShutdownLog, &ev);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].result, Ok(()));
    assert!(out[0].rows.is_empty());
    assert_eq!(out[0].warnings, vec!["shutdown.log is empty".to_string()]);
    assert_eq!(out[0].facts.get("empty"), Some(&json!(true)));
}

// ---------------------------------------------------------------- crash reports

fn ips(header: serde_json::Value, body: &str) -> Vec<u8> {
    format!("{header}\n{body}").into_bytes()
}

const CRASH_TEXT: &str = "Incident Identifier: 11111111-2222-3333-4444-555555555555
CrashReporter Key:   0123456789abcdef
Hardware Model:      iPhone9,3
Process:             MobileSafari [1234]
Path:                /Applications/MobileSafari.app/MobileSafari
Identifier:          com.apple.mobilesafari
Parent Process:      launchd [1]

Date/Time:           2020-01-29 08:52:20.3402 -0500
Launch Time:         2020-01-29 08:50:01.1234 -0500
OS Version:          iPhone OS 13.3 (17C54)
Report Version:      104

Exception Type:  EXC_BAD_ACCESS (SIGSEGV)
Exception Subtype: KERN_INVALID_ADDRESS at 0x0000000000000010
Triggered by Thread:  0

Thread 0 name:  Dispatch queue: com.apple.main-thread
Thread 0 Crashed:
0   libobjc.A.dylib               \t0x000000019c0b1b20 objc_msgSend + 32
1   WebKit                        \t0x00000001a1d5e3d4 0x1a1224000 + 11773908
2   WebKit                        \t0x00000001a1d5e3d8 0x1a1224000 + 11773912
3   UIKitCore                     \t0x00000001a1d5e3dc 0x1a1224000 + 11773916

Thread 1:
0   libsystem_kernel.dylib        \t0x00000001c1a5a0dc mach_msg_trap + 8
";

#[test]
fn ios15_json_crash_report_in_a_crash_folder() {
    let dir = tempfile::tempdir().unwrap();
    let header = json!({
        "app_name": "IMTranscoderAgent", "timestamp": "2022-09-13 12:02:04.00 +0200", "app_version": "",
        "bug_type": "309", "os_version": "iPhone OS 15.6.1 (19G82)",
        "incident_id": "0D5A6A7E-1111-2222-3333-444455556666", "name": "IMTranscoderAgent"
    });
    let body = json!({
        "captureTime": "2022-09-13 12:02:03.4567 +0200",
        "procName": "IMTranscoderAgent",
        "procPath": "/System/Library/PrivateFrameworks/IMTranscoding.framework/IMTranscoderAgent",
        "pid": 812,
        "exception": {"type": "EXC_BAD_ACCESS", "signal": "SIGSEGV", "subtype": "KERN_INVALID_ADDRESS at 0x0000000000000000"},
        "faultingThread": 1,
        "threads": [
            {"frames": [{"imageIndex": 0}]},
            {"triggered": true, "frames": [
                {"imageIndex": 2}, {"imageIndex": 2}, {"imageIndex": 1}, {"imageIndex": 0},
                {"imageIndex": 3}, {"imageIndex": 1}, {"imageIndex": 0}
            ]}
        ],
        "usedImages": [
            {"name": "libsystem_kernel.dylib"}, {"name": "ImageIO"},
            {"name": "CoreGraphics", "path": "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"},
            {"path": "/usr/lib/libobjc.A.dylib"}
        ]
    });
    let name = "IMTranscoderAgent-2022-09-13-120204.ips";
    put(
        dir.path(),
        name,
        &ips(header, &serde_json::to_string_pretty(&body).unwrap()),
    );
    let ev = discover(dir.path());
    assert_eq!(ev.containers[0].kind, ContainerKind::CrashReports);
    let out = run(&crash::CrashReport, &ev);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].warnings, Vec::<String>::new());
    assert_eq!(
        out[0].rows,
        vec![row(
            Some("2022-09-13T10:02:03.456700Z"),
            "crash",
            "crash",
            "IMTranscoderAgent",
            "/System/Library/PrivateFrameworks/IMTranscoding.framework/IMTranscoderAgent",
            "IMTranscoderAgent [812] crashed: EXC_BAD_ACCESS (SIGSEGV) KERN_INVALID_ADDRESS at 0x0000000000000000; \
             faulting thread 1: CoreGraphics < ImageIO < libsystem_kernel.dylib < libobjc.A.dylib < ImageIO; \
             iPhone OS 15.6.1 (19G82); incident 0D5A6A7E-1111-2222-3333-444455556666"
        )
        .at(name, "file")
        .tags(&["bug_type:309", "exception:EXC_BAD_ACCESS"])]
    );
}

#[test]
fn legacy_crash_text_in_a_filesystem_dump() {
    let dir = tempfile::tempdir().unwrap();
    let a = "private/var/mobile/Library/Logs/CrashReporter/Retired/MobileSafari-2020-01-29-085220.crash";
    put(dir.path(), a, CRASH_TEXT.as_bytes());
    let ev = discover(dir.path());
    let out = run(&crash::CrashReport, &ev);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].warnings, Vec::<String>::new());
    assert_eq!(
        out[0].rows,
        vec![row(
            Some("2020-01-29T13:52:20.340200Z"),
            "crash",
            "crash",
            "MobileSafari",
            "/Applications/MobileSafari.app/MobileSafari",
            "MobileSafari [1234] crashed: EXC_BAD_ACCESS (SIGSEGV) KERN_INVALID_ADDRESS at 0x0000000000000010; \
             faulting thread 0: libobjc.A.dylib < WebKit < UIKitCore; iPhone OS 13.3 (17C54); \
             incident 11111111-2222-3333-4444-555555555555"
        )
        .at(a, "file")
        .tags(&["exception:EXC_BAD_ACCESS"])]
    );
}

#[test]
fn sysdiagnose_crashes_old_ips_non_crashes_and_malformed_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join("sysdiagnose_2021.09.07_12-30-00+0200_iPhone-OS_iPhone_18G82");
    // bug_type 109: JSON header, then the text report.
    let old = ips(
        json!({"app_name": "MessagesBlastDoorService", "timestamp": "2021-09-07 10:20:30.00 +0000", "bug_type": "109",
               "os_version": "iPhone OS 14.7.1 (18G82)", "incident_id": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"}),
        "Incident Identifier: AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE
Process:             MessagesBlastDoorService [3456]
Path:                /System/Library/PrivateFrameworks/MessagesBlastDoorSupport.framework/XPCServices/MessagesBlastDoorService.xpc/MessagesBlastDoorService
Date/Time:           2021-09-07 10:20:29.91 +0000
Exception Type:  EXC_CRASH (SIGABRT)

Thread 2 Crashed:
0   libsystem_kernel.dylib        \t0x00000001c1a5a0dc __pthread_kill + 8
1   libsystem_c.dylib             \t0x000000019a0b10dc abort + 100
",
    );
    put(
        &root,
        "crashes_and_spins/MessagesBlastDoorService-2021-09-07-102030.ips",
        &old,
    );
    // bug_type 298 (jetsam): counted, not parsed, no warning.
    put(
        &root,
        "crashes_and_spins/JetsamEvent-2021-09-07-101500.ips",
        &ips(
            json!({"bug_type": "298", "timestamp": "2021-09-07 10:15:00.00 +0000"}),
            "{\"largestProcess\": \"backboardd\"}",
        ),
    );
    // A truncated iOS 15 report: the header still says who crashed and when.
    put(
        &root,
        "crashes_and_spins/IMTranscoderAgent-truncated.ips",
        &ips(
            json!({"app_name": "IMTranscoderAgent", "timestamp": "2022-09-13 12:02:04.10 +0200", "bug_type": "309",
                   "os_version": "iPhone OS 15.6.1 (19G82)", "incident_id": "0D5A6A7E-0000-0000-0000-000000000000"}),
            "{\n  \"captureTime\" : \"2022-09-13 12:02:03.45",
        ),
    );
    put(
        &root,
        "logs/garbage.ips",
        b"hello\nthis is not a crash report\n",
    );
    let ev = discover(dir.path());
    let out = run(&crash::CrashReport, &ev);
    let names: Vec<&str> = out.iter().map(|o| o.artifact.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "sysdiagnose/crashes_and_spins/IMTranscoderAgent-truncated.ips",
            "sysdiagnose/crashes_and_spins/JetsamEvent-2021-09-07-101500.ips",
            "sysdiagnose/crashes_and_spins/MessagesBlastDoorService-2021-09-07-102030.ips",
            "sysdiagnose/logs/garbage.ips",
        ]
    );

    let truncated = &out[0];
    assert_eq!(truncated.result, Ok(()));
    assert_eq!(
        truncated.rows,
        vec![row(
            Some("2022-09-13T10:02:04.100000Z"),
            "crash",
            "crash",
            "IMTranscoderAgent",
            "",
            "IMTranscoderAgent crashed; iPhone OS 15.6.1 (19G82); incident 0D5A6A7E-0000-0000-0000-000000000000"
        )
        .at("sysdiagnose/crashes_and_spins/IMTranscoderAgent-truncated.ips", "file")
        .tags(&["bug_type:309"])]
    );
    assert_eq!(truncated.warnings.len(), 1);
    assert!(
        truncated.warnings[0].starts_with("crash report body is not readable JSON"),
        "{:?}",
        truncated.warnings
    );

    let jetsam = &out[1];
    assert_eq!(jetsam.result, Ok(()));
    assert!(jetsam.rows.is_empty() && jetsam.warnings.is_empty());
    assert_eq!(jetsam.facts.get("not_a_crash"), Some(&json!(1)));
    assert_eq!(jetsam.facts.get("bug_type"), Some(&json!("298")));

    let old = &out[2];
    assert_eq!(old.warnings, Vec::<String>::new());
    assert_eq!(
        old.rows,
        vec![row(
            Some("2021-09-07T10:20:30.000000Z"),
            "crash",
            "crash",
            "MessagesBlastDoorService",
            "/System/Library/PrivateFrameworks/MessagesBlastDoorSupport.framework/XPCServices/MessagesBlastDoorService.xpc/MessagesBlastDoorService",
            "MessagesBlastDoorService [3456] crashed: EXC_CRASH (SIGABRT); faulting thread 2: libsystem_kernel.dylib < libsystem_c.dylib; \
             iPhone OS 14.7.1 (18G82); incident AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
        )
        .at("sysdiagnose/crashes_and_spins/MessagesBlastDoorService-2021-09-07-102030.ips", "file")
        .tags(&["bug_type:109", "exception:EXC_CRASH"])]
    );

    let garbage = &out[3];
    assert!(garbage.result.is_err());
    assert!(garbage.rows.is_empty());
}

// ---------------------------------------------------------------- addaily

#[test]
fn addaily_in_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let plist = dict(vec![(
        "netUsageBaseline",
        dict(vec![
            (
                "BackupAgent",
                plist::Value::Array(vec![
                    unix_date(1_663_063_514_500_000),
                    0.0.into(),
                    0.0.into(),
                    1200.0.into(),
                    800.4.into(),
                ]),
            ),
            (
                "com.apple.WebKit.WebContent",
                plist::Value::Array(vec![
                    "2022-09-13 10:04:50".into(),
                    10.into(),
                    20.into(),
                    30.into(),
                    40.into(),
                ]),
            ),
            ("broken", "x".into()),
            (
                "short",
                plist::Value::Array(vec![unix_date(1_663_063_500_000_000)]),
            ),
        ]),
    )]);
    backup(
        dir.path(),
        &[(
            "HomeDomain",
            "Library/Preferences/com.apple.osanalytics.addaily.plist",
            binary_plist(&plist),
        )],
    );
    let ev = discover(dir.path());
    let out = run(&addaily::AdDaily, &ev);
    assert_eq!(out.len(), 1);
    let a = "HomeDomain/Library/Preferences/com.apple.osanalytics.addaily.plist";
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(
        out[0].rows,
        vec![
            row(
                Some("2022-09-13T10:05:14.500000Z"),
                "addaily",
                "network_usage",
                "BackupAgent",
                "",
                "BackupAgent: Wi-Fi in 0 / out 0 bytes, WWAN in 1200 / out 800 bytes (daily baseline)"
            )
            .bytes(Some(1200), Some(800))
            .at(a, "key:netUsageBaseline/BackupAgent"),
            row(
                Some("2022-09-13T10:04:50.000000Z"),
                "addaily",
                "network_usage",
                "com.apple.WebKit.WebContent",
                "",
                "com.apple.WebKit.WebContent: Wi-Fi in 10 / out 20 bytes, WWAN in 30 / out 40 bytes (daily baseline)"
            )
            .bytes(Some(40), Some(60))
            .at(a, "key:netUsageBaseline/com.apple.WebKit.WebContent"),
            row(
                Some("2022-09-13T10:05:00.000000Z"),
                "addaily",
                "network_usage",
                "short",
                "",
                "short: Wi-Fi in ? / out ? bytes, WWAN in ? / out ? bytes (daily baseline)"
            )
            .at(a, "key:netUsageBaseline/short"),
        ]
    );
    assert_eq!(
        out[0].warnings,
        vec![
            "key:netUsageBaseline/broken: not an array; skipped".to_string(),
            "key:netUsageBaseline/short: 1 fields instead of 5; missing counters left empty"
                .to_string(),
        ]
    );
}

#[test]
fn garbage_addaily_plist_fails_that_artifact_only() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "private/var/mobile/Library/Preferences/com.apple.osanalytics.addaily.plist",
        b"bplist00\xff\xff garbage",
    );
    let clients = dict(vec![(
        "com.example.app",
        dict(vec![("LocationTimeStopped", 684_756_254.5.into())]),
    )]);
    put(
        dir.path(),
        "private/var/root/Library/Caches/locationd/clients.plist",
        &xml_plist(&clients),
    );
    let ev = discover(dir.path());
    let out = run(&addaily::AdDaily, &ev);
    assert_eq!(out.len(), 1);
    assert!(
        out[0]
            .result
            .as_ref()
            .is_err_and(|e| e.starts_with("plist:")),
        "{:?}",
        out[0].result
    );
    assert_eq!(run(&locationd::LocationdClients, &ev)[0].rows.len(), 1);
}

// ---------------------------------------------------------------- locationd

fn clients_plist() -> plist::Value {
    dict(vec![
        (
            "com.apple.locationd.bundle-/System/Library/LocationBundles/IonosphereHarvest.bundle",
            dict(vec![
                ("LocationTimeStopped", 684_756_254.5.into()),
                ("Authorization", 2.into()),
                ("ConsumptionPeriodBegin", 684_756_000.0.into()),
            ]),
        ),
        (
            "com.example.maps",
            dict(vec![
                ("BundleId", "com.example.maps".into()),
                (
                    "ReceivingLocationInformationTimeStopped",
                    684_756_300.25.into(),
                ),
                ("SignificantTimeStopped", 0.0.into()),
                // Absurd: must give no time, not a panic.
                ("BeaconRegionTimeStopped", 1e18.into()),
            ]),
        ),
        ("NotAClient", 3.into()),
    ])
}

fn locationd_rows(a: &str) -> Vec<Row> {
    let ionosphere =
        "com.apple.locationd.bundle-/System/Library/LocationBundles/IonosphereHarvest.bundle";
    vec![
        row(
            Some("2022-09-13T10:04:14.500000Z"),
            "locationd",
            "location_stopped",
            ionosphere,
            "LocationTimeStopped",
            &format!("{ionosphere} stopped using location (LocationTimeStopped)"),
        )
        .at(a, &format!("key:{ionosphere}/LocationTimeStopped")),
        row(
            Some("2022-09-13T10:05:00.250000Z"),
            "locationd",
            "location_stopped",
            "com.example.maps",
            "ReceivingLocationInformationTimeStopped",
            "com.example.maps stopped using location (ReceivingLocationInformationTimeStopped)",
        )
        .at(
            a,
            "key:com.example.maps/ReceivingLocationInformationTimeStopped",
        ),
        row(
            None,
            "locationd",
            "location_stopped",
            "com.example.maps",
            "SignificantTimeStopped",
            "com.example.maps stopped using location (SignificantTimeStopped)",
        )
        .at(a, "key:com.example.maps/SignificantTimeStopped"),
        row(
            None,
            "locationd",
            "location_stopped",
            "com.example.maps",
            "BeaconRegionTimeStopped",
            "com.example.maps stopped using location (BeaconRegionTimeStopped)",
        )
        .at(a, "key:com.example.maps/BeaconRegionTimeStopped"),
    ]
}

#[test]
fn locationd_clients_in_a_filesystem_dump_and_a_backup() {
    let fs = tempfile::tempdir().unwrap();
    put(
        fs.path(),
        "private/var/root/Library/Caches/locationd/clients.plist",
        &xml_plist(&clients_plist()),
    );
    let out = run(&locationd::LocationdClients, &discover(fs.path()));
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].rows,
        locationd_rows("private/var/root/Library/Caches/locationd/clients.plist")
    );
    assert_eq!(out[0].warnings.len(), 1);
    assert!(
        out[0].warnings[0].starts_with("2 *TimeStopped values are zero"),
        "{:?}",
        out[0].warnings
    );

    let bk = tempfile::tempdir().unwrap();
    backup(
        bk.path(),
        &[(
            "RootDomain",
            "Library/Caches/locationd/clients.plist",
            binary_plist(&clients_plist()),
        )],
    );
    let out = run(&locationd::LocationdClients, &discover(bk.path()));
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].rows,
        locationd_rows("RootDomain/Library/Caches/locationd/clients.plist")
    );
}

// ---------------------------------------------------------------- idstatus

#[test]
fn idstatuscache_in_a_backup_with_one_garbage_and_one_empty_copy() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dict(vec![
        (
            "com.apple.madrid",
            dict(vec![
                (
                    "mailto:attacker@example.com",
                    dict(vec![
                        ("LookupDate", 684_756_200.0.into()),
                        ("IDStatus", 1.into()),
                    ]),
                ),
                (
                    "tel:+14155550100\0\0",
                    dict(vec![
                        ("LookupDate", 684_756_210.5.into()),
                        ("IDStatus", 2.into()),
                    ]),
                ),
            ]),
        ),
        ("com.apple.ess", dict(vec![])),
    ]);
    backup(
        dir.path(),
        &[
            (
                "HomeDomain",
                "Library/Preferences/com.apple.identityservices.idstatuscache.plist",
                binary_plist(&cache),
            ),
            (
                "HomeDomain",
                "Library/IdentityServices/idstatuscache.plist",
                binary_plist(&dict(vec![])),
            ),
        ],
    );
    let ev = discover(dir.path());
    let out = run(&idstatus::IdStatusCache, &ev);
    assert_eq!(out.len(), 2);
    let empty = &out[0];
    assert_eq!(
        empty.artifact,
        "HomeDomain/Library/IdentityServices/idstatuscache.plist"
    );
    assert!(empty.rows.is_empty() && empty.warnings.is_empty() && empty.result.is_ok());
    assert_eq!(empty.facts.get("lookups"), Some(&json!(0)));
    assert!(empty.facts.contains_key("empty"));

    let a = "HomeDomain/Library/Preferences/com.apple.identityservices.idstatuscache.plist";
    assert_eq!(out[1].warnings, Vec::<String>::new());
    assert_eq!(
        out[1].rows,
        vec![
            row(
                Some("2022-09-13T10:03:20.000000Z"),
                "idstatus",
                "identity_lookup",
                "com.apple.madrid",
                "mailto:attacker@example.com",
                "com.apple.madrid looked up mailto:attacker@example.com, IDStatus 1"
            )
            .at(a, "key:com.apple.madrid/mailto:attacker@example.com")
            .tags(&["status:1"]),
            row(
                Some("2022-09-13T10:03:30.500000Z"),
                "idstatus",
                "identity_lookup",
                "com.apple.madrid",
                "tel:+14155550100\0\0",
                "com.apple.madrid looked up tel:+14155550100\\x00\\x00, IDStatus 2"
            )
            .at(a, "key:com.apple.madrid/tel:+14155550100\0\0")
            .tags(&["status:2"]),
        ]
    );

    // The same backup with a garbage copy: that artifact fails, the other still reads.
    let dir = tempfile::tempdir().unwrap();
    backup(
        dir.path(),
        &[
            (
                "HomeDomain",
                "Library/Preferences/com.apple.identityservices.idstatuscache.plist",
                b"<?xml garbage".to_vec(),
            ),
            (
                "HomeDomain",
                "Library/IdentityServices/idstatuscache.plist",
                binary_plist(&cache),
            ),
        ],
    );
    let out = run(&idstatus::IdStatusCache, &discover(dir.path()));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].rows.len(), 2);
    assert!(out[1].result.is_err(), "{:?}", out[1]);
}

#[test]
fn backup_file_ids_match_mvt() {
    // MVT's IDSTATUSCACHE_BACKUP_IDS and LOCATIOND_BACKUP_IDS.
    assert_eq!(
        file_id(
            "HomeDomain",
            "Library/Preferences/com.apple.identityservices.idstatuscache.plist"
        ),
        "6b97989189901ceaa4e5be9b7f05fb584120e27b"
    );
    assert_eq!(
        file_id("RootDomain", "Library/Caches/locationd/clients.plist"),
        "a690d7769cce8904ca2b67320b107c8fe5f79412"
    );
}

// ---------------------------------------------------------------- MVT import

const MVT_CSV: &str = "\"UTC Timestamp\",\"Plugin\",\"Event\",\"Description\"\r\n\
\"2019-08-29 23:13:30.000000\",\"SMS\",\"sms_received\",\"None: X \"\"Please, click\"\" from apple\"\r\n\
\"2022-09-13 10:04:11.890000\",\"Datausage\",\"live_usage\",\"multi\nline, \"\"quoted\"\"\"\r\n\
\"\",\"Manifest\",\"M--B\",\"no time\"\r\n\
\"2019-07-14 07:39:58.000000\",\"Manifest\",\"M--B\",\"Library/WebClips - HomeDomain\"\r\n";

#[test]
fn case_folder_with_a_backup_and_an_mvt_output_yields_both() {
    let dir = tempfile::tempdir().unwrap();
    backup(
        &dir.path().join("backup"),
        &[(
            "HomeDomain",
            "Library/Preferences/com.apple.osanalytics.addaily.plist",
            Vec::new(),
        )],
    );
    put(dir.path(), "mvt/timeline.csv", MVT_CSV.as_bytes());
    let ev = discover(dir.path());
    let kinds: Vec<ContainerKind> = ev.containers.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![ContainerKind::Backup, ContainerKind::MvtOutput]);

    let out = run(&import::MvtTimeline, &ev);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(
        out[0].rows,
        vec![
            row(
                Some("2019-08-29T23:13:30.000000Z"),
                "import",
                "sms_received",
                "SMS",
                "",
                "None: X \"Please, click\" from apple"
            )
            .at("timeline.csv", "line:2")
            .tags(&["mvt"]),
            row(
                Some("2022-09-13T10:04:11.890000Z"),
                "import",
                "live_usage",
                "Datausage",
                "",
                "multi\nline, \"quoted\""
            )
            .at("timeline.csv", "line:3")
            .tags(&["mvt"]),
            row(None, "import", "M--B", "Manifest", "", "no time")
                .at("timeline.csv", "line:5")
                .tags(&["mvt"]),
            row(
                Some("2019-07-14T07:39:58.000000Z"),
                "import",
                "M--B",
                "Manifest",
                "",
                "Library/WebClips - HomeDomain"
            )
            .at("timeline.csv", "line:6")
            .tags(&["mvt"]),
        ]
    );
    assert_eq!(
        out[0].warnings,
        vec!["line:5: time \"\" unreadable; row kept without a time".to_string()]
    );
}

#[test]
fn mvt_csv_with_lf_endings_and_a_short_record() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!("{}\"2022-01-01 00:00:00.000000\",\"X\",\"y\"\n\"2022-01-02 00:00:00.000000\",\"X\",\"y\",\"last\"\n", MVT_CSV.replace("\r\n", "\n"));
    put(dir.path(), "timeline.csv", csv.as_bytes());
    let out = run(&import::MvtTimeline, &discover(dir.path()));
    assert_eq!(out.len(), 1);
    let records: Vec<&str> = out[0].rows.iter().map(|r| r.record.as_str()).collect();
    assert_eq!(
        records,
        vec!["line:2", "line:3", "line:5", "line:6", "line:8"]
    );
    assert_eq!(
        out[0].warnings,
        vec![
            "line:5: time \"\" unreadable; row kept without a time".to_string(),
            "line:7: 3 fields instead of 4".to_string()
        ]
    );
}

#[test]
fn a_timeline_csv_with_another_header_is_not_mvt_output() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "out/timeline.csv",
        b"ts,source,kind\n2022-01-01,x,y\n",
    );
    let err = Evidence::discover(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(matches!(err, EvidenceError::NoEvidence(_)), "{err}");
}

#[test]
fn real_mvt_timeline_csv() {
    let Some(dir) = chainline::shared_dir()
        .map(|d| d.join("testdata/mvt_output"))
        .filter(|d| d.is_dir())
    else {
        eprintln!("skipped: ../shared/testdata/mvt_output is absent");
        return;
    };
    let ev = discover(&dir);
    assert_eq!(ev.containers.len(), 1);
    assert_eq!(ev.containers[0].kind, ContainerKind::MvtOutput);
    let out = run(&import::MvtTimeline, &ev);
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert_eq!(o.result, Ok(()));
    assert_eq!(o.warnings, Vec::<String>::new());
    assert_eq!(o.rows.len(), 5981);
    assert_eq!(
        o.rows[0],
        row(
            Some("1980-01-01T00:00:00.000000Z"),
            "import",
            "---B",
            "Manifest",
            "",
            "Library/Application Support/Google/Chrome/SafetyTips/2716/manifest.json - AppDomain-com.google.chrome.ios"
        )
        .at("timeline.csv", "line:2")
        .tags(&["mvt"])
    );
    let sms: Vec<&Row> = o.rows.iter().filter(|r| r.kind == "sms_received").collect();
    assert_eq!(
        sms,
        vec![&row(
            Some("2019-08-29T23:13:30.000000Z"),
            "import",
            "sms_received",
            "SMS",
            "",
            "None: FDC6EC94-9D5A-434D-90FA-BF170E10A311 \"Please click here https://badbadbad.example.org/\" from apple (None)"
        )
        .at("timeline.csv", "line:102")
        .tags(&["mvt"])]
    );
    assert_eq!(o.rows.last().map(|r| r.record.as_str()), Some("line:5982"));
    assert_eq!(
        o.rows.iter().filter(|r| r.actor == "Manifest").count(),
        5881
    );
}

// ---------------------------------------------------------------- pipeline

#[test]
fn analyze_runs_every_new_source_on_a_filesystem_dump() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    put(
        &case,
        "private/var/db/diagnostics/shutdown.log",
        SHUTDOWN_LOG.as_bytes(),
    );
    put(
        &case,
        "private/var/mobile/Library/Logs/CrashReporter/MobileSafari.crash",
        CRASH_TEXT.as_bytes(),
    );
    put(
        &case,
        "private/var/root/Library/Caches/locationd/clients.plist",
        &xml_plist(&clients_plist()),
    );
    let opts = chainline::analyze::Options {
        inputs: vec![case.clone()],
        out: dir.path().join("out"),
        quiet: true,
        ..Default::default()
    };
    let a = chainline::analyze::run(&opts).unwrap();
    let by = &a.log.rows_by_source;
    assert_eq!(by.get("shutdown"), Some(&5));
    assert_eq!(by.get("crash"), Some(&1));
    assert_eq!(by.get("locationd"), Some(&4));
    assert_eq!(a.log.rows_total, 10);
}
