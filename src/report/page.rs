//! What the template shows, section by section, built from the saved outputs. Every
//! string here may come from evidence; the template escapes it (tera autoescape).

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use serde::Serialize;

use super::charts::{self, ActivityPlot, ChainPlot, ChainPoint, HeatmapPlot, SourceActivity};
use super::columns::Columns;
use super::explorer::{LeftOut, RowMarks};
use super::saved::{severity_rank, Finding, IocMatch, Saved, SEVERITIES};
use super::{display_time, parse_time};
use crate::analyze::ArtifactStatus;
use crate::evidence::ContainerKind;

/// Context shown around each chain, before its first and after its last event.
pub(crate) const CONTEXT_MINUTES: i64 = 15;
/// Context rows printed per chain; the explorer holds the rest.
const CONTEXT_ROWS: usize = 200;
/// Warnings printed per artifact; run.json holds them all.
const WARNINGS_SHOWN: usize = 20;
/// Days in the heatmap at most.
const HEATMAP_DAYS: i64 = 31;

const MICROS: i64 = 1_000_000;

#[derive(Serialize)]
pub(crate) struct Page {
    pub version: String,
    pub problems: Vec<String>,
    pub case: Case,
    pub verdict: Verdict,
    pub findings: Vec<FindingView>,
    pub activity: Activity,
    pub explorer: ExplorerView,
    pub artifacts: Artifacts,
    pub method: Method,
}

#[derive(Serialize)]
pub(crate) struct Case {
    pub devices: Vec<DeviceView>,
    pub containers: Vec<ContainerView>,
    pub inputs: Vec<InputView>,
    pub span: Option<(String, String)>,
    pub span_short: Option<(String, String)>,
    pub span_length: String,
    pub rows_total: String,
    pub rows_without_time: String,
    pub sources: Vec<SourceRow>,
    pub started: String,
    pub finished: String,
    pub command: String,
}

#[derive(Serialize)]
pub(crate) struct DeviceView {
    pub model: String,
    pub name: String,
    pub ios: String,
    pub udid: String,
    pub serial: String,
    pub last_backup: String,
}

#[derive(Serialize)]
pub(crate) struct ContainerView {
    pub kind: String,
    pub origin: String,
}

#[derive(Serialize)]
pub(crate) struct InputView {
    pub logical: String,
    pub size: String,
    pub sha256: String,
}

#[derive(Serialize)]
pub(crate) struct SourceRow {
    pub name: String,
    pub rows: String,
    pub share: String,
    pub color: String,
}

#[derive(Serialize)]
pub(crate) struct Verdict {
    /// `critical` … `info`, or `none`.
    pub level: String,
    pub headline: String,
    pub counts: Vec<(String, usize)>,
    /// Findings beyond the eight the banner lists.
    pub more: usize,
}

#[derive(Serialize)]
pub(crate) struct FindingView {
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub score: String,
    pub start: String,
    pub start_short: String,
    pub end: String,
    pub duration: String,
    pub explanation: String,
    pub notes: Vec<NoteView>,
    pub iocs: Vec<IocMatch>,
    pub chain_svg: String,
    pub evidence: Vec<EvidenceRow>,
    pub context: ContextView,
}

#[derive(Serialize)]
pub(crate) struct NoteView {
    pub text: String,
    pub added: String,
}

#[derive(Serialize)]
pub(crate) struct EvidenceRow {
    pub n: usize,
    pub time: String,
    pub offset: String,
    pub role: String,
    pub class: String,
    pub source: String,
    pub kind: String,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub artifact: String,
    pub record: String,
    pub tags: Vec<String>,
    pub analyst_tags: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct ContextView {
    pub from: String,
    pub to: String,
    pub from_us: i64,
    pub to_us: i64,
    pub total: usize,
    pub rows: Vec<ContextRow>,
}

#[derive(Serialize)]
pub(crate) struct ContextRow {
    pub time: String,
    pub source: String,
    pub color: String,
    pub kind: String,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub artifact: String,
    pub record: String,
    pub tags: Vec<String>,
    pub analyst_tags: Vec<String>,
    /// The chain's evidence number when this row is one of its events.
    pub evidence: Option<usize>,
}

#[derive(Serialize)]
pub(crate) struct Activity {
    pub svg: String,
    pub caption: String,
    pub heatmap_svg: String,
    pub heatmap_caption: String,
}

#[derive(Serialize)]
pub(crate) struct ExplorerView {
    pub total: String,
    pub embedded: String,
    pub cap: String,
    pub left_out: Option<LeftOut>,
}

#[derive(Serialize)]
pub(crate) struct Artifacts {
    pub counts: Vec<(String, usize)>,
    pub rows: Vec<ArtifactRow>,
}

#[derive(Serialize)]
pub(crate) struct ArtifactRow {
    pub source: String,
    pub artifact: String,
    pub status: String,
    pub rows: String,
    pub warnings: Vec<String>,
    pub more_warnings: usize,
    pub error: String,
    pub facts: Vec<(String, String)>,
}

#[derive(Serialize)]
pub(crate) struct Method {
    pub rules: Vec<RuleRow>,
    pub ioc_files: Vec<IocFileRow>,
    pub context_minutes: i64,
}

#[derive(Serialize)]
pub(crate) struct RuleRow {
    pub id: String,
    pub title: String,
    pub window: String,
    pub min_classes: String,
    pub source: String,
}

#[derive(Serialize)]
pub(crate) struct IocFileRow {
    pub path: String,
    pub sha256: String,
    pub indicators: String,
    pub malware: String,
}

/// A JSON value from run.json as one line of text.
fn value_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| value_text(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn n(v: usize) -> String {
    charts::group(v as u64)
}

fn duration(secs: f64) -> String {
    charts::offset_label(secs)
        .trim_start_matches('+')
        .to_string()
}

/// Colours of every source in the timeline, in name order.
pub(crate) fn source_colors(sources: impl IntoIterator<Item = String>) -> BTreeMap<String, String> {
    let mut spare = 0;
    let mut out = BTreeMap::new();
    let mut names: Vec<String> = sources.into_iter().collect();
    names.sort();
    names.dedup();
    for s in names {
        let c = charts::known_source_color(&s).unwrap_or_else(|| {
            spare += 1;
            charts::spare_color(spare - 1)
        });
        out.insert(s, charts::hex(c));
    }
    out
}

/// Analyst tags by the rows they name.
fn analyst_tags(saved: &Saved, cols: &Columns) -> BTreeMap<usize, Vec<String>> {
    let mut by_record: HashMap<(&str, &str), Vec<String>> = HashMap::new();
    for t in &saved.annotations.tags {
        by_record
            .entry((t.artifact.as_str(), t.record.as_str()))
            .or_default()
            .push(t.tag.clone());
    }
    let mut out = BTreeMap::new();
    if by_record.is_empty() {
        return out;
    }
    for i in 0..cols.len() {
        if let Some(tags) = by_record.get(&(cols.artifact(i), cols.record(i))) {
            out.insert(i, tags.clone());
        }
    }
    out
}

pub(crate) struct Built {
    pub page: Page,
    pub marks: RowMarks,
}

pub(crate) fn build(
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
) -> anyhow::Result<Built> {
    let log = &saved.log;
    let mut marks = RowMarks {
        analyst_tags: analyst_tags(saved, cols),
        findings: BTreeMap::new(),
        priority: vec![false; cols.len()],
    };
    for (i, tags) in cols.tag_ids.iter().enumerate() {
        let tags = cols
            .tag_sets
            .get(*tags as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if tags
            .iter()
            .any(|t| t.starts_with("ioc:") || t.starts_with("finding:"))
            || marks.analyst_tags.contains_key(&i)
        {
            marks.priority[i] = true;
        }
    }
    let windows: HashMap<&str, f64> = log
        .rules
        .iter()
        .filter_map(|r| Some((r.get("id")?.as_str()?, r.get("window_s")?.as_f64()?)))
        .collect();
    let mut findings = Vec::new();
    for f in &saved.findings {
        findings.push(finding_view(
            f,
            saved,
            cols,
            colors,
            &mut marks,
            windows.get(f.rule.as_str()).copied(),
        )?);
    }
    findings.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then_with(|| a.start.cmp(&b.start))
            .then_with(|| a.id.cmp(&b.id))
    });
    let page = Page {
        version: log.version.clone(),
        problems: saved.problems.clone(),
        case: case(saved, colors),
        verdict: verdict(&saved.findings),
        findings,
        activity: activity(saved, cols, colors)?,
        explorer: ExplorerView {
            total: String::new(),
            embedded: String::new(),
            cap: String::new(),
            left_out: None,
        },
        artifacts: artifacts(log),
        method: method(log),
    };
    Ok(Built { page, marks })
}

fn case(saved: &Saved, colors: &BTreeMap<String, String>) -> Case {
    let log = &saved.log;
    let mut devices: Vec<DeviceView> = Vec::new();
    for c in &log.containers {
        let d = &c.device;
        let v = DeviceView {
            model: d.product_type.clone().unwrap_or_default(),
            name: d.name.clone().unwrap_or_default(),
            ios: match (&d.ios_version, &d.build) {
                (Some(v), Some(b)) => format!("iOS {v} ({b})"),
                (Some(v), None) => format!("iOS {v}"),
                (None, Some(b)) => format!("build {b}"),
                (None, None) => String::new(),
            },
            udid: d.udid.clone().unwrap_or_default(),
            serial: d.serial.clone().unwrap_or_default(),
            last_backup: d
                .last_backup
                .as_deref()
                .map(pretty_time)
                .unwrap_or_default(),
        };
        let empty =
            v.model.is_empty() && v.name.is_empty() && v.ios.is_empty() && v.udid.is_empty();
        let dup = devices
            .iter()
            .any(|x| !v.udid.is_empty() && x.udid == v.udid);
        if !empty && !dup {
            devices.push(v);
        }
    }
    let containers = log
        .containers
        .iter()
        .map(|c| ContainerView {
            kind: match c.kind {
                ContainerKind::Backup => "iTunes/Finder backup",
                ContainerKind::Filesystem => "filesystem dump",
                ContainerKind::Sysdiagnose => "sysdiagnose",
                ContainerKind::CrashReports => "crash reports",
            }
            .into(),
            origin: c.origin.clone(),
        })
        .collect();
    let mut inputs: Vec<InputView> = log
        .inputs
        .iter()
        .map(|i| InputView {
            logical: i.logical.clone(),
            size: n(i.size as usize),
            sha256: i.sha256.clone(),
        })
        .collect();
    inputs.sort_by(|a, b| {
        a.logical
            .cmp(&b.logical)
            .then_with(|| a.sha256.cmp(&b.sha256))
    });
    let total = log.rows_total.max(1) as f64;
    let mut sources: Vec<SourceRow> = log
        .rows_by_source
        .iter()
        .map(|(s, r)| SourceRow {
            name: s.clone(),
            rows: n(*r),
            share: format!("{:.1} %", *r as f64 / total * 100.0),
            color: colors.get(s).cloned().unwrap_or_default(),
        })
        .collect();
    sources
        .sort_by_key(|s| std::cmp::Reverse(log.rows_by_source.get(&s.name).copied().unwrap_or(0)));
    let span = log
        .time_span
        .as_ref()
        .map(|(a, b)| (pretty_time(a), pretty_time(b)));
    let span_short = log
        .time_span
        .as_ref()
        .map(|(a, b)| (short_time(a), short_time(b)));
    let span_length = log
        .time_span
        .as_ref()
        .and_then(|(a, b)| Some((parse_time(b)? - parse_time(a)?) as f64 / MICROS as f64))
        .map(duration)
        .unwrap_or_default();
    Case {
        devices,
        containers,
        inputs,
        span,
        span_short,
        span_length,
        rows_total: n(log.rows_total),
        rows_without_time: n(log.rows_without_time),
        sources,
        started: pretty_time(&log.started),
        finished: log.finished.as_deref().map(pretty_time).unwrap_or_default(),
        command: log.command.join(" "),
    }
}

/// An RFC 3339 time to the second, for headlines.
fn short_time(s: &str) -> String {
    let t = pretty_time(s);
    match t.find('.') {
        Some(dot) if parse_time(s).is_some() => t[..dot].to_string(),
        _ => t,
    }
}

/// An RFC 3339 time as the tables show it, or the text as is when it does not parse.
fn pretty_time(s: &str) -> String {
    parse_time(s)
        .map(display_time)
        .unwrap_or_else(|| s.to_string())
}

fn verdict(findings: &[Finding]) -> Verdict {
    let counts: Vec<(String, usize)> = SEVERITIES
        .iter()
        .map(|s| {
            (
                s.to_string(),
                findings
                    .iter()
                    .filter(|f| f.severity.eq_ignore_ascii_case(s))
                    .count(),
            )
        })
        .filter(|(_, c)| *c > 0)
        .collect();
    let top = findings.iter().map(|f| severity_rank(&f.severity)).min();
    match top {
        None => Verdict {
            level: "none".into(),
            headline: "No exploit chain or indicator match was found in this evidence.".into(),
            counts,
            more: 0,
        },
        Some(rank) => {
            let level = SEVERITIES.get(rank).copied().unwrap_or("info").to_string();
            let n = findings.len();
            Verdict {
                headline: format!(
                    "{n} finding{} — the most serious is {}.",
                    if n == 1 { "" } else { "s" },
                    level.to_uppercase()
                ),
                level,
                counts,
                more: n.saturating_sub(8),
            }
        }
    }
}

fn finding_view(
    f: &Finding,
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
    marks: &mut RowMarks,
    window_s: Option<f64>,
) -> anyhow::Result<FindingView> {
    // Evidence in time order; the trigger first among equals.
    let mut events: Vec<&super::saved::FindingEvent> = f.events.iter().collect();
    events.sort_by(|a, b| {
        a.offset_s
            .unwrap_or(0.0)
            .total_cmp(&b.offset_s.unwrap_or(0.0))
            .then_with(|| (a.role != "trigger").cmp(&(b.role != "trigger")))
            .then_with(|| a.ts.cmp(&b.ts))
    });
    let mut lanes: Vec<String> = Vec::new();
    let mut points = Vec::new();
    let mut evidence = Vec::new();
    let mut evidence_rows: HashMap<usize, usize> = HashMap::new();
    for (k, e) in events.iter().enumerate() {
        let num = k + 1;
        let lane = match e.role.as_str() {
            "trigger" => "trigger".to_string(),
            "context" => "context".to_string(),
            _ if e.class.is_empty() => "follow-up".to_string(),
            _ => e.class.clone(),
        };
        let l = match lanes.iter().position(|x| *x == lane) {
            Some(l) => l,
            None => {
                lanes.push(lane.clone());
                lanes.len() - 1
            }
        };
        points.push(ChainPoint {
            lane: l,
            offset: e.offset_s.unwrap_or(0.0),
            number: num,
            label: point_label(e),
        });
        let row = parse_time(&e.ts).and_then(|t| cols.find(t, &e.artifact, &e.record));
        if let Some(r) = row {
            evidence_rows.insert(r, num);
            let ids = marks.findings.entry(r).or_default();
            if !ids.contains(&f.id) {
                ids.push(f.id.clone());
            }
        }
        evidence.push(EvidenceRow {
            n: num,
            time: pretty_time(&e.ts),
            offset: charts::offset_label(e.offset_s.unwrap_or(0.0)),
            role: e.role.clone(),
            class: e.class.clone(),
            source: e.source.clone(),
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            target: e.target.clone(),
            message: e.message.clone(),
            artifact: e.artifact.clone(),
            record: e.record.clone(),
            tags: row.map(|r| cols.tags(r).to_vec()).unwrap_or_default(),
            analyst_tags: saved
                .annotations
                .tags_for(&e.artifact, &e.record)
                .map(|t| t.tag.clone())
                .collect(),
        });
    }
    // Trigger lane on top, the rest in order of first appearance.
    if let Some(t) = lanes.iter().position(|l| l == "trigger") {
        if t != 0 {
            let lane = lanes.remove(t);
            lanes.insert(0, lane);
            for p in &mut points {
                p.lane = if p.lane == t {
                    0
                } else if p.lane < t {
                    p.lane + 1
                } else {
                    p.lane
                };
            }
        }
    }
    let chain_svg = charts::chain(&ChainPlot {
        lanes,
        points,
        window_s,
    })?;

    let start =
        parse_time(&f.start).or_else(|| events.iter().filter_map(|e| parse_time(&e.ts)).min());
    let end = parse_time(&f.end).or(start);
    let context = match (start, end) {
        (Some(s), Some(e)) => {
            let (from, to) = (
                s - CONTEXT_MINUTES * 60 * MICROS,
                e.max(s) + CONTEXT_MINUTES * 60 * MICROS,
            );
            let range = cols.window(from, to);
            for i in range.clone() {
                if let Some(p) = marks.priority.get_mut(i) {
                    *p = true;
                }
            }
            let total = range.len();
            let mut chosen: Vec<usize> = range.collect();
            if chosen.len() > CONTEXT_ROWS {
                // The rows nearest the chain, evidence first.
                let dist = |i: usize| {
                    let t = cols.ts[i].unwrap_or(from);
                    let d = if t < s {
                        s - t
                    } else if t > e {
                        t - e
                    } else {
                        0
                    };
                    (!evidence_rows.contains_key(&i), d)
                };
                chosen.sort_by_key(|&i| (dist(i), i));
                chosen.truncate(CONTEXT_ROWS);
                chosen.sort_unstable();
            }
            let rows = chosen
                .into_iter()
                .map(|i| ContextRow {
                    time: cols.ts[i].map(display_time).unwrap_or_default(),
                    source: cols.source(i).to_string(),
                    color: colors.get(cols.source(i)).cloned().unwrap_or_default(),
                    kind: cols.kind(i).to_string(),
                    actor: cols.actor(i).to_string(),
                    target: cols.target(i).to_string(),
                    message: cols.message(i).to_string(),
                    artifact: cols.artifact(i).to_string(),
                    record: cols.record(i).to_string(),
                    tags: cols.tags(i).to_vec(),
                    analyst_tags: marks.analyst_tags.get(&i).cloned().unwrap_or_default(),
                    evidence: evidence_rows.get(&i).copied(),
                })
                .collect();
            ContextView {
                from: display_time(from),
                to: display_time(to),
                from_us: from,
                to_us: to,
                total,
                rows,
            }
        }
        _ => ContextView {
            from: String::new(),
            to: String::new(),
            from_us: 0,
            to_us: 0,
            total: 0,
            rows: Vec::new(),
        },
    };
    Ok(FindingView {
        id: f.id.clone(),
        rule: f.rule.clone(),
        title: f.title.clone(),
        severity: f.severity.to_lowercase(),
        score: f
            .score
            .map(|s| format!("{}", (s * 100.0).round() / 100.0))
            .unwrap_or_default(),
        start: pretty_time(&f.start),
        start_short: short_time(&f.start),
        end: pretty_time(&f.end),
        duration: match (start, end) {
            (Some(s), Some(e)) => duration((e - s) as f64 / MICROS as f64),
            _ => String::new(),
        },
        explanation: f.explanation.clone(),
        notes: saved
            .annotations
            .notes_for(&f.id)
            .map(|n| NoteView {
                text: n.text.clone(),
                added: pretty_time(&n.added),
            })
            .collect(),
        iocs: f.iocs.clone(),
        chain_svg,
        evidence,
        context,
    })
}

/// A few words naming a chain event in the chart: who acted, or for a file (whose
/// actor is only the backup domain) the end of its path.
fn point_label(e: &super::saved::FindingEvent) -> String {
    const MAX: usize = 26;
    let path_like = e.source == "manifest" || e.actor.is_empty() || e.actor == "me";
    if path_like && !e.target.is_empty() {
        let parts: Vec<&str> = e.target.trim_end_matches('/').rsplit('/').take(3).collect();
        let tail: String = parts.into_iter().rev().collect::<Vec<_>>().join("/");
        let n = tail.chars().count();
        return if n > MAX {
            format!("…{}", tail.chars().skip(n - (MAX - 1)).collect::<String>())
        } else {
            tail
        };
    }
    let who = if e.actor.is_empty() {
        e.kind.as_str()
    } else {
        e.actor.as_str()
    };
    if who.chars().count() > MAX {
        format!("{}…", who.chars().take(MAX - 1).collect::<String>())
    } else {
        who.to_string()
    }
}

/// Rows per source over time, and the day × hour heatmap.
fn activity(
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
) -> anyhow::Result<Activity> {
    let timed: Vec<i64> = cols.ts.iter().map_while(|t| *t).collect();
    let (Some(&first), Some(&last)) = (timed.first(), timed.last()) else {
        return Ok(Activity {
            svg: String::new(),
            caption: "No row has a time, so there is nothing to draw.".into(),
            heatmap_svg: String::new(),
            heatmap_caption: String::new(),
        });
    };
    let finding_starts: Vec<(i64, String)> = saved
        .findings
        .iter()
        .filter_map(|f| Some((parse_time(&f.start)?, f.id.clone())))
        .collect();
    // Stray early times (1980 placeholders, reset clocks) would squeeze the chart. From
    // the first percentile, walk back while rows follow each other closely; what lies
    // beyond a gap longer than a quarter of the bulk's span is left out of the chart.
    let p1 = (timed.len() / 100).min(timed.len() - 1);
    let bulk = last - timed.get(p1).copied().unwrap_or(first);
    let mut k = p1;
    while k > 0 && timed[k] - timed[k - 1] <= bulk / 4 {
        k -= 1;
    }
    let mut from = timed.get(k).copied().unwrap_or(first);
    if let Some(earliest) = finding_starts.iter().map(|f| f.0).min() {
        from = from.min(earliest);
    }
    let clipped = timed.partition_point(|t| *t < from);
    let span_s = ((last - from) / MICROS).max(60);
    let (bucket_s, bucket_name) = charts::bucket_for(span_s, 320);
    let from_s = (from / MICROS).div_euclid(bucket_s) * bucket_s;
    let to_s = (last / MICROS).div_euclid(bucket_s) * bucket_s;

    let counts = saved
        .timeline
        .clone()
        .lazy()
        .filter(col("ts").is_not_null())
        .select([
            col("source"),
            col("ts")
                .cast(DataType::Int64)
                .floor_div(lit(bucket_s * MICROS))
                .alias("bucket"),
        ])
        .filter(col("bucket").gt_eq(lit(from_s / bucket_s)))
        .group_by([col("source"), col("bucket")])
        .agg([len().alias("rows")])
        .sort(["source", "bucket"], SortMultipleOptions::default())
        .collect()?;
    let src = counts.column("source")?.str()?.clone();
    let bucket = counts.column("bucket")?.i64()?.clone();
    let rows = counts.column("rows")?.cast(&DataType::UInt64)?;
    let rows = rows.u64()?;
    let mut per_source: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for ((s, b), r) in src.iter().zip(bucket.iter()).zip(rows.iter()) {
        if let (Some(s), Some(b), Some(r)) = (s, b, r) {
            per_source
                .entry(s.to_string())
                .or_default()
                .push((b * bucket_s, r));
        }
    }
    let mut sources: Vec<SourceActivity> = saved
        .log
        .rows_by_source
        .iter()
        .map(|(s, total)| SourceActivity {
            source: s.clone(),
            color: charts::parse_hex(colors.get(s).map(String::as_str).unwrap_or("#777777")),
            total: *total,
            buckets: per_source.remove(s).unwrap_or_default(),
        })
        .collect();
    // Sources the run log does not list (a hand-made timeline) still get a panel.
    for (s, buckets) in per_source {
        let total = buckets.iter().map(|b| b.1 as usize).sum();
        sources.push(SourceActivity {
            color: charts::parse_hex(colors.get(&s).map(String::as_str).unwrap_or("#777777")),
            source: s,
            total,
            buckets,
        });
    }
    sources.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.source.cmp(&b.source)));
    let svg = charts::activity(&ActivityPlot {
        sources,
        from_s,
        to_s,
        bucket_s,
        marks: finding_starts
            .iter()
            .map(|(t, id)| (t / MICROS, id.clone()))
            .collect(),
    })?;
    let mut caption = format!(
        "Each bar is one {bucket_name} (UTC); bar height grows with the square root of the rows, scaled per source. {} to {}.",
        display_time(from_s * MICROS),
        display_time(last)
    );
    if clipped > 0 {
        caption.push_str(&format!(
            " {} rows before {} (stray early times) are left out of this chart; they are in the explorer.",
            n(clipped),
            display_time(from)
        ));
    }
    if !finding_starts.is_empty() {
        caption.push_str(" Red lines mark where findings start.");
    }
    let (heatmap_svg, heatmap_caption) = heatmap(saved, &timed, &finding_starts)?;
    Ok(Activity {
        svg,
        caption,
        heatmap_svg,
        heatmap_caption,
    })
}

fn heatmap(
    saved: &Saved,
    timed: &[i64],
    finding_starts: &[(i64, String)],
) -> anyhow::Result<(String, String)> {
    const DAY: i64 = 86_400 * MICROS;
    let (Some(&first), Some(&last)) = (timed.first(), timed.last()) else {
        return Ok((String::new(), String::new()));
    };
    // Up to a month, ending a week after the last finding (or at the last row).
    let anchor = finding_starts
        .iter()
        .map(|f| f.0)
        .max()
        .map(|t| (t + 7 * DAY).min(last))
        .unwrap_or(last);
    let end_day = anchor.div_euclid(DAY);
    let start_day = (end_day - HEATMAP_DAYS + 1).max(first.div_euclid(DAY));
    let counts = saved
        .timeline
        .clone()
        .lazy()
        .filter(col("ts").is_not_null())
        .select([col("ts").cast(DataType::Int64).alias("us")])
        .filter(
            col("us")
                .gt_eq(lit(start_day * DAY))
                .and(col("us").lt(lit((end_day + 1) * DAY))),
        )
        .select([
            col("us").floor_div(lit(DAY)).alias("day"),
            (col("us").floor_div(lit(3600 * MICROS)) % lit(24i64)).alias("hour"),
        ])
        .group_by([col("day"), col("hour")])
        .agg([len().alias("rows")])
        .sort(["day", "hour"], SortMultipleOptions::default())
        .collect()?;
    let day = counts.column("day")?.i64()?.clone();
    let hour = counts.column("hour")?.i64()?.clone();
    let rows = counts.column("rows")?.cast(&DataType::UInt64)?;
    let rows = rows.u64()?;
    let cells: Vec<(i64, u32, u64)> = day
        .iter()
        .zip(hour.iter())
        .zip(rows.iter())
        .filter_map(|((d, h), r)| Some((d?, u32::try_from(h?).ok()?, r?)))
        .collect();
    let days: Vec<i64> = (start_day..=end_day).collect();
    let marks: Vec<(i64, u32, String)> = finding_starts
        .iter()
        .filter(|(t, _)| (start_day..=end_day).contains(&t.div_euclid(DAY)))
        .map(|(t, id)| {
            (
                t.div_euclid(DAY),
                (t.rem_euclid(DAY) / (3600 * MICROS)) as u32,
                id.clone(),
            )
        })
        .collect();
    let svg = charts::heatmap(&HeatmapPlot { days, cells, marks })?;
    let caption = format!(
        "Rows per hour for each day from {} to {} (UTC){}. Darker means more rows (log scale).",
        display_time(start_day * DAY).get(..10).unwrap_or(""),
        display_time(end_day * DAY).get(..10).unwrap_or(""),
        if finding_starts.is_empty() {
            ", the last month of the timeline"
        } else {
            ", the month around the findings"
        }
    );
    Ok((svg, caption))
}

fn artifacts(log: &crate::analyze::RunLog) -> Artifacts {
    let status_name = |s: ArtifactStatus| match s {
        ArtifactStatus::Parsed => "parsed",
        ArtifactStatus::Partial => "partial",
        ArtifactStatus::Missing => "missing",
        ArtifactStatus::Failed => "failed",
    };
    let rank = |s: ArtifactStatus| match s {
        ArtifactStatus::Failed => 0,
        ArtifactStatus::Partial => 1,
        ArtifactStatus::Missing => 2,
        ArtifactStatus::Parsed => 3,
    };
    let mut list: Vec<&crate::analyze::ArtifactReport> = log.artifacts.iter().collect();
    list.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.artifact.cmp(&b.artifact))
    });
    let counts = [
        ArtifactStatus::Parsed,
        ArtifactStatus::Partial,
        ArtifactStatus::Missing,
        ArtifactStatus::Failed,
    ]
    .into_iter()
    .map(|s| {
        (
            status_name(s).to_string(),
            log.artifacts.iter().filter(|a| a.status == s).count(),
        )
    })
    .collect();
    let rows = list
        .into_iter()
        .map(|a| ArtifactRow {
            source: a.source.clone(),
            artifact: a.artifact.clone(),
            status: status_name(a.status).into(),
            rows: n(a.rows),
            warnings: a.warnings.iter().take(WARNINGS_SHOWN).cloned().collect(),
            more_warnings: a.warnings.len().saturating_sub(WARNINGS_SHOWN),
            error: a.error.clone().unwrap_or_default(),
            facts: a
                .facts
                .iter()
                .map(|(k, v)| (k.clone(), value_text(Some(v))))
                .collect(),
        })
        .collect();
    Artifacts { counts, rows }
}

fn method(log: &crate::analyze::RunLog) -> Method {
    let rules = log
        .rules
        .iter()
        .map(|r| RuleRow {
            id: value_text(r.get("id")),
            title: value_text(r.get("title")),
            window: r
                .get("window_s")
                .and_then(|w| w.as_f64())
                .map(|w| charts::offset_label(w).trim_start_matches('+').to_string())
                .unwrap_or_default(),
            min_classes: value_text(r.get("min_classes")),
            source: value_text(r.get("source")),
        })
        .collect();
    let ioc_files = log
        .ioc_files
        .iter()
        .map(|f| IocFileRow {
            path: value_text(f.get("path")),
            sha256: value_text(f.get("sha256")),
            indicators: value_text(f.get("indicators")),
            malware: value_text(f.get("malware").or_else(|| f.get("malware_names"))),
        })
        .collect();
    Method {
        rules,
        ioc_files,
        context_minutes: CONTEXT_MINUTES,
    }
}
