//! Reading a finished analysis (OUT) into the three queryable tables.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use polars::prelude::*;
use serde::Deserialize;

use super::QueryError;
use crate::annotations::Annotations;
use crate::timeline;

/// Where the pieces of one analysis are: the folder (findings, annotations) and the
/// timeline file. Accepts the OUT folder or a timeline.parquet file directly.
pub(super) fn locate(path: &Path) -> Result<(PathBuf, PathBuf), QueryError> {
    if path.is_dir() {
        let tl = path.join("timeline.parquet");
        if !tl.is_file() {
            return Err(QueryError::NoTimeline(path.to_path_buf()));
        }
        return Ok((path.to_path_buf(), tl));
    }
    if path.is_file() {
        let out = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        return Ok((out, path.to_path_buf()));
    }
    Err(QueryError::NoTimeline(path.to_path_buf()))
}

pub(super) fn scan_timeline(path: &Path) -> Result<LazyFrame, QueryError> {
    let load = |e: PolarsError| QueryError::load(path, e);
    let p = PlRefPath::try_from_path(path).map_err(load)?;
    LazyFrame::scan_parquet(p, ScanArgsParquet::default()).map_err(load)
}

pub(super) fn read_timeline(path: &Path) -> Result<DataFrame, QueryError> {
    timeline::read_parquet(path).map_err(|e| QueryError::load(path, e))
}

/// The timeline with the analyst's tags (annotations.json) appended to the `tags` of
/// every row with that artifact + record. A tag already on the row is not repeated; a
/// tag whose ref matches no row is ignored.
///
/// Only the few tagged rows change, so the frame is cut around them and the new rows
/// spliced in (slices share memory): rebuilding or joining all of a 4M-row timeline
/// for a handful of tags took ten times longer than the queries themselves.
pub(super) fn with_annotation_tags(tl: &DataFrame, ann: &Annotations) -> PolarsResult<DataFrame> {
    if ann.tags.is_empty() || tl.height() == 0 {
        return Ok(tl.clone());
    }
    let mut wanted: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for t in &ann.tags {
        let tags = wanted
            .entry((t.artifact.as_str(), t.record.as_str()))
            .or_default();
        if !tags.contains(&t.tag.as_str()) {
            tags.push(&t.tag);
        }
    }
    let records: HashSet<&str> = wanted.keys().map(|k| k.1).collect();
    let artifact = tl.column("artifact")?.str()?;
    let record = tl.column("record")?.str()?;
    let tags = tl.column("tags")?.list()?;

    let mut parts: Vec<DataFrame> = Vec::new();
    let mut next = 0usize;
    for (i, r) in record.iter().enumerate() {
        let Some(r) = r.filter(|r| records.contains(r)) else {
            continue;
        };
        let Some(extra) = artifact.get(i).and_then(|a| wanted.get(&(a, r))) else {
            continue;
        };
        let mut merged: Vec<String> = match tags.get_as_series(i) {
            Some(s) => s.str()?.iter().flatten().map(str::to_string).collect(),
            None => Vec::new(),
        };
        for t in extra {
            if !merged.iter().any(|m| m == t) {
                merged.push(t.to_string());
            }
        }
        let mut list = ListStringChunkedBuilder::new("tags".into(), 1, merged.len());
        list.append_values_iter(merged.iter().map(String::as_str));
        let mut row = tl.slice(i as i64, 1);
        row.replace("tags", list.finish().into_column())?;
        if i > next {
            parts.push(tl.slice(next as i64, i - next));
        }
        parts.push(row);
        next = i + 1;
    }
    if parts.is_empty() {
        return Ok(tl.clone());
    }
    if next < tl.height() {
        parts.push(tl.slice(next as i64, tl.height() - next));
    }
    let many = parts.len() > 64;
    let mut out = tl.clear();
    for p in parts {
        out.vstack_mut_owned(p)?;
    }
    if many {
        out.rechunk_mut();
    }
    Ok(out)
}

/// `findings` and `finding_events`: from the Parquet pair when detection wrote it,
/// else from findings.json, else empty tables with the right columns.
pub(super) fn findings(out: &Path) -> Result<(DataFrame, DataFrame), QueryError> {
    let fp = out.join("findings.parquet");
    let ep = out.join("finding_events.parquet");
    if fp.is_file() && ep.is_file() {
        let f = timeline::read_parquet(&fp).map_err(|e| QueryError::load(&fp, e))?;
        let e = timeline::read_parquet(&ep).map_err(|e| QueryError::load(&ep, e))?;
        return Ok((f, e));
    }
    let jp = out.join("findings.json");
    let file: FindingsFile = match std::fs::read(&jp) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| QueryError::load(&jp, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FindingsFile::default(),
        Err(e) => return Err(QueryError::load(&jp, e)),
    };
    file.frames().map_err(|e| QueryError::load(&jp, e))
}

// The findings.json contract (BRIEF: shared output contracts), read leniently: a field
// a future detector leaves out becomes empty rather than failing the whole case.
#[derive(Debug, Default, Deserialize)]
struct FindingsFile {
    #[serde(default)]
    findings: Vec<FindingJson>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FindingJson {
    id: String,
    rule: String,
    title: String,
    severity: String,
    score: Option<f64>,
    start: Option<String>,
    end: Option<String>,
    explanation: String,
    events: Vec<FindingEventJson>,
    iocs: Vec<IocJson>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FindingEventJson {
    ts: Option<String>,
    source: String,
    kind: String,
    actor: String,
    target: String,
    message: String,
    artifact: String,
    record: String,
    role: String,
    offset_s: Option<f64>,
    class: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IocJson {
    malware: String,
}

fn micros(s: &Option<String>) -> Option<i64> {
    s.as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_micros())
}

fn datetime_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Microseconds, Some(timeline::utc()))
        .into_column()
}

impl FindingsFile {
    fn frames(&self) -> PolarsResult<(DataFrame, DataFrame)> {
        let f = &self.findings;
        let strings = |name: &str, get: fn(&FindingJson) -> &str| {
            Column::new(name.into(), f.iter().map(get).collect::<Vec<_>>())
        };
        let malware: Vec<String> = f
            .iter()
            .map(|x| {
                let mut names: Vec<&str> = Vec::new();
                for m in x
                    .iocs
                    .iter()
                    .map(|i| i.malware.as_str())
                    .filter(|m| !m.is_empty())
                {
                    if !names.contains(&m) {
                        names.push(m);
                    }
                }
                names.join(",")
            })
            .collect();
        let findings = DataFrame::new(
            f.len(),
            vec![
                strings("id", |x| &x.id),
                strings("rule", |x| &x.rule),
                strings("title", |x| &x.title),
                strings("severity", |x| &x.severity),
                Column::new(
                    "score".into(),
                    f.iter().map(|x| x.score).collect::<Vec<_>>(),
                ),
                datetime_column("start", f.iter().map(|x| micros(&x.start)).collect()),
                datetime_column("end", f.iter().map(|x| micros(&x.end)).collect()),
                strings("explanation", |x| &x.explanation),
                Column::new("malware".into(), malware),
            ],
        )?;

        let rows: Vec<(&str, &FindingEventJson)> = f
            .iter()
            .flat_map(|x| x.events.iter().map(move |e| (x.id.as_str(), e)))
            .collect();
        let text = |name: &str, get: fn(&FindingEventJson) -> &str| {
            Column::new(
                name.into(),
                rows.iter().map(|(_, e)| get(e)).collect::<Vec<_>>(),
            )
        };
        let events = DataFrame::new(
            rows.len(),
            vec![
                Column::new(
                    "finding_id".into(),
                    rows.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                ),
                datetime_column("ts", rows.iter().map(|(_, e)| micros(&e.ts)).collect()),
                text("source", |e| &e.source),
                text("kind", |e| &e.kind),
                text("actor", |e| &e.actor),
                text("target", |e| &e.target),
                text("message", |e| &e.message),
                text("artifact", |e| &e.artifact),
                text("record", |e| &e.record),
                text("role", |e| &e.role),
                Column::new(
                    "offset_s".into(),
                    rows.iter().map(|(_, e)| e.offset_s).collect::<Vec<_>>(),
                ),
                text("class", |e| &e.class),
            ],
        )?;
        Ok((findings, events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Event, TimelineBuilder};

    fn tags_of(df: &DataFrame) -> Vec<Vec<String>> {
        let list = df.column("tags").unwrap().list().unwrap().clone();
        (0..df.height())
            .map(|i| {
                let s = list.get_as_series(i).unwrap();
                s.str()
                    .unwrap()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn tags_are_spliced_into_first_last_and_adjacent_rows() {
        let mut b = TimelineBuilder::new("");
        for (i, rec) in ["r:0", "r:1", "r:2", "r:1", "r:4"].iter().enumerate() {
            b.push(
                Event::new("sms", "message_received", None)
                    .at("a.db", *rec)
                    .message(format!("{i}"))
                    .tag("own"),
            );
        }
        let df = b.finish().unwrap();
        let mut ann = Annotations::default();
        let t = chrono::Utc::now();
        ann.add_tag("a.db", "r:0", "x", t);
        ann.add_tag("a.db", "r:1", "y", t);
        ann.add_tag("a.db", "r:1", "own", t);
        ann.add_tag("a.db", "r:4", "z", t);
        ann.add_tag("b.db", "r:2", "elsewhere", t);
        let out = with_annotation_tags(&df, &ann).unwrap();
        assert_eq!(out.height(), 5);
        let msgs: Vec<_> = out
            .column("message")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(msgs, ["0", "1", "2", "3", "4"]);
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tags_of(&out),
            [
                v(&["own", "x"]),
                v(&["own", "y"]),
                v(&["own"]),
                v(&["own", "y"]),
                v(&["own", "z"])
            ]
        );
        assert_eq!(out.schema(), df.schema());
    }
}
