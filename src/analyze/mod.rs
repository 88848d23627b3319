//! The pipeline: evidence → sources → timeline → detection → outputs.

// The run log's types live in `saved` (read by the report too); re-exported for callers.
pub use crate::saved::{
    redact_secrets, ArtifactReport, ArtifactStatus, ContainerReport, EncryptionReport, RunLog,
    Stage, StageStart,
};

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use polars::prelude::DataFrame;

use crate::detect;
use crate::evidence::{Artifact, Evidence, Lookup};
use crate::sources::{self, Parse, Source};
use crate::timeline;

/// What the analyst asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub quiet: bool,
    /// Extra rule files (`--rules`).
    pub rules: Vec<PathBuf>,
    /// Indicator files or folders (`--iocs`).
    pub iocs: Vec<PathBuf>,
}

/// Everything one run produced, in memory.
pub struct Analysis {
    pub timeline: DataFrame,
    pub findings: Vec<crate::detect::Finding>,
    pub log: RunLog,
}

/// Progress on stderr unless quiet.
pub struct Progress {
    quiet: bool,
    started: Instant,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            started: Instant::now(),
        }
    }
    /// Messages name evidence files and rows: escape control and bidi characters so
    /// nothing in the evidence can drive the terminal.
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!(
                "[{:>6.1}s] {}",
                self.started.elapsed().as_secs_f64(),
                crate::query::terminal_safe(msg.as_ref())
            );
        }
    }
}

/// Runs the analysis without secrets: an encrypted backup does not open (see [`run_with`]).
pub fn run(opts: &Options) -> anyhow::Result<Analysis> {
    run_with(opts, &crate::evidence::Unlock::default())
}

/// Runs the analysis, opening encrypted backups with `unlock` (password or key file).
pub fn run_with(opts: &Options, unlock: &crate::evidence::Unlock) -> anyhow::Result<Analysis> {
    let progress = Progress::new(opts.quiet);
    let mut log = RunLog::start(&opts.out);

    // Rules and indicators first: a bad rule file stops the run before any evidence is read.
    let mut detect_opts = detect::DetectOptions::load(&opts.rules, &opts.iocs)?;
    for f in &detect_opts.iocs.files {
        match &f.error {
            Some(e) => progress.say(format!("warning: indicator file {} not used: {e}", f.path)),
            None => progress.say(format!(
                "indicators: {} from {} ({})",
                f.indicators,
                f.path,
                f.malware.join(", ")
            )),
        }
    }

    let t = StageStart::now();
    progress.say("discovering evidence");
    for p in &opts.inputs {
        check_out_not_inside(&opts.out, p)?;
    }
    let evidence = Evidence::discover_with(&opts.inputs, unlock)?;
    log.record_containers(&evidence);
    log.stage("discovery", t);
    for c in &evidence.containers {
        let how = match c.encryption.as_ref().map(|e| e.method) {
            Some(crate::evidence::UnlockMethod::Password) => {
                " (encrypted, opened with the password)"
            }
            Some(crate::evidence::UnlockMethod::KeyFile) => {
                " (encrypted, opened with the key file)"
            }
            None => "",
        };
        progress.say(format!("found {:?} at {}{how}", c.kind, c.origin.display()));
    }
    for f in &evidence.failed {
        progress.say(format!("warning: {} (left out of the analysis)", f.error));
    }
    for w in &evidence.warnings {
        progress.say(format!("warning: {}: {}", w.artifact, w.message));
    }

    let t = StageStart::now();
    let registry = sources::registry();
    let frames = ingest(&evidence, &registry, &mut log, &progress);
    // Everything read from the evidence is in the frames now: the Manifest index and
    // the scratch copies go before the timeline is built, lowering the peak.
    log.inputs = evidence.inputs.all();
    drop(evidence);
    log.stage("sources", t);

    let t = StageStart::now();
    let mut timeline = timeline::assemble(frames).context("building the timeline")?;
    log.stage("timeline_build", t);
    progress.say(format!("timeline: {} rows", timeline.height()));

    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating output folder {}", opts.out.display()))?;

    // Detection runs before the Parquet write: it adds ioc:/finding: tags to the rows.
    let t = StageStart::now();
    detect_opts.inputs = log.inputs.clone();
    let detection = detect::run(&mut timeline, &detect_opts).context("detecting chains")?;
    for w in &detection.warnings {
        progress.say(format!("warning: {w}"));
    }
    log.rules = detection.rules;
    log.ioc_files = detection.ioc_files;
    let findings = detection.findings;
    detect::findings::write_all(&opts.out, &findings)?;
    log.stage("detection", t);
    progress.say(format!("findings: {}", findings.len()));

    let t = StageStart::now();
    timeline::write_parquet(&timeline, &opts.out.join("timeline.parquet"))
        .context("writing timeline.parquet")?;
    log.stage("parquet_write", t);

    log.summarise(&timeline);
    log.finish();
    std::fs::write(opts.out.join("run.json"), serde_json::to_vec_pretty(&log)?)?;

    // The report reads only what was saved above, as `chainline report OUT` does; the
    // timeline it would read back is the frame just written, so it is handed over.
    let t = StageStart::now();
    let report = crate::report::render_saved_timeline(&opts.out, timeline.clone())
        .context("writing report.html")?;
    log.stage("report_render", t);
    log.update_total();
    std::fs::write(opts.out.join("run.json"), serde_json::to_vec_pretty(&log)?)?;
    progress.say(format!("report: {}", report.display()));
    Ok(Analysis {
        timeline,
        findings,
        log,
    })
}

/// One artifact's report, with its rows when they could be built.
type Parsed = (ArtifactReport, Option<DataFrame>);

/// Runs every source over every artifact it found, in parallel. A failing artifact is
/// logged and the others go on.
fn ingest(
    evidence: &Evidence,
    registry: &[Box<dyn Source>],
    log: &mut RunLog,
    progress: &Progress,
) -> Vec<DataFrame> {
    let mut jobs: Vec<(&dyn Source, Artifact)> = Vec::new();
    for s in registry {
        for l in s.discover(evidence) {
            match l {
                Lookup::Found(a) => jobs.push((s.as_ref(), a)),
                Lookup::Missing {
                    logical,
                    container,
                    reason,
                } => {
                    progress.say(format!(
                        "warning: {}: {logical} missing: {reason}",
                        s.name()
                    ));
                    log.artifacts.push(ArtifactReport::missing(
                        s.name(),
                        &logical,
                        container,
                        &reason,
                    ));
                }
            }
        }
    }
    // A bar while the sources run (drawn only when stderr is a terminal and not -q).
    let bar = if progress.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(jobs.len() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} artifacts {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Largest artifact first, each taken by the next free worker: the few big
    // databases (sms.db, DataUsage, Manifest.db) then run side by side with the
    // small files filling in after them, instead of rayon's halving putting several
    // big ones on one thread. Results are kept in job order.
    let sizes: Vec<u64> = jobs
        .iter()
        .map(|(_, art)| std::fs::metadata(&art.path).map_or(0, |m| m.len()))
        .collect();
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<(usize, Parsed)>> =
        std::sync::Mutex::new(Vec::with_capacity(jobs.len()));
    let run_one = |(source, art): &(&dyn Source, Artifact)| {
        bar.set_message(source.name());
        let t = Instant::now();
        let mut p = Parse::new(evidence, art);
        // A parser bug on hostile input costs that artifact, never the run.
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| source.parse(&mut p)))
                .unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown".into());
                    Err(sources::SourceError::Format(format!(
                        "internal error while parsing ({what}); rows before it kept"
                    )))
                });
        let rows = p.rows();
        let (builder, warnings, facts) = p.into_parts();
        bar.inc(1);
        let mut report = ArtifactReport::parsed(source.name(), art, rows, warnings, facts, t);
        // Never the private temp path of an unpacked archive: it is gone after the run.
        report.path = Some(
            evidence
                .inputs
                .shown_path(&art.path)
                .to_string_lossy()
                .into_owned(),
        );
        match outcome {
            Ok(()) => {}
            Err(e) => {
                report.status = ArtifactStatus::Failed;
                report.error = Some(e.to_string());
            }
        }
        match builder.finish() {
            Ok(df) => (report, Some(df)),
            Err(e) => {
                report.status = ArtifactStatus::Failed;
                report.error = Some(format!("building rows: {e}"));
                (report, None)
            }
        }
    };
    rayon::scope(|s| {
        for _ in 0..rayon::current_num_threads().min(jobs.len()) {
            s.spawn(|_| loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&k) = order.get(n) else { break };
                let result = run_one(&jobs[k]);
                done.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((k, result));
            });
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(k, _)| *k);
    let results: Vec<Parsed> = done.into_iter().map(|(_, r)| r).collect();
    bar.finish_and_clear();
    let mut frames = Vec::new();
    for (report, df) in results {
        match report.status {
            ArtifactStatus::Failed => progress.say(format!(
                "warning: {} could not read {}: {} ({} rows kept)",
                report.source,
                report.artifact,
                report.error.as_deref().unwrap_or("unknown error"),
                report.rows
            )),
            _ => progress.say(format!(
                "{}: {} rows from {}",
                report.source, report.rows, report.artifact
            )),
        }
        log.artifacts.push(report);
        // Rows read before a failure are kept: they are real evidence.
        if let Some(df) = df {
            frames.push(df);
        }
    }
    frames
}

/// Refuses an output path (folder or file) inside the evidence folder.
pub fn check_out_not_inside(out: &Path, evidence: &Path) -> anyhow::Result<()> {
    let ev = std::fs::canonicalize(evidence).unwrap_or_else(|_| evidence.to_path_buf());
    if !ev.is_dir() {
        return Ok(());
    }
    // The output folder may not exist yet: canonicalise its closest existing ancestor.
    let mut probe = out.to_path_buf();
    let mut rest = Vec::new();
    while !probe.exists() {
        match (probe.parent(), probe.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                probe = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => break,
        }
    }
    let mut abs = std::fs::canonicalize(&probe).unwrap_or(probe);
    for r in rest.iter().rev() {
        abs.push(r);
    }
    if abs.starts_with(&ev) {
        return Err(crate::evidence::EvidenceError::OutputInsideEvidence {
            out: out.to_path_buf(),
            evidence: evidence.to_path_buf(),
        }
        .into());
    }
    Ok(())
}
