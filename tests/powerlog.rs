//! PowerLog (`powerlog` source): the real PowerLog of the shared test data fed as a
//! sysdiagnose would carry it (plain and gzipped), and small PowerLogs built here in the
//! shape of the real tables (filesystem layout, older schema, clock offsets).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use chainline::evidence::{Evidence, Lookup};
use chainline::sources::{powerlog, Parse, Source};
use chainline::timeline::time;
use polars::prelude::*;

#[derive(Debug)]
struct Outcome {
    artifact: String,
    result: Result<(), String>,
    df: DataFrame,
    warnings: Vec<String>,
    facts: serde_json::Map<String, serde_json::Value>,
}

fn run(ev: &Evidence) -> Vec<Outcome> {
    let mut out = Vec::new();
    for l in powerlog::PowerLog.discover(ev) {
        let Lookup::Found(art) = l else { continue };
        let mut p = Parse::new(ev, &art);
        let result = powerlog::PowerLog.parse(&mut p).map_err(|e| e.to_string());
        let (builder, warnings, facts) = p.into_parts();
        out.push(Outcome {
            artifact: art.logical.clone(),
            result,
            df: builder.finish().unwrap(),
            warnings,
            facts,
        });
    }
    out
}

fn text(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

fn times(df: &DataFrame) -> Vec<Option<String>> {
    df.column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .iter()
        .map(|v| v.and_then(time::from_micros).map(|t| time::rfc3339(&t)))
        .collect()
}

fn tags(df: &DataFrame, i: usize) -> Vec<String> {
    df.column("tags")
        .unwrap()
        .list()
        .unwrap()
        .get_as_series(i)
        .map(|s| {
            s.str()
                .unwrap()
                .iter()
                .map(|t| t.unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn ints(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
    df.column(name).unwrap().i64().unwrap().iter().collect()
}

/// Indices of the rows of one kind.
fn of_kind(df: &DataFrame, kind: &str) -> Vec<usize> {
    text(df, "kind")
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == kind)
        .map(|(i, _)| i)
        .collect()
}

/// (first, last) time of the rows of one kind.
fn span(df: &DataFrame, kind: &str) -> (String, String) {
    let ts = times(df);
    let mut v: Vec<String> = of_kind(df, kind)
        .into_iter()
        .filter_map(|i| ts[i].clone())
        .collect();
    v.sort();
    (v[0].clone(), v[v.len() - 1].clone())
}

const REAL: &str = "powerlog_2021-12-16_05-54_84E2141B.PLSQL";
/// Named as sysdiagnose names its archives (the PowerLog's name says 05:54 local).
const SYSDIAG: &str = "sysdiagnose_2021.12.16_05-54-00-0500_iPhone-OS_iPhone_19A404";

fn real_powerlog() -> Option<std::path::PathBuf> {
    let p = chainline::shared_dir()?
        .join("testdata/plaso_ios")
        .join(REAL);
    p.is_file().then_some(p)
}

/// Expected values, read with `sqlite3 -readonly` on a copy of the real file. The offset
/// in force at a row is
/// `(SELECT o.system FROM PLStorageOperator_EventForward_TimeOffset o WHERE o.timestamp <= t.timestamp ORDER BY o.timestamp DESC LIMIT 1)` (call it OFF).
fn check_real(o: &Outcome) {
    assert_eq!(o.result, Ok(()), "{:?}", o.warnings);
    let df = &o.df;
    // SELECT count(*) FROM <table>
    assert_eq!(of_kind(df, "process_launch").len(), 994);
    assert_eq!(of_kind(df, "network_interval").len(), 182);
    assert_eq!(of_kind(df, "coalition_interval").len(), 382);
    assert_eq!(of_kind(df, "app_state").len(), 188);
    assert_eq!(df.height(), 994 + 182 + 382 + 188);
    let actor = text(df, "actor");
    // SELECT count(DISTINCT ProcessName) FROM PLProcessMonitorAgent_EventForward_ProcessID
    let names: BTreeSet<&str> = of_kind(df, "process_launch")
        .into_iter()
        .map(|i| actor[i].as_str())
        .collect();
    assert_eq!(names.len(), 322);
    // SELECT count(DISTINCT ProcessName) FROM PLProcessNetworkAgent_EventInterval_UsageDiff
    let net: BTreeSet<&str> = of_kind(df, "network_interval")
        .into_iter()
        .map(|i| actor[i].as_str())
        .collect();
    assert_eq!(net.len(), 50);
    // SELECT printf('%.6f', min(t.timestamp + OFF)), printf('%.6f', max(t.timestamp + OFF)) FROM <table> t
    // (converted to UTC with Python's datetime.fromtimestamp)
    assert_eq!(
        span(df, "process_launch"),
        (
            "2021-11-02T10:17:30.601635Z".into(),
            "2021-12-16T10:54:36.534169Z".into()
        )
    );
    assert_eq!(
        span(df, "network_interval"),
        (
            "2021-11-02T10:17:34.077993Z".into(),
            "2021-11-02T19:39:27.906182Z".into()
        )
    );
    assert_eq!(
        span(df, "coalition_interval"),
        (
            "2021-11-02T10:17:33.934948Z".into(),
            "2021-12-16T10:54:36.191573Z".into()
        )
    );
    // One app row (ID 4161, 2021-10-25) is older than the first offset record: kept raw.
    assert_eq!(
        span(df, "app_state"),
        (
            "2021-10-25T14:50:16.680676Z".into(),
            "2021-12-16T10:54:16.752452Z".into()
        )
    );
    assert_eq!(
        o.facts.get("rows_before_first_clock_offset"),
        Some(&serde_json::json!(1))
    );
    assert_eq!(o.facts.get("clock_offsets"), Some(&serde_json::json!(7)));
    // SELECT count(*) FROM PLProcessMonitorAgent_EventForward_ProcessID
    //   WHERE BundleID IS NULL OR trim(BundleID) = ''  → 594
    let no_bundle = of_kind(df, "process_launch")
        .into_iter()
        .filter(|&i| tags(df, i).iter().any(|t| t == "no_bundle_id"))
        .count();
    assert_eq!(no_bundle, 594);
    // SELECT ID, timestamp, ProcessName, BundleID, PID, CoalitionID ... ORDER BY ID LIMIT 1
    //   → 7035|1635848624.067997|com.apple.datamigrator|com.apple.datamigrator|253|141,
    //   offset in force -373.466361999512 (TimeOffset ID 110).
    let record = text(df, "record");
    let first = record
        .iter()
        .position(|r| r == "PLProcessMonitorAgent_EventForward_ProcessID:7035")
        .unwrap();
    assert_eq!(actor[first], "com.apple.datamigrator");
    assert_eq!(text(df, "target")[first], "com.apple.datamigrator");
    assert_eq!(
        tags(df, first),
        ["pid:253", "coalition:141", "clock_offset:-373.466"]
    );
    // SELECT ... FROM PLProcessNetworkAgent_EventInterval_UsageDiff WHERE ID = 1806
    //   → timestamp 1635848665.652002, end 1635848982.834258, picaboo, Cell 0/0, Wifi 200/0;
    //   offset -411.57400894165 (TimeOffset ID 112).
    let n = record
        .iter()
        .position(|r| r == "PLProcessNetworkAgent_EventInterval_UsageDiff:1806")
        .unwrap();
    assert_eq!(actor[n], "com.toyopagroup.picaboo");
    assert_eq!(ints(df, "bytes_in")[n], Some(200));
    assert_eq!(ints(df, "bytes_out")[n], Some(0));
    assert_eq!(times(df)[n].as_deref(), Some("2021-11-02T10:17:34.077993Z"));
    assert!(
        tags(df, n).contains(&"end:2021-11-02T10:22:51.260249Z".to_string()),
        "{:?}",
        tags(df, n)
    );
    // SELECT sum(CellIn + WifiIn), sum(CellOut + WifiOut) FROM ..._UsageDiff → 266786363|8644797
    let sum = |name: &str| -> i64 {
        let v = ints(df, name);
        of_kind(df, "network_interval")
            .into_iter()
            .map(|i| v[i].unwrap_or(0))
            .sum()
    };
    assert_eq!(
        (sum("bytes_in"), sum("bytes_out")),
        (266_786_363, 8_644_797)
    );
}

#[test]
fn real_powerlog_in_a_sysdiagnose_folder() {
    let Some(real) = real_powerlog() else {
        eprintln!("skipped: ../shared/testdata/plaso_ios/{REAL} is absent");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join(SYSDIAG).join("logs/powerlogs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::copy(&real, logs.join(REAL)).unwrap();
    let ev = Evidence::discover(&[dir.path().join(SYSDIAG)]).unwrap();
    let t = std::time::Instant::now();
    let out = run(&ev);
    eprintln!("real PowerLog parsed in {:?}", t.elapsed());
    assert_eq!(out.len(), 1);
    assert!(out[0].artifact.ends_with(&format!("logs/powerlogs/{REAL}")));
    check_real(&out[0]);
}

#[test]
fn real_powerlog_gzipped_in_a_sysdiagnose_folder() {
    let Some(real) = real_powerlog() else {
        eprintln!("skipped: ../shared/testdata/plaso_ios/{REAL} is absent");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join(SYSDIAG).join("logs/powerlogs");
    std::fs::create_dir_all(&logs).unwrap();
    let gz = logs.join(format!("{REAL}.gz"));
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&real).unwrap()).unwrap();
    enc.finish().unwrap();
    let ev = Evidence::discover(&[dir.path().join(SYSDIAG)]).unwrap();
    let out = run(&ev);
    assert_eq!(out.len(), 1);
    assert!(out[0].artifact.ends_with(".PLSQL.gz"));
    check_real(&out[0]);
    // The compressed input is hashed like every input.
    assert!(ev.inputs.contains(&gz));
}

fn put_db(path: &Path, sql: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn filesystem_powerlog_with_an_older_schema_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let bl = dir.path().join(
        "private/var/containers/Shared/SystemGroup/0A1B2C3D-0000-4000-8000-000000000001/Library/BatteryLife",
    );
    // No coalition or application table; the traffic table lacks timestampEnd; one
    // launch has no time, one has no bundle id.
    put_db(
        &bl.join("CurrentPowerlog.PLSQL"),
        "CREATE TABLE 'PLProcessMonitorAgent_EventForward_ProcessID' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'BundleID' TEXT, 'CoalitionID' INTEGER, 'PID' INTEGER, 'ProcessName' TEXT);
         CREATE TABLE 'PLProcessNetworkAgent_EventInterval_UsageDiff' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'BundleName' TEXT, 'CellIn' INTEGER, 'CellOut' INTEGER, 'ProcessName' TEXT, 'WifiIn' INTEGER, 'WifiOut' INTEGER);
         CREATE TABLE 'PLStorageOperator_EventForward_TimeOffset' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'baseband' REAL, 'kernel' REAL, 'system' REAL);
         INSERT INTO PLStorageOperator_EventForward_TimeOffset VALUES (1, 1700000000.0, 0, 0, -100.0), (2, 1700000500.0, 0, 0, 20.5);
         INSERT INTO PLProcessMonitorAgent_EventForward_ProcessID VALUES
           (1, 1699999999.0, 'com.apple.Preferences', 1, 10, 'Preferences'),
           (2, 1700000100.0, NULL, 2, 11, 'roleaccountd'),
           (3, 1700000600.0, '', 3, 12, 'bh'),
           (4, NULL, 'x', 4, 13, 'notime');
         INSERT INTO PLProcessNetworkAgent_EventInterval_UsageDiff VALUES (9, 1700000200.0, NULL, 5, 6, 'roleaccountd', 100, 1000);",
    );
    // An archive in the same folder, gzipped; a PLSQL elsewhere in SystemGroup is not PowerLog.
    let mut bytes = Vec::new();
    {
        let tmp = dir.path().join("tmp.PLSQL");
        put_db(&tmp, "CREATE TABLE 'PLApplicationAgent_EventForward_Application' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'Identifier' TEXT, 'pid' INTEGER, 'State' INTEGER, 'Reason' INTEGER);
             INSERT INTO PLApplicationAgent_EventForward_Application VALUES (5, 1690000000.25, 'com.apple.mobilesafari', 77, 8, 0);");
        let mut enc = flate2::write::GzEncoder::new(&mut bytes, flate2::Compression::fast());
        enc.write_all(&std::fs::read(&tmp).unwrap()).unwrap();
        enc.finish().unwrap();
        std::fs::remove_file(tmp).unwrap();
    }
    std::fs::create_dir_all(bl.join("Archives")).unwrap();
    std::fs::write(bl.join("Archives/powerlog_2023-07-22.PLSQL.gz"), &bytes).unwrap();
    let other = dir
        .path()
        .join("private/var/containers/Shared/SystemGroup/X/Library/Other/foo.PLSQL");
    put_db(&other, "CREATE TABLE t (a)");

    let ev = Evidence::discover(&[dir.path().to_path_buf()]).unwrap();
    let out = run(&ev);
    let names: Vec<&str> = out.iter().map(|o| o.artifact.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let cur = out
        .iter()
        .find(|o| o.artifact.ends_with("CurrentPowerlog.PLSQL"))
        .unwrap();
    assert_eq!(cur.result, Ok(()));
    let df = &cur.df;
    assert_eq!(
        cur.facts.get("missing_tables"),
        Some(&serde_json::json!([powerlog::COALITIONS, powerlog::APPS]))
    );
    assert_eq!(
        cur.warnings,
        ["1 rows have no usable time (NULL, zero or implausible); kept without a time"]
    );
    let ts = times(df);
    // 1699999999 is before the first offset (kept raw); 1700000100 - 100; 1700000600 + 20.5.
    assert_eq!(
        ts,
        [
            Some("2023-11-14T22:13:19.000000Z".to_string()),
            Some("2023-11-14T22:13:20.000000Z".to_string()),
            Some("2023-11-14T22:23:40.500000Z".to_string()),
            None,
            Some("2023-11-14T22:15:00.000000Z".to_string()),
        ]
    );
    assert_eq!(tags(df, 0), ["pid:10", "coalition:1"]);
    assert_eq!(
        tags(df, 1),
        [
            "pid:11",
            "coalition:2",
            "no_bundle_id",
            "clock_offset:-100.000"
        ]
    );
    assert_eq!(
        tags(df, 2),
        [
            "pid:12",
            "coalition:3",
            "no_bundle_id",
            "clock_offset:20.500"
        ]
    );
    // Traffic: bytes_in = Cell + Wifi in, bytes_out = Cell + Wifi out.
    assert_eq!(ints(df, "bytes_in")[4], Some(105));
    assert_eq!(ints(df, "bytes_out")[4], Some(1006));
    assert_eq!(text(df, "kind")[4], "network_interval");
    assert_eq!(
        text(df, "record")[4],
        "PLProcessNetworkAgent_EventInterval_UsageDiff:9"
    );
    // The archive has no TimeOffset table: a fact, times raw.
    let arc = out
        .iter()
        .find(|o| {
            o.artifact
                .ends_with("Archives/powerlog_2023-07-22.PLSQL.gz")
        })
        .unwrap();
    assert_eq!(arc.result, Ok(()));
    assert_eq!(text(&arc.df, "kind"), ["app_state"]);
    assert_eq!(text(&arc.df, "actor"), ["com.apple.mobilesafari"]);
    assert_eq!(
        times(&arc.df),
        [Some("2023-07-22T04:26:40.250000Z".to_string())]
    );
    assert_eq!(tags(&arc.df, 0), ["pid:77", "state:8", "reason:0"]);
    assert!(arc.facts.get("clock_offsets").unwrap().is_string());
}

#[test]
fn garbage_gzip_fails_that_artifact_only() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join(SYSDIAG).join("logs/powerlogs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("a.PLSQL.gz"), b"\x1f\x8bnot really gzip").unwrap();
    put_db(
        &logs.join("b.PLSQL"),
        "CREATE TABLE 'PLApplicationAgent_EventForward_Application' ('ID' INTEGER PRIMARY KEY, 'timestamp' REAL, 'Identifier' TEXT);
         INSERT INTO PLApplicationAgent_EventForward_Application VALUES (1, 1690000000, 'com.example');",
    );
    let ev = Evidence::discover(&[dir.path().join(SYSDIAG)]).unwrap();
    let mut out = run(&ev);
    out.sort_by(|a, b| a.artifact.cmp(&b.artifact));
    assert_eq!(out.len(), 2);
    assert!(out[0].result.as_ref().unwrap_err().contains("gzip"));
    assert_eq!(out[1].result, Ok(()));
    assert_eq!(out[1].df.height(), 1);
}

/// Item 6 of issue 22: netusage.sqlite and DataUsage.sqlite inside a sysdiagnose are read
/// by the existing parser. Only discovery and provenance are asserted here: the rows'
/// kinds belong to the datausage source.
#[test]
fn netusage_and_datausage_inside_a_sysdiagnose() {
    use chainline::sources::datausage::NetworkUsage;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(SYSDIAG);
    let core_data = "CREATE TABLE ZPROCESS (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, ZPROCNAME VARCHAR);
         CREATE TABLE ZLIVEUSAGE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER, ZMETADATA INTEGER, ZTAG INTEGER, ZHASPROCESS INTEGER, ZBILLCYCLEEND TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZWIFIIN FLOAT, ZWIFIOUT FLOAT, ZWWANIN FLOAT, ZWWANOUT FLOAT);
         INSERT INTO ZPROCESS VALUES (1, 3, 1, 700000000.0, 700000100.0, NULL, 'bh');
         INSERT INTO ZLIVEUSAGE VALUES (1, 2, 1, 0, 0, 0, 1, NULL, 700000100.0, 10.0, 20.0, 0.0, 0.0);";
    put_db(&root.join("logs/Networking/netusage.sqlite"), core_data);
    put_db(&root.join("logs/Networking/DataUsage.sqlite"), core_data);
    std::fs::create_dir_all(root.join("crashes_and_spins")).unwrap();
    let ev = Evidence::discover(&[root]).unwrap();
    for (source, file) in [
        (NetworkUsage::netusage(), "logs/Networking/netusage.sqlite"),
        (
            NetworkUsage::datausage(),
            "logs/Networking/DataUsage.sqlite",
        ),
    ] {
        let found: Vec<Lookup> = source.discover(&ev);
        assert_eq!(found.len(), 1, "{file}");
        let Lookup::Found(art) = &found[0] else {
            panic!("{file} not found")
        };
        assert!(art.logical.ends_with(file), "{}", art.logical);
        let mut p = Parse::new(&ev, art);
        source.parse(&mut p).unwrap();
        let (builder, _, _) = p.into_parts();
        let df = builder.finish().unwrap();
        let records = text(&df, "record");
        assert!(records.contains(&"ZPROCESS:1".to_string()), "{records:?}");
        assert!(records.contains(&"ZLIVEUSAGE:1".to_string()), "{records:?}");
    }
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap();
    stmt.query_map([table], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The sample sysdiagnose's PowerLog has the real file's tables with the real columns, in
/// the real order, and the FORCEDENTRY case's implant launch is in it.
#[test]
fn generated_powerlog_has_the_real_tables_and_columns() {
    use chainline_sample::{self as sample, Case, Options};
    let dir = tempfile::tempdir().unwrap();
    sample::generate(Case::Forcedentry, dir.path(), &Options::default()).unwrap();
    let ev = Evidence::discover(&[dir.path().to_path_buf()]).unwrap();
    let found: Vec<_> = powerlog::PowerLog
        .discover(&ev)
        .into_iter()
        .filter_map(|l| match l {
            Lookup::Found(a) => Some(a),
            Lookup::Missing { .. } => None,
        })
        .collect();
    assert_eq!(found.len(), 1);
    assert!(found[0].logical.contains("logs/powerlogs/powerlog_"));
    let generated = rusqlite::Connection::open_with_flags(
        &found[0].path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let tables = [
        powerlog::LAUNCHES,
        powerlog::TRAFFIC,
        powerlog::COALITIONS,
        powerlog::APPS,
        powerlog::OFFSETS,
    ];
    for t in tables {
        assert!(!columns(&generated, t).is_empty(), "{t}");
    }
    // The story: roleaboutd (no bundle id) launched and then with traffic.
    let n: i64 = generated
        .query_row(
            &format!(
                "SELECT count(*) FROM {} WHERE ProcessName = 'roleaboutd' AND BundleID IS NULL",
                powerlog::LAUNCHES
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(n >= 1);
    let Some(real) = real_powerlog() else {
        eprintln!("skipped the comparison: ../shared/testdata/plaso_ios/{REAL} is absent");
        return;
    };
    let copy = dir.path().join("real.PLSQL");
    std::fs::copy(&real, &copy).unwrap();
    let real =
        rusqlite::Connection::open_with_flags(&copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    for t in tables {
        assert_eq!(columns(&generated, t), columns(&real, t), "{t}");
    }
}

/// Bytes that are not SQLite fail that artifact with a reason; text and blobs where
/// PowerLog writes numbers are read as far as they go, never a panic.
#[test]
fn not_sqlite_and_odd_values() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join(SYSDIAG).join("logs/powerlogs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("a.PLSQL"), b"this is not a database\n").unwrap();
    put_db(
        &logs.join("b.PLSQL"),
        "CREATE TABLE 'PLProcessMonitorAgent_EventForward_ProcessID' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'BundleID' TEXT, 'CoalitionID' INTEGER, 'PID' INTEGER, 'ProcessName' TEXT);
         INSERT INTO PLProcessMonitorAgent_EventForward_ProcessID VALUES
           (1, ' 1690000000.5 ', X'00ff', 'x', 'nan', X'e29d8cff'),
           (2, 'yesterday', NULL, NULL, 12, 'ok'),
           (3, 1e300, NULL, NULL, NULL, NULL);",
    );
    let ev = Evidence::discover(&[dir.path().join(SYSDIAG)]).unwrap();
    let mut out = run(&ev);
    out.sort_by(|a, b| a.artifact.cmp(&b.artifact));
    assert_eq!(out.len(), 2);
    assert!(out[0].result.is_err(), "{:?}", out[0].result);
    let b = &out[1];
    assert_eq!(b.result, Ok(()));
    assert_eq!(b.df.height(), 3);
    assert_eq!(
        times(&b.df),
        [Some("2023-07-22T04:26:40.500000Z".to_string()), None, None]
    );
    assert_eq!(
        b.warnings,
        ["2 rows have no usable time (NULL, zero or implausible); kept without a time"]
    );
    // A blob name is decoded lossily; a bundle id of bytes is kept the same way.
    assert_eq!(text(&b.df, "actor")[0], "❌\u{fffd}");
}
