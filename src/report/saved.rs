//! The outputs a run saved in OUT, read back for the report: the report never
//! re-reads evidence.

use std::path::Path;

use anyhow::Context;
use polars::prelude::{DataFrame, PolarsResult, SortMultipleOptions};
use serde::{Deserialize, Deserializer, Serialize};

use crate::annotations::Annotations;
use crate::saved::RunLog;
use crate::timeline;

/// `findings.json` as the detection writes it. Private to the report so that the
/// report and detection can change their Rust types independently; the JSON
/// contract is what binds them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FindingsFile {
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Finding {
    #[serde(deserialize_with = "text")]
    pub id: String,
    #[serde(deserialize_with = "text")]
    pub rule: String,
    #[serde(deserialize_with = "text")]
    pub title: String,
    #[serde(deserialize_with = "text")]
    pub severity: String,
    pub score: Option<f64>,
    #[serde(deserialize_with = "text")]
    pub start: String,
    #[serde(deserialize_with = "text")]
    pub end: String,
    #[serde(deserialize_with = "text")]
    pub explanation: String,
    pub events: Vec<FindingEvent>,
    pub iocs: Vec<IocMatch>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct FindingEvent {
    #[serde(deserialize_with = "text")]
    pub ts: String,
    #[serde(deserialize_with = "text")]
    pub source: String,
    #[serde(deserialize_with = "text")]
    pub kind: String,
    #[serde(deserialize_with = "text")]
    pub actor: String,
    #[serde(deserialize_with = "text")]
    pub target: String,
    #[serde(deserialize_with = "text")]
    pub message: String,
    #[serde(deserialize_with = "text")]
    pub artifact: String,
    #[serde(deserialize_with = "text")]
    pub record: String,
    #[serde(deserialize_with = "text")]
    pub role: String,
    pub offset_s: Option<f64>,
    #[serde(deserialize_with = "text")]
    pub class: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct IocMatch {
    #[serde(rename(deserialize = "type"), deserialize_with = "text")]
    pub kind: String,
    #[serde(deserialize_with = "text")]
    pub value: String,
    #[serde(deserialize_with = "text")]
    pub malware: String,
    #[serde(deserialize_with = "text")]
    pub file: String,
}

/// A string field that may be `null` or a number in a hand-edited file: shown as text.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// Severity from most to least serious; anything else sorts last.
pub(crate) const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

pub(crate) fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| x.eq_ignore_ascii_case(s))
        .unwrap_or(SEVERITIES.len())
}

/// Everything the report is drawn from.
pub(crate) struct Saved {
    pub timeline: DataFrame,
    pub findings: Vec<Finding>,
    pub log: RunLog,
    pub annotations: Annotations,
    /// Outputs that could not be read: shown at the top of the report.
    pub problems: Vec<String>,
}

impl Saved {
    /// Reads OUT. timeline.parquet and run.json are required (without them there is
    /// nothing to report on); a missing or damaged findings.json or annotations.json
    /// is reported in the page and the rest still renders.
    pub fn load(out: &Path) -> anyhow::Result<Saved> {
        Saved::load_with(out, None)
    }

    /// As [`Saved::load`], with the timeline given when the caller has just written
    /// it to `out/timeline.parquet` (analyze), so it is not read back.
    pub fn load_with(out: &Path, timeline: Option<DataFrame>) -> anyhow::Result<Saved> {
        let timeline = match timeline {
            Some(t) => t,
            None => {
                let tl_path = out.join("timeline.parquet");
                timeline::read_parquet(&tl_path)
                    .with_context(|| format!("reading {}", tl_path.display()))?
            }
        };
        let timeline = sorted_by_time(timeline).context("sorting the timeline")?;

        let run_path = out.join("run.json");
        let run_bytes = std::fs::read(&run_path).with_context(|| {
            format!(
                "reading {} (is this a chainline output folder?)",
                run_path.display()
            )
        })?;
        let log: RunLog = serde_json::from_slice(&run_bytes)
            .with_context(|| format!("parsing {}", run_path.display()))?;

        let mut problems = Vec::new();
        let findings_path = out.join("findings.json");
        let findings = match std::fs::read(&findings_path) {
            Ok(b) => match serde_json::from_slice::<FindingsFile>(&b) {
                Ok(f) => f.findings,
                Err(e) => {
                    problems.push(format!(
                        "findings.json could not be read ({e}); no findings are shown"
                    ));
                    Vec::new()
                }
            },
            Err(e) => {
                problems.push(format!("findings.json is missing ({e}); detection did not run or its output was removed"));
                Vec::new()
            }
        };
        let mut findings = findings;
        // The contract orders findings by start, then rule; keep that even for a
        // hand-edited file so the page is stable.
        findings.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.id.cmp(&b.id))
        });

        let annotations = match Annotations::load(out) {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{e}; analyst tags and notes are not shown"));
                Annotations::default()
            }
        };
        Ok(Saved {
            timeline,
            findings,
            log,
            annotations,
            problems,
        })
    }
}

/// The saved timeline is sorted already; a frame written by another tool may not be.
fn sorted_by_time(df: DataFrame) -> PolarsResult<DataFrame> {
    let ts = df.column("ts")?.datetime()?.physical().clone();
    let mut last: Option<i64> = None;
    let mut seen_null = false;
    let sorted = ts.iter().all(|v| match v {
        None => {
            seen_null = true;
            true
        }
        Some(v) => {
            let ok = !seen_null && last.is_none_or(|l| l <= v);
            last = Some(v);
            ok
        }
    });
    if sorted {
        let mut df = df;
        df.rechunk_mut();
        return Ok(df);
    }
    let mut df = df.sort(
        ["ts"],
        SortMultipleOptions::default()
            .with_nulls_last(true)
            .with_maintain_order(true),
    )?;
    df.rechunk_mut();
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_tolerate_nulls_and_missing_fields() {
        let f: FindingsFile = serde_json::from_str(
            r#"{"findings": [{"id": "F001", "rule": null, "severity": "HIGH", "score": 7,
                "events": [{"ts": "2022-09-13T10:04:11.890000Z", "offset_s": 0, "role": "trigger"}]}]}"#,
        )
        .unwrap();
        let x = &f.findings[0];
        assert_eq!(
            (x.id.as_str(), x.rule.as_str(), x.score),
            ("F001", "", Some(7.0))
        );
        assert_eq!(severity_rank(&x.severity), 1);
        assert_eq!(x.events[0].class, "");
        assert_eq!(x.events[0].offset_s, Some(0.0));
    }
}
