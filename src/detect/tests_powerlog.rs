//! `powerlog_new_process` on timelines built in code with the vocabulary of
//! docs/SCHEMA.md (sms, powerlog, shutdown rows), and the near misses that stay quiet.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::timeline::{self, Event, TimelineBuilder};

const SMS: &str = "HomeDomain/Library/SMS/sms.db";
const PL: &str = "sysdiagnose/logs/powerlogs/powerlog_2023-03-01_10-30_0A1B2C3D.PLSQL";
const RULE: &str = "powerlog_new_process";

fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 3, 1, 10, 0, 0).unwrap() + Duration::seconds(secs)
}

fn attachment(secs: i64) -> Event {
    Event::new("sms", "attachment_received", Some(at(secs)))
        .actor("attacker@example.com")
        .target("~/Library/SMS/Attachments/ab/11/X/image.gif")
        .at(SMS, "attachment:3")
        .tag("file_missing")
}

fn message_with_attachment(secs: i64) -> Event {
    Event::new("sms", "message_received", Some(at(secs)))
        .actor("attacker@example.com")
        .target("attacker@example.com")
        .at(SMS, "message:9")
        .tag("imessage")
        .tag("has_attachment")
}

fn launch(secs: i64, name: &str, bundle: &str, id: u32) -> Event {
    let mut e = Event::new("powerlog", "process_launch", Some(at(secs)))
        .actor(name)
        .target(bundle)
        .at(
            PL,
            format!("PLProcessMonitorAgent_EventForward_ProcessID:{id}"),
        )
        .tag(format!("pid:{}", 400 + id));
    if bundle.is_empty() {
        e = e.tag("no_bundle_id");
    }
    e
}

fn traffic(secs: i64, name: &str, id: u32) -> Event {
    Event::new("powerlog", "network_interval", Some(at(secs)))
        .actor(name)
        .bytes(Some(12_000), Some(250_000))
        .at(
            PL,
            format!("PLProcessNetworkAgent_EventInterval_UsageDiff:{id}"),
        )
        .tag("no_bundle_id")
}

fn staged(secs: i64, path: &str) -> Event {
    Event::new("shutdown", "shutdown_client", Some(at(secs)))
        .actor(path)
        .target("412")
        .at(
            "sysdiagnose/system_logs.logarchive/Extra/shutdown.log",
            "line:12",
        )
        .tag("delays:1")
}

fn detect(events: Vec<Event>) -> Detection {
    let mut b = TimelineBuilder::new("00008030-TEST");
    for e in events {
        b.push(e);
    }
    let mut df = timeline::assemble(vec![b.finish().unwrap()]).unwrap();
    let opts = DetectOptions {
        rules: rule::builtin().unwrap(),
        iocs: Default::default(),
        inputs: Vec::new(),
    };
    run(&mut df, &opts).unwrap()
}

fn of<'a>(d: &'a Detection, rule: &str) -> Vec<&'a Finding> {
    d.findings.iter().filter(|f| f.rule == rule).collect()
}

/// An ordinary app launch three days earlier: the phone has history from an earlier day.
fn history() -> Event {
    launch(-3 * 86_400, "MobileSMS", "com.apple.MobileSMS", 1)
}

#[test]
fn fires_on_attachment_then_new_launch_and_its_traffic() {
    let d = detect(vec![
        history(),
        attachment(0),
        launch(150, "roleaboutd", "", 7),
        traffic(160, "roleaboutd", 30),
    ]);
    let f = of(&d, RULE);
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    // 2 × 1.5 (attachment from a sender never seen before) + 4 × 1.5 (new launch)
    // + 3 × 1.5 (new traffic) = 13.5: high.
    assert_eq!(f[0].score, 13.5);
    assert_eq!(f[0].severity, Severity::High);
    let x = &f[0].explanation;
    assert!(x.contains("PowerLog recorded the launch of roleaboutd (pid 407), a process with no bundle id (powerlog_2023-03-01_10-30_0A1B2C3D.PLSQL PLProcessMonitorAgent_EventForward_ProcessID:7) — its first appearance on this phone"), "{x}");
}

#[test]
fn fires_critical_with_a_staged_binary_too_and_on_a_message_trigger() {
    let d = detect(vec![
        history(),
        message_with_attachment(0),
        launch(150, "roleaboutd", "", 7),
        traffic(160, "roleaboutd", 30),
        staged(
            200,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/roleaboutd",
        ),
    ]);
    let f = of(&d, RULE);
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    // 13.5 + 4 × 1.5 (staged binary, its process new too) = 19.5: critical.
    assert_eq!(f[0].score, 19.5);
    assert_eq!(f[0].severity, Severity::Critical);
}

#[test]
fn near_misses_stay_quiet() {
    // A process this phone launched before (three days earlier): not new.
    let d = detect(vec![
        launch(-3 * 86_400, "roleaboutd", "", 2),
        attachment(0),
        launch(150, "roleaboutd", "", 7),
        traffic(160, "roleaboutd", 30),
    ]);
    assert!(of(&d, RULE).is_empty(), "{:#?}", d.findings);
    // The new process is launched two hours later.
    let d = detect(vec![
        history(),
        attachment(0),
        launch(7_200, "roleaboutd", "", 7),
        traffic(7_210, "roleaboutd", 30),
    ]);
    assert!(of(&d, RULE).is_empty(), "{:#?}", d.findings);
    // A new launch with no corroboration (no traffic, no staged path).
    let d = detect(vec![
        history(),
        attachment(0),
        launch(150, "roleaboutd", "", 7),
    ]);
    assert!(of(&d, RULE).is_empty(), "{:#?}", d.findings);
    // A new app (it has a bundle id).
    let d = detect(vec![
        history(),
        attachment(0),
        launch(150, "Telegram", "ph.telegra.Telegraph", 7),
        traffic(160, "Telegram", 30),
    ]);
    assert!(of(&d, RULE).is_empty(), "{:#?}", d.findings);
    // A message without an attachment.
    let d = detect(vec![
        history(),
        Event::new("sms", "message_received", Some(at(0)))
            .actor("attacker@example.com")
            .at(SMS, "message:9"),
        launch(150, "roleaboutd", "", 7),
        traffic(160, "roleaboutd", 30),
    ]);
    assert!(of(&d, RULE).is_empty(), "{:#?}", d.findings);
}

#[test]
fn a_ps_row_from_an_unusual_path_corroborates_the_launch() {
    // ps.txt rows as the `ps` source writes them (docs/SCHEMA.md vocabulary).
    let ps = |path: &str, tags: &[&str]| {
        let mut e = Event::new("ps", "process_running", Some(at(240)))
            .actor(path)
            .target("407")
            .at("sysdiagnose/ps.txt", "line:88")
            .tag("user:root");
        for t in tags {
            e = e.tag(*t);
        }
        e
    };
    let d = detect(vec![
        history(),
        attachment(0),
        launch(150, "roleaboutd", "", 7),
        ps("/private/var/tmp/roleaboutd", &["unusual_path"]),
    ]);
    let f = of(&d, RULE);
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    // 2 × 1.5 + 4 × 1.5 + 4 = 13 while ps rows keep no process history; 15 once the
    // baseline also tracks ps processes (then the staged one is new: 4 × 1.5).
    assert!([13.0, 15.0].contains(&f[0].score), "{}", f[0].score);
    // The same process from a system location is no corroboration.
    let d = detect(vec![
        history(),
        attachment(0),
        launch(150, "roleaboutd", "", 7),
        ps("/usr/libexec/roleaboutd", &[]),
    ]);
    assert!(of(&d, RULE).is_empty(), "{:#?}", d.findings);
}
