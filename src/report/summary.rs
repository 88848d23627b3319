//! The case summary, the artifacts table and the method: what was read, how, and
//! what could not be.

use std::collections::BTreeMap;

use serde::Serialize;

use super::charts;
use super::findings::CONTEXT_MINUTES;
use super::page::{duration, n, pretty_time, short_time, value_text, MICROS};
use super::parse_time;
use super::saved::Saved;
use crate::evidence::ContainerKind;
use crate::saved::ArtifactStatus;

/// Warnings printed per artifact; run.json holds them all.
const WARNINGS_SHOWN: usize = 20;

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
    /// Lockdown Mode as `.GlobalPreferences.plist` records it: "enabled", "disabled",
    /// or "" when no artifact said.
    pub lockdown_mode: String,
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
    pub path: String,
    pub size: String,
    pub mtime: String,
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
pub(crate) struct Artifacts {
    pub counts: Vec<(String, usize)>,
    pub rows: Vec<ArtifactRow>,
    /// run.json `partial`: something could not be read completely.
    pub partial: bool,
    /// Discovery warnings (run.json `warnings`): file or folder, and what happened.
    pub warnings: Vec<(String, String)>,
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

pub(crate) fn case(saved: &Saved, colors: &BTreeMap<String, String>) -> Case {
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
        .map(|c| {
            let kind = match c.kind {
                ContainerKind::Backup => "iTunes/Finder backup",
                ContainerKind::Filesystem => "filesystem dump",
                ContainerKind::Sysdiagnose => "sysdiagnose",
                ContainerKind::CrashReports => "crash reports",
                ContainerKind::MvtOutput => "MVT output (timeline.csv)",
                ContainerKind::Exports => "exported files",
            };
            let how = match &c.encryption {
                None => String::new(),
                Some(e) => match (&e.unlocked_with, &e.error) {
                    (_, Some(err)) => format!(" — encrypted, NOT ANALYSED: {err}"),
                    (Some(crate::evidence::UnlockMethod::KeyFile), _) => {
                        " — encrypted, opened with a key file".into()
                    }
                    _ => " — encrypted, opened with the password".into(),
                },
            };
            ContainerView {
                kind: format!("{kind}{how}"),
                origin: c.origin.clone(),
            }
        })
        .collect();
    let mut inputs: Vec<InputView> = log
        .inputs
        .iter()
        .map(|i| InputView {
            logical: i.logical.clone(),
            path: i.path.to_string_lossy().into_owned(),
            size: n(i.size as usize),
            mtime: i.mtime.as_deref().map(pretty_time).unwrap_or_default(),
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
        lockdown_mode: lockdown_mode(log),
    }
}

pub(crate) fn artifacts(log: &crate::saved::RunLog) -> Artifacts {
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
    let mut list: Vec<&crate::saved::ArtifactReport> = log.artifacts.iter().collect();
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
    Artifacts {
        counts,
        rows,
        partial: log.partial,
        warnings: log
            .warnings
            .iter()
            .map(|w| (w.artifact.clone(), w.message.clone()))
            .collect(),
    }
}

pub(crate) fn method(log: &crate::saved::RunLog) -> Method {
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

/// The Lockdown Mode state the `settings` source recorded (run.json facts).
fn lockdown_mode(log: &crate::saved::RunLog) -> String {
    log.artifacts
        .iter()
        .filter(|a| a.source == "settings")
        .find_map(|a| a.facts.get("lockdown_mode").and_then(|v| v.as_bool()))
        .map(|on| if on { "enabled" } else { "disabled" }.to_string())
        .unwrap_or_default()
}
