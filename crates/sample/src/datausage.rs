//! WirelessDomain `Library/Databases/DataUsage.sqlite`: the Core Data store of
//! per-process network usage. Tables and columns are those of the real file in MVT's
//! test backup, including the Core Data bookkeeping (`Z_PRIMARYKEY` with each entity's
//! `Z_MAX`, `Z_METADATA` holding the store's model hashes, `Z_MODELCACHE`). Times are
//! Cocoa seconds stored as REAL.

use std::io::Write;
use std::path::Path;

use plist::{Dictionary, Value};
use rand::Rng as _;
use rusqlite::params;

use super::backup::{create_db, finish_db};
use super::clock;
use super::model::{Truth, World};
use super::{rng_for, sql_err, Case, SampleError};

pub const ARTIFACT: &str = "WirelessDomain/Library/Databases/DataUsage.sqlite";

const SCHEMA: &str = "
CREATE TABLE ZCHECKUPEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZTIMESTAMP TIMESTAMP, ZSYNDROMEID VARCHAR );
CREATE TABLE ZDEMOLIVEUSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZINCARNATION INTEGER, ZWIFIIN INTEGER, ZWIFIOUT INTEGER, ZWWANIN INTEGER, ZWWANOUT INTEGER, ZTIMESTAMP TIMESTAMP );
CREATE TABLE ZEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZHAPPENEDONNET INTEGER, ZHASPEER INTEGER, ZHASSCENE INTEGER, ZRFU1 FLOAT, ZRFU2 FLOAT, ZRFU3 FLOAT, ZRFU4 FLOAT, ZRFU5 FLOAT, ZTIMESTAMP TIMESTAMP, ZFAILUREIMPACT VARCHAR, ZFAILURESTRING VARCHAR, ZSYNDROMEID VARCHAR );
CREATE TABLE ZEVENTSCENE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZLINKQUALITY INTEGER, ZRSSI INTEGER, ZWITHEVENT INTEGER, ZCOURSE FLOAT, ZLATITUDE FLOAT, ZLOCACCURACY FLOAT, ZLONGITUDE FLOAT, ZRFU1 FLOAT, ZRFU3 FLOAT, ZSPEED FLOAT );
CREATE TABLE ZLIVEUSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER, ZMETADATA INTEGER, ZTAG INTEGER, ZHASPROCESS INTEGER, ZBILLCYCLEEND TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZWIFIIN FLOAT, ZWIFIOUT FLOAT, ZWWANIN FLOAT, ZWWANOUT FLOAT );
CREATE TABLE ZPEER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZADDRESS INTEGER, ZDSTPORT INTEGER, ZWITHEVENT INTEGER, ZRFU1 FLOAT, ZRFU2 FLOAT, ZRFU3 FLOAT, ZRFU4 FLOAT, ZRFU5 FLOAT, ZTIMESTAMP TIMESTAMP, ZFQDN VARCHAR );
CREATE TABLE ZPROCESS ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, ZPROCNAME VARCHAR );
CREATE TABLE ZTSHOOTINGDATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZWITHCHECKUPEVENT INTEGER, ZWITHEVENT INTEGER, ZTIMESTAMP TIMESTAMP, ZPROVIDERS BLOB );
CREATE TABLE ZWIFIDATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZISADHOC INTEGER, ZISCAPTIVE INTEGER, ZISLINKLOCALADDR INTEGER, ZLINKQUALITY INTEGER, ZSTATE INTEGER, ZSTATSTCPCNTACTUAL INTEGER, ZSTATSTCPCNTBASE INTEGER, ZTIMEAT INTEGER, ZDHCPLEASETIME FLOAT, ZLATITUDE FLOAT, ZLOCACCURACY FLOAT, ZLONGITUDE FLOAT, ZRFU1 FLOAT, ZRFU2 FLOAT, ZRFU3 FLOAT, ZRSSI FLOAT, ZSTATSINBYTESACTUAL FLOAT, ZSTATSINBYTESBASE FLOAT, ZSTATSOUTBYTESACTUAL FLOAT, ZSTATSOUTBYTESBASE FLOAT, ZTIMESTAMP TIMESTAMP, ZBSSID VARCHAR, ZSSID VARCHAR );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
CREATE INDEX ZEVENT_ZHAPPENEDONNET_INDEX ON ZEVENT (ZHAPPENEDONNET);
CREATE INDEX ZEVENT_ZHASPEER_INDEX ON ZEVENT (ZHASPEER);
CREATE INDEX ZEVENT_ZHASSCENE_INDEX ON ZEVENT (ZHASSCENE);
CREATE INDEX ZEVENTSCENE_ZWITHEVENT_INDEX ON ZEVENTSCENE (ZWITHEVENT);
CREATE INDEX ZLIVEUSAGE_ZHASPROCESS_INDEX ON ZLIVEUSAGE (ZHASPROCESS);
CREATE INDEX ZPEER_ZWITHEVENT_INDEX ON ZPEER (ZWITHEVENT);
CREATE INDEX ZTSHOOTINGDATA_ZWITHCHECKUPEVENT_INDEX ON ZTSHOOTINGDATA (ZWITHCHECKUPEVENT);
CREATE INDEX ZTSHOOTINGDATA_ZWITHEVENT_INDEX ON ZTSHOOTINGDATA (ZWITHEVENT);
";

/// Core Data entity numbers (Z_ENT) in the order of the model.
const ENTITIES: [&str; 9] = [
    "CheckUpEvent",
    "DemoLiveUsage",
    "Event",
    "EventScene",
    "LiveUsage",
    "Peer",
    "Process",
    "TshootingData",
    "WiFiData",
];
const LIVE_USAGE: i64 = 5;
const PROCESS: i64 = 7;

pub fn write(
    w: &World,
    case: Case,
    seed: u64,
    path: &Path,
    truths: &mut Vec<Truth>,
) -> Result<(), SampleError> {
    let mut rng = rng_for(seed, case, "datausage-store");
    let mut conn = create_db(path)?;
    let e = sql_err(path);
    conn.execute_batch(SCHEMA).map_err(&e)?;
    let tx = conn.transaction().map_err(&e)?;
    {
        let mut order: Vec<usize> = (0..w.processes.len())
            .filter(|&i| !w.processes[i].deleted)
            .collect();
        order.sort_by_key(|&i| w.processes[i].pk);
        let mut stmt = tx
            .prepare("INSERT INTO ZPROCESS (Z_PK, Z_ENT, Z_OPT, ZFIRSTTIMESTAMP, ZTIMESTAMP, ZBUNDLENAME, ZPROCNAME) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .map_err(&e)?;
        for i in order {
            let p = &w.processes[i];
            let opt = if p.last > p.first {
                rng.random_range(2..40)
            } else {
                1
            };
            stmt.execute(params![
                p.pk,
                PROCESS,
                opt,
                clock::cocoa_f64(p.first),
                clock::cocoa_f64(p.last),
                p.bundle,
                p.procname
            ])
            .map_err(&e)?;
            if let Some(mark) = &p.mark {
                truths.push(Truth::new(
                    ARTIFACT,
                    format!("ZPROCESS:{}", p.pk),
                    p.first,
                    mark,
                ));
            }
        }
        let live = live_rows(w);
        let mut stmt = tx
            .prepare(
                "INSERT INTO ZLIVEUSAGE (Z_PK, Z_ENT, Z_OPT, ZKIND, ZMETADATA, ZTAG, ZHASPROCESS, ZBILLCYCLEEND, ZTIMESTAMP, ZWIFIIN, ZWIFIOUT, ZWWANIN, ZWWANOUT)
                 VALUES (?1, ?2, ?3, 0, 0, ?4, ?5, NULL, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(&e)?;
        for r in &live.rows {
            let p = &w.processes[r.process];
            let [wifi_in, wifi_out, wwan_in, wwan_out] = r.counters;
            stmt.execute(params![
                r.pk,
                LIVE_USAGE,
                r.updates.min(i64::from(u16::MAX)),
                rng.random_range(1..3),
                p.pk,
                clock::cocoa_f64(r.us),
                wifi_in.round(),
                wifi_out.round(),
                wwan_in.round(),
                wwan_out.round()
            ])
            .map_err(&e)?;
            if let Some(mark) = &r.mark {
                truths.push(Truth::new(
                    ARTIFACT,
                    format!("ZLIVEUSAGE:{}", r.pk),
                    r.us,
                    mark,
                ));
            }
        }
        let mut stmt = tx
            .prepare(
                "INSERT INTO Z_PRIMARYKEY (Z_ENT, Z_NAME, Z_SUPER, Z_MAX) VALUES (?1, ?2, 0, ?3)",
            )
            .map_err(&e)?;
        for (i, name) in ENTITIES.iter().enumerate() {
            let ent = i as i64 + 1;
            let max = match ent {
                LIVE_USAGE => live.z_max,
                PROCESS => w.max_process,
                _ => 0,
            };
            stmt.execute(params![ent, name, max]).map_err(&e)?;
        }
        let uuid = super::life::guid(&mut rng);
        tx.execute(
            "INSERT INTO Z_METADATA (Z_VERSION, Z_UUID, Z_PLIST) VALUES (1, ?1, ?2)",
            params![uuid, metadata(&mut rng)],
        )
        .map_err(&e)?;
        tx.execute(
            "INSERT INTO Z_MODELCACHE (Z_CONTENT) VALUES (?1)",
            params![model_cache()],
        )
        .map_err(&e)?;
    }
    tx.commit().map_err(&e)?;
    finish_db(conn, path)
}

/// How long one ZLIVEUSAGE row keeps being updated before the process gets a new one,
/// and how long rows are kept after their last update. Apple documents neither; the real
/// iOS 16 file (plaso's DataUsage.sqlite) shows a few rows per process (887 rows for 371
/// processes), all updated within its last ~40 days, and a LiveUsage Z_MAX about twice
/// its row count (older rows rotated away). The MVT iOS 14.3 backup keeps 10 rows for 40
/// processes. These two durations give that shape; `tests` compare it with the plaso file.
const ROW_SPAN: i64 = 14 * clock::DAY;
const RETENTION: i64 = 42 * clock::DAY;

/// One ZLIVEUSAGE row as iOS keeps it: counters summed in place, `us` the last update.
#[derive(Debug, Clone)]
pub struct LiveRow {
    pub pk: i64,
    pub process: usize,
    created: i64,
    pub us: i64,
    /// wifi in/out, wwan in/out.
    pub counters: [f64; 4],
    /// Saves of the row (Core Data's Z_OPT).
    pub updates: i64,
    pub mark: Option<super::model::Mark>,
}

pub struct LiveRows {
    pub rows: Vec<LiveRow>,
    /// Every row ever created (Z_PRIMARYKEY.Z_MAX), rotated ones included.
    pub z_max: i64,
}

/// Folds the world's individual network uses into the rows iOS would hold: each use
/// adds to its process's open row (a new row after [`ROW_SPAN`]); rows last updated more
/// than [`RETENTION`] before the newest use are rotated away. A planted use gets a row of
/// its own that no later use updates and that is never rotated, so its time is the
/// planted one; rows of a deleted process (Amnesty's orphans) are kept.
pub fn live_rows(w: &World) -> LiveRows {
    let mut order: Vec<usize> = (0..w.usages.len()).collect();
    order.sort_by_key(|&i| (w.usages[i].us, i));
    let mut rows: Vec<LiveRow> = Vec::new();
    let mut open: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for i in order {
        let u = &w.usages[i];
        let add = [u.wifi_in, u.wifi_out, u.wwan_in, u.wwan_out];
        if u.mark.is_none() {
            if let Some(&r) = open.get(&u.process) {
                let row = &mut rows[r];
                if u.us - row.created < ROW_SPAN {
                    for (c, a) in row.counters.iter_mut().zip(add) {
                        *c += a;
                    }
                    row.us = u.us;
                    row.updates += 1;
                    continue;
                }
            }
        }
        let r = rows.len();
        rows.push(LiveRow {
            pk: r as i64 + 1,
            process: u.process,
            created: u.us,
            us: u.us,
            counters: add,
            updates: 1,
            mark: u.mark.clone(),
        });
        if u.mark.is_none() {
            open.insert(u.process, r);
        } else {
            open.remove(&u.process);
        }
    }
    let z_max = rows.len() as i64;
    let newest = rows.iter().map(|r| r.us).max().unwrap_or(0);
    rows.retain(|r| {
        r.mark.is_some() || w.processes[r.process].deleted || newest - r.us <= RETENTION
    });
    LiveRows { rows, z_max }
}

/// The store metadata Core Data keeps in `Z_METADATA.Z_PLIST` (a binary plist).
fn metadata(rng: &mut super::Rng) -> Vec<u8> {
    let mut hashes = Dictionary::new();
    for name in ENTITIES {
        let h: [u8; 32] = rng.random();
        hashes.insert(name.into(), Value::Data(h.to_vec()));
    }
    let digest: [u8; 64] = rng.random();
    let mut d = Dictionary::new();
    d.insert(
        "NSStoreModelVersionIdentifiers".into(),
        Value::Array(vec![Value::String("1".into())]),
    );
    d.insert("NSStoreType".into(), Value::String("SQLite".into()));
    d.insert("_NSAutoVacuumLevel".into(), Value::String("2".into()));
    d.insert(
        "NSStoreModelVersionHashesDigest".into(),
        Value::String(base64(&digest)),
    );
    d.insert(
        "NSStoreModelVersionHashes".into(),
        Value::Dictionary(hashes),
    );
    d.insert(
        "NSPersistenceFrameworkVersion".into(),
        Value::Integer(1044.into()),
    );
    d.insert(
        "NSStoreModelVersionHashesVersion".into(),
        Value::Integer(3.into()),
    );
    let mut out = Vec::new();
    let _ = Value::Dictionary(d).to_writer_binary(&mut out);
    out
}

/// `Z_MODELCACHE` holds the compiled model, deflated; here the entity names.
fn model_cache() -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    let _ = z.write_all(ENTITIES.join("\0").as_bytes());
    z.finish().unwrap_or_default()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}
