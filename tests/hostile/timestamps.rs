//! Absurd timestamps (negative, year 9999, 20 digits, NaN) in every clock: the row is
//! kept with an empty time and a warning names it; nothing panics or overflows.

use std::io::Write;

use rusqlite::Connection;

use crate::fixture::{Case, DATAUSAGE, SMS_DB};

#[test]
fn absurd_times_leave_rows_without_a_time_and_are_named() {
    let mut case = Case::new();

    // sms.db message.date: Cocoa seconds or nanoseconds by magnitude.
    let sms = Connection::open(case.backup_file(SMS_DB)).expect("sms.db");
    let ids: Vec<i64> = sms
        .prepare("SELECT ROWID FROM message ORDER BY ROWID LIMIT 4")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("rowids");
    let absurd: [rusqlite::types::Value; 4] = [
        rusqlite::types::Value::Integer(-1),
        // Year 9999 in Cocoa seconds: above the nanosecond threshold, so it must not
        // be read as a few minutes after 2001.
        rusqlite::types::Value::Integer(252_423_993_599),
        // 20 digits do not fit an integer: SQLite keeps a REAL.
        rusqlite::types::Value::Real(99_999_999_999_999_999_999.0),
        rusqlite::types::Value::Text("NaN".into()),
    ];
    for (id, v) in ids.iter().zip(absurd) {
        sms.execute(
            "UPDATE message SET date = ?1, date_read = 0, date_delivered = 0 WHERE ROWID = ?2",
            rusqlite::params![v, id],
        )
        .expect("update");
    }
    drop(sms);

    // DataUsage ZPROCESS first-seen times (Cocoa seconds, REAL).
    let du = Connection::open(case.backup_file(DATAUSAGE)).expect("DataUsage");
    du.execute_batch(
        "UPDATE ZPROCESS SET ZFIRSTTIMESTAMP = 'NaN' WHERE Z_PK = (SELECT Z_PK FROM ZPROCESS ORDER BY Z_PK LIMIT 1 OFFSET 0);
         UPDATE ZPROCESS SET ZFIRSTTIMESTAMP = -5 WHERE Z_PK = (SELECT Z_PK FROM ZPROCESS ORDER BY Z_PK LIMIT 1 OFFSET 1);
         UPDATE ZPROCESS SET ZFIRSTTIMESTAMP = 1e300 WHERE Z_PK = (SELECT Z_PK FROM ZPROCESS ORDER BY Z_PK LIMIT 1 OFFSET 2);
         UPDATE ZPROCESS SET ZFIRSTTIMESTAMP = 252423993599 WHERE Z_PK = (SELECT Z_PK FROM ZPROCESS ORDER BY Z_PK LIMIT 1 OFFSET 3);",
    )
    .expect("update");
    drop(du);

    // shutdown.log SIGTERM lines (Unix seconds).
    let sysdiagnose = case.unpack_sysdiagnose();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(case.shutdown_log(&sysdiagnose))
        .expect("log");
    for v in ["99999999999999999999", "-5", "NaN", "1e400", "253402300799"] {
        writeln!(log, "SIGTERM: [{v}]").expect("append");
    }
    drop(log);

    // A crash report dated in year 9999 (header and body).
    std::fs::write(
        case.crashes().join("future.ips"),
        "{\"app_name\":\"FutureApp\",\"timestamp\":\"9999-12-31 23:59:59.00 +0000\",\"bug_type\":\"309\"}\n\
         {\"procName\":\"FutureApp\",\"captureTime\":\"9999-12-31 23:59:59.0000 +0000\",\"exception\":{\"type\":\"EXC_CRASH\"}}",
    )
    .expect("write");

    let run = case.analyze();
    let sms_rows = run.rows_of("sms");
    for id in &ids {
        let rec = format!("message:{id}");
        assert!(
            sms_rows.iter().any(|r| r.record == rec && !r.timed),
            "{rec} not kept without a time"
        );
        assert!(
            !sms_rows.iter().any(|r| r.record == rec && r.timed),
            "{rec} got a time from an absurd value"
        );
    }
    let names: Vec<String> = ids.iter().map(|id| format!("message:{id}.date")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    run.assert_artifact_reports("sms", "sms.db", &names);
    run.assert_artifact_reports(
        "datausage",
        "DataUsage.sqlite",
        &["4 rows have no usable time"],
    );
    run.assert_artifact_reports(
        "shutdown",
        "shutdown.log",
        &["SIGTERM line without a readable time"],
    );
    let shutdown_untimed = run.rows_of("shutdown").iter().filter(|r| !r.timed).count();
    assert_eq!(
        shutdown_untimed, 5,
        "each absurd SIGTERM is a reboot row without a time"
    );
    run.assert_artifact_reports(
        "crash",
        "future.ips",
        &["9999-12-31", "row kept without a time"],
    );
    assert!(run
        .rows_of("crash")
        .iter()
        .any(|r| r.actor == "FutureApp" && !r.timed));
    // The time span of the run ignores them.
    let span = run.json["time_span"].as_array().expect("span");
    assert!(
        span[1].as_str().expect("end").starts_with("2022"),
        "{span:?}"
    );
    run.assert_others_parsed(&[]);
}
