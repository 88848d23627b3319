use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Many short-lived strings and two threads: see docs/BENCHMARKS.md for the measurement.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3 keeps freed pages for a second before giving them back to the OS and
/// commits arena memory up front; an analysis frees and reallocates hundreds of MB in
/// that time, so peak RSS was about 1.5 times the live heap. Here freed pages go back
/// after [`PURGE_DELAY_MS`] and arenas are committed on demand: a third less peak RSS
/// for about a tenth more time (docs/BENCHMARKS.md has the measurement and the other
/// delays tried). A `MIMALLOC_*` variable set by the user still wins.
#[cfg(feature = "mimalloc")]
fn tune_allocator() {
    use libmimalloc_sys::{mi_option_set, mi_option_t};
    // Positions in `mi_option_e` of the mimalloc 3 header bundled with the pinned
    // libmimalloc-sys (the crate names only the options common to 2 and 3).
    const ARENA_EAGER_COMMIT: mi_option_t = 4;
    const PURGE_DELAY: mi_option_t = 15;
    let settings: [(mi_option_t, &str, std::os::raw::c_long); 2] = [
        (PURGE_DELAY, "MIMALLOC_PURGE_DELAY", PURGE_DELAY_MS),
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0),
    ];
    for (option, variable, value) in settings {
        if std::env::var_os(variable).is_none() {
            // SAFETY: called from `.init_array` and first thing in `main`, both before
            // any other thread exists (the setter is not thread-safe); the options are
            // plain integers.
            unsafe { mi_option_set(option, value) };
        }
    }
}

/// Milliseconds a freed page waits before it is returned to the OS (0 gave 5 % less
/// RSS again but took 5 % longer and had outliers; 50 left too little margin).
#[cfg(feature = "mimalloc")]
const PURGE_DELAY_MS: std::os::raw::c_long = 25;

#[cfg(not(feature = "mimalloc"))]
fn tune_allocator() {}

/// mimalloc reserves its first arena at the first allocation, which Rust's runtime
/// makes before `main`; whether an arena is committed up front is decided then. On
/// ELF platforms the options are therefore set from `.init_array`, which runs before
/// the runtime starts; `main` sets them again (a no-op then, the only call elsewhere).
#[cfg(all(feature = "mimalloc", any(target_os = "linux", target_os = "android")))]
#[used]
#[link_section = ".init_array"]
static TUNE_ALLOCATOR_EARLY: extern "C" fn() = {
    extern "C" fn early() {
        tune_allocator();
    }
    early
};

#[derive(Subcommand)]
enum RulesAction {
    /// Each rule: id, severity, the sources its triggers read, its title.
    List {
        /// An output folder of `chainline analyze`: say whether it holds those sources.
        #[arg(long = "case")]
        case: Option<PathBuf>,
    },
    /// Validate a rule file without evidence.
    Check { file: PathBuf },
    /// Run a rule file (or a built-in rule, by id) against a saved analysis.
    Test {
        /// A rule file, or the id of a built-in rule.
        rule: String,
        /// An output folder of `chainline analyze`.
        #[arg(long = "case")]
        case: PathBuf,
        /// Trigger rows explained at most.
        #[arg(long, default_value_t = 50)]
        max: usize,
    },
}

#[derive(Parser)]
#[command(
    name = "chainline",
    version,
    about = "Forensic timeline and zero-click chain analyzer for iPhone evidence"
)]
struct Cli {
    /// No progress output on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the timeline of one phone's evidence, detect chains, write the report.
    #[command(
        after_help = "Example:\n  chainline analyze ~/cases/alice/backup ~/cases/alice/sysdiagnose_2023.tar.gz -o out/alice\n\n\
Writes OUT/timeline.parquet, OUT/findings.json (+ findings.parquet, finding_events.parquet),\n\
OUT/report.html and OUT/run.json.\n\
Evidence is only read: SQLite files are copied to a private temp folder before opening.\n\n\
Encrypted backups: the password comes from --password, else CHAINLINE_BACKUP_PASSWORD, else\n\
a prompt (stdin a terminal); --key-file uses a key saved by `chainline key` (or mvt-ios\n\
extract-key) and skips the slow key derivation. Decrypted files stay in memory or in the\n\
private temp folder, removed at exit (also on error and Ctrl-C)."
    )]
    Analyze {
        /// Evidence: a backup folder, a filesystem dump, a sysdiagnose folder or .tar.gz,
        /// crash reports, or a case folder holding several of these.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder (created if needed; must lie outside the evidence).
        #[arg(short, long)]
        out: PathBuf,
        /// Extra chain rules (TOML, see docs/DETECTIONS.md); a rule with the id of a
        /// built-in rule replaces it. Repeatable.
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// STIX 2 indicator bundles, or folders of them (*.stix2, *.json). Repeatable.
        #[arg(long = "iocs", value_name = "FILE|DIR")]
        iocs: Vec<PathBuf>,
        #[command(flatten)]
        secret: Secret,
    },
    /// Derive the key of an encrypted backup once and save it, so later runs can use
    /// --key-file instead of the password (the derivation takes seconds).
    #[command(
        after_help = "Example:\n  chainline key ~/cases/alice/backup -o ~/keys/alice.key\n  \
chainline analyze ~/cases/alice -o out/alice --key-file ~/keys/alice.key\n\n\
The key file holds 64 hex characters (the layout of mvt-ios extract-key), is created\n\
readable by you only (0600) and must lie outside the evidence. It opens the backup as the\n\
password does: keep it as safe."
    )]
    Key {
        /// The encrypted backup folder (with Manifest.plist).
        backup: PathBuf,
        /// Key file to create (refused if it exists).
        #[arg(short, long)]
        out: PathBuf,
        /// The backup password (else CHAINLINE_BACKUP_PASSWORD, else a prompt).
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
    },
    /// Run one SQL query over a finished analysis.
    #[command(
        after_help = "Tables: timeline (timeline.parquet, your tags merged into `tags`), findings, finding_events.\n\n\
Examples:\n  chainline query out/alice \"SELECT source, COUNT(*) AS n FROM timeline GROUP BY source ORDER BY n DESC\"\n  \
chainline query out/alice \"SELECT ts, actor, message FROM timeline WHERE kind = 'message_received' AND ts >= '2023-03-01'\" --tz Europe/Paris\n  \
chainline query out/alice \"SELECT * FROM finding_events WHERE finding_id = 'F001'\" --format json\n  \
chainline query out/alice \"SELECT * FROM timeline WHERE array_contains(tags, 'suspicious')\" --format csv > tagged.csv\n\n\
Times are stored and compared in UTC; --tz only changes how they are shown. See docs/QUERY.md."
    )]
    Query {
        /// The output folder of `chainline analyze`, or a timeline.parquet.
        path: PathBuf,
        /// One SQL statement (Polars SQL).
        sql: String,
        /// table for reading, csv or json (an array of row objects) for other tools.
        #[arg(long, value_enum, default_value_t = chainline::query::Format::Table)]
        format: chainline::query::Format,
        /// Show times in this IANA zone (e.g. Europe/Paris) instead of UTC.
        #[arg(long)]
        tz: Option<String>,
    },
    /// Investigate a finished analysis interactively: SQL, context search, tags and notes.
    #[command(after_help = "Examples:\n  chainline shell out/alice\n  \
printf '.findings\\n.around F001 5m\\n' | chainline shell out/alice\n\n\
Inside: statements end with ;  .help lists the dot-commands (.around, .search, .tag, .note, .export, .tz ...).\n\
Tags and notes are kept in OUT/annotations.json, history in OUT/.chainline_history.\n\
With stdin not a terminal, commands are read from it without prompts; the exit code is 1 if any failed.")]
    Shell {
        /// The output folder of `chainline analyze`.
        out: PathBuf,
        /// Show times in this IANA zone (e.g. Europe/Paris) instead of UTC.
        #[arg(long)]
        tz: Option<String>,
    },
    /// Export the timeline (with your tags) for Timesketch or for diffing against MVT.
    #[command(
        after_help = "Examples:\n  chainline export out/alice --format timesketch-jsonl -o alice.jsonl\n  \
chainline export out/alice --format mvt-csv -o alice_timeline.csv\n\n\
Rows without a time are skipped (both formats need one) and counted on stderr.\n\
CSV cells that a spreadsheet would run as a formula get a leading '."
    )]
    Export {
        /// The output folder of `chainline analyze` (or a timeline.parquet).
        out: PathBuf,
        /// Timesketch (JSONL or CSV) or MVT's timeline.csv layout.
        #[arg(long, value_enum)]
        format: chainline::export::ExportFormat,
        /// File to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Re-render OUT/report.html from the outputs saved in OUT (after annotating, or
    /// with a newer chainline), without reading the evidence again.
    #[command(after_help = "Example:\n  chainline report out/alice\n\n\
Reads OUT/timeline.parquet, OUT/findings.json, OUT/run.json and OUT/annotations.json\n\
(analyst tags and notes, if any) and rewrites OUT/report.html. The page works offline.")]
    Report {
        /// An output folder written by `chainline analyze`.
        out: PathBuf,
    },
    /// The detection rules: list them, validate a rule file, or try rules on a saved analysis.
    #[command(
        after_help = "Examples:\n  chainline rules list\n  chainline rules list --case out/alice\n  \
chainline rules check my_rule.toml\n  chainline rules test my_rule.toml --case out/alice\n  \
chainline rules test triangulation_heuristic --case out/alice\n\n\
Rule files are TOML (docs/DETECTIONS.md). `check` exits non-zero on an invalid file with the\n\
same message `analyze --rules` gives; `test` says for each trigger row why it did or\n\
did not start a chain."
    )]
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Inspect files for exploit structure (JBIG2, WebP lossless, TrueType, DNG, PDF,
    /// PSD, ZIP/.pkpass members), without building a timeline.
    #[command(
        after_help = "Example:\n  chainline scan ~/cases/alice/attachments\n\n\
One line per finding on stdout (path, check, offset, member, why no valid file has it,\n\
sha256); --json writes the flagged files as a JSON array instead. Files are only read.\n\
Exit status: 1 when something was found, 0 when every file was clean, 2 when nothing was\n\
found but an input or a file could not be read (those are listed on stderr)."
    )]
    Scan {
        /// Files or folders (walked recursively, links not followed).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The flagged files with their findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How encrypted backups are opened.
#[derive(clap::Args)]
struct Secret {
    /// Password of encrypted backups (else CHAINLINE_BACKUP_PASSWORD, else a prompt when
    /// stdin is a terminal). Visible to other users in the process list: prefer the
    /// environment variable, the prompt or --key-file.
    #[arg(long, value_name = "PASSWORD", conflicts_with = "key_file")]
    password: Option<String>,
    /// Key file written by `chainline key` or `mvt-ios extract-key` (64 hex characters).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

fn zone(tz: Option<&str>) -> anyhow::Result<chainline::query::Zone> {
    Ok(tz
        .map(chainline::query::Zone::parse)
        .transpose()?
        .unwrap_or_default())
}

fn main() -> ExitCode {
    tune_allocator();
    // A panic is one line for the analyst. Polars panics inside a query are caught and
    // reported by `query::Case::sql`, so they are not printed twice.
    std::panic::set_hook(Box::new(|info| {
        if info
            .location()
            .is_some_and(|l| l.file().contains("polars-"))
        {
            return;
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!(
            "error: internal error: {}",
            what.lines().next().unwrap_or("")
        );
    }));
    let cli = Cli::parse();
    // Ctrl-C removes the private temp folders (decrypted files included) before exiting.
    if let Err(e) = chainline::evidence::install_interrupt_handler() {
        eprintln!(
            "warning: no Ctrl-C handler ({e}); an interrupted run may leave its temp folder behind"
        );
    }
    let result = match cli.command {
        Command::Analyze {
            inputs,
            out,
            rules,
            iocs,
            secret,
        } => {
            let opts = chainline::analyze::Options {
                inputs,
                out,
                quiet: cli.quiet,
                rules,
                iocs,
            };
            let unlock =
                chainline::evidence::Unlock::from_cli(secret.password, secret.key_file, cli.quiet);
            chainline::analyze::run_with(&opts, &unlock).map(|a| {
                let problems = a.log.problems().count();
                if !cli.quiet {
                    eprintln!(
                        "done: {} rows from {} artifacts ({} with problems, see run.json), {} findings",
                        a.log.rows_total,
                        a.log.artifacts.len(),
                        problems,
                        a.findings.len()
                    );
                    if a.log.partial {
                        eprintln!(
                            "partial analysis: {} artifacts and {} other warnings list what could not be read (run.json \"partial\": true)",
                            problems,
                            a.log.warnings.len()
                        );
                    }
                }
                println!("{}", opts.out.join("report.html").display());
            })
        }
        Command::Rules { action } => rules_command(action),
        Command::Query {
            path,
            sql,
            format,
            tz,
        } => (|| {
            let render = chainline::query::Render {
                zone: zone(tz.as_deref())?,
                ..Default::default()
            };
            let df = chainline::query::Case::open(&path)?.sql(&sql)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            render.write(&df, format, &mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        })(),
        Command::Shell { out, tz } => {
            match zone(tz.as_deref()).and_then(|z| Ok(chainline::shell::run(&out, z)?)) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
        Command::Export {
            out,
            format,
            output,
        } => (|| {
            let case = chainline::query::Case::open(&out)?;
            let done = chainline::export::export_file(&case, format, &output)?;
            if !cli.quiet {
                eprintln!("{}", chainline::shell::export_summary(&done, &output));
            }
            Ok(())
        })(),
        Command::Report { out } => {
            chainline::report::render(&out).map(|path| println!("{}", path.display()))
        }
        Command::Key {
            backup,
            out,
            password,
        } => save_key(&backup, &out, password, cli.quiet),
        Command::Scan { inputs, json } => return scan(&inputs, json, cli.quiet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context and its root cause.
            let root = e.root_cause().to_string();
            let top = e.to_string();
            // Errors name evidence paths, which may hold escape sequences.
            let safe = chainline::query::terminal_safe;
            if top == root {
                eprintln!("error: {}", safe(&top));
            } else {
                eprintln!("error: {}: {}", safe(&top), safe(&root));
            }
            ExitCode::from(2)
        }
    }
}

/// `chainline scan`: exit 1 when something was found, 0 when clean, 2 on errors.
fn scan(inputs: &[PathBuf], json: bool, quiet: bool) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let started = std::time::Instant::now();
    let result = chainline::scan::run(inputs, json, &mut out);
    let _ = std::io::Write::flush(&mut out);
    let safe = chainline::query::terminal_safe;
    match result {
        Ok(s) => {
            for e in &s.errors {
                eprintln!("error: {}", safe(e));
            }
            if !quiet {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "scanned {} files ({} bytes) in {secs:.2}s: {} flagged, {} unreadable",
                    s.files,
                    s.bytes,
                    s.flagged,
                    s.errors.len()
                );
            }
            if s.flagged > 0 {
                ExitCode::from(1)
            } else if s.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("error: {}", safe(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

fn save_key(
    backup: &std::path::Path,
    out: &std::path::Path,
    password: Option<String>,
    quiet: bool,
) -> anyhow::Result<()> {
    use anyhow::Context;
    chainline::analyze::check_out_not_inside(out, backup)?;
    if out.exists() {
        anyhow::bail!(
            "{} exists; chainline key does not replace files",
            out.display()
        );
    }
    let unlock = chainline::evidence::Unlock::from_cli(password, None, quiet);
    let key = chainline::evidence::crypto::derive_key(backup, &unlock)?;
    key.write_file(out)
        .with_context(|| format!("writing {}", out.display()))?;
    if !quiet {
        eprintln!(
            "key of {} saved to {} (keep it as safe as the password)",
            backup.display(),
            out.display()
        );
    }
    Ok(())
}

fn rules_command(action: RulesAction) -> anyhow::Result<()> {
    use chainline::detect::{rule, tooling};
    match action {
        RulesAction::List { case } => {
            print!("{}", tooling::list(&rule::builtin()?, case.as_deref())?);
            Ok(())
        }
        RulesAction::Check { file } => {
            let rules = tooling::check(&file)?;
            for r in &rules {
                println!("ok: {} — {}", r.id, r.title);
            }
            Ok(())
        }
        RulesAction::Test {
            rule: name,
            case,
            max,
        } => {
            let path = PathBuf::from(&name);
            let rules = if path.is_file() {
                tooling::check(&path)?
            } else {
                let found: Vec<_> = rule::builtin()?
                    .into_iter()
                    .filter(|r| r.id == name)
                    .collect();
                if found.is_empty() {
                    anyhow::bail!("{name}: no such rule file, and no built-in rule has that id (see `chainline rules list`)");
                }
                found
            };
            print!("{}", tooling::test(&rules, &case, max)?);
            Ok(())
        }
    }
}
