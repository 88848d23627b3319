//! `chainline rules list | check | test`: the rules as a library an analyst can inspect,
//! validate without evidence, and try on a saved analysis.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::DataFrame;

use super::baseline;
use super::columns::Columns;
use super::engine::{self, TriggerTrace};
use super::explain::fmt_offset;
use super::rule::{self, Pred, Rule, RuleError, Selector, SeverityMap};

/// The `source` values of every source chainline has.
fn all_sources() -> Vec<&'static str> {
    crate::sources::registry()
        .iter()
        .map(|s| s.name())
        .collect()
}

/// The sources a selector can match (every source when it names none).
fn sources_of(pred: &Pred, known: &[&'static str]) -> Vec<&'static str> {
    match &pred.source {
        Some(m) => known.iter().copied().filter(|s| m.matches(s)).collect(),
        None => {
            // A selector without a source may still name them in `any` branches.
            let mut out: Vec<&'static str> =
                pred.any.iter().flat_map(|p| sources_of(p, known)).collect();
            if out.is_empty() || pred.any.iter().any(|p| p.source.is_none()) {
                return known.to_vec();
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// Sources the rule's triggers read (a trigger is needed for anything to fire).
pub fn trigger_sources(rule: &Rule) -> Vec<&'static str> {
    let known = all_sources();
    let mut out: Vec<&'static str> = rule
        .triggers
        .iter()
        .flat_map(|s: &Selector| sources_of(&s.pred, &known))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn severity_text(s: &SeverityMap) -> String {
    match s {
        SeverityMap::Fixed(s) => s.as_str().to_string(),
        SeverityMap::Thresholds {
            critical,
            high,
            medium,
            ..
        } => {
            let mut parts = Vec::new();
            for (name, v) in [("critical", critical), ("high", high), ("medium", medium)] {
                if let Some(v) = v {
                    parts.push(format!("{name}≥{v}"));
                }
            }
            format!("scored ({})", parts.join(", "))
        }
    }
}

/// One line per rule: id, severity, the sources its triggers need, and — given a saved
/// analysis — whether that analysis holds rows of them.
pub fn list(rules: &[Rule], out: Option<&Path>) -> anyhow::Result<String> {
    let present: Option<Vec<String>> = match out {
        Some(o) => {
            let text = std::fs::read_to_string(o.join("run.json"))?;
            let run: serde_json::Value = serde_json::from_str(&text)?;
            Some(
                run["rows_by_source"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default(),
            )
        }
        None => None,
    };
    let mut s = String::new();
    for r in rules {
        let needs = trigger_sources(r);
        let have = present.as_ref().map(|p| {
            let found: Vec<&str> = needs
                .iter()
                .copied()
                .filter(|n| p.iter().any(|x| x == n))
                .collect();
            if found.is_empty() {
                "  [no trigger source in this analysis]".to_string()
            } else {
                format!("  [has {}]", found.join(", "))
            }
        });
        let _ = writeln!(
            s,
            "{:<24} {:<34} triggers on {}{}\n    {}",
            r.id,
            severity_text(&r.severity),
            needs.join(", "),
            have.unwrap_or_default(),
            r.title
        );
    }
    Ok(s)
}

/// Validates a rule file without evidence; the same errors as analysis gives.
pub fn check(path: &Path) -> Result<Vec<Rule>, RuleError> {
    rule::load_file(path)
}

/// Runs the rules of `path` (or the built-in rule with that id) against a saved
/// analysis and says, for each trigger row, why it did or did not start a chain.
pub fn test(rules: &[Rule], out: &Path, max_triggers: usize) -> anyhow::Result<String> {
    let mut tl: DataFrame = crate::timeline::read_parquet(&out.join("timeline.parquet"))?;
    tl.rechunk_mut();
    let cols = Columns::new(&tl)?;
    let base = baseline::Baseline::build(&cols);
    let mut s = String::new();
    for r in rules {
        let sel = engine::selections(r, &cols);
        let mut trace: Vec<TriggerTrace> = Vec::new();
        let chains = engine::chains(r, sel, &cols, &base, Some(&mut trace));
        let qualified = trace.iter().filter(|t| t.qualified).count();
        let _ = writeln!(
            s,
            "rule {}: {} trigger rows, {} qualified, {} chains",
            r.id,
            trace.len(),
            qualified,
            chains.len()
        );
        for t in trace.iter().take(max_triggers) {
            let verdict = if t.qualified {
                match &t.vetoed {
                    Some((v, _)) => format!("QUALIFIED, vetoed by {v} (reported low)"),
                    None => "QUALIFIED".to_string(),
                }
            } else {
                let mut why = Vec::new();
                if t.classes.len() < r.min_classes {
                    why.push(format!(
                        "{} class(es) ({}), needs {}",
                        t.classes.len(),
                        t.classes.join(", "),
                        r.min_classes
                    ));
                }
                for g in &t.missing {
                    why.push(format!("none of [{}] present", g.join(", ")));
                }
                format!("not qualified: {}", why.join("; "))
            };
            let found: Vec<String> = t.found.iter().map(|(n, k)| format!("{n} ×{k}")).collect();
            let _ = writeln!(
                s,
                "  {} {} {} ({} {}): follow-ups within {}: {} → {verdict}",
                super::explain::fmt_when(t.ts),
                t.trigger,
                super::explain::cite(&cols, t.row),
                cols.actor(t.row),
                cols.target(t.row),
                fmt_offset(r.window_s as i64 * 1_000_000),
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                },
            );
        }
        if trace.len() > max_triggers {
            let _ = writeln!(s, "  … {} more trigger rows", trace.len() - max_triggers);
        }
        for c in &chains {
            let _ = writeln!(s, "  chain: score {} → {}", c.score, c.severity.as_str());
        }
    }
    Ok(s)
}
