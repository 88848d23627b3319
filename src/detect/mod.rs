//! Detection: indicator matches and zero-click chains over the assembled timeline.
//!
//! [`run`] matches STIX indicators ([`stix`]) and tags the rows, builds this phone's
//! baseline ([`baseline`]), evaluates every chain rule ([`rule`], [`engine`]), explains
//! each chain ([`explain`]) and tags the rows that belong to a finding ([`findings`]).

mod baseline;
mod columns;
mod engine;
mod explain;
pub mod findings;
pub mod rule;
pub mod stix;
pub mod tooling;

/// Distinct values remembered by a memo (rule tests, baseline views); past this,
/// values are computed without remembering.
const MEMO_MAX: usize = 1 << 16;

pub use findings::{Finding, FindingEvent, FindingsFile, IocMatch, Role, Severity};
pub use rule::{Rule, RuleError};
pub use stix::{Indicator, IocKind, IocSet};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use polars::prelude::DataFrame;
use rayon::prelude::*;

use crate::evidence::InputRecord;
use columns::Columns;
use engine::Chain;

/// What detection runs with: the rules (embedded plus `--rules`), the indicators
/// (`--iocs`) and the evidence files read (their hashes are matched too).
#[derive(Debug, Default)]
pub struct DetectOptions {
    pub rules: Vec<Rule>,
    pub iocs: IocSet,
    pub inputs: Vec<InputRecord>,
}

impl DetectOptions {
    /// Loads rules and indicators. A bad rule file is an error naming the file; a bad
    /// indicator file is only reported (see [`IocSet::load`]).
    pub fn load(rule_files: &[PathBuf], ioc_paths: &[PathBuf]) -> Result<Self, RuleError> {
        Ok(DetectOptions {
            rules: rule::load(rule_files)?,
            iocs: IocSet::load(ioc_paths),
            inputs: Vec::new(),
        })
    }
}

/// What detection found, plus what run.json records about it.
#[derive(Debug, Default)]
pub struct Detection {
    pub findings: Vec<Finding>,
    /// run.json `rules`: one object per rule that ran.
    pub rules: Vec<serde_json::Value>,
    /// run.json `ioc_files`.
    pub ioc_files: Vec<serde_json::Value>,
    /// Problems worth a line on stderr (unreadable indicator files).
    pub warnings: Vec<String>,
}

pub const IOC_RULE: &str = "ioc_match";

/// Detects indicator matches and chains, and adds `ioc:<malware>` and `finding:<id>` tags
/// to the timeline rows involved.
pub fn run(timeline: &mut DataFrame, opts: &DetectOptions) -> anyhow::Result<Detection> {
    timeline.rechunk_mut();
    let mut det = Detection {
        rules: opts.rules.iter().map(Rule::log_entry).collect(),
        ioc_files: opts
            .iocs
            .files
            .iter()
            .map(|f| serde_json::to_value(f).unwrap_or_default())
            .collect(),
        warnings: opts
            .iocs
            .files
            .iter()
            .filter_map(|f| {
                f.error
                    .as_ref()
                    .map(|e| format!("indicator file {}: {e}", f.path))
            })
            .collect(),
        findings: Vec::new(),
    };
    if !opts.iocs.is_empty() {
        det.rules.push(serde_json::json!({
            "id": IOC_RULE, "title": "Published indicator of compromise", "window_s": 0, "min_classes": 1, "source": "builtin",
        }));
    }

    let mut tags: HashMap<u32, Vec<String>> = HashMap::new();
    let mut findings = {
        let mut cols = Columns::new(timeline)?;
        let hits = opts.iocs.match_rows(&cols, &opts.inputs);
        let mut by_row: HashMap<u32, Vec<&Indicator>> = HashMap::new();
        for h in &hits {
            let ind = &opts.iocs.indicators[h.indicator];
            let tag = format!("ioc:{}", ind.malware);
            cols.tags.add(&tag, h.row);
            let t = tags.entry(h.row).or_default();
            if !t.contains(&tag) {
                t.push(tag);
            }
            by_row.entry(h.row).or_default().push(ind);
        }
        cols.tags.settle();
        // The baseline and the rules' selections do not depend on each other: made side
        // by side, then every rule's sweep on all cores, kept in order.
        let (base, selections) = rayon::join(
            || baseline::Baseline::build(&cols),
            || {
                opts.rules
                    .par_iter()
                    .map(|r| engine::selections(r, &cols))
                    .collect::<Vec<_>>()
            },
        );
        let chains: Vec<Vec<Chain>> = opts
            .rules
            .par_iter()
            .zip(selections)
            .map(|(r, sel)| engine::chains(r, sel, &cols, &base, None))
            .collect();
        let mut out: Vec<(Finding, Vec<u32>)> = Vec::new();
        for c in chains.iter().flatten() {
            out.push(chain_finding(c, &cols, &base, &by_row));
        }
        out.extend(ioc_findings(&hits, &opts.iocs, &cols));
        out
    };

    // Stable ids: by start (findings without a time last), then rule, then first event.
    findings.sort_by(|(a, _), (b, _)| {
        (
            a.start.is_empty(),
            &a.start,
            &a.rule,
            a.events.first().map(|e| (&e.artifact, &e.record)),
        )
            .cmp(&(
                b.start.is_empty(),
                &b.start,
                &b.rule,
                b.events.first().map(|e| (&e.artifact, &e.record)),
            ))
    });
    for (i, (f, rows)) in findings.iter_mut().enumerate() {
        f.id = findings::finding_id(i);
        for &r in rows.iter() {
            tags.entry(r).or_default().push(format!("finding:{}", f.id));
        }
    }
    columns::add_tags(timeline, &tags)?;
    det.findings = findings.into_iter().map(|(f, _)| f).collect();
    Ok(det)
}

fn event(
    cols: &Columns,
    row: u32,
    role: Role,
    offset_us: Option<i64>,
    class: &str,
) -> FindingEvent {
    FindingEvent {
        ts: findings::ts_string(cols.ts(row)),
        source: cols.source(row).to_string(),
        kind: cols.kind(row).to_string(),
        actor: cols.actor(row).to_string(),
        target: cols.target(row).to_string(),
        message: cols.message(row).to_string(),
        artifact: cols.artifact(row).to_string(),
        record: cols.record(row).to_string(),
        role,
        offset_s: offset_us.map_or(0.0, |us| us as f64 / 1e6),
        class: class.to_string(),
    }
}

fn iocs_of(
    rows: impl Iterator<Item = u32>,
    by_row: &HashMap<u32, Vec<&Indicator>>,
) -> Vec<IocMatch> {
    let mut out: Vec<IocMatch> = Vec::new();
    for r in rows {
        for ind in by_row.get(&r).into_iter().flatten() {
            let m = IocMatch {
                kind: ind.kind.stix().into(),
                value: ind.value.clone(),
                malware: ind.malware.clone(),
                file: ind.file.clone(),
            };
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

fn chain_finding(
    c: &Chain,
    cols: &Columns,
    base: &baseline::Baseline,
    by_row: &HashMap<u32, Vec<&Indicator>>,
) -> (Finding, Vec<u32>) {
    let events = c
        .rows
        .iter()
        .map(|r| {
            let offset = r.ts.zip(c.trigger_ts).map(|(a, b)| a - b);
            let class = if r.role == Role::Trigger {
                ""
            } else {
                c.selector(r.sel).class.as_str()
            };
            event(cols, r.row, r.role, offset, class)
        })
        .collect();
    let rows: Vec<u32> = c.rows.iter().map(|r| r.row).collect();
    let f = Finding {
        id: String::new(),
        rule: c.rule.id.clone(),
        title: c
            .rule
            .title_for(c.rows.iter().map(|r| c.selector(r.sel).name.as_str())),
        severity: c.severity,
        score: c.score,
        start: findings::ts_string(c.start),
        end: findings::ts_string(c.end),
        explanation: explain::chain(c, cols, base, by_row),
        events,
        iocs: iocs_of(rows.iter().copied(), by_row),
    };
    (f, rows)
}

/// Weight of one indicator match: a process, file or hash on the phone means something
/// ran or was stored (10, critical); an address in a message or lookup, or a visited
/// domain, means the phone was targeted (6, high).
fn ioc_weight(ind: &Indicator) -> f64 {
    match ind.kind {
        IocKind::Process
        | IocKind::FilePath
        | IocKind::FileName
        | IocKind::Sha256
        | IocKind::Sha1
        | IocKind::Md5
        | IocKind::Profile
        | IocKind::App => 10.0,
        IocKind::Domain | IocKind::Url | IocKind::Ipv4 | IocKind::Email => 6.0,
    }
}

/// At most this many rows per indicator finding; the timeline tags carry all of them.
const MAX_IOC_EVENTS: usize = 200;

/// One finding per malware, listing every matching row.
fn ioc_findings(hits: &[stix::IocHit], set: &IocSet, cols: &Columns) -> Vec<(Finding, Vec<u32>)> {
    let mut by_malware: BTreeMap<&str, Vec<(u32, &Indicator)>> = BTreeMap::new();
    for h in hits {
        let ind = &set.indicators[h.indicator];
        by_malware
            .entry(ind.malware.as_str())
            .or_default()
            .push((h.row, ind));
    }
    let mut out = Vec::new();
    for (malware, mut list) in by_malware {
        list.sort_by_key(|(r, _)| (cols.ts(*r).is_none(), cols.ts(*r), *r));
        let mut rows: Vec<u32> = list.iter().map(|(r, _)| *r).collect();
        rows.dedup();
        let first_ts = rows.first().and_then(|r| cols.ts(*r));
        let events: Vec<FindingEvent> = rows
            .iter()
            .take(MAX_IOC_EVENTS)
            .enumerate()
            .map(|(i, &r)| {
                let offset = cols.ts(r).zip(first_ts).map(|(a, b)| a - b);
                if i == 0 {
                    event(cols, r, Role::Trigger, offset, "")
                } else {
                    event(cols, r, Role::FollowUp, offset, "ioc")
                }
            })
            .collect();
        let score = list.iter().map(|(_, i)| ioc_weight(i)).fold(0.0, f64::max);
        let timed: Vec<i64> = rows.iter().filter_map(|r| cols.ts(*r)).collect();
        let mut iocs: Vec<IocMatch> = Vec::new();
        for (_, ind) in &list {
            let m = IocMatch {
                kind: ind.kind.stix().into(),
                value: ind.value.clone(),
                malware: ind.malware.clone(),
                file: ind.file.clone(),
            };
            if !iocs.contains(&m) {
                iocs.push(m);
            }
        }
        let f = Finding {
            id: String::new(),
            rule: IOC_RULE.into(),
            title: format!("Indicators of {malware}"),
            severity: if score >= 10.0 {
                Severity::Critical
            } else {
                Severity::High
            },
            score,
            start: findings::ts_string(timed.iter().min().copied()),
            end: findings::ts_string(timed.iter().max().copied()),
            explanation: explain::iocs(malware, &list, cols),
            events,
            iocs,
        };
        out.push((f, rows));
    }
    out
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_inspect;
#[cfg(test)]
mod tests_powerlog;
