//! What the template shows, built from the saved outputs: the page model and the
//! helpers its sections share. Every string here may come from evidence; the template
//! escapes it (tera autoescape).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::activity::{self, Activity};
use super::charts;
use super::columns::Columns;
use super::explorer::{LeftOut, Plan, RowMarks};
use super::findings::{self, FindingView, Verdict};
use super::saved::{severity_rank, Saved};
use super::summary::{self, Artifacts, Case, Method};
use super::{display_time, parse_time};

pub(crate) const MICROS: i64 = 1_000_000;

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
pub(crate) struct ExplorerView {
    pub total: String,
    pub embedded: String,
    pub cap: String,
    pub left_out: Option<LeftOut>,
}

/// A JSON value from run.json as one line of text.
pub(crate) fn value_text(v: Option<&serde_json::Value>) -> String {
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

pub(crate) fn duration(secs: f64) -> String {
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
        if let Some(tags) = by_record.get(&cols.key(i)) {
            out.insert(i, tags.clone());
        }
    }
    out
}

pub(crate) struct Built {
    pub page: Page,
    pub marks: RowMarks,
    /// The explorer's rows (they depend on `marks`).
    pub plan: Plan,
}

/// The page, the rows its findings and tags mark, and the explorer's rows (at most
/// `explorer_cap`).
pub(crate) fn build(
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
    explorer_cap: usize,
) -> anyhow::Result<Built> {
    // The activity charts need no marks: drawn on one core while the other makes the
    // finding cards and then chooses the explorer's rows.
    let (activity, marked) = rayon::join(
        || activity::activity(saved, cols, colors),
        || {
            finding_cards(saved, cols, colors).map(|(cards, marks)| {
                let plan = Plan::new(cols, &marks, explorer_cap);
                (cards, marks, plan)
            })
        },
    );
    let (cards, marks, plan) = marked?;
    let log = &saved.log;
    let page = Page {
        version: log.version.clone(),
        problems: saved.problems.clone(),
        case: summary::case(saved, colors),
        verdict: findings::verdict(&saved.findings),
        findings: cards,
        activity: activity?,
        explorer: ExplorerView {
            total: n(plan.total),
            embedded: n(plan.embedded()),
            cap: n(explorer_cap),
            left_out: plan.left_out.clone(),
        },
        artifacts: summary::artifacts(log),
        method: summary::method(log),
    };
    Ok(Built { page, marks, plan })
}

/// The findings' cards, most serious first, and the rows they and the tags mark.
fn finding_cards(
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
) -> anyhow::Result<(Vec<FindingView>, RowMarks)> {
    let log = &saved.log;
    let mut marks = RowMarks {
        analyst_tags: analyst_tags(saved, cols),
        findings: BTreeMap::new(),
        priority: vec![false; cols.len()],
    };
    // Whether each distinct tag list marks its rows, decided once per list.
    let marking: Vec<bool> = cols
        .tag_sets
        .iter()
        .map(|tags| {
            tags.iter()
                .any(|t| t.starts_with("ioc:") || t.starts_with("finding:"))
        })
        .collect();
    for (i, set) in cols.tag_ids.iter().enumerate() {
        if marking.get(*set as usize).copied().unwrap_or(false) {
            marks.priority[i] = true;
        }
    }
    for &i in marks.analyst_tags.keys() {
        if let Some(p) = marks.priority.get_mut(i) {
            *p = true;
        }
    }
    let windows: HashMap<&str, f64> = log
        .rules
        .iter()
        .filter_map(|r| Some((r.get("id")?.as_str()?, r.get("window_s")?.as_f64()?)))
        .collect();
    let mut cards = Vec::new();
    for f in &saved.findings {
        cards.push(findings::finding_view(
            f,
            saved,
            cols,
            colors,
            &mut marks,
            windows.get(f.rule.as_str()).copied(),
        )?);
    }
    // Most serious first.
    cards.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then_with(|| a.start.cmp(&b.start))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok((cards, marks))
}

/// An RFC 3339 time to the second, for headlines.
pub(crate) fn short_time(s: &str) -> String {
    let t = pretty_time(s);
    match t.find('.') {
        Some(dot) if parse_time(s).is_some() => t[..dot].to_string(),
        _ => t,
    }
}

/// An RFC 3339 time as the tables show it, or the text as is when it does not parse.
pub(crate) fn pretty_time(s: &str) -> String {
    parse_time(s)
        .map(display_time)
        .unwrap_or_else(|| s.to_string())
}
