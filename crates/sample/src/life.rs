//! Benign life: a year of messages with a few close contacts, apps and daemons using
//! the network, files coming and going, browsing, permission prompts, reboots and the
//! odd app crash. Only the planted stories' windows ([`World::busy`]) are kept clear of
//! noise; traffic, file times, plist writes and location stops fall anywhere else,
//! including the minutes after inbound messages, as on a real phone. Names are fictional (`example.com` addresses, the
//! +1 555 01xx and +44 7700 900xxx drama ranges).

use std::collections::BTreeSet;

use rand::Rng as _;

use super::backup::ARTIFACTS;
use super::clock::{self, DAY, HOUR, MIN, SEC};
use super::model::*;
use super::{media, rng_for, Case, Options, Rng};

pub fn populate(w: &mut World, case: Case, opts: &Options) {
    let (seed, scale) = (opts.seed, opts.scale);
    messages(w, &mut rng_for(seed, case, "messages"), scale);
    photo_bursts(w, &mut rng_for(seed, case, "photo-bursts"), scale);
    // Only the planted stories' own windows stay clear (so that what they plant is what
    // a chain finds). The minutes after inbound messages and around WebContent/nehelper
    // traffic are NOT kept quiet: a real phone browses, rewrites preference plists and
    // stops location bundles at any time, and "no false alarm" must be measured on that.
    datausage(w, &mut rng_for(seed, case, "datausage"), scale);
    baseline(w, &mut rng_for(seed, case, "addaily"));
    files(w, &mut rng_for(seed, case, "files"), scale);
    safari(w, &mut rng_for(seed, case, "safari"), scale);
    deleted_conversations(w, &mut rng_for(seed, case, "deleted-conversations"), scale);
    tcc(w, &mut rng_for(seed, case, "tcc"));
    reboots(w, &mut rng_for(seed, case, "reboots"), scale);
    ios_updates(w, &mut rng_for(seed, case, "ios-updates"));
    crashes(w, &mut rng_for(seed, case, "crashes"));
    locations(w, &mut rng_for(seed, case, "locationd"));
    if w.device.ios == Ios::V14 {
        // IDStatusCache is empty from iOS 14.7 on.
        lookups(w, &mut rng_for(seed, case, "idstatus"));
    }
    prefs(w, &mut rng_for(seed, case, "prefs"));
}

// ---------------------------------------------------------------- small helpers

/// An uppercase RFC 4122 version-4 UUID, as iOS writes GUIDs.
pub fn guid(rng: &mut Rng) -> String {
    let b: [u8; 16] = rng.random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02X}")).collect::<String>();
    let v = format!("4{:03X}", u16::from_be_bytes([b[6], b[7]]) & 0x0fff);
    let var = format!(
        "{:X}{:03X}",
        8 + (b[8] & 3),
        u16::from_be_bytes([b[8], b[9]]) & 0x0fff
    );
    format!("{}-{}-{v}-{var}-{}", h(0..4), h(4..6), h(10..16))
}

/// `n` random letters and digits (FORCEDENTRY's `<10 chars>.gif`).
pub fn random_name(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| char::from(A[rng.random_range(0..A.len())]))
        .collect()
}

/// An attachment's `xx/yy` folder pair, never under one of `avoid`.
pub fn random_dir(rng: &mut Rng, avoid: &[String]) -> String {
    loop {
        let xx = format!("{:02x}", rng.random::<u8>());
        if !avoid.contains(&xx) {
            return format!("{xx}/{:02x}", rng.random::<u8>());
        }
    }
}

/// Clients that legitimately hold up a shutdown for a moment.
pub fn shutdown_clients() -> &'static [&'static str] {
    &[
        "/usr/libexec/nfcd",
        "/System/Library/PrivateFrameworks/MediaRemote.framework/Support/mediaremoted",
        "/usr/libexec/dasd",
        "/System/Library/CoreServices/SpringBoard.app/SpringBoard",
        "/usr/sbin/mDNSResponder",
        "/usr/libexec/locationd",
        "/System/Library/PrivateFrameworks/IDS.framework/identityservicesd.app/identityservicesd",
        "/usr/libexec/lsd",
    ]
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn weighted(rng: &mut Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// A day of the phone's life for noise (never the set-up day or the backup day).
fn any_day(w: &World, rng: &mut Rng) -> i64 {
    rng.random_range(1..(w.device.days() - 1).max(2))
}

/// A waking-hours instant on a random day.
fn human(w: &World, rng: &mut Rng) -> i64 {
    let d = &w.device;
    let day = any_day(w, rng);
    clock::human_time(rng, d.first_day(), day, d.tz)
}

/// Any instant of the year.
fn anytime(w: &World, rng: &mut Rng) -> i64 {
    let (a, b) = w.device.span;
    rng.random_range(a + DAY..b - DAY)
}

/// A time from `pick` outside the busy windows; after 24 tries, at least outside the
/// planted stories (dense noise at large scales can leave no quiet minute).
fn quiet(w: &mut World, rng: &mut Rng, mut pick: impl FnMut(&World, &mut Rng) -> i64) -> i64 {
    let mut t = pick(w, rng);
    for _ in 0..24 {
        if !w.busy.contains(t) {
            return t;
        }
        t = pick(w, rng);
    }
    for _ in 0..1000 {
        if !w.reserved.contains(t) {
            return t;
        }
        t = pick(w, rng);
    }
    t
}

// ---------------------------------------------------------------- messages

/// The closest contacts (rank = how often they write), then two short codes.
const CONTACTS: [(&str, &str, &str); 8] = [
    ("+15550142", "iMessage", "us"),
    ("maya.okafor@example.com", "iMessage", "us"),
    ("+15550187", "iMessage", "us"),
    ("+447700900311", "iMessage", "gb"),
    ("+15550119", "SMS", "us"),
    ("jonas.weber@example.net", "iMessage", "us"),
    ("+447700900872", "iMessage", "gb"),
    ("+15550163", "iMessage", "us"),
];
const SHORT_CODES: [&str; 2] = ["72975", "33669"];

const PHRASES: &[&str] = &[
    "On my way",
    "Running 10 min late, sorry!",
    "Did you see the game last night?",
    "Can you pick up milk on the way home?",
    "Sounds good",
    "Haha yes",
    "Call me when you're free",
    "Happy birthday!! 🎉",
    "What time tomorrow?",
    "I'll be there around 7",
    "Thanks so much",
    "ok",
    "👍",
    "Love it",
    "Where are you?",
    "Just landed",
    "Dinner at ours on Friday?",
    "Sure, why not",
    "Can't today, tomorrow works",
    "Did you get my email?",
    "Meeting moved to 3pm",
    "Good morning ☀️",
    "Miss you",
    "See you soon 😊",
    "The kids loved it",
    "Parking is a nightmare here",
    "Bring an umbrella, it's pouring",
    "Have you booked the tickets?",
    "I sent you the address",
    "Let me check and get back to you",
    "Yes!",
    "No worries",
    "That's hilarious 😂",
    "Traffic is terrible",
    "Almost there",
    "Can you send me the photos from Saturday?",
    "Great news, congrats!",
    "Is the shop still open?",
    "I'll call you later",
    "Feeling better today, thanks",
    "How was the trip?",
    "Don't forget the keys",
    "We're at the usual place",
    "Lunch next week?",
    "Just finished work",
    "Sorry, missed your call",
];

fn messages(w: &mut World, rng: &mut Rng, scale: f64) {
    // Handles and one-to-one chats: the fixed contacts, then more at larger scales.
    let mut ids: Vec<(String, &'static str, &'static str)> = CONTACTS
        .iter()
        .map(|(i, s, c)| (i.to_string(), *s, *c))
        .collect();
    let extra = ((200.0 * scale).round() as usize).min(900);
    let mut used: BTreeSet<String> = ids.iter().map(|(i, _, _)| i.clone()).collect();
    for _ in 0..extra {
        let id = format!("+447700900{:03}", rng.random_range(0..1000));
        if used.insert(id.clone()) {
            ids.push((id, "iMessage", "gb"));
        }
    }
    let mut weights = Vec::new();
    for (rank, (id, service, country)) in ids.iter().enumerate() {
        let h = w.handles.len();
        w.handles.push(Handle {
            id: id.clone(),
            service,
            country,
            deleted: false,
        });
        w.chats.push(Chat {
            guid: format!("{service};-;{id}"),
            style: 45,
            identifier: id.clone(),
            service,
            display_name: String::new(),
            handles: vec![h],
            deleted: false,
        });
        weights.push(1000 / (rank as u32 + 2));
    }
    for (members, name, weight) in [
        (vec![0usize, 1, 2], "Family", 140u32),
        (vec![0, 3, 5, 6], "Saturday climbing", 60),
    ] {
        let digits: String = (0..18)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        w.chats.push(Chat {
            guid: format!("iMessage;+;chat{digits}"),
            style: 43,
            identifier: format!("chat{digits}"),
            service: "iMessage",
            display_name: name.into(),
            handles: members,
            deleted: false,
        });
        weights.push(weight);
    }
    let first_short = w.chats.len();
    for code in SHORT_CODES {
        let h = w.handles.len();
        w.handles.push(Handle {
            id: code.into(),
            service: "SMS",
            country: "us",
            deleted: false,
        });
        w.chats.push(Chat {
            guid: format!("SMS;-;{code}"),
            style: 45,
            identifier: code.into(),
            service: "SMS",
            display_name: String::new(),
            handles: vec![h],
            deleted: false,
        });
        weights.push(25);
    }

    let target = ((100_000.0 * scale).round() as usize).max(150);
    let end = w.device.span.1 - DAY;
    let mut made = 0usize;
    while made < target {
        let chat = weighted(rng, &weights);
        let mut t = human(w, rng);
        if w.reserved.overlaps(t - 10 * MIN, t + 3 * HOUR) {
            continue;
        }
        let short = chat >= first_short;
        let burst = if short { 1 } else { rng.random_range(1..=9) };
        for _ in 0..burst {
            let from_me = !short && rng.random_bool(0.45);
            message(w, rng, chat, t, from_me, short);
            made += 1;
            // Replies come in seconds to minutes.
            t += rng.random_range(8 * SEC..90 * SEC) * rng.random_range(1..=8);
            if made >= target || t >= end || w.reserved.contains(t) {
                break;
            }
        }
    }
    choose_present(w, rng);
}

/// Group chats trade photos in bursts: several members send pictures within a minute or
/// two, each one downloaded by IMTransferAgent as it arrives.
fn photo_bursts(w: &mut World, rng: &mut Rng, scale: f64) {
    let groups: Vec<usize> = (0..w.chats.len())
        .filter(|&c| w.chats[c].style == 43)
        .collect();
    if groups.is_empty() {
        return;
    }
    let n = ((120.0 * scale).round() as usize).max(2);
    for _ in 0..n {
        let chat = *pick(rng, &groups);
        let mut t = human(w, rng);
        if w.reserved.overlaps(t - 10 * MIN, t + 30 * MIN) {
            continue;
        }
        for _ in 0..rng.random_range(3..=8) {
            let handle = Some(*pick(rng, &w.chats[chat].handles));
            let attachment = attachment(w, rng, t, false);
            w.messages.push(Message {
                us: t,
                extra_ns: rng.random_range(0..1000),
                guid: guid(rng),
                text: "\u{fffc}".into(),
                text_null: rng.random_bool(0.1),
                handle,
                chat,
                from_me: false,
                service: "iMessage",
                read_after: rng.random_bool(0.92).then(|| rng.random_range(3..7200)),
                attachments: vec![attachment],
                deleted: false,
                mark: None,
                rowid: 0,
            });
            t += rng.random_range(2 * SEC..25 * SEC);
        }
    }
}

fn message(w: &mut World, rng: &mut Rng, chat: usize, us: i64, from_me: bool, short: bool) {
    let c = &w.chats[chat];
    let service = c.service;
    let handle = if c.style == 43 {
        if from_me {
            None
        } else {
            Some(*pick(rng, &c.handles))
        }
    } else {
        c.handles.first().copied()
    };
    let mut text = if short {
        format!(
            "Your verification code is {:06}. Do not share it with anyone.",
            rng.random_range(0..1_000_000)
        )
    } else {
        pick(rng, PHRASES).to_string()
    };
    let mut attachments = Vec::new();
    if !short && rng.random_bool(0.12) {
        let n = if rng.random_bool(0.15) { 2 } else { 1 };
        for _ in 0..n {
            attachments.push(attachment(w, rng, us, from_me));
        }
        text = "\u{fffc}".repeat(n);
    }
    let read_after = if from_me {
        (service == "iMessage").then(|| rng.random_range(1..4))
    } else {
        rng.random_bool(0.92).then(|| rng.random_range(3..7200))
    };
    w.messages.push(Message {
        us,
        extra_ns: rng.random_range(0..1000),
        guid: guid(rng),
        text,
        text_null: rng.random_bool(0.1),
        handle,
        chat,
        from_me,
        service,
        read_after,
        attachments,
        deleted: false,
        mark: None,
        rowid: 0,
    });
}

fn attachment(w: &mut World, rng: &mut Rng, us: i64, outgoing: bool) -> usize {
    let media = [Media::Jpeg, Media::Heic, Media::Png, Media::Gif, Media::Mov]
        [weighted(rng, &[38, 34, 10, 8, 10])];
    let n = rng.random_range(1000..9999);
    let (name, size) = match media {
        Media::Jpeg => (
            format!("IMG_{n}.jpeg"),
            rng.random_range(900_000..3_600_000),
        ),
        Media::Heic => (
            format!("IMG_{n}.HEIC"),
            rng.random_range(700_000..2_600_000),
        ),
        Media::Png => (format!("IMG_{n}.PNG"), rng.random_range(40_000..900_000)),
        Media::Gif => (
            format!("giphy-{n}.gif"),
            rng.random_range(200_000..4_000_000),
        ),
        _ => (
            format!("IMG_{n}.MOV"),
            rng.random_range(2_000_000..60_000_000),
        ),
    };
    let g = guid(rng);
    let dir = format!("{}/{g}", random_dir(rng, &w.avoid_attachment_dirs));
    // An inbound file lands after its message; an outbound one is written as it is sent.
    let at = if outgoing {
        us - rng.random_range(0..SEC)
    } else {
        us + rng.random_range(SEC / 3..4 * SEC)
    };
    w.attachments.push(Attachment {
        us: at,
        guid: g,
        dir,
        name,
        media,
        size,
        outgoing,
        present: false,
        content: Vec::new(),
        deleted: false,
        mark: None,
        rowid: 0,
    });
    w.attachments.len() - 1
}

/// A handful of image attachments spread over the year are kept in the backup folder
/// (tiny but valid files); the rest are only listed in Manifest.db, as in trimmed or
/// offloaded backups.
fn choose_present(w: &mut World, rng: &mut Rng) {
    let mut images: Vec<usize> = (0..w.attachments.len())
        .filter(|&i| w.attachments[i].media != Media::Mov)
        .collect();
    images.sort_by_key(|&i| (w.attachments[i].us, i));
    let stride = (images.len() / 10).max(1);
    let mut chosen: Vec<usize> = images.iter().step_by(stride).take(10).copied().collect();
    // At least one file of every image kind, from the middle of the year.
    for kind in [Media::Jpeg, Media::Heic, Media::Png, Media::Gif] {
        if !chosen.iter().any(|&i| w.attachments[i].media == kind) {
            let of_kind: Vec<usize> = images
                .iter()
                .copied()
                .filter(|&i| w.attachments[i].media == kind)
                .collect();
            if let Some(&i) = of_kind.get(of_kind.len() / 2) {
                chosen.push(i);
            }
        }
    }
    for i in chosen {
        let a = &mut w.attachments[i];
        a.content = media::bytes(a.media, rng);
        a.size = a.content.len() as i64;
        a.present = true;
    }
}

// ---------------------------------------------------------------- DataUsage

struct Daemon {
    procname: &'static str,
    bundle: Option<&'static str>,
    weight: u32,
}

/// Daemons as DataUsage names them: `process/com.apple.datausage.*` for the ones
/// accounted under a data-usage bundle, bare (and cut to 16 characters by the
/// kernel's p_comm) for the rest. Weights are how often they show up in usage rows.
const DAEMONS: &[Daemon] = &[
    Daemon {
        procname: "IMTransferAgent/com.apple.datausage.messages",
        bundle: Some("com.apple.datausage.messages"),
        weight: 2,
    },
    Daemon {
        procname: "com.apple.WebKit.WebContent",
        bundle: Some("com.apple.WebKit.WebContent"),
        weight: 10,
    },
    Daemon {
        procname: "com.apple.WebKit.Networking",
        bundle: Some("com.apple.WebKit.Networking"),
        weight: 9,
    },
    Daemon {
        procname: "nsurlsessiond",
        bundle: Some("com.apple.nsurlsessiond"),
        weight: 12,
    },
    Daemon {
        procname: "powerd/com.apple.datausage.diagnostics",
        bundle: Some("com.apple.datausage.diagnostics"),
        weight: 1,
    },
    Daemon {
        procname: "lockdownd/com.apple.datausage.security",
        bundle: Some("com.apple.datausage.security"),
        weight: 1,
    },
    Daemon {
        procname: "apsd",
        bundle: None,
        weight: 6,
    },
    Daemon {
        procname: "mDNSResponder",
        bundle: None,
        weight: 4,
    },
    Daemon {
        procname: "CumulativeUsageTracker",
        bundle: None,
        weight: 1,
    },
    Daemon {
        procname: "identityservices",
        bundle: None,
        weight: 5,
    },
    Daemon {
        procname: "cloudd",
        bundle: None,
        weight: 6,
    },
    Daemon {
        procname: "itunesstored",
        bundle: None,
        weight: 3,
    },
    Daemon {
        procname: "appstored",
        bundle: None,
        weight: 4,
    },
    Daemon {
        procname: "mobileassetd",
        bundle: None,
        weight: 3,
    },
    Daemon {
        procname: "geod",
        bundle: None,
        weight: 4,
    },
    Daemon {
        procname: "assistantd",
        bundle: None,
        weight: 3,
    },
    Daemon {
        procname: "trustd",
        bundle: None,
        weight: 2,
    },
    Daemon {
        procname: "parsecd",
        bundle: None,
        weight: 2,
    },
    Daemon {
        procname: "searchpartyd",
        bundle: None,
        weight: 1,
    },
    Daemon {
        procname: "nehelper",
        bundle: None,
        weight: 1,
    },
    Daemon {
        procname: "BackupAgent2",
        bundle: None,
        weight: 0,
    },
];

/// Installed apps and how much they are used.
const APPS: &[(&str, u32)] = &[
    ("com.apple.mobilesafari", 30),
    ("com.apple.MobileSMS", 8),
    ("com.apple.Maps", 10),
    ("com.apple.mobilemail", 12),
    ("com.apple.weather", 6),
    ("com.apple.news", 5),
    ("com.apple.AppStore", 6),
    ("com.apple.Music", 10),
    ("com.apple.podcasts", 5),
    ("com.apple.mobileslideshow", 4),
    ("com.apple.facetime", 3),
    ("net.whatsapp.WhatsApp", 25),
    ("com.burbn.instagram", 20),
    ("com.spotify.client", 15),
    ("ph.telegra.Telegraph", 8),
    ("org.whispersystems.signal", 6),
    ("com.google.Gmail", 8),
    ("com.google.chrome.ios", 6),
    ("com.netflix.Netflix", 6),
    ("com.zhiliaoapp.musically", 10),
    ("com.ubercab.UberClient", 2),
    ("com.airbnb.app", 2),
    ("com.duolingo.DuolingoMobile", 3),
    ("com.strava.stravaride", 3),
];

const VENDORS: &[&str] = &[
    "acme",
    "northwind",
    "bluefin",
    "kestrel",
    "lumen",
    "orchard",
    "pinecone",
    "tidal",
    "quarry",
    "meadow",
];
const PRODUCTS: &[&str] = &[
    "notes", "fitness", "weather", "scanner", "budget", "recipes", "transit", "reader", "puzzle",
    "radio", "tasks", "photos",
];

fn traffic(rng: &mut Rng, heavy: f64) -> (f64, f64, f64, f64) {
    let inbound = (10f64.powf(rng.random_range(2.5..6.8)) * heavy).round();
    let outbound = (inbound * rng.random_range(0.02..0.45)).round();
    if rng.random_bool(0.62) {
        (inbound, outbound, 0.0, 0.0)
    } else {
        (0.0, 0.0, inbound, outbound)
    }
}

fn datausage(w: &mut World, rng: &mut Rng, scale: f64) {
    let setup = w.device.span.0 + rng.random_range(5 * MIN..40 * MIN);
    let end = w.device.span.1 - DAY;

    // Daemons appear within seconds of the first boot.
    let mut daemons = Vec::new();
    let mut t = setup;
    for d in DAEMONS {
        t += rng.random_range(200_000..20 * SEC);
        daemons.push(w.processes.len());
        w.processes.push(Process {
            procname: d.procname.into(),
            bundle: d.bundle.map(str::to_string),
            first: t,
            last: t,
            deleted: false,
            mark: None,
            pk: 0,
        });
    }

    // Apps: one ZPROCESS row each (`<container UUID>/<bundle id>`), whose first and
    // last times move as it is used; real stores keep one row per process name
    // (plaso's iOS 16 DataUsage.sqlite: 371 rows, each ZPROCNAME once).
    let mut apps: Vec<(String, u32)> = APPS.iter().map(|(b, w)| (b.to_string(), *w)).collect();
    let synthetic = (400.0 * scale).round() as usize;
    for i in 0..synthetic {
        apps.push((
            format!("com.{}.{}{}", pick(rng, VENDORS), pick(rng, PRODUCTS), i),
            rng.random_range(1..4),
        ));
    }
    let versions = vec![1usize; apps.len()];
    let app_weights: Vec<u32> = apps.iter().map(|a| a.1).collect();
    let mut app_rows: Vec<Vec<(i64, usize)>> = Vec::with_capacity(apps.len());
    for (i, (bundle, _)) in apps.iter().enumerate() {
        let installed = if i < 12 || rng.random_bool(0.6) {
            setup + rng.random_range(MIN..30 * MIN)
        } else {
            quiet(w, rng, human)
        };
        let mut firsts = vec![installed];
        for _ in 1..versions[i] {
            firsts.push(quiet(w, rng, |w, r| {
                let t = anytime(w, r);
                if t > installed {
                    t
                } else {
                    installed + (installed - t) % (end - installed).max(1)
                }
            }));
        }
        firsts.sort_unstable();
        let mut rows = Vec::new();
        for first in firsts {
            rows.push((first, w.processes.len()));
            w.processes.push(Process {
                procname: format!("{}/{bundle}", guid(rng)),
                bundle: Some(bundle.clone()),
                first,
                last: first,
                deleted: false,
                mark: None,
                pk: 0,
            });
        }
        app_rows.push(rows);
    }

    let daemon_weights: Vec<u32> = DAEMONS.iter().map(|d| d.weight).collect();
    let target_usage = ((117_000.0 * scale).round() as usize).max(200);
    for _ in 0..target_usage {
        if rng.random_bool(0.35) {
            let d = weighted(rng, &daemon_weights);
            let p = daemons[d];
            let us = quiet(w, rng, anytime);
            let (a, b, c, e) = traffic(rng, 1.0);
            w.usages.push(Usage {
                process: p,
                us,
                wifi_in: a,
                wifi_out: b,
                wwan_in: c,
                wwan_out: e,
                mark: None,
                pk: 0,
            });
        } else {
            let app = weighted(rng, &app_weights);
            let rows = &app_rows[app];
            let installed = rows[0].0;
            let us = quiet(w, rng, |w, r| {
                let t = human(w, r);
                if t > installed {
                    t
                } else {
                    installed + r.random_range(MIN..HOUR)
                }
            });
            let v = rows.partition_point(|(first, _)| *first <= us).max(1) - 1;
            let (a, b, c, e) = traffic(rng, 3.0);
            w.usages.push(Usage {
                process: rows[v].1,
                us,
                wifi_in: a,
                wifi_out: b,
                wwan_in: c,
                wwan_out: e,
                mark: None,
                pk: 0,
            });
        }
    }

    // IMTransferAgent fetches most inbound attachments a moment after they arrive.
    let imta = daemons[0];
    let fetched: Vec<(i64, i64)> = w
        .attachments
        .iter()
        .filter(|a| !a.outgoing && !a.deleted)
        .map(|a| (a.us, a.size))
        .collect();
    for (us, size) in fetched {
        if rng.random_bool(0.6) {
            let at = us + rng.random_range(400_000..3 * SEC);
            let bytes = size as f64 * rng.random_range(1.01..1.08);
            let wifi = rng.random_bool(0.6);
            w.usages.push(Usage {
                process: imta,
                us: at,
                wifi_in: if wifi { bytes.round() } else { 0.0 },
                wifi_out: if wifi {
                    rng.random_range(900.0..4000.0f64).round()
                } else {
                    0.0
                },
                wwan_in: if wifi { 0.0 } else { bytes.round() },
                wwan_out: if wifi {
                    0.0
                } else {
                    rng.random_range(900.0..4000.0f64).round()
                },
                mark: None,
                pk: 0,
            });
        }
    }

    // BackupAgent2 uploads the iCloud backup at night, on Wi-Fi and charging.
    let agent2 = daemons[DAEMONS.len() - 1];
    let d = &w.device;
    let (first_day, tz, days) = (d.first_day(), d.tz, d.days());
    let mut day = rng.random_range(2..9);
    while day < days - 1 {
        let us = quiet(w, rng, |_, r| {
            let hour = r.random_range(2..4);
            clock::local_instant(r, first_day, day, hour, tz)
        });
        let up = rng.random_range(2_000_000.0..250_000_000.0f64).round();
        w.usages.push(Usage {
            process: agent2,
            us,
            wifi_in: (up * 0.01).round(),
            wifi_out: up,
            wwan_in: 0.0,
            wwan_out: 0.0,
            mark: None,
            pk: 0,
        });
        day += rng.random_range(5..13);
    }
}

// ---------------------------------------------------------------- Manifest.db noise

fn parents(domain: &str, path: &str, dirs: &mut BTreeSet<(String, String)>) {
    let mut p = path;
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        if !dirs.insert((domain.to_string(), p.to_string())) {
            return;
        }
    }
    dirs.insert((domain.to_string(), String::new()));
}

const WORDS: &[&str] = &[
    "cache", "store", "index", "session", "state", "config", "assets", "thumbs", "sync", "media",
    "drafts", "logs", "profile", "feed", "queue", "backup", "history", "metadata", "search",
    "offline",
];
const SERVICES: &[&str] = &[
    "Maps",
    "weather",
    "mobilenotes",
    "mobilecal",
    "Music",
    "podcasts",
    "stocks",
    "news",
    "tips",
    "Fitness",
    "mobileslideshow",
    "camera",
    "springboard",
    "assistant.support",
    "routined",
    "coreduetd",
    "siri.media",
    "keyboard",
    "Accessibility",
    "AdLib",
    "homed",
    "purplebuddy",
    "voicememos",
    "findmy",
    "gamecenter",
];

/// A plausible backed-up file: domain, relative path, size. Never under the SMS
/// folders or at an artifact's path.
fn noise_path(rng: &mut Rng, apps: &[&str]) -> (String, String, i64) {
    let word = |rng: &mut Rng| pick(rng, WORDS).to_string();
    let hex = |rng: &mut Rng, n: usize| {
        (0..n)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect::<String>()
    };
    let roll = rng.random_range(0..100);
    match roll {
        0..=24 => {
            let n = rng.random_range(1..9999);
            let folder = 100 + rng.random_range(0..12);
            let ext = pick(rng, &["HEIC", "HEIC", "JPG", "MOV", "PNG"]).to_string();
            if rng.random_bool(0.3) {
                (
                    "CameraRollDomain".into(),
                    format!("Media/PhotoData/Thumbnails/V2/DCIM/{folder}APPLE/IMG_{n:04}.{ext}/5005.JPG"),
                    rng.random_range(20_000..120_000),
                )
            } else {
                (
                    "CameraRollDomain".into(),
                    format!("Media/DCIM/{folder}APPLE/IMG_{n:04}.{ext}"),
                    rng.random_range(500_000..9_000_000),
                )
            }
        }
        25..=49 => {
            let app = pick(rng, apps).to_string();
            let path = match rng.random_range(0..4) {
                0 => format!("Library/Preferences/{app}.plist"),
                1 => format!("Library/Caches/{}/{}", word(rng), hex(rng, 16)),
                2 => format!(
                    "Documents/{}_{}.{}",
                    word(rng),
                    rng.random_range(1..500),
                    pick(rng, &["db", "json", "plist", "sqlite"])
                ),
                _ => format!(
                    "Library/Application Support/{}/{}.sqlite",
                    word(rng),
                    word(rng)
                ),
            };
            (
                format!("AppDomain-{app}"),
                path,
                rng.random_range(200..2_000_000),
            )
        }
        50..=59 => {
            let app = pick(rng, apps).to_string();
            (
                format!("AppDomainGroup-group.{app}"),
                format!("Library/Caches/{}/{}", word(rng), hex(rng, 24)),
                rng.random_range(200..400_000),
            )
        }
        60..=79 => {
            let svc = pick(rng, SERVICES).to_string();
            let path = match rng.random_range(0..4) {
                0 => format!("Library/Preferences/com.apple.{svc}.plist"),
                1 => format!("Library/Caches/com.apple.{svc}/{}", hex(rng, 16)),
                2 => format!("Library/{svc}/{}.db", word(rng)),
                _ => format!(
                    "Library/Mail/{}/{}.emlx",
                    hex(rng, 8).to_uppercase(),
                    rng.random_range(1000..99_999)
                ),
            };
            ("HomeDomain".into(), path, rng.random_range(100..800_000))
        }
        80..=84 => (
            "MediaDomain".into(),
            format!(
                "Media/Recordings/2022{:02}{:02} {:06}.m4a",
                rng.random_range(1..13),
                rng.random_range(1..29),
                rng.random_range(0..235_959)
            ),
            rng.random_range(50_000..5_000_000),
        ),
        85..=89 => {
            let d = pick(
                rng,
                &[
                    "HealthDomain",
                    "KeychainDomain",
                    "ManagedPreferencesDomain",
                    "DatabaseDomain",
                ],
            )
            .to_string();
            (
                d,
                format!(
                    "Library/{}/{}.{}",
                    word(rng),
                    hex(rng, 12),
                    pick(rng, &["db", "plist", "dat"])
                ),
                rng.random_range(100..300_000),
            )
        }
        90..=94 => {
            let svc = pick(rng, SERVICES).to_string();
            let path = if rng.random_bool(0.5) {
                format!("Library/Caches/com.apple.{svc}/{}", hex(rng, 12))
            } else {
                format!("Library/Preferences/com.apple.{svc}.plist")
            };
            ("RootDomain".into(), path, rng.random_range(100..200_000))
        }
        _ => {
            let d = pick(rng, &["WirelessDomain", "SystemPreferencesDomain"]).to_string();
            (
                d,
                format!(
                    "SystemConfiguration/com.apple.{}.plist",
                    pick(rng, SERVICES)
                ),
                rng.random_range(100..40_000),
            )
        }
    }
}

fn files(w: &mut World, rng: &mut Rng, scale: f64) {
    let target = ((100_000.0 * scale).round() as usize).max(400);
    let mut files: BTreeSet<(String, String)> = BTreeSet::new();
    let mut dirs: BTreeSet<(String, String)> = BTreeSet::new();
    for a in w.attachments.iter().filter(|a| !a.deleted) {
        files.insert(("MediaDomain".into(), a.relative_path()));
        parents("MediaDomain", &a.relative_path(), &mut dirs);
    }
    for (domain, path) in ARTIFACTS {
        files.insert((domain.to_string(), path.to_string()));
        parents(domain, path, &mut dirs);
    }
    let apps: Vec<&str> = APPS
        .iter()
        .map(|a| a.0)
        .filter(|a| !a.starts_with("com.apple."))
        .collect();
    let end = w.device.span.1 - DAY;
    // A few symlinks, as every backup lists some.
    for (domain, path) in [
        (
            "HomeDomain",
            "Library/Caches/com.apple.nsurlsessiond/Downloads/current",
        ),
        (
            "CameraRollDomain",
            "Media/PhotoData/Caches/GraphService/current",
        ),
        (
            "SystemPreferencesDomain",
            "SystemConfiguration/preferences.current",
        ),
    ] {
        if files.insert((domain.into(), path.into())) {
            parents(domain, path, &mut dirs);
            let t = clock::unix_secs(w.device.span.0 + 2 * HOUR);
            w.files.push(FileEntry {
                domain: domain.into(),
                path: path.into(),
                flags: 4,
                birth: t,
                modified: t,
                changed: t,
                size: 0,
                mark: None,
            });
        }
    }
    let mut guard = 0usize;
    while files.len() + dirs.len() < target && guard < target * 20 {
        guard += 1;
        let (domain, path, size) = noise_path(rng, &apps);
        if path.starts_with("Library/SMS") || !files.insert((domain.clone(), path.clone())) {
            continue;
        }
        parents(&domain, &path, &mut dirs);
        let birth = quiet(w, rng, anytime);
        let modified = if rng.random_bool(0.5) {
            birth
        } else {
            quiet(w, rng, |w, r| {
                let t = anytime(w, r);
                if t > birth {
                    t
                } else {
                    birth + (birth - t) % (end - birth).max(1)
                }
            })
        };
        let changed = modified + rng.random_range(0..3 * SEC);
        w.files.push(FileEntry {
            domain,
            path,
            flags: 1,
            birth: clock::unix_secs(birth),
            modified: clock::unix_secs(modified),
            changed: clock::unix_secs(changed),
            size,
            mark: None,
        });
    }
}

// ---------------------------------------------------------------- Safari, TCC

const SITES: &[(&str, &str)] = &[
    ("en.wikipedia.org", "/wiki/"),
    ("www.bbc.com", "/news/"),
    ("www.theguardian.com", "/world/"),
    ("github.com", "/"),
    ("www.reddit.com", "/r/"),
    ("news.ycombinator.com", "/item?id="),
    ("www.nytimes.com", "/section/"),
    ("www.youtube.com", "/watch?v="),
    ("www.booking.com", "/hotel/"),
    ("stackoverflow.com", "/questions/"),
    ("www.dw.com", "/en/"),
    ("www.imdb.com", "/title/tt"),
    ("www.allrecipes.com", "/recipe/"),
    ("www.apple.com", "/iphone/"),
    ("www.weather.gov", "/"),
];
const TOPICS: &[&str] = &[
    "Lighthouse",
    "Tidal_power",
    "Sourdough",
    "Marathon",
    "Volcano",
    "Chess",
    "Jazz",
    "Bicycle",
    "Saturn",
    "Origami",
    "Kayak",
    "Glacier",
    "Espresso",
    "Fern",
    "Typewriter",
    "Aurora",
    "Basalt",
    "Hedgehog",
];

fn safari(w: &mut World, rng: &mut Rng, scale: f64) {
    let n = ((5_000.0 * scale).round() as usize).max(40);
    for _ in 0..n {
        let us = quiet(w, rng, human);
        let (host, prefix) = *pick(rng, SITES);
        let topic = pick(rng, TOPICS).to_string();
        let tail = if prefix.ends_with('=') || prefix.ends_with("tt") {
            format!("{}", rng.random_range(1_000_000..40_000_000))
        } else {
            topic.to_lowercase()
        };
        let url = format!("https://{host}{prefix}{tail}");
        let title = format!(
            "{} - {}",
            topic.replace('_', " "),
            host.trim_start_matches("www.")
        );
        if rng.random_bool(0.12) {
            // Typed without a scheme: http://host/ redirects to https.
            w.visits.push(Visit {
                us: us - rng.random_range(150_000..600_000),
                url: format!("http://{host}/"),
                title: String::new(),
                redirect_from: None,
            });
            let from = w.visits.len() - 1;
            w.visits.push(Visit {
                us,
                url,
                title,
                redirect_from: Some(from),
            });
        } else {
            w.visits.push(Visit {
                us,
                url,
                title,
                redirect_from: None,
            });
        }
    }
}

/// The user deletes whole conversations: iOS removes their attachments, so the
/// `Library/SMS/Attachments/xx` and `xx/yy` folders that held them are modified at that
/// moment and left empty (the same Manifest.db trace the Triangulation implant leaves).
/// People do it while using the phone: Safari pages (WebContent traffic) a minute or
/// two later.
fn deleted_conversations(w: &mut World, rng: &mut Rng, scale: f64) {
    let n = ((60.0 * scale).round() as usize).max(3);
    let used: BTreeSet<String> = w
        .files
        .iter()
        .filter(|f| f.domain == "MediaDomain")
        .filter_map(|f| f.path.strip_prefix("Library/SMS/Attachments/"))
        .filter_map(|p| p.get(..2))
        .map(str::to_string)
        .collect();
    let webcontent = w
        .processes
        .iter()
        .position(|p| p.procname == "com.apple.WebKit.WebContent");
    let mut taken = used;
    for _ in 0..n {
        let us = quiet(w, rng, human);
        let Some(xx) = (0..64)
            .map(|_| format!("{:02x}", rng.random_range(0..256u32)))
            .find(|x| !taken.contains(x))
        else {
            return;
        };
        taken.insert(xx.clone());
        let yy = format!("{:02x}", rng.random_range(0..256u32));
        let deleted = clock::unix_secs(us);
        let born = deleted - rng.random_range(DAY / SEC..200 * DAY / SEC);
        for path in [
            format!("Library/SMS/Attachments/{xx}"),
            format!("Library/SMS/Attachments/{xx}/{yy}"),
        ] {
            w.files.push(FileEntry {
                domain: "MediaDomain".into(),
                path,
                flags: 2,
                birth: born,
                modified: deleted,
                changed: deleted,
                size: 64,
                mark: None,
            });
        }
        let browse = us + rng.random_range(30 * SEC..4 * MIN);
        let (host, prefix) = *pick(rng, SITES);
        let topic = pick(rng, TOPICS).to_string();
        w.visits.push(Visit {
            us: browse,
            url: format!("https://{host}{prefix}{}", topic.to_lowercase()),
            title: topic.replace('_', " "),
            redirect_from: None,
        });
        if let Some(p) = webcontent {
            let (a, b, c, e) = traffic(rng, 1.0);
            w.usages.push(Usage {
                process: p,
                us: browse + rng.random_range(SEC..20 * SEC),
                wifi_in: a,
                wifi_out: b,
                wwan_in: c,
                wwan_out: e,
                mark: None,
                pk: 0,
            });
        }
    }
}

fn tcc(w: &mut World, rng: &mut Rng) {
    const SERVICES: &[&str] = &[
        "kTCCServiceCamera",
        "kTCCServicePhotos",
        "kTCCServiceMicrophone",
        "kTCCServiceAddressBook",
        "kTCCServiceMotion",
        "kTCCServiceLiverpool",
        "kTCCServiceUbiquity",
        "kTCCServiceWebKitIntelligentTrackingPrevention",
        "kTCCServiceBluetoothAlways",
        "kTCCServiceUserTracking",
        "kTCCServiceMediaLibrary",
        "kTCCServiceCalendar",
    ];
    let clients: Vec<&str> = APPS.iter().map(|a| a.0).collect();
    let mut seen = BTreeSet::new();
    while w.tcc.len() < 26 {
        let service = *pick(rng, SERVICES);
        let client = pick(rng, &clients).to_string();
        if !seen.insert((service, client.clone())) {
            continue;
        }
        let auth_value = [2, 0, 3][weighted(
            rng,
            &[
                80,
                17,
                if service == "kTCCServicePhotos" {
                    20
                } else {
                    0
                },
            ],
        )];
        let auth_reason = if client.starts_with("com.apple.") {
            [4, 5][rng.random_range(0..2)]
        } else {
            2
        };
        let us = quiet(w, rng, human);
        w.tcc.push(TccRow {
            service,
            client,
            auth_value,
            auth_reason,
            us,
        });
    }
}

// ---------------------------------------------------------------- sysdiagnose

fn reboots(w: &mut World, rng: &mut Rng, scale: f64) {
    let n = 18 + (60.0 * scale).round() as usize;
    let clients = shutdown_clients();
    let (first_day, tz) = (w.device.first_day(), w.device.tz);
    for _ in 0..n {
        let us = if rng.random_bool(0.35) {
            quiet(w, rng, |w, r| {
                let (day, hour) = (any_day(w, r), r.random_range(2..4));
                clock::local_instant(r, first_day, day, hour, tz)
            })
        } else {
            quiet(w, rng, anytime)
        };
        let mut holding: Vec<(u32, String)> = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            let path = pick(rng, clients).to_string();
            if !holding.iter().any(|(_, p)| *p == path) {
                holding.push((rng.random_range(40..2500), path));
            }
        }
        let mut delays = Vec::new();
        let mut wait: f64 = rng.random_range(0.1..1.2);
        for _ in 0..rng.random_range(1..=2) {
            delays.push(((wait * 100.0).round() / 100.0, holding.clone()));
            wait += rng.random_range(0.4..2.2);
            if holding.len() > 1 {
                holding.pop();
            }
        }
        w.reboots.push(Reboot {
            us,
            delays,
            mark: None,
            client_mark: None,
        });
    }
}

struct CrashSpec {
    name: &'static str,
    path: &'static str,
    bundle: &'static str,
}

const CRASHERS: &[CrashSpec] = &[
    CrashSpec {
        name: "MobileSafari",
        path: "/Applications/MobileSafari.app/MobileSafari",
        bundle: "com.apple.mobilesafari",
    },
    CrashSpec {
        name: "Instagram",
        path: "Instagram.app/Instagram",
        bundle: "com.burbn.instagram",
    },
    CrashSpec {
        name: "Maps",
        path: "/Applications/Maps.app/Maps",
        bundle: "com.apple.Maps",
    },
    CrashSpec {
        name: "WhatsApp",
        path: "WhatsApp.app/WhatsApp",
        bundle: "net.whatsapp.WhatsApp",
    },
    CrashSpec {
        name: "Spotify",
        path: "Spotify.app/Spotify",
        bundle: "com.spotify.client",
    },
    CrashSpec {
        name: "Music",
        path: "/Applications/Music.app/Music",
        bundle: "com.apple.Music",
    },
];

/// Daemons a point release can bring (real iOS process names, no bundle id). DataUsage
/// keeps the kernel's process name, cut at 16 bytes (MAXCOMLEN).
const UPDATE_DAEMONS: [&str; 12] = [
    "intelligenceplatformd",
    "financed",
    "siriknowledged",
    "contextstored",
    "proactiveeventtrackerd",
    "journalingsuggestd",
    "cloudtelemetryservice",
    "inputanalyticsd",
    "gamepolicyd",
    "liveactivitiesd",
    "backgroundassets.user",
    "replicatord",
];

/// iOS updates: installed at night, a reboot, and within minutes a burst of daemons
/// never seen before, with no bundle id — what the new-process selectors look for.
fn ios_updates(w: &mut World, rng: &mut Rng) {
    let (first_day, tz) = (w.device.first_day(), w.device.tz);
    let clients = shutdown_clients();
    let mut names: Vec<&str> = UPDATE_DAEMONS.to_vec();
    for _ in 0..3 {
        let us = quiet(w, rng, |w, r| {
            let (day, hour) = (any_day(w, r), r.random_range(1..5));
            clock::local_instant(r, first_day, day, hour, tz)
        });
        let holding = vec![(rng.random_range(40..2500), pick(rng, clients).to_string())];
        w.reboots.push(Reboot {
            us,
            delays: vec![(rng.random_range(10..90) as f64 / 100.0, holding)],
            mark: None,
            client_mark: None,
        });
        let mut t = us + rng.random_range(40 * SEC..3 * MIN);
        for _ in 0..rng.random_range(2..=4) {
            if names.is_empty() {
                return;
            }
            let name = names.remove(rng.random_range(0..names.len()));
            let procname: String = name.bytes().take(16).map(char::from).collect();
            t += rng.random_range(SEC..90 * SEC);
            let p = w.processes.len();
            w.processes.push(Process {
                procname,
                bundle: None,
                first: t,
                last: t,
                deleted: false,
                mark: None,
                pk: 0,
            });
            for k in 0..rng.random_range(1..4) {
                let (a, b, c, e) = traffic(rng, 0.3);
                w.usages.push(Usage {
                    process: p,
                    us: (t + k * rng.random_range(MIN..DAY)).min(w.device.span.1 - MIN),
                    wifi_in: a,
                    wifi_out: b,
                    wwan_in: c,
                    wwan_out: e,
                    mark: None,
                    pk: 0,
                });
            }
        }
    }
}

fn crashes(w: &mut World, rng: &mut Rng) {
    let until = w.device.sysdiagnose - DAY;
    let count = rng.random_range(4..=6);
    // The sysdiagnose keeps the last weeks of reports; one older report was copied
    // off the phone on its own (the `crashes/` folder, legacy text format).
    for i in 0..=count {
        let legacy = i == count;
        let spec = &CRASHERS[(i * 5 + rng.random_range(0..2)) % CRASHERS.len()];
        let back = if legacy {
            100 * DAY..200 * DAY
        } else {
            0..75 * DAY
        };
        let us = quiet(w, rng, |_, r| until - r.random_range(back.clone()));
        let path = if spec.path.starts_with('/') {
            spec.path.to_string()
        } else {
            format!(
                "/private/var/containers/Bundle/Application/{}/{}",
                guid(rng),
                spec.path
            )
        };
        let (exception, signal, subtype) = match rng.random_range(0..3) {
            0 => (
                "EXC_BAD_ACCESS",
                "SIGSEGV",
                format!(
                    "KERN_INVALID_ADDRESS at 0x{:016x}",
                    rng.random_range(0x10u64..0x4000) * 8
                ),
            ),
            1 => ("EXC_CRASH", "SIGABRT", String::new()),
            _ => ("EXC_BREAKPOINT", "SIGTRAP", String::new()),
        };
        w.crashes.push(Crash {
            us,
            name: spec.name.into(),
            path,
            bundle: spec.bundle.into(),
            pid: rng.random_range(300..9000),
            exception,
            signal,
            subtype,
            frames: vec![
                ("libobjc.A.dylib", "objc_msgSend"),
                (
                    "UIKitCore",
                    "-[UIView(CALayerDelegate) layoutSublayersOfLayer:]",
                ),
                (
                    "QuartzCore",
                    "CA::Layer::layout_if_needed(CA::Transaction*)",
                ),
                ("CoreFoundation", "__CFRunLoopDoObservers"),
                ("CoreFoundation", "__CFRunLoopRun"),
                ("GraphicsServices", "GSEventRunModal"),
                ("UIKitCore", "-[UIApplication _run]"),
            ],
            legacy,
            mark: None,
        });
    }
}

// ---------------------------------------------------------------- plists

fn locations(w: &mut World, rng: &mut Rng) {
    let bundles = [
        "IonosphereHarvest",
        "WRMLinkSelection",
        "Routine",
        "SystemCustomization",
        "MotionCalibration",
        "Siri",
        "Traffic",
        "WifiCalling",
    ];
    let apps = [
        "com.apple.Maps",
        "com.apple.weather",
        "com.apple.camera",
        "net.whatsapp.WhatsApp",
        "com.burbn.instagram",
        "com.strava.stravaride",
    ];
    let until = w.device.backup - DAY;
    let recent =
        |w: &mut World, rng: &mut Rng| quiet(w, rng, |_, r| until - r.random_range(0..30 * DAY));
    for b in bundles {
        let key = format!("com.apple.locationd.bundle-/System/Library/LocationBundles/{b}.bundle");
        let mut times = vec![
            ("LocationTimeStopped", recent(w, rng)),
            ("ReceivingLocationInformationTimeStopped", recent(w, rng)),
        ];
        if rng.random_bool(0.5) {
            times.push(("SignificantTimeStopped", recent(w, rng)));
        }
        w.locations.push(LocationClient {
            key,
            bundle_path: Some(format!("/System/Library/LocationBundles/{b}.bundle")),
            times,
            mark: None,
        });
    }
    for a in apps {
        let mut times = vec![
            ("LocationTimeStopped", recent(w, rng)),
            ("ReceivingLocationInformationTimeStopped", recent(w, rng)),
        ];
        if rng.random_bool(0.4) {
            times.push(("BeaconRegionTimeStopped", recent(w, rng)));
        }
        times.push(("ConsumptionPeriodBegin", recent(w, rng)));
        w.locations.push(LocationClient {
            key: a.into(),
            bundle_path: None,
            times,
            mark: None,
        });
    }
}

fn baseline(w: &mut World, rng: &mut Rng) {
    let names = [
        "com.apple.WebKit.WebContent",
        "nsurlsessiond",
        "mDNSResponder",
        "apsd",
        "cloudd",
        "itunesstored",
        "appstored",
        "IMTransferAgent",
        "identityservicesd",
        "BackupAgent2",
        "geod",
        "assistantd",
        "com.apple.mobilesafari",
        "net.whatsapp.WhatsApp",
        "com.burbn.instagram",
        "nehelper",
    ];
    let until = w.device.backup - DAY;
    for n in names {
        let us = quiet(w, rng, |_, r| until - r.random_range(0..10 * DAY));
        let (a, b, c, d) = traffic(rng, 40.0);
        w.baseline.push(Baseline {
            process: n.into(),
            us: us - us % SEC,
            bytes: [a as i64, b as i64, c as i64, d as i64],
            mark: None,
        });
    }
}

fn lookups(w: &mut World, rng: &mut Rng) {
    let ids: Vec<String> = w
        .handles
        .iter()
        .filter(|h| h.service == "iMessage")
        .map(|h| h.id.clone())
        .collect();
    for id in ids {
        let identity = if id.contains('@') {
            format!("mailto:{id}")
        } else {
            format!("tel:{id}")
        };
        let us = quiet(w, rng, human);
        w.lookups.push(IdLookup {
            service: "com.apple.madrid",
            identity: identity.clone(),
            us,
            status: 1,
            mark: None,
        });
        if rng.random_bool(0.35) {
            let us = quiet(w, rng, human);
            w.lookups.push(IdLookup {
                service: "com.apple.ess",
                identity,
                us,
                status: 1,
                mark: None,
            });
        }
    }
}

/// Manifest.db times of the artifact files: written continuously, last just before
/// the backup; the three preference files Kaspersky watches change now and then.
fn prefs(w: &mut World, rng: &mut Rng) {
    let born = clock::unix_secs(w.device.span.0) + rng.random_range(60..3600);
    let backup = w.device.backup;
    const WATCHED: [&str; 3] = [
        "Library/Preferences/com.apple.ImageIO.plist",
        "Library/Preferences/com.apple.locationd.StatusBarIconManager.plist",
        "Library/Preferences/com.apple.imservice.ids.FaceTime.plist",
    ];
    for (domain, path) in ARTIFACTS {
        let modified = if WATCHED.contains(path) {
            let until = backup - DAY;
            clock::unix_secs(quiet(w, rng, |_, r| until - r.random_range(0..90 * DAY)))
        } else {
            clock::unix_secs(backup - rng.random_range(MIN..50 * MIN))
        };
        w.prefs.push((
            domain,
            path,
            Times {
                birth: born,
                modified,
                changed: modified,
                mark: None,
            },
        ));
    }
}
