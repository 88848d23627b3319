use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chainline", version, about = "Forensic timeline and zero-click chain analyzer for iPhone evidence")]
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
    #[command(after_help = "Example:\n  chainline analyze ~/cases/alice/backup ~/cases/alice/sysdiagnose_2023.tar.gz -o out/alice\n\n\
Writes OUT/timeline.parquet, OUT/findings.json, OUT/report.html and OUT/run.json.\n\
Evidence is only read: SQLite files are copied to a private temp folder before opening.")]
    Analyze {
        /// Evidence: a backup folder, a filesystem dump, a sysdiagnose folder or .tar.gz,
        /// crash reports, or a case folder holding several of these.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder (created if needed; must lie outside the evidence).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Write seeded synthetic sample cases (developer tool; see sample_cases/README.md).
    #[command(name = "generate-sample", hide = true)]
    GenerateSample {
        /// triangulation, forcedentry, clean, or all (each into OUT/<case>/).
        case: String,
        /// Output folder (must be empty unless --force).
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long, default_value_t = chainline::sample::DEFAULT_SEED)]
        seed: u64,
        /// Noise multiplier: 1.0 is about 100,000 messages over a year.
        #[arg(long, default_value_t = chainline::sample::DEFAULT_SCALE)]
        scale: f64,
        /// Replace a case folder this command wrote before.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze { inputs, out } => {
            let opts = chainline::analyze::Options { inputs, out, quiet: cli.quiet, ..Default::default() };
            chainline::analyze::run(&opts).map(|a| {
                let problems = a.log.problems().count();
                if !cli.quiet {
                    eprintln!(
                        "done: {} rows from {} artifacts ({} with problems, see run.json)",
                        a.log.rows_total,
                        a.log.artifacts.len(),
                        problems
                    );
                }
                println!("{}", opts.out.join("report.html").display());
            })
        }
        Command::GenerateSample { case, out, seed, scale, force } => generate_sample(&case, &out, seed, scale, force, cli.quiet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context and its root cause.
            let root = e.root_cause().to_string();
            let top = e.to_string();
            if top == root {
                eprintln!("error: {top}");
            } else {
                eprintln!("error: {top}: {root}");
            }
            ExitCode::from(2)
        }
    }
}

fn generate_sample(case: &str, out: &std::path::Path, seed: u64, scale: f64, force: bool, quiet: bool) -> anyhow::Result<()> {
    use chainline::sample::{self, Case};
    let jobs: Vec<(Case, PathBuf)> = if case.eq_ignore_ascii_case("all") {
        Case::ALL.iter().map(|c| (*c, out.join(c.name()))).collect()
    } else {
        vec![(case.parse::<Case>().map_err(anyhow::Error::msg)?, out.to_path_buf())]
    };
    let opts = sample::Options { seed, scale };
    for (case, dir) in jobs {
        if force {
            sample::clear(&dir)?;
        }
        let started = std::time::Instant::now();
        let s = sample::generate(case, &dir, &opts)?;
        if !quiet {
            eprintln!(
                "{case}: {} files, {} bytes, {} messages, {} Manifest.db rows, {} DataUsage rows, {} planted rows in {:.1}s -> {}",
                s.files,
                s.bytes,
                s.messages,
                s.manifest_entries,
                s.datausage_rows,
                s.planted,
                started.elapsed().as_secs_f64(),
                s.dir.display()
            );
        }
    }
    Ok(())
}
