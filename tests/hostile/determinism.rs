//! Item 6: two runs on the same input write byte-identical findings and timeline
//! (sources run in parallel; the order of their rows must not depend on scheduling).

use crate::fixture::Case;

#[test]
fn two_runs_write_byte_identical_findings_and_timeline() {
    let mut case = Case::new();
    // More than one container of a kind and rows with equal times: the cases where
    // row order could depend on which thread finished first.
    let first = case.backup();
    let second = first.with_file_name("copy-of-the-backup");
    for e in walkdir::WalkDir::new(&first) {
        let e = e.expect("entry");
        let to = second.join(e.path().strip_prefix(&first).expect("inside"));
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("dir");
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
    let a = case.analyze();
    let b = case.analyze();
    let findings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.out.join("findings.json")).expect("findings"))
            .expect("JSON");
    assert!(
        !findings["findings"]
            .as_array()
            .expect("findings")
            .is_empty(),
        "the planted chain gives findings to compare"
    );
    for f in [
        "findings.json",
        "timeline.parquet",
        "findings.parquet",
        "finding_events.parquet",
    ] {
        let (x, y) = (
            std::fs::read(a.out.join(f)).expect(f),
            std::fs::read(b.out.join(f)).expect(f),
        );
        assert!(x == y, "{f} differs between two runs on the same evidence");
    }
    // run.json differs only in the run's own times.
    let strip = |mut v: serde_json::Value| {
        for k in ["started", "finished", "stages", "out", "command"] {
            v[k] = serde_json::Value::Null;
        }
        for art in v["artifacts"].as_array_mut().expect("artifacts") {
            art["elapsed_ms"] = serde_json::Value::Null;
        }
        v
    };
    let (x, y) = (strip(a.json.clone()), strip(b.json.clone()));
    assert!(x == y, "run.json differs beyond its times");
}
