//! HomeDomain `Library/Safari/History.db`: one `history_items` row per URL, one
//! `history_visits` row per visit (`visit_time` in Cocoa seconds), redirects linked
//! both ways through `redirect_source` / `redirect_destination`.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::params;

use super::backup::{create_db, finish_db};
use super::clock;
use super::model::World;
use super::{sql_err, SampleError};

const SCHEMA: &str = "
CREATE TABLE history_items (id INTEGER PRIMARY KEY AUTOINCREMENT,url TEXT NOT NULL UNIQUE,domain_expansion TEXT NULL,visit_count INTEGER NOT NULL,daily_visit_counts BLOB NOT NULL,weekly_visit_counts BLOB NULL,autocomplete_triggers BLOB NULL,should_recompute_derived_visit_counts INTEGER NOT NULL,visit_count_score INTEGER NOT NULL,status_code INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT,history_item INTEGER NOT NULL REFERENCES history_items(id) ON DELETE CASCADE,visit_time REAL NOT NULL,title TEXT NULL,load_successful BOOLEAN NOT NULL DEFAULT 1,http_non_get BOOLEAN NOT NULL DEFAULT 0,synthesized BOOLEAN NOT NULL DEFAULT 0,redirect_source INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,redirect_destination INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,origin INTEGER NOT NULL DEFAULT 0,generation INTEGER NOT NULL DEFAULT 0,attributes INTEGER NOT NULL DEFAULT 0,score INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_tombstones (id INTEGER PRIMARY KEY AUTOINCREMENT,start_time REAL NOT NULL,end_time REAL NOT NULL,url TEXT,generation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE metadata (key TEXT NOT NULL UNIQUE, value);
CREATE TABLE history_client_versions (client_version INTEGER PRIMARY KEY,last_seen REAL NOT NULL);
CREATE TABLE history_event_listeners (listener_name TEXT PRIMARY KEY NOT NULL UNIQUE,last_seen REAL NOT NULL);
CREATE TABLE history_events (id INTEGER PRIMARY KEY AUTOINCREMENT,event_type TEXT NOT NULL,event_time REAL NOT NULL,pending_listeners TEXT NOT NULL,value BLOB);
CREATE INDEX history_items__domain_expansion ON history_items (domain_expansion);
CREATE INDEX history_visits__last_visit ON history_visits (history_item, visit_time DESC, synthesized ASC);
CREATE INDEX history_visits__origin ON history_visits (origin, generation);
";

pub fn write(w: &World, path: &Path) -> Result<(), SampleError> {
    let mut conn = create_db(path)?;
    let e = sql_err(path);
    conn.execute_batch(SCHEMA).map_err(&e)?;
    // Visit ids follow time; items are numbered by their first visit.
    let mut order: Vec<usize> = (0..w.visits.len()).collect();
    order.sort_by_key(|&i| (w.visits[i].us, i));
    let mut visit_id = vec![0i64; w.visits.len()];
    for (n, &i) in order.iter().enumerate() {
        visit_id[i] = n as i64 + 1;
    }
    let mut destination = vec![None; w.visits.len()];
    for (i, v) in w.visits.iter().enumerate() {
        if let Some(from) = v.redirect_from {
            destination[from] = Some(visit_id[i]);
        }
    }
    let mut items: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut next_item = 0i64;
    for &i in &order {
        let entry = items.entry(w.visits[i].url.as_str()).or_insert_with(|| {
            next_item += 1;
            (next_item, 0)
        });
        entry.1 += 1;
    }
    let tx = conn.transaction().map_err(&e)?;
    {
        let mut by_id: Vec<(&str, i64, i64)> =
            items.iter().map(|(u, (id, n))| (*u, *id, *n)).collect();
        by_id.sort_by_key(|r| r.1);
        let mut stmt = tx
            .prepare(
                "INSERT INTO history_items (id, url, domain_expansion, visit_count, daily_visit_counts, should_recompute_derived_visit_counts, visit_count_score)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            )
            .map_err(&e)?;
        for (url, id, n) in by_id {
            let host = url.split('/').nth(2).unwrap_or("");
            let expansion = host
                .trim_start_matches("www.")
                .split('.')
                .next()
                .unwrap_or("")
                .to_string();
            stmt.execute(params![
                id,
                url,
                expansion,
                n,
                (n as u32).to_le_bytes().to_vec(),
                n * 100
            ])
            .map_err(&e)?;
        }
        let mut stmt = tx
            .prepare(
                "INSERT INTO history_visits (id, history_item, visit_time, title, load_successful, http_non_get, synthesized, redirect_source, redirect_destination, origin, generation, attributes, score)
                 VALUES (?1, ?2, ?3, ?4, 1, 0, 0, ?5, ?6, 0, 1, 0, ?7)",
            )
            .map_err(&e)?;
        for &i in &order {
            let v = &w.visits[i];
            let item = items.get(v.url.as_str()).map(|r| r.0).unwrap_or(0);
            let source = v.redirect_from.map(|f| visit_id[f]);
            let title = (!v.title.is_empty()).then(|| v.title.clone());
            stmt.execute(params![
                visit_id[i],
                item,
                clock::cocoa_f64(v.us),
                title,
                source,
                destination[i],
                100
            ])
            .map_err(&e)?;
        }
        tx.execute(
            "INSERT INTO metadata (key, value) VALUES ('version', 20)",
            [],
        )
        .map_err(&e)?;
    }
    tx.commit().map_err(&e)?;
    finish_db(conn, path)
}
