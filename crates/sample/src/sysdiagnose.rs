//! `sysdiagnose_<local date>_iPhone-OS_iPhone_<build>.tar.gz` with one top folder
//! holding `system_logs.logarchive/Extra/shutdown.log`, `crashes_and_spins/*.ips`,
//! `ps.txt` and `logs/powerlogs/*.PLSQL` (see `powerlog.rs`); and the `crashes/` folder of
//! legacy `.crash` reports.
//!
//! shutdown.log: per reboot, `After <N.NN>s, these clients are still here:` notices
//! each followed by tab-indented `remaining client pid: <PID> (<path>)` lines, closed by
//! `SIGTERM: [<Unix seconds>]` (the layout iShutdown and the EC-DIGIT sysdiagnose
//! parser read). `.ips` (bug_type 309, iOS 15+ layout): a one-line JSON header, then
//! the JSON report. The archive has fixed owners, modes and times and a fixed gzip
//! level so its bytes are reproducible.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use rand::Rng as _;
use serde::Serialize;
use serde_json::json;

use super::clock::{self, SEC};
use super::life::guid;
use super::model::{Crash, Truth, World};
use super::{io_err, rng_for, Case, Rng, SampleError};

pub fn folder_name(w: &World) -> String {
    let d = &w.device;
    let local = clock::local(d.sysdiagnose, d.tz);
    format!(
        "sysdiagnose_{}_iPhone-OS_iPhone_{}",
        local.format("%Y.%m.%d_%H-%M-%S%z"),
        d.build
    )
}

pub fn write(
    w: &World,
    case: Case,
    seed: u64,
    dir: &Path,
    truths: &mut Vec<Truth>,
) -> Result<(), SampleError> {
    let mut rng = rng_for(seed, case, "sysdiagnose");
    let top = folder_name(w);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();

    let log = "system_logs.logarchive/Extra/shutdown.log";
    files.push((
        format!("{top}/{log}"),
        shutdown_log(w, &format!("sysdiagnose/{log}"), truths).into_bytes(),
    ));

    let mut crashes: Vec<&Crash> = w
        .crashes
        .iter()
        .filter(|c| !c.legacy && c.us < w.device.sysdiagnose)
        .collect();
    crashes.sort_by_key(|c| c.us);
    for c in crashes {
        let name = format!(
            "{}-{}.ips",
            c.name,
            clock::local(c.us, w.device.tz).format("%Y-%m-%d-%H%M%S")
        );
        files.push((
            format!("{top}/crashes_and_spins/{name}"),
            ips(w, c, &mut rng).into_bytes(),
        ));
        if let Some(mark) = &c.mark {
            // The header keeps hundredths of a second.
            truths.push(Truth::new(
                format!("sysdiagnose/crashes_and_spins/{name}"),
                "file",
                c.us - c.us.rem_euclid(10_000),
                mark,
            ));
        }
    }
    files.push((format!("{top}/ps.txt"), ps(w, &mut rng).into_bytes()));
    files.push((
        format!("{top}/logs/MobileInstallation/mobile_installation.log"),
        install_log(w, &mut rng).into_bytes(),
    ));
    files.push((
        format!("{top}/logs/powerlogs/{}", super::powerlog::file_name(w)),
        super::powerlog::bytes(w, case, seed, dir, truths)?,
    ));

    let archive = dir.join(format!("{top}.tar.gz"));
    let bytes = tar_gz(&files, clock::unix_secs(w.device.sysdiagnose)).map_err(io_err(&archive))?;
    std::fs::write(&archive, bytes).map_err(io_err(&archive))
}

fn shutdown_log(w: &World, artifact: &str, truths: &mut Vec<Truth>) -> String {
    let mut reboots: Vec<_> = w
        .reboots
        .iter()
        .filter(|r| r.us < w.device.sysdiagnose)
        .collect();
    reboots.sort_by_key(|r| r.us);
    let mut out = String::new();
    let mut line = 0usize;
    for r in reboots {
        let mut client_marked = false;
        for (wait, clients) in &r.delays {
            out.push_str(&format!(
                "After {wait:.2}s, these clients are still here:\n"
            ));
            line += 1;
            for (pid, path) in clients {
                out.push_str(&format!("\t\tremaining client pid: {pid} ({path})\n"));
                line += 1;
                if let Some((p, mark)) = &r.client_mark {
                    if p == path && !client_marked {
                        client_marked = true;
                        truths.push(Truth::new(
                            artifact,
                            format!("line:{line}"),
                            r.us - r.us.rem_euclid(SEC),
                            mark,
                        ));
                    }
                }
            }
        }
        out.push_str(&format!("SIGTERM: [{}]\n", clock::unix_secs(r.us)));
        line += 1;
        if let Some(mark) = &r.mark {
            truths.push(Truth::new(
                artifact,
                format!("line:{line}"),
                r.us - r.us.rem_euclid(SEC),
                mark,
            ));
        }
    }
    out
}

fn image_path(name: &str) -> String {
    match name {
        "libdispatch.dylib" => "/usr/lib/system/libdispatch.dylib".into(),
        "libobjc.A.dylib" => "/usr/lib/libobjc.A.dylib".into(),
        "CoreGraphics" | "ImageIO" | "QuartzCore" | "CoreFoundation" => {
            format!("/System/Library/Frameworks/{name}.framework/{name}")
        }
        _ => format!("/System/Library/PrivateFrameworks/{name}.framework/{name}"),
    }
}

#[derive(Serialize)]
struct IpsHeader {
    app_name: String,
    timestamp: String,
    app_version: String,
    slice_uuid: String,
    build_version: String,
    platform: u32,
    #[serde(rename = "bundleID")]
    bundle_id: String,
    share_with_app_devs: u32,
    is_first_party: u32,
    bug_type: &'static str,
    os_version: String,
    roots_installed: u32,
    name: String,
    incident_id: String,
}

/// One crash in the iOS 15+ `.ips` layout.
fn ips(w: &World, c: &Crash, rng: &mut Rng) -> String {
    let d = &w.device;
    let (version, build) = d.os_at(c.us);
    let incident = guid(rng);
    let first_party = c.path.starts_with("/System") || c.path.starts_with("/Applications");
    let header = IpsHeader {
        app_name: c.name.clone(),
        timestamp: clock::crash_stamp(c.us, d.tz, 2),
        app_version: if first_party {
            String::new()
        } else {
            format!("{}.{}", rng.random_range(1..300), rng.random_range(0..20))
        },
        slice_uuid: guid(rng).to_lowercase(),
        build_version: if first_party {
            String::new()
        } else {
            rng.random_range(1000..99_999).to_string()
        },
        platform: 2,
        bundle_id: c.bundle.clone(),
        share_with_app_devs: 0,
        is_first_party: first_party as u32,
        bug_type: "309",
        os_version: format!("iPhone OS {version} ({build})"),
        roots_installed: 0,
        name: c.name.clone(),
        incident_id: incident.clone(),
    };
    let mut images: Vec<(String, String)> = vec![(c.name.clone(), c.path.clone())];
    for (image, _) in &c.frames {
        if !images.iter().any(|(n, _)| n == image) {
            images.push((image.to_string(), image_path(image)));
        }
    }
    let used_images: Vec<serde_json::Value> = images
        .iter()
        .map(|(name, path)| {
            json!({
                "source": "P",
                "arch": "arm64e",
                "base": rng.random_range(0x1_8000_0000u64..0x1_f000_0000) & !0xfff,
                "size": rng.random_range(0x10_000u64..0x800_000) & !0xfff,
                "uuid": guid(rng).to_lowercase(),
                "path": path,
                "name": name,
            })
        })
        .collect();
    let frames: Vec<serde_json::Value> = c
        .frames
        .iter()
        .map(|(image, symbol)| {
            json!({
                "imageOffset": rng.random_range(0x1000u64..0x400_000),
                "symbol": symbol,
                "symbolLocation": rng.random_range(4u64..900),
                "imageIndex": images.iter().position(|(n, _)| n == image).unwrap_or(0),
            })
        })
        .collect();
    let launched = c.us - rng.random_range(20 * SEC..3_600 * SEC);
    let mut exception = json!({
        "codes": "0x0000000000000001, 0x0000000000000000",
        "rawCodes": [1, 0],
        "type": c.exception,
        "signal": c.signal,
    });
    if !c.subtype.is_empty() {
        exception["subtype"] = json!(c.subtype);
    }
    let body = json!({
        "uptime": rng.random_range(3_000..900_000u64),
        "procRole": if first_party && c.path.contains("XPCServices") { "Unspecified" } else { "Foreground" },
        "version": 2,
        "userID": 501,
        "deployVersion": 210,
        "modelCode": d.product_type,
        "coalitionID": rng.random_range(100..2000u32),
        "osVersion": { "isEmbedded": true, "train": format!("iPhone OS {version}"), "releaseType": "User", "build": build },
        "captureTime": clock::crash_stamp(c.us, d.tz, 4),
        "incident": incident,
        "pid": c.pid,
        "cpuType": "ARM-64",
        "roots_installed": 0,
        "bug_type": "309",
        "procLaunch": clock::crash_stamp(launched, d.tz, 4),
        "procName": c.name,
        "procPath": c.path,
        "bundleInfo": { "CFBundleIdentifier": c.bundle },
        "parentProc": "launchd",
        "parentPid": 1,
        "coalitionName": c.bundle,
        "crashReporterKey": (0..40).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect::<String>(),
        "exception": exception,
        "termination": { "flags": 0, "code": 11, "namespace": "SIGNAL", "indicator": format!("{} {}", c.signal, c.exception), "byProc": "exc handler", "byPid": c.pid },
        "faultingThread": 0,
        "threads": [{ "triggered": true, "id": rng.random_range(10_000..900_000u64), "queue": "com.apple.main-thread", "frames": frames }],
        "usedImages": used_images,
    });
    let body = serde_json::to_string_pretty(&body).unwrap_or_default();
    format!(
        "{}\n{}\n",
        serde_json::to_string(&header).unwrap_or_default(),
        body
    )
}

/// `ps aux`-style process list at the time of the sysdiagnose.
fn ps(w: &World, rng: &mut Rng) -> String {
    let d = &w.device;
    let boot = w
        .reboots
        .iter()
        .map(|r| r.us)
        .filter(|&t| t < d.sysdiagnose)
        .max()
        .unwrap_or(d.span.0)
        + 40 * SEC;
    let started = {
        let l = clock::local(boot, d.tz);
        let age = d.sysdiagnose - boot;
        if age < clock::DAY {
            l.format("%l:%M%p").to_string().trim().to_string()
        } else if age < 7 * clock::DAY {
            l.format("%a%l%p").to_string().replace(' ', "")
        } else {
            l.format("%d%b%y").to_string()
        }
    };
    let procs: [(&str, u32, &str); 22] = [
        ("root", 0, "/sbin/launchd"),
        ("root", 0, "/usr/libexec/logd"),
        ("root", 0, "/usr/libexec/UserEventAgent (System)"),
        ("root", 0, "/usr/libexec/configd"),
        ("_mdnsresponder", 65, "/usr/sbin/mDNSResponder"),
        ("root", 0, "/usr/libexec/locationd"),
        ("mobile", 501, "/System/Library/CoreServices/SpringBoard.app/SpringBoard"),
        ("mobile", 501, "/usr/libexec/backboardd"),
        ("root", 0, "/System/Library/PrivateFrameworks/ApplePushService.framework/apsd"),
        ("mobile", 501, "/System/Library/PrivateFrameworks/IDS.framework/identityservicesd.app/identityservicesd"),
        ("mobile", 501, "/System/Library/PrivateFrameworks/IMCore.framework/imagent.app/imagent"),
        ("mobile", 501, "/System/Library/PrivateFrameworks/IMTransferServices.framework/IMTransferAgent.app/IMTransferAgent"),
        ("mobile", 501, "/usr/libexec/nsurlsessiond"),
        ("mobile", 501, "/System/Library/PrivateFrameworks/CloudKitDaemon.framework/Support/cloudd"),
        ("root", 0, "/usr/libexec/dasd"),
        ("mobile", 501, "/usr/libexec/lsd"),
        ("root", 0, "/usr/libexec/nfcd"),
        ("mobile", 501, "/System/Library/PrivateFrameworks/MediaRemote.framework/Support/mediaremoted"),
        ("_wireless", 25, "/System/Library/Frameworks/CoreTelephony.framework/Support/CommCenter"),
        ("root", 0, "/usr/sbin/wifid"),
        ("mobile", 501, "/usr/libexec/sharingd"),
        ("root", 0, "/usr/bin/sysdiagnose"),
    ];
    let mut out = String::from(
        "USER               UID PRSNA   PID  PPID        F  %CPU %MEM PRI NI      VSZ    RSS WCHAN    TT  STAT STARTED      TIME COMMAND\n",
    );
    let mut pid = 1u32;
    for (i, (user, uid, cmd)) in procs.iter().enumerate() {
        let ppid = if i == 0 { 0 } else { 1 };
        let last = i == procs.len() - 1;
        let cpu = if last {
            12.4
        } else {
            rng.random_range(0.0..1.5f64)
        };
        let mem = rng.random_range(0.1..2.5f64);
        out.push_str(&format!(
            "{user:<16} {uid:>5} {:>5} {pid:>5} {ppid:>5} {:>8} {cpu:>5.1} {mem:>4.1} {:>3} {:>2} {:>8} {:>6} {:<8} {:>3}  {:<4} {started:<8} {:>9} {cmd}\n",
            "-",
            "4004",
            if *uid == 0 { 31 } else { 4 },
            0,
            rng.random_range(4_000_000..4_500_000u32),
            rng.random_range(2_000..90_000u32),
            "-",
            "??",
            if last { "Rs" } else { "Ss" },
            format!("{}:{:02}.{:02}", rng.random_range(0..9), rng.random_range(0..60), rng.random_range(0..100)),
        ));
        pid += rng.random_range(1..60);
    }
    out
}

/// installd's log in the real grammar (`Wed Aug 11 05:51:02 2021 [176] <notice>
/// (0x16bae7000) <method>: <message>`, local time, `%e` day padded with a space): a data
/// container made live for each app the phone used in its last two weeks, and the
/// validation errors every boot logs for system bundles.
fn install_log(w: &World, rng: &mut Rng) -> String {
    let d = &w.device;
    let mut bundles: Vec<&str> = w
        .processes
        .iter()
        .filter_map(|p| p.bundle.as_deref())
        .filter(|b| !b.contains("datausage") && b.contains('.'))
        .collect();
    bundles.sort_unstable();
    bundles.dedup();
    let mut entries: Vec<(i64, String)> = Vec::new();
    for b in bundles.iter().take(12) {
        let us = d.sysdiagnose - rng.random_range(SEC..14 * clock::DAY);
        entries.push((
            us,
            format!(
                "<notice> (0x16bae7000) -[MIContainer makeContainerLiveReplacingContainer:reason:waitForDeletion:withError:]: Made container live for {b} at /private/var/mobile/Containers/Data/Application/{}",
                guid(rng)
            ),
        ));
    }
    for fw in ["NanoPhotosCore", "CoreDuetContext"] {
        let us = d.sysdiagnose - rng.random_range(SEC..14 * clock::DAY);
        entries.push((
            us,
            format!(
                "<err> (0x16bae7000) -[MIBundle _validateWithError:]: 47: Failed to load Info.plist from bundle at path /System/Library/PrivateFrameworks/{fw}.framework"
            ),
        ));
    }
    entries.sort_by_key(|e| e.0);
    let mut out = String::new();
    for (us, rest) in entries {
        let l = clock::local(us, d.tz);
        out.push_str(&format!(
            "{} [176] {rest}\n",
            l.format("%a %b %e %H:%M:%S %Y")
        ));
    }
    out
}

/// A ustar/GNU archive of `files` (parents created as folder entries), every entry
/// owned by root:wheel with the same mtime, gzip level 6 with a fixed header time.
fn tar_gz(files: &[(String, Vec<u8>)], mtime: i64) -> std::io::Result<Vec<u8>> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for (path, _) in files {
        let mut p = path.as_str();
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            dirs.insert(format!("{p}/"));
        }
    }
    let mut entries: Vec<(String, Option<&[u8]>)> = dirs.into_iter().map(|d| (d, None)).collect();
    entries.extend(files.iter().map(|(p, b)| (p.clone(), Some(b.as_slice()))));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime.max(0) as u64);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")?;
        h.set_groupname("wheel")?;
        match data {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                tar.append_data(&mut h, &path, std::io::empty())?;
            }
            Some(bytes) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(bytes.len() as u64);
                tar.append_data(&mut h, &path, bytes)?;
            }
        }
    }
    let raw = tar.into_inner()?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(mtime.max(0) as u32)
        .write(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&raw)?;
    gz.finish()
}

/// `crashes/`: the legacy text reports copied off the phone.
pub fn write_crash_folder(w: &World, case: Case, seed: u64, dir: &Path) -> Result<(), SampleError> {
    let mut legacy: Vec<&Crash> = w.crashes.iter().filter(|c| c.legacy).collect();
    if legacy.is_empty() {
        return Ok(());
    }
    legacy.sort_by_key(|c| c.us);
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut rng = rng_for(seed, case, "crash-folder");
    for c in legacy {
        let name = format!(
            "{}-{}.crash",
            c.name,
            clock::local(c.us, w.device.tz).format("%Y-%m-%d-%H%M%S")
        );
        let path = dir.join(name);
        std::fs::write(&path, legacy_report(w, c, &mut rng)).map_err(io_err(&path))?;
    }
    Ok(())
}

fn legacy_report(w: &World, c: &Crash, rng: &mut Rng) -> String {
    let d = &w.device;
    let (version, build) = d.os_at(c.us);
    let launched = c.us - rng.random_range(30 * SEC..1_800 * SEC);
    let mut images: Vec<(&str, String)> = vec![(c.name.as_str(), c.path.clone())];
    for (image, _) in &c.frames {
        if !images.iter().any(|(n, _)| n == image) {
            images.push((image, image_path(image)));
        }
    }
    let bases: Vec<u64> = images
        .iter()
        .map(|_| rng.random_range(0x1_8000_0000u64..0x1_f000_0000) & !0xfff)
        .collect();
    let mut s = String::new();
    s.push_str(&format!("Incident Identifier: {}\n", guid(rng)));
    s.push_str(&format!(
        "CrashReporter Key:   {}\n",
        (0..40)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect::<String>()
    ));
    s.push_str(&format!("Hardware Model:      {}\n", d.product_type));
    s.push_str(&format!("Process:             {} [{}]\n", c.name, c.pid));
    s.push_str(&format!("Path:                {}\n", c.path));
    s.push_str(&format!("Identifier:          {}\n", c.bundle));
    s.push_str(&format!(
        "Version:             {}.{} ({})\n",
        rng.random_range(1..20),
        rng.random_range(0..10),
        rng.random_range(100..9000)
    ));
    s.push_str("Code Type:           ARM-64 (Native)\n");
    s.push_str("Role:                Foreground\n");
    s.push_str("Parent Process:      launchd [1]\n");
    s.push_str(&format!(
        "Coalition:           {} [{}]\n\n",
        c.bundle,
        rng.random_range(100..2000)
    ));
    s.push_str(&format!(
        "Date/Time:           {}\n",
        clock::crash_stamp(c.us, d.tz, 4)
    ));
    s.push_str(&format!(
        "Launch Time:         {}\n",
        clock::crash_stamp(launched, d.tz, 4)
    ));
    s.push_str(&format!(
        "OS Version:          iPhone OS {version} ({build})\n"
    ));
    s.push_str("Release Type:        User\n");
    s.push_str("Baseband Version:    3.02.01\n");
    s.push_str("Report Version:      104\n\n");
    s.push_str(&format!(
        "Exception Type:  {} ({})\n",
        c.exception, c.signal
    ));
    if !c.subtype.is_empty() {
        s.push_str(&format!("Exception Subtype: {}\n", c.subtype));
    }
    s.push_str(&format!(
        "Termination Reason: SIGNAL; [{}]\n",
        if c.signal == "SIGSEGV" { 11 } else { 6 }
    ));
    s.push_str("Triggered by Thread:  0\n\n");
    s.push_str("Thread 0 name:  Dispatch queue: com.apple.main-thread\nThread 0 Crashed:\n");
    for (n, (image, symbol)) in c.frames.iter().enumerate() {
        let i = images.iter().position(|(m, _)| m == image).unwrap_or(0);
        let off = rng.random_range(0x1000u64..0x400_000);
        s.push_str(&format!(
            "{n:<4}{image:<30}\t0x{:016x} {symbol} + {}\n",
            bases[i] + off,
            rng.random_range(4..900)
        ));
    }
    s.push_str("\nBinary Images:\n");
    for (i, (name, path)) in images.iter().enumerate() {
        let size = rng.random_range(0x10_000u64..0x800_000) & !0xfff;
        s.push_str(&format!(
            "0x{:x} - 0x{:x} {name} arm64e  <{}> {path}\n",
            bases[i],
            bases[i] + size - 1,
            guid(rng).to_lowercase().replace('-', "")
        ));
    }
    s.push_str("\nEOF\n");
    s
}
