//! `logs/powerlogs/powerlog_<local time>_<id>.PLSQL` of the sample sysdiagnose: the four
//! PowerLog tables chainline reads and the clock-offset table, with the tables and columns
//! of the real file (`plaso_ios/powerlog_2021-12-16_05-54_84E2141B.PLSQL`, build 19A404).
//! It covers the last days before the sysdiagnose (PowerLog keeps days, not months): a
//! launch for each process the day it first used the network, a traffic interval per
//! DataUsage row (so the implant of a case is launched minutes after the message and its
//! first traffic interval follows), routine daemons launched every day, coalition intervals
//! and app state changes as noise. Times are written on the device's system clock: the
//! true instant minus the recorded `system` offset.

use std::path::Path;

use rand::Rng as _;
use rusqlite::params;

use super::clock::{self, DAY, MIN, SEC};
use super::model::World;
use super::{io_err, rng_for, sql_err, Case, SampleError};

/// The days before the sysdiagnose that the PowerLog covers.
const DAYS: i64 = 10;

const SCHEMA: &str = "
CREATE TABLE 'PLProcessMonitorAgent_EventForward_ProcessID' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'BundleID' TEXT, 'CoalitionID' INTEGER, 'PID' INTEGER, 'ProcessName' TEXT);
CREATE TABLE 'PLProcessNetworkAgent_EventInterval_UsageDiff' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'BundleName' TEXT, 'CellIn' INTEGER, 'CellOut' INTEGER, 'ProcessName' TEXT, 'WifiIn' INTEGER, 'WifiOut' INTEGER, 'timestampEnd' REAL);
CREATE TABLE 'PLCoalitionAgent_EventInterval_CoalitionInterval' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'BundleId' TEXT, 'LaunchdCoalitionId' INTEGER, 'LaunchdName' TEXT, 'bytesread' REAL, 'byteswritten' REAL, 'cpu_instructions' INTEGER, 'cpu_ptime' REAL, 'cpu_time' REAL, 'cpu_time_billed_to_me' REAL, 'cpu_time_billed_to_others' REAL, 'cpu_time_eqos_0' REAL, 'cpu_time_eqos_1' REAL, 'cpu_time_eqos_2' REAL, 'cpu_time_eqos_3' REAL, 'cpu_time_eqos_4' REAL, 'cpu_time_eqos_5' REAL, 'cpu_time_eqos_6' REAL, 'energy' INTEGER, 'energy_billed_to_me' INTEGER, 'energy_billed_to_others' INTEGER, 'gpu_time' REAL, 'interrupt_wakeups' REAL, 'logical_deferred_writes' REAL, 'logical_immediate_writes' REAL, 'logical_invalidated_writes' REAL, 'logical_metadata_writes' REAL, 'platform_idle_wakeups' REAL, 'tasks_exited' REAL, 'tasks_started' REAL, 'time_nonempty' REAL, 'timestampEnd' REAL);
CREATE TABLE 'PLApplicationAgent_EventForward_Application' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'Identifier' TEXT, 'pid' INTEGER, 'State' INTEGER, 'Reason' INTEGER);
CREATE TABLE 'PLStorageOperator_EventForward_TimeOffset' ('ID' INTEGER PRIMARY KEY AUTOINCREMENT, 'timestamp' REAL, 'baseband' REAL, 'kernel' REAL, 'system' REAL);
";

/// Daemons without a bundle id that the real file shows launching, launched every day.
const DAEMONS: [&str; 6] = [
    "symptomsd-diag",
    "ThreeBarsXPCService",
    "WiFiCloudAssetsXPCService",
    "coreauthd",
    "HeuristicInterpreter",
    "com.apple.datamigrator",
];

/// launchd jobs whose coalition intervals the real file records.
const COALITIONS: [(&str, i64); 3] = [
    ("com.apple.powerlogHelperd", 462),
    ("com.apple.chronod", 173),
    ("com.apple.mediaanalysisd.service", 484),
];

pub fn file_name(w: &World) -> String {
    let local = clock::local(w.device.sysdiagnose, w.device.tz);
    format!("powerlog_{}_84E2141B.PLSQL", local.format("%Y-%m-%d_%H-%M"))
}

/// The PowerLog's bytes, built in `scratch` (a file there is created and removed).
pub fn bytes(w: &World, case: Case, seed: u64, scratch: &Path) -> Result<Vec<u8>, SampleError> {
    let path = scratch.join(format!(".powerlog-{}.PLSQL", case.name()));
    if path.exists() {
        std::fs::remove_file(&path).map_err(io_err(&path))?;
    }
    {
        let conn = rusqlite::Connection::open(&path).map_err(sql_err(&path))?;
        fill(&conn, w, case, seed).map_err(sql_err(&path))?;
        conn.execute_batch("VACUUM;").map_err(sql_err(&path))?;
    }
    let out = std::fs::read(&path).map_err(io_err(&path))?;
    std::fs::remove_file(&path).map_err(io_err(&path))?;
    Ok(out)
}

fn fill(conn: &rusqlite::Connection, w: &World, case: Case, seed: u64) -> rusqlite::Result<()> {
    let mut rng = rng_for(seed, case, "powerlog");
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096;")?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch("BEGIN")?;
    let end = w.device.sysdiagnose;
    let start = end - DAYS * DAY;
    // The system clock runs ahead of the true time by a few minutes; PowerLog records it.
    let offset = -(rng.random_range(300..700) as f64) - rng.random_range(0..1000) as f64 / 1000.0;
    let raw = |us: i64| us as f64 / 1e6 - offset;
    conn.execute(
        "INSERT INTO PLStorageOperator_EventForward_TimeOffset (timestamp, baseband, kernel, system) VALUES (?1, ?2, ?3, ?4)",
        params![raw(start - MIN), 0.0389959812164307, -1571153284.12367, offset],
    )?;

    // (true time, bundle, coalition, pid, name) of each launch; apps also change state.
    let mut launches: Vec<(i64, Option<String>, i64, i64, String)> = Vec::new();
    for day in 0..DAYS {
        for d in DAEMONS {
            let t = start + day * DAY + rng.random_range(0..DAY);
            launches.push((
                t,
                None,
                rng.random_range(100..600),
                rng.random_range(150..9000),
                d.to_string(),
            ));
        }
    }
    let mut seen_day: std::collections::BTreeSet<(usize, i64)> = Default::default();
    let mut intervals = Vec::new();
    for u in w.usages.iter().filter(|u| u.us >= start && u.us < end) {
        let p = &w.processes[u.process];
        let name = p.procname.split('/').next().unwrap_or("").to_string();
        if seen_day.insert((u.process, (u.us - start) / DAY)) {
            // Launched shortly before the traffic PowerLog then attributes to it.
            launches.push((
                u.us - rng.random_range(5..60) * SEC,
                p.bundle.clone(),
                rng.random_range(100..600),
                rng.random_range(150..9000),
                name.clone(),
            ));
        }
        let from = u.us - rng.random_range(0..300) * SEC;
        intervals.push((from, from + 300 * SEC, p.bundle.clone(), name, u));
    }
    launches.sort_by(|a, b| a.0.cmp(&b.0).then(a.4.cmp(&b.4)));
    {
        let mut stmt = conn.prepare("INSERT INTO PLProcessMonitorAgent_EventForward_ProcessID (timestamp, BundleID, CoalitionID, PID, ProcessName) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut app = conn.prepare("INSERT INTO PLApplicationAgent_EventForward_Application (timestamp, Identifier, pid, State, Reason) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (t, bundle, coalition, pid, name) in &launches {
            stmt.execute(params![raw(*t), bundle, coalition, pid, name])?;
            if let Some(b) = bundle.as_deref().filter(|b| !b.starts_with("com.apple.")) {
                app.execute(params![raw(*t + SEC), b, pid, 4, 0])?;
                app.execute(params![
                    raw(*t + rng.random_range(60..900) * SEC),
                    b,
                    pid,
                    2,
                    0
                ])?;
            }
        }
    }
    intervals.sort_by_key(|i| i.0);
    {
        let mut stmt = conn.prepare("INSERT INTO PLProcessNetworkAgent_EventInterval_UsageDiff (timestamp, BundleName, CellIn, CellOut, ProcessName, WifiIn, WifiOut, timestampEnd) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
        for (from, to, bundle, name, u) in &intervals {
            stmt.execute(params![
                raw(*from),
                bundle,
                u.wwan_in as i64,
                u.wwan_out as i64,
                name,
                u.wifi_in as i64,
                u.wifi_out as i64,
                raw(*to),
            ])?;
        }
    }
    {
        let mut stmt = conn.prepare("INSERT INTO PLCoalitionAgent_EventInterval_CoalitionInterval (timestamp, BundleId, LaunchdCoalitionId, LaunchdName, bytesread, byteswritten, cpu_instructions, cpu_time, tasks_exited, tasks_started, timestampEnd) VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
        let mut t = start;
        while t < end {
            for (name, id) in COALITIONS {
                let tasks = rng.random_range(1..9) as f64;
                stmt.execute(params![
                    raw(t),
                    id,
                    name,
                    rng.random_range(0..20_000_000) as f64,
                    rng.random_range(0..4_000_000) as f64,
                    rng.random_range(1_000_000..9_000_000_000i64),
                    rng.random_range(0..5000) as f64 / 1000.0,
                    tasks,
                    tasks,
                    raw(t + 6 * 3600 * SEC),
                ])?;
            }
            t += 6 * 3600 * SEC;
        }
    }
    conn.execute_batch("COMMIT")
}
