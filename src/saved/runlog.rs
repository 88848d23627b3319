//! run.json: what was read, what could not be, and how long each stage took.

use std::collections::BTreeMap;
use std::time::Instant;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::evidence::{Artifact, Evidence, InputRecord, Warning};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactStatus {
    /// Read completely.
    Parsed,
    /// Read with warnings (some rows or columns could not be used).
    Partial,
    /// Listed or expected but not present.
    Missing,
    /// Could not be read; rows read before the failure are kept.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactReport {
    pub source: String,
    pub artifact: String,
    pub path: Option<String>,
    pub container: usize,
    pub status: ArtifactStatus,
    pub rows: usize,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub elapsed_ms: f64,
}

impl ArtifactReport {
    pub fn missing(source: &str, logical: &str, container: usize, reason: &str) -> Self {
        ArtifactReport {
            source: source.into(),
            artifact: logical.into(),
            path: None,
            container,
            status: ArtifactStatus::Missing,
            rows: 0,
            warnings: vec![reason.to_string()],
            error: None,
            facts: Default::default(),
            elapsed_ms: 0.0,
        }
    }

    pub fn parsed(
        source: &str,
        art: &Artifact,
        rows: usize,
        warnings: Vec<String>,
        facts: serde_json::Map<String, serde_json::Value>,
        t: Instant,
    ) -> Self {
        ArtifactReport {
            source: source.into(),
            artifact: art.logical.clone(),
            path: Some(art.path.display().to_string()),
            container: art.container,
            status: if warnings.is_empty() {
                ArtifactStatus::Parsed
            } else {
                ArtifactStatus::Partial
            },
            rows,
            warnings,
            error: None,
            facts,
            elapsed_ms: t.elapsed().as_secs_f64() * 1e3,
        }
    }
}

/// The command line with the value of `--password` replaced: run.json and the report
/// show the command, never the secret.
pub fn redact_secrets(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("<redacted>".into());
            hide_next = false;
        } else if a == "--password" {
            out.push(a);
            hide_next = true;
        } else if a.starts_with("--password=") {
            out.push("--password=<redacted>".into());
        } else {
            out.push(a);
        }
    }
    out
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub ms: f64,
    /// The process's peak resident memory so far, in MiB, when the stage ended
    /// (`VmHWM`; Linux only), so memory can be put down to the stage that raised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
    /// CPU time the whole process spent during the stage (user + system, all threads),
    /// in ms (Linux only; 10 ms resolution). Against `ms`, how many cores it kept busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<f64>,
}

/// When a stage began: the wall clock and the process's CPU time so far.
#[derive(Debug, Clone, Copy)]
pub struct StageStart {
    wall: Instant,
    cpu_ms: Option<f64>,
}

impl StageStart {
    pub fn now() -> StageStart {
        StageStart {
            wall: Instant::now(),
            cpu_ms: process_cpu_ms(),
        }
    }
}

/// The CPU time (user + system, every thread) the process has used so far, in ms:
/// fields 14 and 15 of /proc/self/stat, in the kernel's fixed 100 Hz user ticks.
fn process_cpu_ms() -> Option<f64> {
    cpu_ms_from_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

fn cpu_ms_from_stat(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces and `)`: fields
    // are counted after the last `)`, where field 3 is the first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) * 10.0)
}

/// The process's peak resident set size so far (`VmHWM` in /proc/self/status), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerReport {
    pub kind: crate::evidence::ContainerKind,
    pub origin: String,
    pub device: crate::evidence::DeviceInfo,
    /// The prefix of this container's `artifact` values when the case holds another
    /// container of the same kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Encrypted backups: how they were opened, or why they could not be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionReport>,
}

/// How an encrypted backup was opened; never the password or the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EncryptionReport {
    pub encrypted: bool,
    /// `password` or `key_file`; absent when the backup did not open.
    pub unlocked_with: Option<crate::evidence::UnlockMethod>,
    /// The key came from PBKDF2-SHA1 alone (a keybag of iOS before 10.2).
    #[serde(default)]
    pub sha1_only: bool,
    /// Why the backup could not be opened (it was left out of the analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunLog {
    pub tool: String,
    pub version: String,
    pub started: String,
    pub finished: Option<String>,
    pub command: Vec<String>,
    pub out: String,
    /// True when anything could not be read completely: an artifact failed, was
    /// missing or partial, or discovery left something out (`warnings`). The exit
    /// status is 0 either way; this is the flag to check (docs/HOSTILE.md).
    #[serde(default)]
    pub partial: bool,
    /// What discovery could not use or noticed, outside any one artifact.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    pub containers: Vec<ContainerReport>,
    pub inputs: Vec<InputRecord>,
    pub artifacts: Vec<ArtifactReport>,
    pub rows_total: usize,
    pub rows_by_source: BTreeMap<String, usize>,
    pub rows_without_time: usize,
    pub time_span: Option<(String, String)>,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub rules: Vec<serde_json::Value>,
    #[serde(default)]
    pub ioc_files: Vec<serde_json::Value>,
    #[serde(skip)]
    started_at: Option<StageStart>,
}

impl RunLog {
    /// A run log for an analysis writing into `out`, started now.
    pub fn start(out: &std::path::Path) -> Self {
        RunLog {
            tool: "chainline".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            started: crate::timeline::time::rfc3339(&chrono::Utc::now()),
            finished: None,
            command: redact_secrets(std::env::args()),
            out: out.display().to_string(),
            partial: false,
            warnings: Vec::new(),
            containers: Vec::new(),
            inputs: Vec::new(),
            artifacts: Vec::new(),
            rows_total: 0,
            rows_by_source: BTreeMap::new(),
            rows_without_time: 0,
            time_span: None,
            stages: Vec::new(),
            rules: Vec::new(),
            ioc_files: Vec::new(),
            started_at: Some(StageStart::now()),
        }
    }

    pub fn record_containers(&mut self, ev: &Evidence) {
        self.containers = ev
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| ContainerReport {
                kind: c.kind,
                origin: c.origin.display().to_string(),
                device: c.device.clone(),
                label: ev.label(i).map(str::to_string),
                encryption: c.encryption.as_ref().map(|e| EncryptionReport {
                    encrypted: true,
                    unlocked_with: Some(e.method),
                    sha1_only: e.sha1_only,
                    error: None,
                }),
            })
            .chain(ev.failed.iter().map(|f| ContainerReport {
                kind: f.kind,
                origin: f.origin.display().to_string(),
                device: Default::default(),
                label: None,
                encryption: Some(EncryptionReport {
                    encrypted: true,
                    unlocked_with: None,
                    sha1_only: false,
                    error: Some(f.error.clone()),
                }),
            }))
            .collect();
        self.warnings = ev.warnings.clone();
        // A backup that did not open (wrong or missing password) beside other evidence.
        self.warnings.extend(ev.failed.iter().map(|f| {
            crate::evidence::Warning::new(
                f.origin.to_string_lossy(),
                format!("not analysed: {}", f.error),
            )
        }));
    }

    pub fn stage(&mut self, name: &str, t: StageStart) {
        let cpu_ms = match (t.cpu_ms, process_cpu_ms()) {
            (Some(from), Some(to)) => Some(to - from),
            _ => None,
        };
        self.stages.push(Stage {
            name: name.into(),
            ms: t.wall.elapsed().as_secs_f64() * 1e3,
            peak_rss_mib: peak_rss_mib(),
            cpu_ms,
        });
    }

    pub fn summarise(&mut self, tl: &DataFrame) {
        self.rows_total = tl.height();
        self.rows_by_source.clear();
        if let Ok(src) = tl.column("source").and_then(|c| c.str().cloned()) {
            for s in src.iter().flatten() {
                *self.rows_by_source.entry(s.to_string()).or_default() += 1;
            }
        }
        if let Ok(ts) = tl.column("ts").and_then(|c| c.datetime().cloned()) {
            self.rows_without_time = ts.null_count();
            let phys = ts.physical();
            if let (Some(lo), Some(hi)) = (phys.min(), phys.max()) {
                let f = |us| {
                    crate::timeline::time::from_micros(us)
                        .map(|t| crate::timeline::time::rfc3339(&t))
                        .unwrap_or_default()
                };
                self.time_span = Some((f(lo), f(hi)));
            }
        }
    }

    pub fn finish(&mut self) {
        self.partial = !self.warnings.is_empty() || self.problems().next().is_some();
        self.finished = Some(crate::timeline::time::rfc3339(&chrono::Utc::now()));
        self.update_total();
    }

    /// (Re)sets the `total` stage to the time since the run started; called again after
    /// the report is rendered so the total covers every stage.
    pub fn update_total(&mut self) {
        if let Some(t) = self.started_at {
            self.stages.retain(|s| s.name != "total");
            self.stage("total", t);
        }
    }

    /// Artifacts that could not be read completely, for the report and the exit summary.
    /// (Backups that did not open are in `containers`, with `encryption.error`.)
    pub fn problems(&self) -> impl Iterator<Item = &ArtifactReport> {
        self.artifacts
            .iter()
            .filter(|a| a.status != ArtifactStatus::Parsed)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_time_is_user_plus_system_ticks_after_the_command_name() {
        // utime 250 and stime 7 ticks (fields 14 and 15), behind a name with `) (`.
        let line = "4242 (a) (b c) R 1 4242 4242 0 -1 4194304 900 0 0 0 250 7 0 0 20 0 3 0";
        assert_eq!(super::cpu_ms_from_stat(line), Some(2570.0));
        assert_eq!(super::cpu_ms_from_stat("4242 (cut short) R 1 2"), None);
        assert_eq!(super::cpu_ms_from_stat("no name at all"), None);
        // This process's own: read, and never going backwards.
        let a = super::process_cpu_ms().expect("/proc/self/stat on Linux");
        let b = super::process_cpu_ms().expect("/proc/self/stat on Linux");
        assert!(a >= 0.0 && b >= a, "{a} then {b}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_rss_is_read_in_mib_and_covers_touched_memory() {
        let before = super::peak_rss_mib().expect("VmHWM on Linux");
        assert!(before > 0.0);
        // 64 MiB written (so resident): the high-water mark is at least that, in MiB.
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let after = super::peak_rss_mib().expect("VmHWM on Linux");
        assert!(after >= 64.0 && after >= before, "{before} → {after}");
    }
}
