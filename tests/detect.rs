//! Detection wired into `chainline analyze`: --rules, --iocs, findings files, run.json.

use std::path::{Path, PathBuf};
use std::process::Command;

use chainline::analyze::{self, Options};
use chainline::detect::FindingsFile;

/// A crash report given directly: the smallest evidence `analyze` accepts.
fn tiny_evidence(dir: &Path) -> PathBuf {
    let p = dir.join("IMTranscoderAgent-2021-03-01-101010.ips");
    std::fs::write(&p, "{\"app_name\":\"IMTranscoderAgent\",\"timestamp\":\"2021-03-01 10:10:10.00 +0000\",\"bug_type\":\"309\"}\n{}\n").unwrap();
    p
}

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
}

#[test]
fn bad_rule_file_stops_the_run_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.toml");
    std::fs::write(&rules, "id = \"x\"\ntitle = \"X\"\nseverity = \"high\"\n[[trigger]]\nclass = \"net\"\nactr = \"BackupAgent\"\n").unwrap();
    let out = dir.path().join("out");
    let opts = Options {
        inputs: vec![tiny_evidence(dir.path())],
        out: out.clone(),
        quiet: true,
        rules: vec![rules.clone()],
        iocs: vec![],
    };
    let err = analyze::run(&opts).err().unwrap().to_string();
    assert!(
        err.starts_with(&format!(
            "rule file {}: line 6: unknown field `actr`, expected one of",
            rules.display()
        )),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    assert!(!out.exists(), "nothing is written before the rules load");

    // The binary prints it as one line and exits 2.
    let o = Command::new(env!("CARGO_BIN_EXE_chainline"))
        .args(["-q", "analyze"])
        .arg(tiny_evidence(dir.path()))
        .arg("-o")
        .arg(&out)
        .arg("--rules")
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: rule file {}: line 6: unknown field `actr`",
            rules.display()
        )),
        "{stderr}"
    );
}

#[test]
fn unreadable_indicator_file_is_a_warning_in_run_json() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.stix2");
    std::fs::write(&bad, "{ not json").unwrap();
    let good = dir.path().join("mine.stix2");
    std::fs::write(
        &good,
        serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "malware", "id": "malware--1", "name": "Demo"},
            {"type": "indicator", "id": "indicator--1", "pattern": "[process:name = 'bh']", "pattern_type": "stix"},
            {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates", "source_ref": "indicator--1", "target_ref": "malware--1"}
        ]})
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let opts = Options {
        inputs: vec![tiny_evidence(dir.path())],
        out: out.clone(),
        quiet: true,
        rules: vec![],
        iocs: vec![bad.clone(), good.clone()],
    };
    let a = analyze::run(&opts).unwrap();
    assert!(a.findings.is_empty());
    let log = run_json(&out);
    let files = log["ioc_files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], bad.display().to_string());
    assert!(files[0]["error"].as_str().unwrap().starts_with("not JSON"));
    assert_eq!(files[1]["indicators"], 1);
    assert_eq!(files[1]["malware"], serde_json::json!(["Demo"]));
    assert_eq!(files[1]["sha256"].as_str().unwrap().len(), 64);
    let rules = log["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "triangulation_heuristic"
        && r["window_s"] == 300
        && r["min_classes"] == 2));
    assert!(rules.iter().any(|r| r["id"] == "ioc_match"));
    let findings: FindingsFile =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
    assert!(findings.findings.is_empty());
    assert!(out.join("findings.parquet").is_file());
    assert!(out.join("finding_events.parquet").is_file());
}

#[test]
fn real_backup_with_the_shared_indicators() {
    let Some(shared) = chainline::shared_dir() else {
        eprintln!("skipped: no shared folder");
        return;
    };
    let backup = shared.join("testdata/mvt_ios_backup");
    let iocs = shared.join("iocs");
    if !backup.is_dir() || !iocs.is_dir() {
        eprintln!("skipped: no shared backup or iocs");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let opts = Options {
        inputs: vec![backup],
        out: out.clone(),
        quiet: true,
        rules: vec![],
        iocs: vec![iocs],
    };
    let a = analyze::run(&opts).unwrap();
    let log = run_json(&out);
    assert_eq!(log["ioc_files"].as_array().unwrap().len(), 7);
    assert!(log["ioc_files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("error").is_none()));
    assert!(log["stages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "detection"));
    // The written timeline carries the same rows detection saw, tags included.
    let tl = chainline::timeline::read_parquet(&out.join("timeline.parquet")).unwrap();
    assert_eq!(tl.height(), a.timeline.height());
    let findings: FindingsFile =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
    assert_eq!(findings.findings.len(), a.findings.len());
    for (i, f) in findings.findings.iter().enumerate() {
        assert_eq!(f.id, format!("F{:03}", i + 1));
    }
}
