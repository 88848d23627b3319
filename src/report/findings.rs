//! The verdict and the chains: one card per finding, its chain on a time axis, its
//! evidence rows and the rows around it from every source.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::charts::{self, ChainPlot, ChainPoint};
use super::columns::Columns;
use super::explorer::RowMarks;
use super::page::{duration, pretty_time, short_time, MICROS};
use super::saved::{severity_rank, Finding, FindingEvent, IocMatch, Saved, SEVERITIES};
use super::{display_time, parse_time};

/// Context shown around each chain, before its first and after its last event.
pub(crate) const CONTEXT_MINUTES: i64 = 15;
/// Context rows printed per chain; the explorer holds the rest.
const CONTEXT_ROWS: usize = 200;

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

pub(crate) fn verdict(findings: &[Finding]) -> Verdict {
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

pub(crate) fn finding_view(
    f: &Finding,
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
    marks: &mut RowMarks,
    window_s: Option<f64>,
) -> anyhow::Result<FindingView> {
    // Evidence in time order; the trigger first among equals.
    let mut events: Vec<&FindingEvent> = f.events.iter().collect();
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
                added: pretty_time(&crate::timeline::time::rfc3339(&n.added)),
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
fn point_label(e: &FindingEvent) -> String {
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
