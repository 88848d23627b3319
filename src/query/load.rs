//! Reading a finished analysis (OUT) into the three queryable tables.

use std::collections::HashMap;
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

const ANNOTATION_COLUMN: &str = "__annotation_tags";
const ROW_INDEX: &str = "__row";

/// The timeline with the analyst's tags (annotations.json) appended to the `tags` of
/// every row with that artifact + record. A tag already on the row is not repeated.
pub(super) fn with_annotation_tags(tl: LazyFrame, ann: &Annotations) -> PolarsResult<LazyFrame> {
    if ann.tags.is_empty() {
        return Ok(tl);
    }
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut by_row: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for t in &ann.tags {
        let key = (t.artifact.as_str(), t.record.as_str());
        let tags = by_row.entry(key).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        if !tags.contains(&t.tag.as_str()) {
            tags.push(&t.tag);
        }
    }
    let mut list =
        ListStringChunkedBuilder::new(ANNOTATION_COLUMN.into(), order.len(), ann.tags.len());
    for key in &order {
        list.append_values_iter(by_row.get(key).into_iter().flatten().copied());
    }
    let marks = DataFrame::new(
        order.len(),
        vec![
            Column::new(
                "artifact".into(),
                order.iter().map(|k| k.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "record".into(),
                order.iter().map(|k| k.1).collect::<Vec<_>>(),
            ),
            list.finish().into_column(),
        ],
    )?;
    // Only the few tagged rows need their lists rebuilt: find them (inner join against
    // the small table of marks), merge there, then put the result back by row number.
    // Rebuilding every row's list costs ten times the query itself on a large timeline.
    let records = Series::new(
        "records".into(),
        order.iter().map(|k| k.1).collect::<Vec<_>>(),
    );
    let merged = tl
        .clone()
        .with_row_index(ROW_INDEX, None)
        .select([col(ROW_INDEX), col("artifact"), col("record"), col("tags")])
        // A set lookup on one column first: far cheaper than joining every row on two.
        .filter(col("record").is_in(lit(records).implode(false), false))
        .join(
            marks.lazy(),
            [col("artifact"), col("record")],
            [col("artifact"), col("record")],
            JoinArgs::new(JoinType::Inner),
        )
        .select([
            col(ROW_INDEX),
            concat_list([col("tags"), col(ANNOTATION_COLUMN)])?
                .list()
                .eval(element().unique_stable())
                .alias(ANNOTATION_COLUMN),
        ]);
    let mut args = JoinArgs::new(JoinType::Left);
    args.maintain_order = MaintainOrderJoin::Left;
    Ok(tl
        .with_row_index(ROW_INDEX, None)
        .join(merged, [col(ROW_INDEX)], [col(ROW_INDEX)], args)
        .with_column(coalesce(&[col(ANNOTATION_COLUMN), col("tags")]).alias("tags"))
        .drop(by_name([ROW_INDEX, ANNOTATION_COLUMN], true, false)))
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
