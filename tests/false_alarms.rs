//! False alarms measured, not constructed: a clean phone at scale 1 (about a year of
//! benign life, ~100,000 messages, with the noisy generator: no quiet minutes around
//! messages or WebContent traffic) is generated into a temp dir and analysed; no high or
//! critical finding may come out. Its DataUsage store is also compared, by shape, with a
//! real iOS 16 DataUsage.sqlite (plaso's test data) when ../shared is present.
//!
//! Debug build: about 20 s to generate and 10 s to analyse on one core.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainline_sample::{self as sample, Case, Options};

/// Shape figures of a DataUsage store, read with plain SQL (independent of chainline).
#[derive(Debug)]
struct Shape {
    processes: i64,
    live: i64,
    z_max: i64,
    processes_with_live: i64,
    uuid_form: i64,
    zkind0: i64,
}

fn shape(db: &Path) -> Shape {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(db, &copy).unwrap();
    let conn =
        rusqlite::Connection::open_with_flags(&copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    Shape {
        processes: one("SELECT count(*) FROM ZPROCESS"),
        live: one("SELECT count(*) FROM ZLIVEUSAGE"),
        z_max: one("SELECT Z_MAX FROM Z_PRIMARYKEY WHERE Z_NAME = 'LiveUsage'"),
        processes_with_live: one(
            "SELECT count(DISTINCT ZHASPROCESS) FROM ZLIVEUSAGE WHERE ZHASPROCESS IN (SELECT Z_PK FROM ZPROCESS)",
        ),
        uuid_form: one(
            "SELECT count(*) FROM ZPROCESS WHERE ZPROCNAME LIKE '________-____-____-____-____________/%'",
        ),
        zkind0: one("SELECT count(*) FROM ZLIVEUSAGE WHERE ZKIND = 0"),
    }
}

/// The backup's DataUsage.sqlite, found through its Manifest.db like any backup reader.
fn backup_datausage(case: &Path) -> PathBuf {
    let backup = std::fs::read_dir(case.join("backup"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("Manifest.db").is_file())
        .expect("a backup folder");
    let conn = rusqlite::Connection::open_with_flags(
        backup.join("Manifest.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let id: String = conn
        .query_row(
            "SELECT fileID FROM Files WHERE domain = 'WirelessDomain' AND relativePath = 'Library/Databases/DataUsage.sqlite'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    backup.join(&id[..2]).join(id)
}

#[test]
fn clean_phone_at_scale_1_has_no_high_or_critical_finding() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("clean");
    sample::generate(
        Case::Clean,
        &case,
        &Options {
            scale: 1.0,
            ..Options::default()
        },
    )
    .unwrap();
    let out = dir.path().join("out");
    chainline::analyze::run(&chainline::analyze::Options {
        inputs: vec![case.clone()],
        out: out.clone(),
        quiet: true,
        ..Default::default()
    })
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
    let fs = v["findings"].as_array().unwrap();
    let mut per_rule: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in fs {
        *per_rule
            .entry((
                f["rule"].as_str().unwrap_or("?").to_string(),
                f["severity"].as_str().unwrap_or("?").to_string(),
            ))
            .or_default() += 1;
    }
    // The figures docs/DETECTIONS.md quotes ("False alarms measured").
    eprintln!("scale-1 clean phone, findings per (rule, severity): {per_rule:?}");
    let severe: Vec<&serde_json::Value> = fs
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .collect();
    assert!(
        severe.is_empty(),
        "clean phone flagged: {:#?}",
        severe
            .iter()
            .map(|f| f["explanation"].as_str().unwrap_or(""))
            .collect::<Vec<_>>()
    );

    // The generated DataUsage store has the shape of a real one.
    let gen = shape(&backup_datausage(&case));
    eprintln!("generated DataUsage shape: {gen:?}");
    // Counters updated in place: a few rows per process, not one per use (the generated
    // year holds over 100,000 uses).
    let per_process = gen.live as f64 / gen.processes_with_live as f64;
    assert!((1.0..=4.0).contains(&per_process), "{gen:?}");
    // Rotation: more rows were created than are kept.
    assert!(gen.z_max > gen.live, "{gen:?}");
    // Apps named `<UUID>/<bundle id>`, one ZPROCESS row each; daemons by process name.
    assert!(
        gen.uuid_form > 0 && gen.uuid_form < gen.processes,
        "{gen:?}"
    );
    let Some(real) = chainline::shared_dir()
        .map(|d| d.join("testdata/plaso_ios/DataUsage.sqlite"))
        .filter(|p| p.is_file())
    else {
        eprintln!("skipping the comparison with plaso's DataUsage.sqlite: absent");
        return;
    };
    let real = shape(&real);
    // README facts: 371 ZPROCESS, 887 ZLIVEUSAGE; Z_MAX 1,766; ZKIND 0 on 885 rows.
    assert_eq!((real.processes, real.live, real.z_max), (371, 887, 1766));
    let real_per_process = real.live as f64 / real.processes_with_live as f64;
    // Rows per process with rows within a factor of two of the real phone's.
    assert!(
        per_process >= real_per_process / 2.0 && per_process <= real_per_process * 2.0,
        "rows per process {per_process:.2} vs real {real_per_process:.2}"
    );
    // ZKIND: (nearly) all rows are kind 0 on both.
    let share = |a: i64, b: i64| a as f64 / b as f64;
    assert!(share(real.zkind0, real.live) > 0.99);
    assert!(share(gen.zkind0, gen.live) > 0.99, "{gen:?}");
    // Most processes with rows kept: the real phone 336 of 371.
    assert!(
        share(gen.processes_with_live, gen.processes)
            >= share(real.processes_with_live, real.processes) / 2.0,
        "{gen:?} vs {real:?}"
    );
}

/// The planted chains of the three sample cases, generated afresh with this generator
/// (the committed sample_cases/ are regenerated after merging), are still found, and the
/// clean case stays quiet on its near misses.
#[test]
fn freshly_generated_sample_cases_keep_their_planted_chains() {
    let dir = tempfile::tempdir().unwrap();
    for (case, name) in [
        (Case::Triangulation, "triangulation"),
        (Case::Forcedentry, "forcedentry"),
        (Case::Clean, "clean"),
    ] {
        let at = dir.path().join(name);
        sample::generate(case, &at, &Options::default()).unwrap();
        let out = dir.path().join(format!("{name}-out"));
        chainline::analyze::run(&chainline::analyze::Options {
            inputs: vec![at.clone()],
            out: out.clone(),
            quiet: true,
            ..Default::default()
        })
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
        let fs = v["findings"].as_array().unwrap();
        let severe =
            |f: &&serde_json::Value| matches!(f["severity"].as_str(), Some("high" | "critical"));
        let keys = |only_severe: bool| -> std::collections::BTreeSet<(String, String)> {
            fs.iter()
                .filter(|f| !only_severe || severe(f))
                .flat_map(|f| f["events"].as_array().unwrap().iter())
                .map(|e| {
                    (
                        e["artifact"].as_str().unwrap().to_string(),
                        e["record"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let truth: serde_json::Value =
            serde_json::from_slice(&std::fs::read(at.join("TRUTH.json")).unwrap()).unwrap();
        let truth = truth.as_array().unwrap();
        if name == "clean" {
            assert!(!fs.iter().any(|f| severe(&f)), "clean flagged: {fs:#?}");
            let any = keys(false);
            for t in truth {
                let k = (
                    t["artifact"].as_str().unwrap().to_string(),
                    t["record"].as_str().unwrap().to_string(),
                );
                assert!(!any.contains(&k), "near miss {} flagged", t["what"]);
            }
        } else {
            let got = keys(true);
            for t in truth
                .iter()
                .filter(|t| matches!(t["role"].as_str(), Some("trigger" | "follow_up")))
            {
                let k = (
                    t["artifact"].as_str().unwrap().to_string(),
                    t["record"].as_str().unwrap().to_string(),
                );
                assert!(
                    got.contains(&k),
                    "{name}: planted {} ({k:?}) in no high/critical chain",
                    t["what"]
                );
            }
        }
    }
}
