//! The three phones and what happened to them. Each planted record carries a
//! [`Mark`] that ends up in TRUTH.json; the times follow the public write-ups:
//!
//! - Operation Triangulation: Kaspersky, "Operation Triangulation: iOS devices
//!   targeted with previously unknown malware" (2023-06-01) and triangle_check —
//!   the published timeline of 2022-09-13 (IMTransferAgent 10:04:11.89 → emptied
//!   `Library/SMS/Attachments/65/05` 10:04:54 → BackupAgent 10:05:14.74).
//! - FORCEDENTRY: Citizen Lab, "FORCEDENTRY: NSO Group iMessage Zero-Click Exploit
//!   Captured in the Wild" (2021-09-13) — `.gif` attachments that are PSD and PDF/JBIG2
//!   files, IMTranscoderAgent crashes; Amnesty Tech, "Forensic Methodology Report: How
//!   to catch NSO Group's Pegasus" (2021-07-18) — process names, attacker Apple IDs
//!   looked up in IDStatusCache, deleted ZPROCESS rows; Kaspersky iShutdown (2024) —
//!   `/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd` in shutdown.log.
//! - Clean: the look-alikes that a naive window rule (triangle_check's) would flag.

use chrono_tz::Tz;
use rand::Rng as _;

use super::clock::{self, utc, DAY, HOUR, SEC};
use super::life::{self, guid, random_dir};
use super::model::*;
use super::{media, rng_for, Case, Rng};

/// Operation Triangulation: the IMTransferAgent download (Kaspersky's timeline).
pub const TRIANGULATION_T0: (i32, u32, u32, u32, u32, u32, i64) = (2022, 9, 13, 10, 4, 11, 890_000);
/// FORCEDENTRY: the first booby-trapped iMessage.
pub const FORCEDENTRY_T0: (i32, u32, u32, u32, u32, u32, i64) = (2021, 6, 22, 14, 37, 5, 412_000);

fn at(t: (i32, u32, u32, u32, u32, u32, i64)) -> i64 {
    utc(t.0, t.1, t.2, t.3, t.4, t.5, t.6)
}

/// An attacker iMessage account and a Pegasus process name from Amnesty's published
/// indicators (AmnestyTech/investigations 2021-07-18_nso, also in pegasus.stix2).
pub const PEGASUS_APPLE_ID: &str = "bogaardlisa803@gmail.com";
pub const PEGASUS_PROCESS: &str = "roleaboutd";
pub const PEGASUS_DELETED_PROCESS: &str = "msgacntd";
pub const PEGASUS_SHUTDOWN_CLIENT: &str =
    "/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd";
/// An Apple ID from the Operation Triangulation indicators (mvt-indicators).
pub const TRIANGULATION_APPLE_ID: &str = "nonbaguette@yahoo.com";
pub const IONOSPHERE: &str =
    "com.apple.locationd.bundle-/System/Library/LocationBundles/IonosphereHarvest.bundle";

/// The phone of each case, with the windows benign life must leave alone.
pub fn world(case: Case, seed: u64) -> World {
    let mut rng = rng_for(seed, case, "device");
    let device = match case {
        Case::Triangulation => {
            let backup = utc(2022, 9, 20, 15, 12, 41, 0);
            Device {
                name: "Alex's iPhone".into(),
                product_type: "iPhone12,1",
                product_name: "iPhone 11",
                ios: Ios::V15,
                version: "15.7",
                build: "19H12",
                history: vec![
                    (utc(2022, 1, 27, 1, 40, 0, 0), "15.2.1", "19C63"),
                    (utc(2022, 9, 12, 23, 5, 0, 0), "15.6.1", "19G82"),
                ],
                phone: "+15550177".into(),
                apple_id: "alex.k@example.com".into(),
                tz: chrono_tz::Europe::Moscow,
                span: (utc(2021, 9, 19, 6, 0, 0, 0), backup),
                backup,
                sysdiagnose: utc(2022, 9, 20, 15, 40, 3, 0),
                ..identity(&mut rng)
            }
        }
        Case::Forcedentry => {
            let backup = utc(2021, 7, 2, 9, 20, 11, 0);
            Device {
                name: "Noor's iPhone".into(),
                product_type: "iPhone12,3",
                product_name: "iPhone 11 Pro",
                ios: Ios::V14,
                version: "14.6",
                build: "18F72",
                history: vec![
                    (utc(2021, 4, 27, 0, 30, 0, 0), "14.4.2", "18D70"),
                    (utc(2021, 5, 25, 23, 15, 0, 0), "14.5.1", "18E212"),
                ],
                phone: "+15550134".into(),
                apple_id: "noor.h@example.net".into(),
                tz: chrono_tz::Asia::Riyadh,
                span: (utc(2020, 7, 1, 5, 0, 0, 0), backup),
                backup,
                sysdiagnose: utc(2021, 7, 2, 9, 51, 30, 0),
                ..identity(&mut rng)
            }
        }
        Case::Clean => {
            let backup = utc(2023, 8, 26, 18, 2, 19, 0);
            Device {
                name: "Sam's iPhone".into(),
                product_type: "iPhone14,5",
                product_name: "iPhone 13",
                ios: Ios::V16,
                version: "16.6",
                build: "20G75",
                history: vec![
                    (utc(2023, 5, 19, 0, 20, 0, 0), "16.4.1", "20E252"),
                    (clean_update(), "16.5.1", "20F75"),
                ],
                phone: "+15550156".into(),
                apple_id: "sam.r@example.org".into(),
                tz: chrono_tz::Europe::Berlin,
                span: (utc(2022, 8, 27, 6, 0, 0, 0), backup),
                backup,
                sysdiagnose: utc(2023, 8, 26, 18, 30, 44, 0),
                ..identity(&mut rng)
            }
        }
    };
    let (start, backup) = (device.span.0, device.backup);
    let mut w = World::new(device);
    // The phone's first day (set-up) and the day of the backup stay free of
    // benign noise: every artifact file is written then.
    for (a, b) in [(start, start + DAY), (backup - DAY, backup + DAY)] {
        w.reserved.add(a, b);
        w.busy.add(a, b);
    }
    for (a, b) in story_windows(case) {
        w.reserved.add(a, b);
        w.busy.add(a, b);
    }
    if case == Case::Triangulation {
        w.avoid_attachment_dirs.push("65".into());
    }
    w
}

/// The iOS 16.6 update reboot of the clean phone.
fn clean_update() -> i64 {
    utc(2023, 7, 24, 23, 58, 12, 0)
}

fn identity(rng: &mut Rng) -> Device {
    let hex = |rng: &mut Rng, n: usize| {
        (0..n)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect::<String>()
    };
    let digits = |rng: &mut Rng, n: usize| {
        (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect::<String>()
    };
    const SERIAL: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let serial: String = (0..12)
        .map(|_| char::from(SERIAL[rng.random_range(0..SERIAL.len())]))
        .collect();
    Device {
        udid: hex(rng, 40),
        name: String::new(),
        product_type: "",
        product_name: "",
        ios: Ios::V16,
        version: "",
        build: "",
        history: Vec::new(),
        serial,
        imei: format!("35{}", digits(rng, 13)),
        iccid: format!("8901{}", digits(rng, 15)),
        phone: String::new(),
        apple_id: String::new(),
        tz: Tz::UTC,
        span: (0, 0),
        backup: 0,
        sysdiagnose: 0,
    }
}

/// Hours around each planted story where benign messages and follow-up-like noise
/// stay away, so a chain holds exactly the planted rows.
fn story_windows(case: Case) -> Vec<(i64, i64)> {
    match case {
        Case::Triangulation => {
            let t0 = at(TRIANGULATION_T0);
            vec![(t0 - 3 * HOUR, t0 + 3 * HOUR)]
        }
        Case::Forcedentry => {
            let t0 = at(FORCEDENTRY_T0);
            let reboot = forcedentry_reboot();
            vec![
                (t0 - 3 * HOUR, t0 + 3 * HOUR),
                (reboot - 2 * HOUR, reboot + 2 * HOUR),
            ]
        }
        Case::Clean => clean_times()
            .iter()
            .map(|&t| (t - 2 * HOUR, t + 2 * HOUR))
            .collect(),
    }
}

fn forcedentry_reboot() -> i64 {
    utc(2021, 6, 24, 1, 12, 37, 0)
}

/// The clean near misses: WebContent traffic, ImageIO write + diagnostics traffic,
/// BackupAgent2, an inbound JPEG, the update reboot.
fn clean_times() -> [i64; 5] {
    [
        utc(2023, 6, 3, 19, 12, 44, 318_000),
        utc(2023, 7, 11, 0, 30, 41, 207_000),
        utc(2023, 8, 20, 1, 44, 9, 500_000),
        utc(2023, 8, 12, 16, 21, 33, 101_000),
        clean_update(),
    ]
}

/// Adds the planted story of `case` to a world that already holds benign life.
pub fn plant(w: &mut World, case: Case, seed: u64) {
    let mut rng = rng_for(seed, case, "story");
    match case {
        Case::Triangulation => triangulation(w, &mut rng),
        Case::Forcedentry => forcedentry(w, &mut rng),
        Case::Clean => clean(w, &mut rng),
    }
}

fn triangulation(w: &mut World, rng: &mut Rng) {
    let t0 = at(TRIANGULATION_T0);

    // The watchface message and its attachment, deleted by the implant: they leave
    // only gaps in the message and attachment ROWIDs (and no handle row).
    let handle = w.handles.len();
    w.handles.push(Handle {
        id: TRIANGULATION_APPLE_ID.into(),
        service: "iMessage",
        country: "us",
        deleted: true,
    });
    let chat = w.chats.len();
    w.chats.push(Chat {
        guid: format!("iMessage;-;{TRIANGULATION_APPLE_ID}"),
        style: 45,
        identifier: TRIANGULATION_APPLE_ID.into(),
        service: "iMessage",
        display_name: String::new(),
        handles: vec![handle],
        deleted: true,
    });
    let att = w.attachments.len();
    let att_guid = guid(rng);
    w.attachments.push(Attachment {
        us: t0 - 6 * SEC,
        guid: att_guid.clone(),
        dir: format!("65/05/{att_guid}"),
        name: format!("{}.watchface", life::random_name(rng, 10)),
        media: Media::Watchface,
        size: 81_920,
        outgoing: false,
        present: false,
        content: Vec::new(),
        deleted: true,
        mark: None,
        rowid: 0,
    });
    w.messages.push(Message {
        us: t0 - 6 * SEC,
        extra_ns: 0,
        guid: guid(rng),
        text: "\u{fffc}".into(),
        text_null: false,
        handle: Some(handle),
        chat,
        from_me: false,
        service: "iMessage",
        read_after: None,
        attachments: vec![att],
        deleted: true,
        mark: None,
        rowid: 0,
    });

    let imta = process(
        w,
        "IMTransferAgent/com.apple.datausage.messages",
        Some("com.apple.datausage.messages"),
    );
    w.usages.push(Usage {
        process: imta,
        us: t0,
        wifi_in: 0.0,
        wifi_out: 0.0,
        wwan_in: 76_235_042.0,
        wwan_out: 221_118.0,
        mark: Mark::new(
            Role::Trigger,
            "net",
            "IMTransferAgent downloads ~76 MB over cellular: the iMessage attachment arrives",
        ),
        pk: 0,
    });

    // The attachment folders, emptied: M and C at +43 s, nothing listed below.
    let (born, emptied) = (clock::unix_secs(t0) + 41, clock::unix_secs(t0) + 43);
    for (path, what) in [
        ("Library/SMS/Attachments/65", "attachment folder 65 modified (M and C) and empty: the implant deleted the attachment"),
        ("Library/SMS/Attachments/65/05", "attachment folder 65/05 modified (M and C) and empty: the implant deleted the attachment"),
    ] {
        w.files.push(FileEntry {
            domain: "MediaDomain".into(),
            path: path.into(),
            flags: 2,
            birth: born,
            modified: emptied,
            changed: emptied,
            size: 64,
            mark: Mark::new(Role::FollowUp, "sms", what),
        });
    }

    let backup_agent = utc(2022, 9, 13, 10, 5, 14, 740_000);
    let ba = w.processes.len();
    w.processes.push(Process {
        procname: "BackupAgent".into(),
        bundle: None,
        first: backup_agent,
        last: backup_agent,
        deleted: false,
        mark: Mark::new(Role::FollowUp, "process", "BackupAgent first seen, no bundle id: a deprecated binary that never networks on a clean phone"),
        pk: 0,
    });
    w.usages.push(Usage {
        process: ba,
        us: backup_agent,
        wifi_in: 0.0,
        wifi_out: 0.0,
        wwan_in: 18_704.0,
        wwan_out: 9_213.0,
        mark: Mark::new(
            Role::FollowUp,
            "net",
            "BackupAgent network usage (Triangulation indicator)",
        ),
        pk: 0,
    });
    w.baseline.push(Baseline {
        process: "BackupAgent".into(),
        us: utc(2022, 9, 13, 10, 5, 14, 0),
        bytes: [0, 0, 18_704, 9_213],
        mark: Mark::new(
            Role::FollowUp,
            "net",
            "BackupAgent in the OSAnalytics network baseline",
        ),
    });

    set_pref(
        w,
        "Library/Preferences/com.apple.ImageIO.plist",
        clock::unix_secs(t0 + 89_110_000),
        Mark::new(
            Role::FollowUp,
            "file",
            "com.apple.ImageIO.plist modified (M and C)",
        ),
    );

    let webcontent = process(
        w,
        "com.apple.WebKit.WebContent",
        Some("com.apple.WebKit.WebContent"),
    );
    w.usages.push(Usage {
        process: webcontent,
        us: t0 + 118_228_000,
        wifi_in: 0.0,
        wifi_out: 0.0,
        wwan_in: 1_288_112.0,
        wwan_out: 64_310.0,
        mark: Mark::new(
            Role::FollowUp,
            "net",
            "com.apple.WebKit.WebContent traffic right after the attachment",
        ),
        pk: 0,
    });

    let stopped = t0 + 151_380_000;
    if let Some(c) = w.locations.iter_mut().find(|c| c.key == IONOSPHERE) {
        c.times.retain(|(k, _)| *k != "LocationTimeStopped");
        c.times.push(("LocationTimeStopped", stopped));
        c.mark = Some((
            "LocationTimeStopped",
            Mark {
                what: "IonosphereHarvest location bundle stopped".into(),
                role: Role::FollowUp,
                class: "location",
            },
        ));
    }
}

fn forcedentry(w: &mut World, rng: &mut Rng) {
    let t0 = at(FORCEDENTRY_T0);

    w.lookups.push(IdLookup {
        service: "com.apple.madrid",
        identity: format!("mailto:{PEGASUS_APPLE_ID}"),
        us: t0 - 95 * SEC,
        status: 1,
        mark: Mark::new(
            Role::Context,
            "ioc",
            "iMessage lookup of a Pegasus attacker Apple ID (Amnesty) shortly before",
        ),
    });

    let handle = w.handles.len();
    w.handles.push(Handle {
        id: PEGASUS_APPLE_ID.into(),
        service: "iMessage",
        country: "us",
        deleted: false,
    });
    let chat = w.chats.len();
    w.chats.push(Chat {
        guid: format!("iMessage;-;{PEGASUS_APPLE_ID}"),
        style: 45,
        identifier: PEGASUS_APPLE_ID.into(),
        service: "iMessage",
        display_name: String::new(),
        handles: vec![handle],
        deleted: false,
    });

    let imta = process(
        w,
        "IMTransferAgent/com.apple.datausage.messages",
        Some("com.apple.datausage.messages"),
    );
    let stories = [
        (
            t0,
            Media::PsdAsGif,
            Role::Trigger,
            "inbound iMessage with a .gif attachment from a handle never seen before",
            "attachment named .gif whose bytes are an Adobe PSD (8BPS)",
            3_288_000i64,
        ),
        (
            t0 + 40_003_000,
            Media::PdfAsGif,
            Role::FollowUp,
            "second iMessage with a .gif attachment from the same unknown handle",
            "attachment named .gif whose bytes are a PDF with a JBIG2Decode stream whose text region overflows the 32-bit symbol count",
            4_575_000,
        ),
    ];
    for (n, (us, kind, role, msg_what, att_what, crash_after)) in stories.into_iter().enumerate() {
        let content = media::bytes(kind, rng);
        // The disguised PDF's JBIG2 stream carries the symbol-count overflow (the
        // random stream is still drawn so the rest of the case stays as it was).
        let content = if kind == Media::PdfAsGif {
            super::exploit_files::pdf_with_jbig2_overflow()
        } else {
            content
        };
        let a = w.attachments.len();
        let g = guid(rng);
        w.attachments.push(Attachment {
            us: us + 1_200_000,
            dir: format!("{}/{g}", random_dir(rng, &[])),
            guid: g,
            name: format!("{}.gif", life::random_name(rng, 10)),
            media: kind,
            size: content.len() as i64,
            outgoing: false,
            present: true,
            content,
            deleted: false,
            mark: Mark::new(role, "sms", att_what),
            rowid: 0,
        });
        w.messages.push(Message {
            us,
            extra_ns: rng.random_range(0..1000),
            guid: guid(rng),
            text: "\u{fffc}".into(),
            text_null: false,
            handle: Some(handle),
            chat,
            from_me: false,
            service: "iMessage",
            read_after: None,
            attachments: vec![a],
            deleted: false,
            mark: Mark::new(role, "sms", msg_what),
            rowid: 0,
        });
        w.usages.push(Usage {
            process: imta,
            us: us + 1_900_000 + n as i64 * 217_000,
            wifi_in: 0.0,
            wifi_out: 0.0,
            wwan_in: 48_210.0 + n as f64 * 13_377.0,
            wwan_out: 3_112.0,
            mark: Mark::new(
                Role::Context,
                "net",
                "IMTransferAgent fetches the attachment",
            ),
            pk: 0,
        });
        w.crashes.push(Crash {
            us: us + crash_after,
            name: "IMTranscoderAgent".into(),
            path: "/System/Library/PrivateFrameworks/IMTranscoding.framework/XPCServices/IMTranscoderAgent.xpc/IMTranscoderAgent".into(),
            bundle: "com.apple.imtranscoding.IMTranscoderAgent".into(),
            pid: 2431 + n as u32 * 17,
            exception: "EXC_BAD_ACCESS",
            signal: "SIGSEGV",
            subtype: format!("KERN_INVALID_ADDRESS at 0x{:016x}", 0x4141_4141_0000u64 + rng.random_range(0..0x1000u64) * 8),
            frames: vec![
                ("CoreGraphics", "JBIG2Stream::readTextRegionSeg"),
                ("CoreGraphics", "JBIG2Stream::readSegments"),
                ("CoreGraphics", "JBIG2Stream::reset"),
                ("CoreGraphics", "CGPDFImageCreateImage"),
                ("ImageIO", "CGImageSourceCreateThumbnailAtIndex"),
                ("IMTranscoding", "-[IMPreviewGenerator generateThumbnail]"),
                ("libdispatch.dylib", "_dispatch_client_callout"),
            ],
            legacy: false,
            mark: Mark::new(Role::FollowUp, "crash", "IMTranscoderAgent crashed parsing the attachment"),
        });
    }

    let first = t0 + 252_300_000;
    let p = w.processes.len();
    w.processes.push(Process {
        procname: PEGASUS_PROCESS.into(),
        bundle: None,
        first,
        last: first,
        deleted: false,
        mark: Mark::new(
            Role::FollowUp,
            "process",
            "roleaboutd first seen: no bundle id, not an Apple binary (Pegasus process name)",
        ),
        pk: 0,
    });
    w.usages.push(Usage {
        process: p,
        us: first,
        wifi_in: 0.0,
        wifi_out: 0.0,
        wwan_in: 1_221_443.0,
        wwan_out: 387_112.0,
        mark: Mark::new(
            Role::Context,
            "net",
            "roleaboutd network counters (their time is the last update; the ZPROCESS first time is the appearance)",
        ),
        pk: 0,
    });
    w.usages.push(Usage {
        process: p,
        us: t0 + 1_310_700_000,
        wifi_in: 0.0,
        wifi_out: 0.0,
        wwan_in: 402_118.0,
        wwan_out: 2_771_904.0,
        mark: Mark::new(Role::Context, "net", "roleaboutd uploads later"),
        pk: 0,
    });

    let gone = w.processes.len();
    w.processes.push(Process {
        procname: PEGASUS_DELETED_PROCESS.into(),
        bundle: None,
        first: t0 + 318_200_000,
        last: t0 + 318_200_000,
        deleted: true,
        mark: None,
        pk: 0,
    });
    w.usages.push(Usage {
        process: gone,
        us: t0 + 318_900_000,
        wifi_in: 0.0,
        wifi_out: 0.0,
        wwan_in: 88_211.0,
        wwan_out: 402_776.0,
        mark: Mark::new(
            Role::FollowUp,
            "net",
            "network usage whose ZPROCESS row was deleted (orphan)",
        ),
        pk: 0,
    });

    let system = life::shutdown_clients();
    let mut delays = Vec::new();
    let mut wait = 0.0;
    for i in 0..4 {
        wait += [0.36, 1.41, 2.12, 2.53][i];
        let mut clients = vec![(1875u32, PEGASUS_SHUTDOWN_CLIENT.to_string())];
        if i < 2 {
            clients.push((112, system[0].to_string()));
        }
        if i == 0 {
            clients.push((388, system[3].to_string()));
        }
        delays.push(((wait * 100.0f64).round() / 100.0, clients));
    }
    w.reboots.push(Reboot {
        us: forcedentry_reboot(),
        delays,
        mark: Mark::new(Role::Context, "shutdown", "reboot held up by 4 delay notices (iShutdown flags 3 or more)"),
        client_mark: Some((
            PEGASUS_SHUTDOWN_CLIENT.to_string(),
            Mark { what: "rolexd from /private/var/db/com.apple.xpc.roleaccountd.staging/ still running at reboot".into(), role: Role::Context, class: "ioc" },
        )),
    });
}

fn clean(w: &mut World, rng: &mut Rng) {
    let [web, diag, backup2, jpeg, update] = clean_times();

    let webcontent = process(
        w,
        "com.apple.WebKit.WebContent",
        Some("com.apple.WebKit.WebContent"),
    );
    w.usages.push(Usage {
        process: webcontent,
        us: web,
        wifi_in: 3_402_117.0,
        wifi_out: 121_009.0,
        wwan_in: 0.0,
        wwan_out: 0.0,
        mark: Mark::new(
            Role::NearMiss,
            "net",
            "WebContent traffic with no message anywhere near",
        ),
        pk: 0,
    });

    let powerd = process(
        w,
        "powerd/com.apple.datausage.diagnostics",
        Some("com.apple.datausage.diagnostics"),
    );
    w.usages.push(Usage {
        process: powerd,
        us: diag,
        wifi_in: 4_120.0,
        wifi_out: 61_233.0,
        wwan_in: 0.0,
        wwan_out: 0.0,
        mark: Mark::new(
            Role::NearMiss,
            "net",
            "diagnostics upload by powerd 26 s before a benign ImageIO.plist write",
        ),
        pk: 0,
    });
    set_pref(
        w,
        "Library/Preferences/com.apple.ImageIO.plist",
        clock::unix_secs(diag) + 26,
        Mark::new(
            Role::NearMiss,
            "file",
            "benign com.apple.ImageIO.plist write next to diagnostics traffic, no message near",
        ),
    );

    let agent2 = process(w, "BackupAgent2", None);
    w.usages.push(Usage {
        process: agent2,
        us: backup2,
        wifi_in: 88_120.0,
        wifi_out: 182_334_120.0,
        wwan_in: 0.0,
        wwan_out: 0.0,
        mark: Mark::new(
            Role::NearMiss,
            "net",
            "BackupAgent2 (legitimate iCloud backup agent) uploading at night",
        ),
        pk: 0,
    });

    // An inbound photo from the closest contact (handle 0, chat 0 in `life`): a real
    // JPEG, named .jpeg, still in its folder.
    let content = media::bytes(Media::Jpeg, rng);
    let a = w.attachments.len();
    let g = guid(rng);
    let avoid = w.avoid_attachment_dirs.clone();
    w.attachments.push(Attachment {
        us: jpeg + 1_100_000,
        dir: format!("{}/{g}", random_dir(rng, &avoid)),
        guid: g,
        name: format!("IMG_{:04}.jpeg", rng.random_range(1000..9999)),
        media: Media::Jpeg,
        size: content.len() as i64,
        outgoing: false,
        present: true,
        content,
        deleted: false,
        mark: Mark::new(
            Role::NearMiss,
            "sms",
            "inbound JPEG that really is a JPEG; its folder still holds the file",
        ),
        rowid: 0,
    });
    w.messages.push(Message {
        us: jpeg,
        extra_ns: rng.random_range(0..1000),
        guid: guid(rng),
        text: "\u{fffc}".into(),
        text_null: false,
        handle: Some(0),
        chat: 0,
        from_me: false,
        service: "iMessage",
        read_after: Some(41),
        attachments: vec![a],
        deleted: false,
        mark: Mark::new(Role::NearMiss, "sms", "inbound photo from a known contact"),
        rowid: 0,
    });

    let system = life::shutdown_clients();
    w.reboots.push(Reboot {
        us: update,
        delays: vec![
            (
                0.41,
                vec![(91, system[0].to_string()), (247, system[2].to_string())],
            ),
            (1.87, vec![(91, system[0].to_string())]),
        ],
        mark: Mark::new(
            Role::NearMiss,
            "shutdown",
            "software-update reboot with 2 delay notices, only /System and /usr clients",
        ),
        client_mark: None,
    });
}

/// The DataUsage process of that name (a benign one from `life` when it exists).
fn process(w: &mut World, procname: &str, bundle: Option<&str>) -> usize {
    if let Some(i) = w
        .processes
        .iter()
        .position(|p| p.procname == procname && !p.deleted)
    {
        return i;
    }
    let first = w.device.span.0 + HOUR;
    w.processes.push(Process {
        procname: procname.into(),
        bundle: bundle.map(str::to_string),
        first,
        last: first,
        deleted: false,
        mark: None,
        pk: 0,
    });
    w.processes.len() - 1
}

/// Plants the M and C time of a watched preference file.
fn set_pref(w: &mut World, path: &str, secs: i64, mark: Option<Mark>) {
    if let Some((_, _, t)) = w.prefs.iter_mut().find(|(_, p, _)| *p == path) {
        t.modified = secs;
        t.changed = secs;
        t.mark = mark;
    }
}
