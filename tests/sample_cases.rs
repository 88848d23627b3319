//! The bundled sample cases end to end: the planted chains are found and explained,
//! the clean phone stays quiet, indicators name their malware, and one corrupt
//! database does not cost the rows of the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample_cases")
        .join(name)
}

fn analyze(
    inputs: &[PathBuf],
    iocs: Vec<PathBuf>,
) -> (tempfile::TempDir, chainline::analyze::Analysis) {
    let out = tempfile::tempdir().unwrap();
    let opts = chainline::analyze::Options {
        inputs: inputs.to_vec(),
        out: out.path().to_path_buf(),
        quiet: true,
        iocs,
        ..Default::default()
    };
    let analysis = chainline::analyze::run(&opts).unwrap();
    (out, analysis)
}

fn findings(out: &Path) -> Vec<Value> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
    v["findings"].as_array().unwrap().clone()
}

fn truth(name: &str) -> Vec<Value> {
    serde_json::from_slice::<Value>(&std::fs::read(case(name).join("TRUTH.json")).unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn severe(f: &Value) -> bool {
    matches!(f["severity"].as_str(), Some("critical" | "high"))
}

/// (artifact, record) of every event in the high and critical findings.
fn chained(fs: &[Value]) -> BTreeSet<(String, String)> {
    fs.iter()
        .filter(|f| severe(f))
        .flat_map(|f| f["events"].as_array().unwrap().iter())
        .map(|e| {
            (
                e["artifact"].as_str().unwrap().to_string(),
                e["record"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn check_infected(name: &str) {
    let (out, _) = analyze(&[case(name)], Vec::new());
    let fs = findings(out.path());
    assert!(
        fs.iter().any(severe),
        "{name}: no high or critical finding: {fs:#?}"
    );
    let got = chained(&fs);
    for t in truth(name) {
        if !matches!(t["role"].as_str(), Some("trigger" | "follow_up")) {
            continue;
        }
        let key = (
            t["artifact"].as_str().unwrap().to_string(),
            t["record"].as_str().unwrap().to_string(),
        );
        assert!(
            got.contains(&key),
            "{name}: planted {} ({:?}) is in no high/critical chain",
            t["what"],
            key
        );
    }
    for f in fs.iter().filter(|f| severe(f)) {
        let expl = f["explanation"].as_str().unwrap();
        assert!(
            !expl.is_empty()
                && f["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["record"].as_str() != Some(""))
        );
    }
}

#[test]
fn triangulation_case_is_found_with_its_planted_chain() {
    check_infected("triangulation");
}

#[test]
fn forcedentry_case_is_found_with_its_planted_chain() {
    check_infected("forcedentry");
}

#[test]
fn clean_case_has_no_high_or_critical_finding_and_near_misses_stay_quiet() {
    let (out, analysis) = analyze(&[case("clean")], Vec::new());
    let fs = findings(out.path());
    assert!(!fs.iter().any(severe), "clean phone flagged: {fs:#?}");
    let in_any: BTreeSet<(String, String)> = fs
        .iter()
        .flat_map(|f| f["events"].as_array().unwrap().iter())
        .map(|e| {
            (
                e["artifact"].as_str().unwrap().to_string(),
                e["record"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for t in truth("clean") {
        let key = (
            t["artifact"].as_str().unwrap().to_string(),
            t["record"].as_str().unwrap().to_string(),
        );
        assert!(
            !in_any.contains(&key),
            "near miss {} was flagged",
            t["what"]
        );
    }
    assert!(analysis.timeline.height() > 1000);
}

#[test]
fn every_source_yields_rows_on_the_sample_cases() {
    let (_out, analysis) = analyze(&[case("triangulation"), case("forcedentry")], Vec::new());
    let by_source = &analysis.log.rows_by_source;
    for s in [
        "manifest",
        "sms",
        "datausage",
        "tcc",
        "safari",
        "shutdown",
        "crash",
        "addaily",
        "locationd",
        "idstatus",
    ] {
        assert!(
            by_source.get(s).copied().unwrap_or(0) > 0,
            "no rows from {s}: {by_source:?}"
        );
    }
}

#[test]
fn a_corrupt_database_costs_only_its_own_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("triangulation");
    for e in walkdir::WalkDir::new(case("triangulation")) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(case("triangulation")).unwrap();
        if e.file_type().is_dir() {
            std::fs::create_dir_all(copy.join(rel)).unwrap();
        } else {
            std::fs::copy(e.path(), copy.join(rel)).unwrap();
        }
    }
    // DataUsage.sqlite, truncated half-way and its header overwritten.
    let id = chainline::evidence::file_id("WirelessDomain", "Library/Databases/DataUsage.sqlite");
    let backup = std::fs::read_dir(copy.join("backup"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let db = backup.join(&id[..2]).join(&id);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.truncate(bytes.len() / 2);
    bytes[..16].copy_from_slice(b"not sqlite here!");
    std::fs::write(&db, bytes).unwrap();

    let (out, analysis) = analyze(&[copy], Vec::new());
    let du: Vec<_> = analysis
        .log
        .artifacts
        .iter()
        .filter(|a| a.source == "datausage")
        .collect();
    assert_eq!(du.len(), 1);
    assert_eq!(du[0].status, chainline::analyze::ArtifactStatus::Failed);
    assert!(du[0].error.as_deref().unwrap_or("").len() > 5);
    assert!(!analysis.log.rows_by_source.contains_key("datausage"));
    for s in [
        "manifest",
        "sms",
        "tcc",
        "shutdown",
        "crash",
        "addaily",
        "locationd",
        "safari",
    ] {
        assert!(
            analysis.log.rows_by_source.get(s).copied().unwrap_or(0) > 0,
            "lost {s}"
        );
    }
    // The failure is in run.json, with the reason.
    let run: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("run.json")).unwrap()).unwrap();
    assert!(run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["source"] == "datausage" && a["status"] == "failed"));
}

#[test]
fn indicators_name_their_malware_on_the_sample_cases() {
    let Some(shared) = chainline::shared_dir() else {
        eprintln!("skipping: ../shared not present");
        return;
    };
    let iocs = shared.join("iocs");
    let names = |case_name: &str, file: &str| -> BTreeSet<String> {
        let (out, _) = analyze(&[case(case_name)], vec![iocs.join(file)]);
        findings(out.path())
            .iter()
            .flat_map(|f| f["iocs"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i["malware"].as_str().map(str::to_string))
            .collect()
    };
    let tri = names("triangulation", "operation_triangulation.stix2");
    assert!(tri.iter().any(|m| m.contains("Triangulation")), "{tri:?}");
    let peg = names("forcedentry", "pegasus.stix2");
    assert!(peg.iter().any(|m| m.contains("Pegasus")), "{peg:?}");
    assert!(names("clean", "pegasus.stix2").is_empty());
}
