//! A `log show --style ndjson` export in a case folder becomes `unifiedlog` rows, the
//! chain it tells is found, and what the keep list skips is counted in run.json.

#[test]
fn ndjson_export_in_a_case_folder() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    std::fs::create_dir_all(&case).unwrap();
    let lines = [
        r#"{"timestamp":"2021-06-22 17:37:05.000000+0300","processImagePath":"/System/Library/PrivateFrameworks/IMTransferServices.framework/IMTransferAgent.app/IMTransferAgent","processID":412,"subsystem":"com.apple.Messages","category":"IMTransferAgent","messageType":"Default","eventType":"logEvent","eventMessage":"Starting download of attachment 7AF1","bootUUID":"0E7A"}"#,
        r#"{"timestamp":"2021-06-22 17:37:09.000000+0300","processImagePath":"/System/Library/CoreServices/ReportCrash","processID":500,"subsystem":"com.apple.ReportCrash","messageType":"Default","eventType":"logEvent","eventMessage":"Saved crash report for IMTranscoderAgent[402] to /private/var/mobile/Library/Logs/CrashReporter/IMTranscoderAgent-2021-06-22-173709.ips","bootUUID":"0E7A"}"#,
        r#"{"timestamp":"2021-06-22 17:38:01.000000+0300","processImagePath":"/sbin/launchd","processID":1,"subsystem":"com.apple.xpc","messageType":"Default","eventType":"logEvent","eventMessage":"Successfully spawned roleaboutd[812] from /private/var/db/com.apple.xpc.roleaccountd.staging/roleaboutd","bootUUID":"0E7A"}"#,
        r#"{"timestamp":"2021-06-22 17:38:02.000000+0300","processImagePath":"/System/Library/CoreServices/SpringBoard.app/SpringBoard","processID":60,"subsystem":"com.apple.springboard","messageType":"Info","eventType":"logEvent","eventMessage":"icon layout","bootUUID":"0E7A"}"#,
    ];
    std::fs::write(case.join("system_logs.ndjson"), lines.join("\n")).unwrap();
    let out = dir.path().join("out");
    chainline::analyze::run(&chainline::analyze::Options {
        inputs: vec![case],
        out: out.clone(),
        quiet: true,
        ..Default::default()
    })
    .unwrap();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["rows_by_source"]["unifiedlog"], 3,
        "{}",
        run["rows_by_source"]
    );
    let a = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "unifiedlog")
        .unwrap();
    assert_eq!(a["status"], "parsed");
    assert_eq!(
        a["facts"]["skipped_by_subsystem"]["com.apple.springboard"],
        1
    );
    // The export is not read as an App Privacy Report.
    assert!(run["rows_by_source"]["app_privacy"].is_null());
    let findings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap()).unwrap();
    let f = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "unifiedlog_chain")
        .expect("unifiedlog_chain finding");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["start"], "2021-06-22T14:37:05.000000Z");
}
