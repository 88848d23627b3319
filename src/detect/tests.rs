//! Each built-in rule on the pattern it is written for, and on the near misses that must
//! stay quiet. Timelines are built in code with the vocabulary of docs/SCHEMA.md.

use chrono::{DateTime, Duration, TimeZone, Utc};
use polars::prelude::DataFrame;

use super::*;
use crate::timeline::{self, Event, TimelineBuilder};

const DATAUSAGE: &str = "WirelessDomain/Library/Databases/DataUsage.sqlite";
const SMS: &str = "HomeDomain/Library/SMS/sms.db";

/// 2022-09-13 10:04:11.89 UTC, the IMTransferAgent row of Kaspersky's published timeline.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 9, 13, 10, 4, 11).unwrap() + Duration::milliseconds(890)
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::milliseconds(secs * 1000)
}

fn usage(secs: i64, process: &str, bundle: &str, bytes_in: i64, bytes_out: i64, pk: u32) -> Event {
    let mut e = Event::new("datausage", "network_usage", Some(at(secs)))
        .actor(process)
        .target(bundle)
        .bytes(Some(bytes_in), Some(bytes_out))
        .message(format!("{process} network use"))
        .at(DATAUSAGE, format!("ZLIVEUSAGE:{pk}"));
    if bundle.is_empty() {
        e = e.tag("no_bundle_id");
    }
    e
}

fn first_seen(secs: i64, process: &str, bundle: &str, pk: u32) -> Event {
    let mut e = Event::new("datausage", "process_first_seen", Some(at(secs)))
        .actor(process)
        .target(bundle)
        .message(format!("{process} first seen"))
        .at(DATAUSAGE, format!("ZPROCESS:{pk}"));
    if bundle.is_empty() {
        e = e.tag("no_bundle_id");
    }
    e
}

fn attachment_dir(secs: i64, rel: &str, empty: bool) -> Event {
    let target = format!("MediaDomain/{rel}");
    let mut e = Event::new("manifest", "file_modified", Some(at(secs)))
        .actor("MediaDomain")
        .target(target.clone())
        .message(format!("M-C- directory {target}"))
        .at("Manifest.db", format!("Files:{}", rel.len()))
        .tag("macb:M-C-")
        .tag("M")
        .tag("C")
        .tag("attachment_dir");
    if empty {
        e = e.tag("empty_dir");
    }
    e
}

fn attachment_file(secs: i64, rel: &str) -> Event {
    Event::new("manifest", "file_created", Some(at(secs)))
        .actor("MediaDomain")
        .target(format!("MediaDomain/{rel}"))
        .at("Manifest.db", "Files:f1")
        .tag("macb:---B")
        .tag("B")
        .tag("attachment_file")
}

fn plist(secs: i64, target: &str) -> Event {
    Event::new("manifest", "file_modified", Some(at(secs)))
        .actor(target.split('/').next().unwrap_or(""))
        .target(target)
        .at("Manifest.db", "Files:p1")
        .tag("macb:M---")
        .tag("M")
}

fn attachment_received(secs: i64, handle: &str, path: &str, tags: &[&str]) -> Event {
    let mut e = Event::new("sms", "attachment_received", Some(at(secs)))
        .actor(handle)
        .target(path)
        .message(format!("attachment {path} from {handle}"))
        .at(SMS, "attachment:7");
    for t in tags {
        e = e.tag(*t);
    }
    e
}

fn crash(secs: i64, process: &str) -> Event {
    Event::new("crash", "crash", Some(at(secs)))
        .actor(process)
        .target(format!(
            "/System/Library/PrivateFrameworks/IMTranscoding.framework/{process}"
        ))
        .at(format!("{process}-2021-03-01.ips"), "file")
        .tag("bug_type:309")
}

fn lookup(secs: i64, identity: &str) -> Event {
    Event::new("idstatus", "identity_lookup", Some(at(secs)))
        .actor("com.apple.madrid")
        .target(identity)
        .at(
            "HomeDomain/Library/Preferences/com.apple.identityservices.idstatuscache.plist",
            format!("key:com.apple.madrid/{identity}"),
        )
        .tag("status:1")
}

fn shutdown_client(secs: i64, path: &str, delays: u32) -> Event {
    Event::new("shutdown", "shutdown_client", Some(at(secs)))
        .actor(path)
        .target("412")
        .at(
            "sysdiagnose/system_logs.logarchive/Extra/shutdown.log",
            "line:12",
        )
        .tag(format!("delays:{delays}"))
}

fn reboot(secs: i64, delays: u32) -> Event {
    Event::new("shutdown", "reboot", Some(at(secs)))
        .at(
            "sysdiagnose/system_logs.logarchive/Extra/shutdown.log",
            "line:20",
        )
        .tag(format!("delays:{delays}"))
}

fn frame(events: Vec<Event>) -> DataFrame {
    let mut b = TimelineBuilder::new("00008030-TEST");
    for e in events {
        b.push(e);
    }
    timeline::assemble(vec![b.finish().unwrap()]).unwrap()
}

fn detect_with(events: Vec<Event>, iocs: IocSet) -> (DataFrame, Detection) {
    let mut df = frame(events);
    let opts = DetectOptions {
        rules: rule::builtin().unwrap(),
        iocs,
        inputs: Vec::new(),
    };
    let d = run(&mut df, &opts).unwrap();
    (df, d)
}

fn detect(events: Vec<Event>) -> (DataFrame, Detection) {
    detect_with(events, IocSet::default())
}

fn of<'a>(d: &'a Detection, rule: &str) -> Vec<&'a Finding> {
    d.findings.iter().filter(|f| f.rule == rule).collect()
}

fn tags_of(df: &DataFrame, record: &str) -> Vec<String> {
    let rec = df.column("record").unwrap().str().unwrap();
    let tags = df.column("tags").unwrap().list().unwrap();
    let i = rec.iter().position(|r| r == Some(record)).unwrap();
    tags.get_as_series(i)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

/// The published Triangulation excerpt: download, emptied directory +43 s, BackupAgent +63 s.
fn published_triangulation() -> Vec<Event> {
    vec![
        usage(
            0,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            241_000,
            0,
            11,
        ),
        attachment_dir(43, "Library/SMS/Attachments/65/05", true),
        usage(63, "BackupAgent", "", 0, 288_000, 12),
    ]
}

// --- Triangulation -----------------------------------------------------------------------

#[test]
fn triangulation_heuristic_fires_on_the_published_timeline() {
    let (df, d) = detect(published_triangulation());
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    let f = f[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.start, "2022-09-13T10:04:11.890000Z");
    assert_eq!(f.end, "2022-09-13T10:05:14.890000Z");
    let roles: Vec<(&str, Role, f64, &str)> = f
        .events
        .iter()
        .map(|e| (e.actor.as_str(), e.role, e.offset_s, e.class.as_str()))
        .collect();
    assert_eq!(
        roles,
        [
            ("IMTransferAgent", Role::Trigger, 0.0, ""),
            ("MediaDomain", Role::FollowUp, 43.0, "sms"),
            ("BackupAgent", Role::FollowUp, 63.0, "net"),
        ]
    );
    assert_eq!(f.events[2].artifact, DATAUSAGE);
    assert_eq!(f.events[2].record, "ZLIVEUSAGE:12");
    let x = &f.explanation;
    assert!(x.starts_with("Network counters of IMTransferAgent last updated (241 kB) at 10:04:11 UTC on 2022-09-13 (DataUsage.sqlite ZLIVEUSAGE:11)"), "{x}");
    assert!(x.contains("; 43 s later the attachment directory Library/SMS/Attachments/65/05 was modified while empty (Manifest.db Files:29)"), "{x}");
    assert!(x.contains("; 63 s after the counters update BackupAgent — a binary that never uses the network on a clean phone — sent 288 kB (DataUsage.sqlite ZLIVEUSAGE:12)"), "{x}");
    assert!(
        x.contains(
            "Two distinct classes (net, sms) within 5 min of the trigger (the rule needs 2)"
        ),
        "{x}"
    );
    // The finding's id lands on each of its rows in the timeline.
    let id = format!("finding:{}", f.id);
    for rec in ["ZLIVEUSAGE:11", "Files:29", "ZLIVEUSAGE:12"] {
        assert!(tags_of(&df, rec).contains(&id), "{rec}");
    }
    // The exact rule fires on BackupAgent too, as its own finding.
    assert_eq!(of(&d, "triangulation_exact").len(), 1);
}

#[test]
fn triangulation_heuristic_quiet_when_the_events_are_20_minutes_apart() {
    let (_, d) = detect(vec![
        usage(
            0,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            241_000,
            0,
            11,
        ),
        attachment_dir(20 * 60, "Library/SMS/Attachments/65/05", true),
        usage(
            40 * 60,
            "com.apple.WebKit.WebContent",
            "com.apple.WebKit.WebContent",
            5_000,
            1_000,
            12,
        ),
    ]);
    assert!(
        of(&d, "triangulation_heuristic").is_empty(),
        "{:#?}",
        d.findings
    );
}

#[test]
fn triangulation_heuristic_quiet_when_the_attachment_is_still_there() {
    let (_, d) = detect(vec![
        usage(
            0,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            241_000,
            0,
            11,
        ),
        attachment_dir(43, "Library/SMS/Attachments/65/05", false),
        attachment_file(43, "Library/SMS/Attachments/65/05/ABC/IMG_0001.HEIC"),
        usage(
            70,
            "com.apple.WebKit.WebContent",
            "com.apple.WebKit.WebContent",
            5_000,
            1_000,
            12,
        ),
    ]);
    assert!(
        of(&d, "triangulation_heuristic").is_empty(),
        "{:#?}",
        d.findings
    );
}

/// An attacker cannot hide the chain with an ordinary photo sent 30 s after the exploit:
/// a kept attachment in another directory does not veto (issue 25; triangle_check's
/// "any deeper path discards the window" would).
#[test]
fn triangulation_heuristic_not_vetoed_by_an_unrelated_photo() {
    let mut ev = published_triangulation();
    ev.push(attachment_dir(30, "Library/SMS/Attachments/1a/0b", false));
    ev.push(attachment_file(
        30,
        "Library/SMS/Attachments/1a/0b/D1F3/IMG_4512.HEIC",
    ));
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert!(!f.is_empty(), "{:#?}", d.findings);
    assert!(f.iter().any(|f| f.severity >= Severity::High), "{:#?}", f);
    assert!(f.iter().all(|f| !f.explanation.contains("veto")));
}

/// A kept file inside the very directory that fired still vetoes, but the chain is
/// reported as low, naming the file.
#[test]
fn triangulation_heuristic_veto_under_the_trigger_reports_low() {
    let ev = vec![
        attachment_dir(0, "Library/SMS/Attachments/65/05", true),
        attachment_file(10, "Library/SMS/Attachments/65/05/ABC/IMG_0001.HEIC"),
        usage(20, "BackupAgent", "", 0, 288_000, 12),
    ];
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Low);
    assert!(
        f[0].explanation.contains("attachment_still_present")
            && f[0].explanation.contains("65/05/ABC/IMG_0001.HEIC"),
        "{}",
        f[0].explanation
    );
}

#[test]
fn triangulation_heuristic_quiet_without_a_trigger() {
    // WebContent traffic alone; then triangle_check's false alarm: a benign plist write
    // next to diagnostics traffic. With no trigger nothing may fire.
    let (_, d) = detect(vec![
        usage(
            0,
            "com.apple.WebKit.WebContent",
            "com.apple.WebKit.WebContent",
            5_000,
            1_000,
            1,
        ),
        plist(30, "RootDomain/Library/Preferences/com.apple.ImageIO.plist"),
        usage(
            40,
            "powerd",
            "com.apple.datausage.diagnostics",
            100,
            2_000,
            2,
        ),
        usage(50, "nehelper", "", 100, 100, 3),
    ]);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn triangulation_exact_fires_on_backupagent_but_not_backupagent2() {
    let (_, d) = detect(vec![usage(0, "BackupAgent", "", 0, 288_000, 12)]);
    let f = of(&d, "triangulation_exact");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(f[0].explanation.starts_with("BackupAgent — a binary that never uses the network on a clean phone — appears in datausage (network usage) and sent 288 kB at 10:04:11 UTC"), "{}", f[0].explanation);

    let (_, d) = detect(vec![
        usage(0, "BackupAgent2", "com.apple.backupd", 0, 288_000, 12),
        first_seen(0, "BackupAgent2", "com.apple.backupd", 3),
    ]);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn triangulation_exact_reports_rows_without_a_time() {
    let mut e = usage(0, "BackupAgent", "", 0, 1, 12);
    e.ts = None;
    let (_, d) = detect(vec![
        e,
        usage(
            10,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            1,
            0,
            11,
        ),
    ]);
    let f = of(&d, "triangulation_exact");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].start, "");
    assert_eq!(f[0].events[0].ts, "");
    assert!(f[0].explanation.contains("(the evidence records no time)"));
}

#[test]
fn second_published_example_is_high() {
    // Emptied directory, WebContent traffic, StatusBarIconManager change within 1–3 minutes.
    let (_, d) = detect(vec![
        attachment_dir(0, "Library/SMS/Attachments/0c/12", true),
        usage(
            60,
            "com.apple.WebKit.WebContent",
            "com.apple.WebKit.WebContent",
            52_000,
            3_000,
            1,
        ),
        plist(
            150,
            "HomeDomain/Library/Preferences/com.apple.locationd.StatusBarIconManager.plist",
        ),
    ]);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].score, 6.0);
    assert!(f[0].explanation.contains("2 min 30 s after the directory change Library/Preferences/com.apple.locationd.StatusBarIconManager.plist was modified"), "{}", f[0].explanation);
}

#[test]
fn overlapping_windows_merge_into_one_chain() {
    // The xx and xx/yy directories both emptied a second apart, each a trigger whose
    // window holds the same traffic: one finding, not two.
    let (_, d) = detect(vec![
        attachment_dir(0, "Library/SMS/Attachments/65", true),
        attachment_dir(1, "Library/SMS/Attachments/65/05", true),
        usage(
            30,
            "com.apple.WebKit.WebContent",
            "com.apple.WebKit.WebContent",
            5_000,
            1_000,
            1,
        ),
        attachment_dir(200, "Library/SMS/Attachments/66", true),
        usage(420, "nehelper", "", 10, 10, 2),
    ]);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].events.len(), 5);
    assert_eq!(f[0].end, crate::timeline::time::rfc3339(&at(420)));
    // Three emptied directories are one kind of evidence (counts_as): 3 + 1.5.
    assert_eq!(f[0].score, 4.5);
}

#[test]
fn routine_follow_up_weighs_less_and_says_so() {
    // WebContent used the network on each of ten earlier days: routine here.
    let mut ev: Vec<Event> = (1..=10)
        .map(|d| {
            usage(
                -d * 86_400,
                "com.apple.WebKit.WebContent",
                "com.apple.WebKit.WebContent",
                1,
                1,
                100 + d as u32,
            )
        })
        .collect();
    ev.push(attachment_dir(0, "Library/SMS/Attachments/0c/12", true));
    ev.push(usage(
        60,
        "com.apple.WebKit.WebContent",
        "com.apple.WebKit.WebContent",
        52_000,
        3_000,
        1,
    ));
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].score, 3.75);
    assert_eq!(f[0].severity, Severity::Low);
    assert!(
        f[0].explanation.contains(
            "routine on this phone (the process ran on 10 of its 10 earlier days), weight ×0.5"
        ),
        "{}",
        f[0].explanation
    );
}

#[test]
fn published_timeline_stays_critical_where_downloads_are_routine() {
    let mut ev: Vec<Event> = (1..=10)
        .map(|d| {
            usage(
                -d * 86_400,
                "IMTransferAgent",
                "com.apple.datausage.messages",
                1,
                1,
                100 + d as u32,
            )
        })
        .collect();
    ev.extend(published_triangulation());
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].score, f[0].severity), (9.5, Severity::Critical));
    assert!(f[0].explanation.contains("(DataUsage.sqlite ZLIVEUSAGE:11) — routine on this phone (the process ran on 10 of its 10 earlier days), weight ×0.5; 43 s later"), "{}", f[0].explanation);
}

#[test]
fn first_network_use_outranks_routine() {
    // WebContent crashed on ten earlier days (routine) but never used the network before.
    let mut ev: Vec<Event> = (1..=10)
        .map(|d| crash(-d * 86_400, "com.apple.WebKit.WebContent"))
        .collect();
    ev.push(attachment_dir(0, "Library/SMS/Attachments/0c/12", true));
    ev.push(usage(
        60,
        "com.apple.WebKit.WebContent",
        "com.apple.WebKit.WebContent",
        52_000,
        3_000,
        1,
    ));
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].score, 5.25);
    assert!(
        f[0].explanation
            .contains("its first network use on this phone (history from 2022-09-03), weight ×1.5"),
        "{}",
        f[0].explanation
    );
}

// --- FORCEDENTRY ---------------------------------------------------------------------------

const GIF: &str = "~/Library/SMS/Attachments/4d/13/5C8E/ABCDEFGHIJ.gif";

#[test]
fn forcedentry_fires_on_disguised_gif_then_new_process() {
    let (_, d) = detect(vec![
        first_seen(
            -3 * 86_400,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            1,
        ),
        attachment_received(
            0,
            "linakeller2203@gmail.com",
            GIF,
            &[
                "uti:com.compuserve.gif",
                "declared:gif",
                "magic:pdf",
                "type_mismatch",
            ],
        ),
        crash(4, "IMTranscoderAgent"),
        first_seen(95, "bh", "", 41),
    ]);
    let f = of(&d, "forcedentry");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
    let x = &f[0].explanation;
    assert!(x.starts_with("Inbound attachment ~/Library/SMS/Attachments/4d/13/5C8E/ABCDEFGHIJ.gif from linakeller2203@gmail.com whose bytes are pdf though it is declared gif"), "{x}");
    assert!(x.contains("a sender with no earlier conversation on this phone (history from 2022-09-10), weight ×1.5"), "{x}");
    assert!(x.contains("; 4 s later the message parser IMTranscoderAgent crashed (IMTranscoderAgent-2021-03-01.ips file)"), "{x}");
    assert!(x.contains("; 95 s after the attachment bh, a process with no bundle id, used the network (DataUsage.sqlite ZPROCESS:41) — its first appearance on this phone (history from 2022-09-10), weight ×1.5"), "{x}");
    assert_eq!(of(&d, "disguised_attachment").len(), 1);
}

#[test]
fn forcedentry_crash_path_needs_the_crash_within_three_minutes() {
    let fire = detect(vec![
        attachment_received(0, "+15551234567", "~/x.gif", &[]),
        crash(10, "IMTranscoderAgent"),
        first_seen(120, "roleaboutd", "", 2),
    ])
    .1;
    assert_eq!(of(&fire, "forcedentry").len(), 1, "{:#?}", fire.findings);
    assert_eq!(of(&fire, "forcedentry")[0].severity, Severity::High);
    let late = detect(vec![
        attachment_received(0, "+15551234567", "~/x.gif", &[]),
        crash(200, "IMTranscoderAgent"),
        first_seen(240, "roleaboutd", "", 2),
    ])
    .1;
    assert!(of(&late, "forcedentry").is_empty(), "{:#?}", late.findings);
}

/// The parse (and its crash) can come after a long download: a crash 90 s after the
/// attachment row still counts.
#[test]
fn forcedentry_crash_at_ninety_seconds() {
    let d = detect(vec![
        attachment_received(0, "+15551234567", "~/x.gif", &[]),
        crash(90, "IMTranscoderAgent"),
        first_seen(150, "roleaboutd", "", 2),
    ])
    .1;
    assert_eq!(of(&d, "forcedentry").len(), 1, "{:#?}", d.findings);
}

/// Titles follow the evidence: a download followed by a never-seen process with no
/// bundle id — FORCEDENTRY with its crash logs and attachment wiped — is not titled
/// Triangulation; the published Triangulation traces are.
#[test]
fn heuristic_title_follows_the_evidence() {
    let (_, d) = detect(published_triangulation());
    let f = of(&d, "triangulation_heuristic");
    assert!(
        f[0].title.ends_with("(Operation Triangulation-like)"),
        "{}",
        f[0].title
    );
    let (_, d) = detect(vec![
        usage(
            0,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            900_000,
            0,
            11,
        ),
        first_seen(40, "roleaboutd", "", 2),
    ]);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert!(!f[0].title.contains("Triangulation"), "{}", f[0].title);
    assert!(f[0].title.ends_with("(Pegasus-like)"), "{}", f[0].title);
}

/// The download seen under another Messages process name (a real one in the MVT
/// backup's DataUsage) triggers like IMTransferAgent.
#[test]
fn heuristic_download_by_another_messages_process() {
    let mut ev = published_triangulation();
    ev[0] = usage(
        0,
        "IMRemoteURLConne",
        "com.apple.datausage.messages",
        241_000,
        0,
        11,
    );
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
}

/// Another daemon than BackupAgent after the emptied folder: a never-seen process with
/// no bundle id still makes the chain at least high.
#[test]
fn heuristic_with_another_daemon_than_backupagent() {
    let ev = vec![
        usage(
            0,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            241_000,
            0,
            11,
        ),
        attachment_dir(43, "Library/SMS/Attachments/65/05", true),
        first_seen(63, "msgacntd", "", 12),
    ];
    let (_, d) = detect(ev);
    let f = of(&d, "triangulation_heuristic");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert!(f[0].severity >= Severity::High, "{:#?}", f[0]);
}

#[test]
fn forcedentry_quiet_on_near_misses() {
    let mismatch = ["declared:gif", "magic:pdf", "type_mismatch"];
    // 20 minutes apart.
    let d = detect(vec![
        attachment_received(0, "a@b.org", GIF, &mismatch),
        first_seen(20 * 60, "bh", "", 41),
    ])
    .1;
    assert!(of(&d, "forcedentry").is_empty());
    // An ordinary attachment, then a new process: no exploit sign.
    let d = detect(vec![
        attachment_received(0, "a@b.org", "~/IMG_1.jpeg", &[]),
        first_seen(60, "bh", "", 41),
    ])
    .1;
    assert!(of(&d, "forcedentry").is_empty());
    // The process was already on the phone days before.
    let d = detect(vec![
        first_seen(-5 * 86_400, "bh", "", 41),
        attachment_received(0, "a@b.org", GIF, &mismatch),
        usage(60, "bh", "", 10, 10, 9),
    ])
    .1;
    assert!(of(&d, "forcedentry").is_empty(), "{:#?}", d.findings);
    // A new process that has a bundle id (an app).
    let d = detect(vec![
        attachment_received(0, "a@b.org", GIF, &mismatch),
        first_seen(60, "Signal", "org.whispersystems.signal", 41),
    ])
    .1;
    assert!(of(&d, "forcedentry").is_empty());
}

#[test]
fn disguised_attachment_needs_pdf_or_psd_bytes() {
    let d = detect(vec![attachment_received(
        0,
        "a@b.org",
        "~/x.gif",
        &["declared:gif", "magic:psd", "type_mismatch"],
    )])
    .1;
    assert_eq!(of(&d, "disguised_attachment").len(), 1);
    assert_eq!(of(&d, "disguised_attachment")[0].severity, Severity::Medium);
    let d = detect(vec![attachment_received(
        0,
        "a@b.org",
        "~/x.heic",
        &["declared:heic", "magic:jpeg", "type_mismatch"],
    )])
    .1;
    assert!(d.findings.is_empty());
}

// --- Lookups -------------------------------------------------------------------------------

#[test]
fn lookup_then_new_process_fires() {
    let (_, d) = detect(vec![
        first_seen(
            -3 * 86_400,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            1,
        ),
        lookup(0, "mailto:bergers.o79@gmail.com"),
        first_seen(130, "roleaboutd", "", 7),
        usage(131, "roleaboutd", "", 2_000, 9_000, 70),
    ]);
    let f = of(&d, "lookup_new_process");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].score, 8.0);
    let x = &f[0].explanation;
    assert!(x.starts_with("Identity lookup of mailto:bergers.o79@gmail.com (com.apple.madrid) at 10:04:11 UTC on 2022-09-13 (com.apple.identityservices.idstatuscache.plist key:com.apple.madrid/mailto:bergers.o79@gmail.com)"), "{x}");
    assert!(x.contains("; 2 min 10 s later roleaboutd, a process with no bundle id, used the network (DataUsage.sqlite ZPROCESS:7) — its first appearance on this phone (history from 2022-09-10), weight ×1.5"), "{x}");
    // The counters update 1 s later is no second appearance of the process.
    assert!(!x.contains("more such row"), "{x}");
}

#[test]
fn lookup_near_misses_stay_quiet() {
    let d = detect(vec![
        lookup(0, "mailto:x@y.org"),
        first_seen(20 * 60, "roleaboutd", "", 7),
    ])
    .1;
    assert!(of(&d, "lookup_new_process").is_empty());
    let d = detect(vec![
        lookup(0, "mailto:x@y.org"),
        first_seen(60, "Telegram", "ph.telegra.Telegraph", 7),
    ])
    .1;
    assert!(of(&d, "lookup_new_process").is_empty());
    let d = detect(vec![
        first_seen(-3 * 86_400, "mobileassetd", "", 3),
        lookup(0, "mailto:x@y.org"),
        usage(60, "mobileassetd", "", 1, 1, 8),
    ])
    .1;
    assert!(of(&d, "lookup_new_process").is_empty());
    // A counters update (ZLIVEUSAGE) is the last update of a process's counters, not its
    // appearance: without a ZPROCESS first time in the window it is no new process.
    let d = detect(vec![
        lookup(0, "mailto:x@y.org"),
        usage(60, "wifianalyticsd", "", 1, 1, 9),
    ])
    .1;
    assert!(of(&d, "lookup_new_process").is_empty());
}

// --- shutdown.log, DataUsage -------------------------------------------------------------------

#[test]
fn shutdown_staged_client_and_delays() {
    let (_, d) = detect(vec![
        shutdown_client(
            0,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd",
            4,
        ),
        shutdown_client(0, "/usr/libexec/backboardd", 4),
        reboot(0, 4),
    ]);
    let f = of(&d, "shutdown_anomalies");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].events.len(), 2);
    assert!(
        f[0].explanation
            .contains("a reboot was delayed 4 times by clients still running"),
        "{}",
        f[0].explanation
    );

    let d = detect(vec![reboot(0, 3)]).1;
    assert_eq!(of(&d, "shutdown_anomalies")[0].severity, Severity::Medium);
    let d = detect(vec![
        shutdown_client(0, "/private/var/tmp/UserEventAgent", 1),
        reboot(0, 1),
    ])
    .1;
    assert_eq!(of(&d, "shutdown_anomalies")[0].severity, Severity::High);
}

#[test]
fn shutdown_near_misses_stay_quiet() {
    let (_, d) = detect(vec![
        shutdown_client(0, "/usr/libexec/backboardd", 2),
        shutdown_client(
            0,
            "/System/Library/CoreServices/SpringBoard.app/SpringBoard",
            2,
        ),
        reboot(0, 2),
    ]);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn datausage_orphans() {
    let (_, d) = detect(vec![
        usage(0, "", "", 10, 10, 5).tag("orphan"),
        usage(30, "", "", 10, 10, 6).tag("orphan"),
        usage(4000, "", "", 10, 10, 7).tag("orphan"),
    ]);
    let f = of(&d, "datausage_tampering");
    assert_eq!(f.len(), 2, "{:#?}", d.findings);
    assert_eq!(f[0].events.len(), 2);
    assert_eq!(f[0].events[1].role, Role::Context);
    let d = detect(vec![usage(
        0,
        "locationd",
        "com.apple.locationd",
        10,
        10,
        5,
    )])
    .1;
    assert!(d.findings.is_empty());
}

// --- Findings file, ids, run.json --------------------------------------------------------------

#[test]
fn ids_are_ordered_by_start_then_rule_and_logged_rules_are_complete() {
    let (_, d) = detect(published_triangulation());
    let ids: Vec<(&str, &str)> = d
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.rule.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("F001", "triangulation_heuristic"),
            ("F002", "triangulation_exact")
        ]
    );
    assert_eq!(d.rules.len(), rule::builtin().unwrap().len());
    for r in &d.rules {
        for k in ["id", "title", "window_s", "min_classes", "source"] {
            assert!(r.get(k).is_some(), "{k} in {r}");
        }
    }
    assert_eq!(
        d.rules[0]["source"],
        "builtin:rules/triangulation_exact.toml"
    );
}

#[test]
fn findings_written_match_the_contract() {
    let (_, d) = detect(published_triangulation());
    let dir = tempfile::tempdir().unwrap();
    findings::write_all(dir.path(), &d.findings).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["id"], "F001");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["events"][1]["role"], "follow_up");
    assert_eq!(f["events"][1]["offset_s"], 43.0);
    assert_eq!(f["events"][0]["ts"], "2022-09-13T10:04:11.890000Z");
    let ev = crate::timeline::read_parquet(&dir.path().join("finding_events.parquet")).unwrap();
    assert_eq!(
        ev.height(),
        d.findings.iter().map(|f| f.events.len()).sum::<usize>()
    );
}

// --- Indicators ----------------------------------------------------------------------------

fn ind(kind: IocKind, value: &str, malware: &str) -> Indicator {
    Indicator {
        kind,
        value: value.into(),
        malware: malware.into(),
        file: "test.stix2".into(),
    }
}

fn ps_row(secs: i64, path: &str, line: u32) -> Event {
    Event::new("ps", "process_running", Some(at(secs)))
        .actor(path)
        .target(line.to_string())
        .at("sysdiagnose/ps.txt", format!("line:{line}"))
}

#[test]
fn staged_process_fires_on_a_ps_row_from_a_staging_folder() {
    let (_, d) = detect(vec![ps_row(0, "/private/var/tmp/UserEventAgent", 40)]);
    let f = of(&d, "staged_process");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::High);
    assert!(f[0].title.ends_with("(Predator-like)"), "{}", f[0].title);
    // The same binary at a reboot in shutdown.log, days before: critical.
    let (_, d) = detect(vec![
        shutdown_client(
            -3 * 86_400,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd",
            1,
        ),
        ps_row(
            0,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd",
            41,
        ),
    ]);
    let f = of(&d, "staged_process");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(
        f[0].title.ends_with("(Reign/KingsPawn-like)"),
        "{}",
        f[0].title
    );
}

#[test]
fn staged_process_quiet_on_system_and_app_paths() {
    let (_, d) = detect(vec![
        ps_row(0, "/usr/libexec/UserEventAgent", 40),
        ps_row(
            1,
            "/private/var/containers/Bundle/Application/1B2C/App.app/App",
            41,
        ),
        ps_row(2, "/System/Library/PrivateFrameworks/X.framework/tmpd", 42),
    ]);
    assert!(of(&d, "staged_process").is_empty(), "{:#?}", d.findings);
}

fn ulog(secs: i64, process: &str, kind: &'static str, message: &str, line: u32) -> Event {
    Event::new("unifiedlog", kind, Some(at(secs)))
        .actor(process)
        .message(format!("{process}[1]: {message}"))
        .at("system_logs.ndjson", format!("line:{line}"))
}

#[test]
fn unifiedlog_chain_fires_link_by_link() {
    let ev = vec![
        ulog(0, "IMTransferAgent", "attachment_download", "Starting download of attachment", 1),
        ulog(90, "ReportCrash", "crash_report_written", "Saved crash report for IMTranscoderAgent[402] to IMTranscoderAgent-2021.ips", 2),
        ulog(120, "launchd", "process_spawn", "Successfully spawned /private/var/db/com.apple.xpc.roleaccountd.staging/roleaboutd[812]", 3),
    ];
    let (_, d) = detect(ev);
    let f = of(&d, "unifiedlog_chain");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(
        f[0].title.ends_with("(FORCEDENTRY/BLASTPASS-like)"),
        "{}",
        f[0].title
    );
}

#[test]
fn homekit_entry_then_message_then_new_process() {
    let (_, d) = detect(vec![
        ulog(0, "homed", "log_entry", "Accessory invitation received", 1),
        Event::new("sms", "message_received", Some(at(120)))
            .actor("attacker@example.com")
            .at(SMS, "message:9"),
        first_seen(200, "bh", "", 7),
    ]);
    let f = of(&d, "homekit_findmy_entry");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert!(f[0].severity >= Severity::High, "{:?}", f[0].severity);
    assert!(f[0].title.ends_with("(PWNYOURHOME-like)"), "{}", f[0].title);
}

#[test]
fn homekit_entry_quiet_without_a_new_process_or_a_message() {
    // HomeKit then a message but no new process; Find My then a known process (seen
    // a week before) but no message.
    let (_, d) = detect(vec![
        ulog(0, "homed", "log_entry", "Accessory state changed", 1),
        Event::new("sms", "message_received", Some(at(120)))
            .actor("+15550001")
            .at(SMS, "message:9"),
        first_seen(-7 * 86_400, "cloudd", "", 6),
        ulog(3000, "fmfd", "log_entry", "Location published", 2),
        usage(3100, "cloudd", "", 10, 10, 6),
    ]);
    assert!(
        of(&d, "homekit_findmy_entry").is_empty(),
        "{:#?}",
        d.findings
    );
}

#[test]
fn unifiedlog_chain_quiet_on_near_misses() {
    // An ordinary crash of another process, a system spawn, and a crash 10 min later.
    let ev = vec![
        ulog(
            0,
            "IMTransferAgent",
            "attachment_download",
            "Starting download of attachment",
            1,
        ),
        ulog(
            30,
            "ReportCrash",
            "crash_report_written",
            "Saved crash report for Maps[77]",
            2,
        ),
        ulog(
            40,
            "launchd",
            "process_spawn",
            "Successfully spawned /usr/libexec/lsd[99]",
            3,
        ),
        ulog(
            600,
            "ReportCrash",
            "crash_report_written",
            "Saved crash report for IMTranscoderAgent[402]",
            4,
        ),
    ];
    let (_, d) = detect(ev);
    assert!(of(&d, "unifiedlog_chain").is_empty(), "{:#?}", d.findings);
}

/// A process indicator meets the executable of a ps.txt row (by its last component),
/// and the file-path indicator its path; a name that only starts like it does not.
#[test]
fn indicators_meet_ps_rows() {
    let set = IocSet::from_indicators(vec![
        ind(IocKind::Process, "rolexd", "King"),
        ind(IocKind::FilePath, "/private/var/tmp/upgrade.dylib", "Pred"),
    ]);
    let ps = |secs, path: &str, n: u32| {
        Event::new("ps", "process_running", Some(at(secs)))
            .actor(path)
            .target(n.to_string())
            .at("sysdiagnose/ps.txt", format!("line:{n}"))
    };
    let (df, d) = detect_with(
        vec![
            ps(
                0,
                "/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd",
                2,
            ),
            ps(1, "/usr/libexec/rolexdaemon", 3),
        ],
        set,
    );
    assert!(tags_of(&df, "line:2").contains(&"ioc:King".to_string()));
    assert!(!tags_of(&df, "line:3").iter().any(|t| t.starts_with("ioc:")));
    assert_eq!(of(&d, IOC_RULE).len(), 1);
}

#[test]
fn indicator_matching_rules() {
    let set = IocSet::from_indicators(vec![
        ind(IocKind::Domain, "backuprabbit.com", "Tri"),
        ind(IocKind::Process, "com.apple.rapports.events", "Peg"),
        ind(IocKind::Process, "bh", "Peg"),
        ind(IocKind::Email, "bergers.o79@gmail.com", "Peg"),
        ind(IocKind::FilePath, "/private/var/tmp/l/", "Pred"),
        ind(
            IocKind::FilePath,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/subridged",
            "King",
        ),
        ind(IocKind::Url, "https://evil.example.net/x", "Url"),
    ]);
    let sms = |secs, text: &str| {
        Event::new("sms", "message_received", Some(at(secs)))
            .actor("+15550001")
            .target("+15550001")
            .message(text)
            .at(SMS, format!("message:{secs}"))
    };
    let events = vec![
        sms(0, "see https://cdn.a.backuprabbit.com/p?q=1."),
        sms(
            1,
            "see https://backuprabbit.company.org/ and https://evil.example.net/x?utm=1",
        ),
        usage(2, "com.apple.rappor", "", 1, 1, 1),
        usage(3, "bhx", "", 1, 1, 2),
        lookup(4, "mailto:Bergers.O79@gmail.com"),
        shutdown_client(5, "/private/var/tmp/l/payload", 1),
        shutdown_client(6, "/var/db/com.apple.xpc.roleaccountd.staging/subridged", 1),
        shutdown_client(
            7,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/subridgedX",
            1,
        ),
        usage(8, "bh", "", 1, 1, 3),
    ];
    let (df, d) = detect_with(events, set);
    let f = of(&d, IOC_RULE);
    let by: Vec<(&str, Vec<(&str, &str)>)> = f
        .iter()
        .map(|f| {
            (
                f.title.as_str(),
                f.iocs
                    .iter()
                    .map(|m| (m.kind.as_str(), m.value.as_str()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            (
                "Indicators of Tri",
                vec![("domain-name:value", "backuprabbit.com")]
            ),
            (
                "Indicators of Url",
                vec![("url:value", "https://evil.example.net/x")]
            ),
            (
                "Indicators of Peg",
                vec![
                    ("process:name", "com.apple.rapports.events"),
                    ("email-addr:value", "bergers.o79@gmail.com"),
                    ("process:name", "bh")
                ]
            ),
            (
                "Indicators of Pred",
                vec![("file:path", "/private/var/tmp/l/")]
            ),
            (
                "Indicators of King",
                vec![(
                    "file:path",
                    "/private/var/db/com.apple.xpc.roleaccountd.staging/subridged"
                )]
            ),
        ]
    );
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[2].severity, Severity::Critical);
    assert!(tags_of(&df, "ZLIVEUSAGE:1").contains(&"ioc:Peg".to_string()));
    assert!(!tags_of(&df, "ZLIVEUSAGE:2")
        .iter()
        .any(|t| t.starts_with("ioc:")));
    assert!(f[2].explanation.starts_with("3 timeline rows match published indicators of Peg: process:name 'com.apple.rapports.events' from test.stix2 in a datausage network usage row at 10:04:13 UTC on 2022-09-13 (DataUsage.sqlite ZLIVEUSAGE:1)"), "{}", f[2].explanation);
}

#[test]
fn indicator_hit_feeds_chain_rules() {
    // A lookup of a published attacker address, then a new process: the chain carries
    // the indicator and names the malware.
    let set = IocSet::from_indicators(vec![ind(
        IocKind::Email,
        "bergers.o79@gmail.com",
        "Pegasus",
    )]);
    let (_, d) = detect_with(
        vec![
            lookup(0, "mailto:bergers.o79@gmail.com"),
            first_seen(60, "roleaboutd", "", 7),
        ],
        set,
    );
    let f = of(&d, "lookup_new_process");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].iocs.len(), 1);
    assert_eq!(f[0].iocs[0].malware, "Pegasus");
    assert!(f[0].explanation.contains("matches the Pegasus indicator email-addr:value 'bergers.o79@gmail.com' from test.stix2"), "{}", f[0].explanation);
}

fn shared_iocs() -> Option<IocSet> {
    let dir = crate::shared_dir()?.join("iocs");
    if !dir.is_dir() {
        return None;
    }
    Some(IocSet::load(&[dir]))
}

#[test]
fn shared_bundles_load_with_their_malware_names() {
    let Some(set) = shared_iocs() else {
        eprintln!("skipped: no shared/iocs");
        return;
    };
    assert!(
        set.files.iter().all(|f| f.error.is_none()),
        "{:#?}",
        set.files
    );
    let tri = set
        .files
        .iter()
        .find(|f| f.path.ends_with("operation_triangulation.stix2"))
        .unwrap();
    assert_eq!(tri.indicators, 112);
    assert_eq!(tri.malware, ["OperationTriangulation"]);
    assert_eq!(tri.sha256.len(), 64);
    let peg = set
        .files
        .iter()
        .find(|f| f.path.ends_with("pegasus.stix2"))
        .unwrap();
    assert_eq!(peg.indicators, 1549);
    assert_eq!(set.files.iter().map(|f| f.skipped).sum::<usize>(), 0);
}

#[test]
fn shared_bundles_name_triangulation_for_backupagent_and_stay_quiet_on_clean_rows() {
    let Some(set) = shared_iocs() else {
        eprintln!("skipped: no shared/iocs");
        return;
    };
    let (df, d) = detect_with(vec![usage(0, "BackupAgent", "", 0, 288_000, 12)], set);
    let f = of(&d, IOC_RULE);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].title, "Indicators of OperationTriangulation");
    assert_eq!(f[0].iocs[0].file, "operation_triangulation.stix2");
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(tags_of(&df, "ZLIVEUSAGE:12").contains(&"ioc:OperationTriangulation".to_string()));

    let Some(set) = shared_iocs() else { return };
    let clean = vec![
        usage(0, "CumulativeUsageTracker", "", 1, 1, 1),
        usage(
            1,
            "IMTransferAgent",
            "com.apple.datausage.messages",
            241_000,
            0,
            2,
        ),
        usage(2, "BackupAgent2", "com.apple.backupd", 1, 1, 3),
        usage(
            3,
            "com.apple.WebKit",
            "com.apple.WebKit.WebContent",
            1,
            1,
            4,
        ),
        Event::new("sms", "message_received", Some(at(4)))
            .actor("apple")
            .message("Please click here https://badbadbad.example.org/")
            .at(SMS, "message:3"),
        Event::new("safari", "web_visit", Some(at(5)))
            .actor("Safari")
            .target("https://www.apple.com/iphone/")
            .at("HomeDomain/Library/Safari/History.db", "history_visits:1"),
        lookup(6, "mailto:friend@example.com"),
        shutdown_client(7, "/usr/libexec/UserEventAgent", 1),
        attachment_dir(8, "Library/SMS/Attachments/65/05", false),
    ];
    let (_, d) = detect_with(clean, set);
    assert!(of(&d, IOC_RULE).is_empty(), "{:#?}", d.findings);
}

// --- Speed -----------------------------------------------------------------------------------

/// Millions of rows through every rule: run with
/// `cargo test --release --lib detect::tests::many_rows -- --ignored --nocapture`.
/// Prints the time; the measurement belongs to the benchmark issue.
#[test]
#[ignore]
fn many_rows() {
    let n: i64 = std::env::var("CHAINLINE_DETECT_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let mut b = TimelineBuilder::new("bench");
    for i in 0..n {
        let secs = i * 7;
        let e = match i % 50 {
            0 => usage(
                secs,
                "IMTransferAgent",
                "com.apple.datausage.messages",
                1_000,
                0,
                i as u32,
            ),
            1 => attachment_dir(secs, "Library/SMS/Attachments/65/05", i % 100 == 1),
            2 => usage(
                secs,
                "com.apple.WebKit.WebContent",
                "com.apple.WebKit.WebContent",
                1,
                1,
                i as u32,
            ),
            3 => attachment_received(secs, &format!("h{}", i % 997), "~/a.jpeg", &[]),
            4 => lookup(secs, &format!("mailto:u{}@x.org", i % 991)),
            5 => first_seen(secs, &format!("p{}", i % 2_003), "", i as u32),
            _ => plist(
                secs,
                &format!("HomeDomain/Library/Preferences/app{}.plist", i % 10_007),
            ),
        };
        b.push(e);
    }
    let mut df = timeline::assemble(vec![b.finish().unwrap()]).unwrap();
    let opts = DetectOptions {
        rules: rule::builtin().unwrap(),
        iocs: shared_iocs().unwrap_or_default(),
        inputs: Vec::new(),
    };
    let t = std::time::Instant::now();
    let d = run(&mut df, &opts).unwrap();
    eprintln!(
        "{n} rows: {} findings in {:.2} s",
        d.findings.len(),
        t.elapsed().as_secs_f64()
    );
}
