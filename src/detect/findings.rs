//! What detection hands to the report and the shell: `findings.json` (the shared contract
//! in BRIEF.md) and the same data as two Parquet tables.

use std::path::Path;

use anyhow::Context;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::timeline::time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Trigger,
    FollowUp,
    Context,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Trigger => "trigger",
            Role::FollowUp => "follow_up",
            Role::Context => "context",
        }
    }
}

/// One timeline row inside a finding. `ts` is RFC 3339 UTC, or "" for a row the evidence
/// gave no time; `offset_s` is seconds after the finding's trigger (0 for the trigger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEvent {
    pub ts: String,
    pub source: String,
    pub kind: String,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub artifact: String,
    pub record: String,
    pub role: Role,
    pub offset_s: f64,
    pub class: String,
}

/// An indicator that matched a row of the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IocMatch {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub malware: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub score: f64,
    /// First and last event time (RFC 3339 UTC), "" when no event has a time.
    pub start: String,
    pub end: String,
    pub explanation: String,
    pub events: Vec<FindingEvent>,
    pub iocs: Vec<IocMatch>,
}

impl Finding {
    /// Malware names of the finding's indicator matches, deduplicated, in order.
    pub fn malware(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in &self.iocs {
            if !out.contains(&m.malware.as_str()) {
                out.push(&m.malware);
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingsFile {
    pub findings: Vec<Finding>,
}

/// Writes `findings.json`, `findings.parquet` and `finding_events.parquet` into `out`.
pub fn write_all(out: &Path, findings: &[Finding]) -> anyhow::Result<()> {
    let doc = FindingsFile {
        findings: findings.to_vec(),
    };
    std::fs::write(out.join("findings.json"), serde_json::to_vec_pretty(&doc)?)
        .context("writing findings.json")?;
    let f = findings_frame(findings)?;
    crate::timeline::write_parquet(&f, &out.join("findings.parquet"))
        .map_err(|e| anyhow::anyhow!("writing findings.parquet: {e}"))?;
    let e = events_frame(findings)?;
    crate::timeline::write_parquet(&e, &out.join("finding_events.parquet"))
        .map_err(|e| anyhow::anyhow!("writing finding_events.parquet: {e}"))?;
    Ok(())
}

pub fn read_json(path: &Path) -> anyhow::Result<FindingsFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

fn micros(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}

fn datetime_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Microseconds, Some(crate::timeline::utc()))
        .into_column()
}

/// One row per finding.
pub fn findings_frame(findings: &[Finding]) -> PolarsResult<DataFrame> {
    let n = findings.len();
    let col = |name: &str, f: &dyn Fn(&Finding) -> String| {
        Column::new(name.into(), findings.iter().map(f).collect::<Vec<String>>())
    };
    DataFrame::new(
        n,
        vec![
            col("id", &|f| f.id.clone()),
            col("rule", &|f| f.rule.clone()),
            col("title", &|f| f.title.clone()),
            col("severity", &|f| f.severity.as_str().to_string()),
            Column::new(
                "score".into(),
                findings.iter().map(|f| f.score).collect::<Vec<f64>>(),
            ),
            datetime_column("start", findings.iter().map(|f| micros(&f.start)).collect()),
            datetime_column("end", findings.iter().map(|f| micros(&f.end)).collect()),
            col("explanation", &|f| f.explanation.clone()),
            col("malware", &|f| f.malware().join(",")),
        ],
    )
}

/// One row per event of every finding.
pub fn events_frame(findings: &[Finding]) -> PolarsResult<DataFrame> {
    let rows: Vec<(&Finding, &FindingEvent)> = findings
        .iter()
        .flat_map(|f| f.events.iter().map(move |e| (f, e)))
        .collect();
    let n = rows.len();
    let col = |name: &str, g: &dyn Fn(&Finding, &FindingEvent) -> String| {
        Column::new(
            name.into(),
            rows.iter().map(|(f, e)| g(f, e)).collect::<Vec<String>>(),
        )
    };
    DataFrame::new(
        n,
        vec![
            col("finding_id", &|f, _| f.id.clone()),
            datetime_column("ts", rows.iter().map(|(_, e)| micros(&e.ts)).collect()),
            col("source", &|_, e| e.source.clone()),
            col("kind", &|_, e| e.kind.clone()),
            col("actor", &|_, e| e.actor.clone()),
            col("target", &|_, e| e.target.clone()),
            col("message", &|_, e| e.message.clone()),
            col("artifact", &|_, e| e.artifact.clone()),
            col("record", &|_, e| e.record.clone()),
            col("role", &|_, e| e.role.as_str().to_string()),
            Column::new(
                "offset_s".into(),
                rows.iter().map(|(_, e)| e.offset_s).collect::<Vec<f64>>(),
            ),
            col("class", &|_, e| e.class.clone()),
        ],
    )
}

/// `F001`, `F002`, …: stable for a given set of findings ordered by start then rule.
pub fn finding_id(i: usize) -> String {
    format!("F{:03}", i + 1)
}

pub(crate) fn ts_string(us: Option<i64>) -> String {
    us.and_then(time::from_micros)
        .map(|t| time::rfc3339(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Finding {
        Finding {
            id: "F001".into(),
            rule: "triangulation_exact".into(),
            title: "BackupAgent used the network".into(),
            severity: Severity::Critical,
            score: 10.0,
            start: "2022-09-13T10:05:14.740000Z".into(),
            end: "2022-09-13T10:05:14.740000Z".into(),
            explanation: "x".into(),
            events: vec![FindingEvent {
                ts: "2022-09-13T10:05:14.740000Z".into(),
                source: "datausage".into(),
                kind: "network_usage".into(),
                actor: "BackupAgent".into(),
                target: "".into(),
                message: "m".into(),
                artifact: "WirelessDomain/Library/Databases/DataUsage.sqlite".into(),
                record: "ZLIVEUSAGE:12".into(),
                role: Role::Trigger,
                offset_s: 0.0,
                class: "".into(),
            }],
            iocs: vec![IocMatch {
                kind: "process:name".into(),
                value: "BackupAgent".into(),
                malware: "OperationTriangulation".into(),
                file: "operation_triangulation.stix2".into(),
            }],
        }
    }

    #[test]
    fn json_has_exactly_the_contract_keys() {
        let v = serde_json::to_value(FindingsFile {
            findings: vec![sample()],
        })
        .unwrap();
        let f = &v["findings"][0];
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 10);
        for k in [
            "id",
            "rule",
            "title",
            "severity",
            "score",
            "start",
            "end",
            "explanation",
            "events",
            "iocs",
        ] {
            assert!(keys.contains(&k), "{k}");
        }
        assert_eq!(f["severity"], "critical");
        let e = f["events"][0].as_object().unwrap();
        let mut ek: Vec<&str> = e.keys().map(String::as_str).collect();
        ek.sort();
        assert_eq!(
            ek,
            [
                "actor", "artifact", "class", "kind", "message", "offset_s", "record", "role",
                "source", "target", "ts"
            ]
        );
        assert_eq!(e["role"], "trigger");
        assert_eq!(e["offset_s"], 0.0);
        let i = f["iocs"][0].as_object().unwrap();
        let mut ik: Vec<&str> = i.keys().map(String::as_str).collect();
        ik.sort();
        assert_eq!(ik, ["file", "malware", "type", "value"]);
    }

    #[test]
    fn parquet_tables_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        write_all(dir.path(), &[sample()]).unwrap();
        let f = crate::timeline::read_parquet(&dir.path().join("findings.parquet")).unwrap();
        assert_eq!(f.height(), 1);
        assert_eq!(
            f.column("malware").unwrap().str().unwrap().get(0),
            Some("OperationTriangulation")
        );
        assert_eq!(f.column("score").unwrap().f64().unwrap().get(0), Some(10.0));
        let e = crate::timeline::read_parquet(&dir.path().join("finding_events.parquet")).unwrap();
        assert_eq!(e.height(), 1);
        assert_eq!(
            e.column("finding_id").unwrap().str().unwrap().get(0),
            Some("F001")
        );
        assert_eq!(
            e.column("record").unwrap().str().unwrap().get(0),
            Some("ZLIVEUSAGE:12")
        );
        let back = read_json(&dir.path().join("findings.json")).unwrap();
        assert_eq!(back.findings, vec![sample()]);
    }
}
