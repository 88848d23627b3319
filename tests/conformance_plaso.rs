//! Conformance against real iOS artifacts published as plaso's test data
//! (../shared/testdata/plaso_ios, facts in its README). Each file is copied into a
//! made-up case folder (a filesystem dump or a sysdiagnose) in a temp dir, never
//! written where it lies. Skips cleanly when ../shared is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chainline::timeline;

#[derive(Debug)]
struct Row {
    ts: Option<i64>,
    source: String,
    kind: String,
    actor: String,
    target: String,
    record: String,
    tags: Vec<String>,
}

fn plaso(name: &str) -> Option<PathBuf> {
    let p = chainline::shared_dir()?
        .join("testdata/plaso_ios")
        .join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("skipping: {} absent", p.display());
        None
    }
}

/// Copies `files` (source file → path inside the case) into a fresh case folder,
/// analyses it and returns the rows and run.json.
fn analyze(files: &[(&Path, &str)]) -> (Vec<Row>, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    for (from, to) in files {
        let dest = case.join(to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from, &dest).unwrap();
    }
    let out = dir.path().join("out");
    let opts = chainline::analyze::Options {
        inputs: vec![case],
        out: out.clone(),
        quiet: true,
        ..Default::default()
    };
    chainline::analyze::run(&opts).unwrap();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    (read_rows(&out.join("timeline.parquet")), run, dir)
}

fn read_rows(path: &Path) -> Vec<Row> {
    let df = timeline::read_parquet(path).unwrap();
    let s = |n: &str| df.column(n).unwrap().str().unwrap().clone();
    let ts = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let (source, kind, actor, target, record) =
        (s("source"), s("kind"), s("actor"), s("target"), s("record"));
    let tags = df.column("tags").unwrap().list().unwrap().clone();
    (0..df.height())
        .map(|k| Row {
            ts: ts.get(k),
            source: source.get(k).unwrap_or("").into(),
            kind: kind.get(k).unwrap_or("").into(),
            actor: actor.get(k).unwrap_or("").into(),
            target: target.get(k).unwrap_or("").into(),
            record: record.get(k).unwrap_or("").into(),
            tags: tags
                .get_as_series(k)
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

/// Runs a query on a read-only copy of a real database (independent of chainline).
fn sqlite_rows<T>(
    db: &Path,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(db, &copy).unwrap();
    let conn =
        rusqlite::Connection::open_with_flags(&copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], f).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Cocoa seconds (REAL) → Unix microseconds, as the spec defines them (2001-01-01 UTC).
fn cocoa_micros(s: f64) -> i64 {
    ((s + 978_307_200.0) * 1e6).round() as i64
}

fn artifact<'a>(run: &'a serde_json::Value, source: &str) -> &'a serde_json::Value {
    run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == source && a["status"] != "missing")
        .unwrap_or_else(|| panic!("no {source} artifact in run.json"))
}

/// Each ZPROCESS row's first and last time, as sqlite3 reads them, against the rows.
fn check_processes(db: &Path, rows: &[Row], source: &str) {
    let expected: BTreeMap<String, (Option<f64>, Option<f64>)> = sqlite_rows(
        db,
        "SELECT Z_PK, ZFIRSTTIMESTAMP, ZTIMESTAMP FROM ZPROCESS",
        |r| {
            Ok((
                format!("ZPROCESS:{}", r.get::<_, i64>(0)?),
                (r.get(1)?, r.get(2)?),
            ))
        },
    )
    .into_iter()
    .collect();
    for (rec, (first, last)) in &expected {
        for (kind, t) in [("process_first_seen", first), ("process_last_seen", last)] {
            let row = rows
                .iter()
                .find(|r| r.source == source && &r.record == rec && r.kind == kind)
                .unwrap_or_else(|| panic!("{rec} {kind} missing"));
            let want = t.filter(|v| *v > 0.0).map(cocoa_micros);
            // Microseconds from REAL seconds: allow the last digit of rounding.
            match (row.ts, want) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 1, "{rec} {kind}: {a} vs {b}"),
                (a, b) => assert_eq!(a, b, "{rec} {kind}"),
            }
        }
    }
}

#[test]
fn datausage_ios16_as_a_filesystem_dump() {
    let Some(db) = plaso("DataUsage.sqlite") else {
        return;
    };
    let (rows, run, _dir) = analyze(&[(
        &db,
        "private/var/wireless/Library/Databases/DataUsage.sqlite",
    )]);
    let du: Vec<&Row> = rows.iter().filter(|r| r.source == "datausage").collect();
    // README: 371 ZPROCESS, 887 ZLIVEUSAGE rows.
    let procs: BTreeSet<&str> = du
        .iter()
        .filter(|r| r.record.starts_with("ZPROCESS:"))
        .map(|r| r.record.as_str())
        .collect();
    assert_eq!(procs.len(), 371);
    assert_eq!(
        du.iter().filter(|r| r.kind == "process_first_seen").count(),
        371
    );
    let live: Vec<&&Row> = du
        .iter()
        .filter(|r| r.record.starts_with("ZLIVEUSAGE:"))
        .collect();
    assert_eq!(live.len(), 887);
    // ZKIND 0: 885, 2: 1, 255: 1.
    let kinds = |k: &str| {
        live.iter()
            .filter(|r| r.tags.iter().any(|t| t == k))
            .count()
    };
    assert_eq!(
        (kinds("zkind:0"), kinds("zkind:2"), kinds("zkind:255")),
        (885, 1, 1)
    );
    // The three name forms: 35 `<UUID>/<bundle id>` named by their bundle id.
    let apps = du
        .iter()
        .filter(|r| {
            r.kind == "process_first_seen" && r.tags.iter().any(|t| t.starts_with("app_uuid:"))
        })
        .count();
    assert_eq!(apps, 35);
    assert!(du.iter().any(|r| r.actor == "com.apple.Translate"));
    assert!(du
        .iter()
        .any(|r| r.actor == "mDNSResponder" && r.target == "com.apple.datausage.dns"));
    assert!(du.iter().any(|r| r.actor == "CumulativeUsageTracker"));
    // ZLIVEUSAGE times run 2023-04-11 14:45:15 → 2023-05-20 19:40:36 UTC.
    let lt: Vec<i64> = live.iter().filter_map(|r| r.ts).collect();
    let fmt = |m: i64| {
        chainline::timeline::time::from_micros(m)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    assert_eq!(fmt(*lt.iter().min().unwrap()), "2023-04-11 14:45:15");
    assert_eq!(fmt(*lt.iter().max().unwrap()), "2023-05-20 19:40:36");
    check_processes(&db, &rows, "datausage");
    // Rotation is a fact, not a failure: Z_MAX 1,766 for 887 rows.
    let a = artifact(&run, "datausage");
    assert_eq!(a["status"], "parsed", "{a}");
    assert_eq!(a["facts"]["zliveusage_z_max"], 1766);
}

#[test]
fn netusage_as_a_filesystem_dump() {
    let Some(db) = plaso("netusage.sqlite") else {
        return;
    };
    let (rows, _run, _dir) = analyze(&[(&db, "private/var/networkd/netusage.sqlite")]);
    let nu: Vec<&Row> = rows.iter().filter(|r| r.source == "netusage").collect();
    // README: 260 ZPROCESS, 335 ZLIVEUSAGE; none with a UUID prefix; daemons without
    // bundle id (configd, mDNSResponder).
    assert_eq!(
        nu.iter().filter(|r| r.kind == "process_first_seen").count(),
        260
    );
    assert_eq!(
        nu.iter()
            .filter(|r| r.record.starts_with("ZLIVEUSAGE:"))
            .count(),
        335
    );
    assert!(!nu
        .iter()
        .any(|r| r.tags.iter().any(|t| t.starts_with("app_uuid:"))));
    let configd = nu
        .iter()
        .find(|r| r.actor == "configd" && r.kind == "process_first_seen")
        .expect("configd");
    assert!(configd.tags.iter().any(|t| t == "no_bundle_id"));
    assert!(configd.target.is_empty());
    check_processes(&db, &rows, "netusage");
    // ZLIVEUSAGE times 2021-01-17 19:23:37 → 2021-02-19 21:14:37 UTC (README; the
    // latest ZPROCESS.ZTIMESTAMP is later, 2021-02-20 01:05:30).
    let ts: Vec<i64> = nu
        .iter()
        .filter(|r| r.record.starts_with("ZLIVEUSAGE:"))
        .filter_map(|r| r.ts)
        .collect();
    let fmt = |m: i64| {
        chainline::timeline::time::from_micros(m)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    assert_eq!(fmt(*ts.iter().min().unwrap()), "2021-01-17 19:23:37");
    assert_eq!(fmt(*ts.iter().max().unwrap()), "2021-02-19 21:14:37");
}

/// One case folder as an analyst receives it: the user's App Privacy Report export
/// beside a sysdiagnose folder holding the PowerLog, the install log and lockdownd's
/// log. Every artifact is parsed and says so in run.json.
#[test]
fn privacy_report_and_sysdiagnose_logs_in_one_case() {
    let (Some(apr), Some(install), Some(lockdown), Some(powerlog)) = (
        plaso("ios_app_privacy_report.ndjson"),
        plaso("ios_sysdiag.log"),
        plaso("ios_lockdownd.log"),
        plaso("powerlog_2021-12-16_05-54_84E2141B.PLSQL"),
    ) else {
        return;
    };
    let sd = "sysdiagnose_2021.10.13_08-00-00-0400_iPhone-OS_iPhone_19A404";
    let (rows, run, _dir) = analyze(&[
        (&apr, "ios_app_privacy_report.ndjson"),
        (
            &install,
            &format!("{sd}/logs/MobileInstallation/mobile_installation.log"),
        ),
        (
            &lockdown,
            &format!("{sd}/logs/MobileLockdown/lockdownd.log"),
        ),
        (
            &powerlog,
            &format!("{sd}/logs/powerlogs/powerlog_2021-12-16_05-54_84E2141B.PLSQL"),
        ),
    ]);
    for source in ["app_privacy", "mobileinstallation", "lockdownd", "powerlog"] {
        let a = artifact(&run, source);
        assert_eq!(a["status"], "parsed", "{a}");
    }
    let of = |s: &str| rows.iter().filter(|r| r.source == s).collect::<Vec<_>>();
    // README: 72 lines, 64 networkActivity and 8 access.
    let apr_rows = of("app_privacy");
    assert_eq!(
        apr_rows
            .iter()
            .filter(|r| r.kind == "network_activity")
            .count(),
        64
    );
    assert_eq!(
        apr_rows.iter().filter(|r| r.kind == "data_access").count(),
        8
    );
    // First line: com.apple.mobileslideshow photos intervalBegin at 10:53:24.555-04:00.
    let first = apr_rows.iter().find(|r| r.record == "line:1").unwrap();
    assert_eq!(
        (first.actor.as_str(), first.target.as_str()),
        ("com.apple.mobileslideshow", "photos")
    );
    assert_eq!(first.ts, Some(1_651_071_204_555_000));
    assert!(apr_rows
        .iter()
        .any(|r| r.actor == "com.apple.mobilecal" && r.target == "p56-caldav.icloud.com"));
    // 34 lines (33 newline-terminated), 28 of them entry headers
    // (grep -cE '^(Mon|Tue|…|Sun) [A-Z][a-z]{2} +[0-9]+ [0-9:]{8} [0-9]{4} \['), 14 of
    // which are "Made container live for"; the rest continue an entry.
    let mi = of("mobileinstallation");
    assert_eq!(mi.len(), 28);
    assert_eq!(
        mi.iter().filter(|r| r.kind == "container_created").count(),
        14
    );
    assert!(mi.iter().all(|r| r.tags.iter().any(|t| t == "zone:-0400")));
    // Line 1: Wed Aug 11 05:51:02 2021 local, −04:00 from the sysdiagnose's name.
    let l1 = mi.iter().find(|r| r.record == "line:1").unwrap();
    assert_eq!(l1.ts, Some(1_628_675_462_000_000));
    assert_eq!(l1.actor, "com.apple.CoreCDPUI.localSecretPrompt");
    assert!(l1
        .target
        .starts_with("/private/var/mobile/Containers/Data/PluginKitPlugin/"));
    // 159 lines, 153 starting with a date (grep -cE '^[0-9]{2}/[0-9]{2}/[0-9]{2} ').
    let ld = of("lockdownd");
    assert_eq!(ld.len(), 153);
    let l1 = ld.iter().find(|r| r.record == "line:1").unwrap();
    // 10/13/21 07:57:42.865446 at −04:00.
    assert_eq!(l1.ts, Some(1_634_126_262_865_446));
}

/// An App Privacy Report domain is matched by a STIX2 domain indicator like any other.
#[test]
fn privacy_report_domains_meet_indicators() {
    let Some(apr) = plaso("ios_app_privacy_report.ndjson") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let iocs = dir.path().join("test.stix2");
    std::fs::write(
        &iocs,
        r#"{"type":"bundle","id":"bundle--1","objects":[
 {"type":"malware","id":"malware--1","name":"TestKit","is_family":true},
 {"type":"indicator","id":"indicator--1","pattern":"[domain-name:value='icloud.com']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"},
 {"type":"relationship","id":"relationship--1","relationship_type":"indicates","source_ref":"indicator--1","target_ref":"malware--1"}]}"#,
    )
    .unwrap();
    let case = dir.path().join("case");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::copy(&apr, case.join("App_Privacy_Report_v4.ndjson")).unwrap();
    let out = dir.path().join("out");
    let opts = chainline::analyze::Options {
        inputs: vec![case],
        out: out.clone(),
        quiet: true,
        iocs: vec![iocs],
        ..Default::default()
    };
    chainline::analyze::run(&opts).unwrap();
    let rows = read_rows(&out.join("timeline.parquet"));
    // p56-caldav.icloud.com and calendars.icloud.com fall under icloud.com.
    let hit: Vec<&Row> = rows
        .iter()
        .filter(|r| r.source == "app_privacy" && r.tags.iter().any(|t| t == "ioc:TestKit"))
        .collect();
    assert!(
        hit.iter().any(|r| r.target == "p56-caldav.icloud.com"),
        "{hit:?}"
    );
    assert!(hit.iter().all(|r| r.target.ends_with("icloud.com")));
}

/// The old-schema chat.db: message ROWIDs 1–10 survive while sqlite_sequence says 236
/// were handed out, and deleted_messages holds 226 guids (sqlite3) — the same deletion
/// seen twice.
#[test]
fn chat_db_deletions() {
    let Some(db) = plaso("imessage_chat.db") else {
        return;
    };
    let (rows, run, _dir) = analyze(&[(&db, "private/var/mobile/Library/SMS/sms.db")]);
    let gaps: Vec<&Row> = rows
        .iter()
        .filter(|r| r.source == "sms" && r.kind == "messages_deleted")
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].record, "message:11-236");
    assert!(gaps[0].tags.iter().any(|t| t == "deleted_rows:226"));
    let guids = rows.iter().filter(|r| r.kind == "message_deleted").count();
    assert_eq!(guids, 226);
    let a = artifact(&run, "sms");
    assert_eq!(a["facts"]["deleted_messages"], 226);
    assert_eq!(a["facts"]["message_rowid_gaps"]["sqlite_sequence"], 236);
    // The rule reports the gap as its own, medium, finding.
    let out = _dir.path().join("out");
    let findings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap()).unwrap();
    let f: Vec<&serde_json::Value> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "message_deletion")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "medium");
}
