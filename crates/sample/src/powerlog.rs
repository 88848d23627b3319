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
use super::model::{Mark, Role, Truth, World};
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

/// The PowerLog's bytes, built in `scratch` (a file there is created and removed). The
/// launch and the first traffic interval of each planted process go to TRUTH.json as
/// context (near misses stay near misses): the built-in chain rules other than
/// `powerlog_new_process` do not read PowerLog, so not every case's chain can hold them.
pub fn bytes(
    w: &World,
    case: Case,
    seed: u64,
    scratch: &Path,
    truths: &mut Vec<Truth>,
) -> Result<Vec<u8>, SampleError> {
    let path = scratch.join(format!(".powerlog-{}.PLSQL", case.name()));
    if path.exists() {
        std::fs::remove_file(&path).map_err(io_err(&path))?;
    }
    {
        let conn = rusqlite::Connection::open(&path).map_err(sql_err(&path))?;
        let artifact = format!("sysdiagnose/logs/powerlogs/{}", file_name(w));
        fill(&conn, w, case, seed, &artifact, truths).map_err(sql_err(&path))?;
        conn.execute_batch("VACUUM;").map_err(sql_err(&path))?;
    }
    let out = std::fs::read(&path).map_err(io_err(&path))?;
    std::fs::remove_file(&path).map_err(io_err(&path))?;
    Ok(out)
}

/// (true time, bundle, coalition, pid, name, index of the DataUsage process).
type Launch = (i64, Option<String>, i64, i64, String, Option<usize>);

/// The instant chainline shows for a raw PowerLog time (offset added, microseconds).
fn shown(raw: f64, offset: f64) -> i64 {
    ((raw + offset) * 1e6).round() as i64
}

/// A planted process's PowerLog row as TRUTH.json names it.
fn planted(w: &World, process: usize, what: String) -> Option<Mark> {
    let m = w.processes.get(process)?.mark.as_ref()?;
    let role = if m.role == Role::NearMiss {
        Role::NearMiss
    } else {
        Role::Context
    };
    Mark::new(role, m.class, what)
}

fn fill(
    conn: &rusqlite::Connection,
    w: &World,
    case: Case,
    seed: u64,
    artifact: &str,
    truths: &mut Vec<Truth>,
) -> rusqlite::Result<()> {
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

    // (true time, bundle, coalition, pid, name, process) of each launch; apps also change
    // state.
    let mut launches: Vec<Launch> = Vec::new();
    for day in 0..DAYS {
        for d in DAEMONS {
            let t = start + day * DAY + rng.random_range(0..DAY);
            launches.push((
                t,
                None,
                rng.random_range(100..600),
                rng.random_range(150..9000),
                d.to_string(),
                None,
            ));
        }
    }
    let mut seen_day: std::collections::BTreeSet<(usize, i64)> = Default::default();
    let mut intervals = Vec::new();
    for u in w.usages.iter().filter(|u| u.us >= start && u.us < end) {
        let p = &w.processes[u.process];
        let name = p.procname.split('/').next().unwrap_or("").to_string();
        let mut launched = None;
        if seen_day.insert((u.process, (u.us - start) / DAY)) {
            // Launched shortly before the traffic PowerLog then attributes to it.
            let t = u.us - rng.random_range(5..60) * SEC;
            launched = Some(t);
            launches.push((
                t,
                p.bundle.clone(),
                rng.random_range(100..600),
                rng.random_range(150..9000),
                name.clone(),
                Some(u.process),
            ));
        }
        // The interval that holds the traffic; a process's first one starts after its launch.
        let mut from = u.us - rng.random_range(0..300) * SEC;
        if let Some(t) = launched {
            from = from.max(t + SEC);
        }
        intervals.push((from, from + 300 * SEC, p.bundle.clone(), name, u));
    }
    launches.sort_by(|a, b| a.0.cmp(&b.0).then(a.4.cmp(&b.4)));
    {
        let mut stmt = conn.prepare("INSERT INTO PLProcessMonitorAgent_EventForward_ProcessID (timestamp, BundleID, CoalitionID, PID, ProcessName) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut app = conn.prepare("INSERT INTO PLApplicationAgent_EventForward_Application (timestamp, Identifier, pid, State, Reason) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut first_launch = std::collections::BTreeSet::new();
        for (t, bundle, coalition, pid, name, process) in &launches {
            stmt.execute(params![raw(*t), bundle, coalition, pid, name])?;
            let id = conn.last_insert_rowid();
            if let Some(m) = process
                .filter(|p| first_launch.insert(*p))
                .and_then(|p| planted(w, p, format!("PowerLog: launch of {name}")))
            {
                truths.push(Truth::new(
                    artifact,
                    format!("{}:{id}", chainline::sources::powerlog::LAUNCHES),
                    shown(raw(*t), offset),
                    &m,
                ));
            }
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
        let mut first_interval = std::collections::BTreeSet::new();
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
            let id = conn.last_insert_rowid();
            if let Some(m) = Some(u.process)
                .filter(|p| first_interval.insert(*p))
                .and_then(|p| planted(w, p, format!("PowerLog: first traffic interval of {name}")))
            {
                truths.push(Truth::new(
                    artifact,
                    format!("{}:{id}", chainline::sources::powerlog::TRAFFIC),
                    shown(raw(*from), offset),
                    &m,
                ));
            }
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
