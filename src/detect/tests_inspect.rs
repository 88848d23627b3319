//! `attachment_exploit` and `blastpass` on timelines built in code with the vocabulary
//! of docs/SCHEMA.md (sms, attachment, crash, datausage rows), and their near misses.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::timeline::{self, Event, TimelineBuilder};

const SMS: &str = "HomeDomain/Library/SMS/sms.db";
const PASS: &str = "~/Library/SMS/Attachments/5c/12/F00D/Ticket.pkpass";

/// 2023-09-06 (iOS 16.6), the week Citizen Lab reported BLASTPASS.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 9, 6, 9, 0, 0).unwrap() + Duration::seconds(secs)
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

fn received(secs: i64, from: &str, path: &str, rowid: u32) -> Event {
    Event::new("sms", "attachment_received", Some(at(secs)))
        .actor(from)
        .target(path)
        .at(SMS, format!("attachment:{rowid}"))
        .tag("file_present")
}

fn message(secs: i64, from: &str) -> Event {
    Event::new("sms", "message_received", Some(at(secs)))
        .actor(from)
        .target(from)
        .at(SMS, "message:1")
        .tag("imessage")
}

fn exploit(secs: i64, from: &str, path: &str, check: &str) -> Event {
    Event::new("attachment", "exploit_structure", Some(at(secs)))
        .actor(from)
        .target(path)
        .message(format!("{path}: {check}"))
        .at(
            "MediaDomain/Library/SMS/Attachments/5c/12/F00D/Ticket.pkpass",
            "attachment:9",
        )
        .tag(format!("check:{check}"))
        .tag("offset:1234")
        .tag("within:logo.webp")
        .tag(format!("sha256:{}", "ab".repeat(32)))
}

fn crash(secs: i64, process: &str) -> Event {
    Event::new("crash", "crash", Some(at(secs)))
        .actor(process)
        .target(format!("/System/Library/PrivateFrameworks/{process}"))
        .at(format!("{process}-2023-09-06.ips"), "file")
        .tag("bug_type:309")
}

fn new_process(secs: i64, name: &str) -> Event {
    Event::new("datausage", "process_first_seen", Some(at(secs)))
        .actor(name)
        .at(
            "WirelessDomain/Library/Databases/DataUsage.sqlite",
            "ZPROCESS:77",
        )
        .tag("no_bundle_id")
}

/// An ordinary app three days earlier: the phone has history from an earlier day.
fn history() -> Event {
    Event::new("datausage", "process_first_seen", Some(at(-3 * 86_400)))
        .actor("MobileSafari")
        .target("com.apple.mobilesafari")
        .at(
            "WirelessDomain/Library/Databases/DataUsage.sqlite",
            "ZPROCESS:1",
        )
}

const EVIL: &str = "bp-attacker@icloud.com";

#[test]
fn attachment_exploit_is_critical_alone_and_explains_what_followed() {
    let d = detect(vec![
        history(),
        exploit(0, EVIL, PASS, "webp_vp8l_huffman_invalid"),
    ]);
    let f = of(&d, "attachment_exploit");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
    let x = &f[0].explanation;
    assert!(
        x.contains("carries webp_vp8l_huffman_invalid at offset 1234"),
        "{x}"
    );
    assert!(x.contains(&"ab".repeat(32)), "{x}");

    let d = detect(vec![
        history(),
        exploit(0, EVIL, PASS, "webp_vp8l_huffman_invalid"),
        crash(20, "MessagesBlastDoorService"),
        new_process(120, "bh"),
    ]);
    let f = of(&d, "attachment_exploit");
    assert_eq!(f.len(), 1);
    let x = &f[0].explanation;
    assert!(
        x.contains("later the message parser MessagesBlastDoorService crashed"),
        "{x}"
    );
    assert!(
        x.contains(
            "after the attachment bh, a process with no bundle id never seen before, appeared"
        ),
        "{x}"
    );
}

#[test]
fn attachment_exploit_stays_quiet_without_a_finding_or_for_sent_files() {
    // The plain attachment with a crash and a new process is for other rules.
    let d = detect(vec![
        history(),
        received(0, EVIL, "~/x.gif", 2),
        crash(20, "IMTranscoderAgent"),
    ]);
    assert!(of(&d, "attachment_exploit").is_empty());
    // A file the owner sent.
    let d = detect(vec![
        history(),
        exploit(0, "me", PASS, "font_adjust_opcode"),
    ]);
    assert!(of(&d, "attachment_exploit").is_empty(), "{:#?}", d.findings);
}

#[test]
fn blastpass_fires_on_pass_from_unknown_sender_crash_and_new_process() {
    let d = detect(vec![
        history(),
        message(0, EVIL),
        received(0, EVIL, PASS, 9),
        crash(15, "MessagesBlastDoorService"),
        new_process(140, "bh"),
    ]);
    let f = of(&d, "blastpass");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    // 3 (pass) + 3 (crash) + 2 × 1.5 (new process) = 9: high.
    assert_eq!(f[0].score, 9.0);
    assert_eq!(f[0].severity, Severity::High);

    let d = detect(vec![
        history(),
        message(0, EVIL),
        received(0, EVIL, PASS, 9),
        exploit(0, EVIL, PASS, "webp_vp8l_huffman_invalid"),
        crash(15, "homed"),
        new_process(140, "bh"),
    ]);
    let f = of(&d, "blastpass");
    assert_eq!(f.len(), 1, "{:#?}", d.findings);
    assert_eq!(f[0].severity, Severity::Critical);
}

#[test]
fn blastpass_near_misses_stay_quiet() {
    // The sender wrote a day earlier: not an unknown account.
    let d = detect(vec![
        history(),
        message(-86_400, EVIL),
        received(0, EVIL, PASS, 9),
        crash(15, "MessagesBlastDoorService"),
        new_process(140, "bh"),
    ]);
    assert!(of(&d, "blastpass").is_empty(), "{:#?}", d.findings);
    // Not a pass.
    let d = detect(vec![
        history(),
        received(
            0,
            EVIL,
            "~/Library/SMS/Attachments/5c/12/F00D/IMG_1.heic",
            9,
        ),
        crash(15, "MessagesBlastDoorService"),
        new_process(140, "bh"),
    ]);
    assert!(of(&d, "blastpass").is_empty());
    // No new process after the crash.
    let d = detect(vec![
        history(),
        received(0, EVIL, PASS, 9),
        crash(15, "MessagesBlastDoorService"),
    ]);
    assert!(of(&d, "blastpass").is_empty());
    // An unrelated crash.
    let d = detect(vec![
        history(),
        received(0, EVIL, PASS, 9),
        crash(15, "SpringBoard"),
        new_process(140, "bh"),
    ]);
    assert!(of(&d, "blastpass").is_empty());
}
