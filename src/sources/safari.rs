//! Safari History.db: one row per page visit, with the redirect chain that led to it.
//!
//! `history_visits.visit_time` is Cocoa seconds (REAL); the URL lives in `history_items`.
//! `redirect_source`/`redirect_destination` point at other visits: a visit reached
//! through redirects, or one that bounced on, is how exploit links often look (MVT's
//! `safari_history` module checks the redirect chain for the same reason).

use std::collections::HashMap;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::schema::Table;
use super::{value_f64, value_i64, value_string, Parse, Source, SourceError};

pub struct Safari;

const HISTORY_DB: Locator = Locator {
    backup: Some(("HomeDomain", "Library/Safari/History.db")),
    filesystem: &["private/var/mobile/Library/Safari/History.db"],
    sysdiagnose: &[],
};

struct Visit {
    id: i64,
    ts: Option<chrono::DateTime<chrono::Utc>>,
    url: String,
    title: Option<String>,
    redirect_source: Option<i64>,
    redirect_destination: Option<i64>,
    load_successful: Option<i64>,
    origin: Option<i64>,
}

impl Source for Safari {
    fn name(&self) -> &'static str {
        "safari"
    }

    fn discover(&self, evidence: &Evidence) -> Vec<Lookup> {
        evidence.locate(&HISTORY_DB)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let db = p.evidence.open_sqlite(p.artifact)?;
        let conn = db.conn();
        let v = Table::read(conn, "history_visits", "v");
        let i = Table::read(conn, "history_items", "i");
        if !v.check(
            &[
                "id",
                "history_item",
                "visit_time",
                "title",
                "redirect_source",
                "redirect_destination",
            ],
            p,
        ) {
            return Ok(());
        }
        let join = i.check(&["id", "url"], p) && v.has("history_item");
        let sql = format!(
            "SELECT {id}, {time}, {url}, {title}, {src}, {dst}, {ok}, {origin} FROM {vs} {join} ORDER BY {id}",
            id = v.col("id"),
            time = v.col("visit_time"),
            url = if join { i.col("url") } else { "NULL".into() },
            title = v.col("title"),
            src = v.col("redirect_source"),
            dst = v.col("redirect_destination"),
            ok = v.col("load_successful"),
            origin = v.col("origin"),
            vs = v.source(),
            join = if join { format!("LEFT JOIN {} ON {} = {}", i.source(), i.col("id"), v.col("history_item")) } else { String::new() },
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut visits = Vec::new();
        while let Some(r) = rows.next()? {
            visits.push(Visit {
                id: value_i64(r.get_ref(0)?).unwrap_or_default(),
                ts: value_f64(r.get_ref(1)?).and_then(time::cocoa_seconds),
                url: value_string(r.get_ref(2)?).unwrap_or_default(),
                title: value_string(r.get_ref(3)?).filter(|t| !t.is_empty()),
                redirect_source: value_i64(r.get_ref(4)?),
                redirect_destination: value_i64(r.get_ref(5)?),
                load_successful: value_i64(r.get_ref(6)?),
                origin: value_i64(r.get_ref(7)?),
            });
        }
        // Redirects name other visits by id: resolve them to URLs (and the delay) for the
        // message. A cross-domain redirect within a second is what Amnesty's Pegasus
        // report describes for network injection (MVT `safari_history` warns on it).
        let by_id: HashMap<i64, &Visit> = visits.iter().map(|v| (v.id, v)).collect();
        let describe = |id: i64, from: &Visit| match by_id.get(&id) {
            Some(other) => {
                let mut d = format!("visit {id} {}", other.url);
                if let (Some(a), Some(b)) = (from.ts, other.ts) {
                    let ms = (b - a).num_milliseconds().abs();
                    d.push_str(&format!(" ({:.3} s apart)", ms as f64 / 1000.0));
                }
                d
            }
            None => format!("visit {id} (not in the file)"),
        };
        let mut no_time = 0usize;
        for v in &visits {
            if v.ts.is_none() {
                no_time += 1;
            }
            let mut message = format!(
                "visit {}",
                if v.url.is_empty() {
                    "(URL unknown)"
                } else {
                    &v.url
                }
            );
            if let Some(t) = &v.title {
                message.push_str(&format!(" \"{}\"", t.replace(['\n', '\r'], " ")));
            }
            if let Some(s) = v.redirect_source {
                message.push_str(&format!(", redirected from {}", describe(s, v)));
            }
            if let Some(d) = v.redirect_destination {
                message.push_str(&format!(", redirects to {}", describe(d, v)));
            }
            if v.load_successful == Some(0) {
                message.push_str(", load failed");
            }
            if let Some(o) = v.origin.filter(|o| *o != 0) {
                message.push_str(&format!(", origin {o}"));
            }
            let mut e = Event::new("safari", "web_visit", v.ts)
                .actor("Safari")
                .target(v.url.clone())
                .message(message)
                .at("", format!("history_visits:{}", v.id));
            if v.redirect_source.is_some() {
                e = e.tag("redirect_source");
            }
            if v.redirect_destination.is_some() {
                e = e.tag("redirect_destination");
            }
            p.emit(e);
        }
        if no_time > 0 {
            p.warn(format!(
                "{no_time} visits have no usable visit_time; kept without a time"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{b, brief, filesystem, run, sqlite_bytes, Backup};
    use super::*;

    /// Tables as Safari creates them (WBSHistorySQLiteSchema in SafariShared).
    const SCHEMA: &str = "
        CREATE TABLE history_items (id INTEGER PRIMARY KEY AUTOINCREMENT,url TEXT NOT NULL UNIQUE,domain_expansion TEXT NULL,visit_count INTEGER NOT NULL,daily_visit_counts BLOB NOT NULL,weekly_visit_counts BLOB NULL,autocomplete_triggers BLOB NULL,should_recompute_derived_visit_counts INTEGER NOT NULL,visit_count_score INTEGER NOT NULL,status_code INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT,history_item INTEGER NOT NULL REFERENCES history_items(id) ON DELETE CASCADE,visit_time REAL NOT NULL,title TEXT NULL,load_successful BOOLEAN NOT NULL DEFAULT 1,http_non_get BOOLEAN NOT NULL DEFAULT 0,synthesized BOOLEAN NOT NULL DEFAULT 0,redirect_source INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,redirect_destination INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,origin INTEGER NOT NULL DEFAULT 0,generation INTEGER NOT NULL DEFAULT 0,attributes INTEGER NOT NULL DEFAULT 0,score INTEGER NOT NULL DEFAULT 0);
    ";

    #[test]
    fn visits_with_a_redirect_chain() {
        let db = sqlite_bytes(&format!(
            "{SCHEMA}
             INSERT INTO history_items (id, url, visit_count, daily_visit_counts, should_recompute_derived_visit_counts, visit_count_score) VALUES
               (1, 'https://t.example/abc', 1, x'', 0, 0), (2, 'https://landing.example.org/x', 1, x'', 0, 0), (3, 'https://news.example.com/', 2, x'', 0, 0);
             INSERT INTO history_visits (id, history_item, visit_time, title, redirect_source, redirect_destination, load_successful) VALUES
               (10, 1, 684756251.5, NULL, NULL, 11, 1),
               (11, 2, 684756252.25, 'Landing', 10, NULL, 0),
               (12, 3, 684756300.0, 'News', NULL, NULL, 1),
               (13, 3, 0, 'News', NULL, NULL, 1);"
        ));
        let bk = Backup::new();
        bk.add("HomeDomain", "Library/Safari/History.db", &db);
        let r = run(&Safari, bk.root());
        let o = r.only();
        assert_eq!(o.error, None);
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "web_visit",
                    "2022-09-13T10:04:11.500000Z",
                    "Safari",
                    "https://t.example/abc",
                    "history_visits:10",
                    &["redirect_destination"]
                ),
                b(
                    "web_visit",
                    "2022-09-13T10:04:12.250000Z",
                    "Safari",
                    "https://landing.example.org/x",
                    "history_visits:11",
                    &["redirect_source"]
                ),
                b(
                    "web_visit",
                    "2022-09-13T10:05:00.000000Z",
                    "Safari",
                    "https://news.example.com/",
                    "history_visits:12",
                    &[]
                ),
                b(
                    "web_visit",
                    "",
                    "Safari",
                    "https://news.example.com/",
                    "history_visits:13",
                    &[]
                ),
            ]
        );
        assert_eq!(
            o.rows[0].message,
            "visit https://t.example/abc, redirects to visit 11 https://landing.example.org/x (0.750 s apart)"
        );
        assert_eq!(o.rows[1].message, "visit https://landing.example.org/x \"Landing\", redirected from visit 10 https://t.example/abc (0.750 s apart), load failed");
        assert_eq!(
            o.warnings,
            vec!["1 visits have no usable visit_time; kept without a time".to_string()]
        );
    }

    #[test]
    fn listed_but_absent_is_missing() {
        let bk = Backup::new();
        bk.list("HomeDomain", "Library/Safari/History.db", 1);
        let r = run(&Safari, bk.root());
        assert!(r.parsed.is_empty());
        assert_eq!(r.missing.len(), 1);
        assert_eq!(r.missing[0].0, "HomeDomain/Library/Safari/History.db");
    }

    #[test]
    fn garbage_is_an_error() {
        let fs = filesystem(&[(
            "private/var/mobile/Library/Safari/History.db",
            b"<html>not a database</html>",
        )]);
        assert!(run(&Safari, fs.path()).only().error.is_some());
    }
}
