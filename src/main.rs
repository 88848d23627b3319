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
    /// Re-render OUT/report.html from the outputs saved in OUT (after annotating, or
    /// with a newer chainline), without reading the evidence again.
    #[command(after_help = "Example:\n  chainline report out/alice\n\n\
Reads OUT/timeline.parquet, OUT/findings.json, OUT/run.json and OUT/annotations.json\n\
(analyst tags and notes, if any) and rewrites OUT/report.html. The page works offline.")]
    Report {
        /// An output folder written by `chainline analyze`.
        out: PathBuf,
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
        Command::Report { out } => chainline::report::render(&out).map(|path| println!("{}", path.display())),
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
