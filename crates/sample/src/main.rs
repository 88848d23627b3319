//! `cargo run -p chainline-sample -- all -o sample_cases --force`: writes the seeded
//! sample cases. A development tool; the `chainline` binary does not contain it.

use std::path::PathBuf;

use chainline_sample::{self as sample, Case};
use clap::Parser;

/// Write seeded synthetic sample cases (see sample_cases/README.md).
#[derive(Parser)]
#[command(name = "chainline-sample")]
struct Cli {
    /// A case name (see --help of `Case`) or `all` (each into OUT/<case>/).
    case: String,
    /// Output folder (must be empty unless --force).
    #[arg(short, long)]
    out: PathBuf,
    #[arg(long, default_value_t = sample::DEFAULT_SEED)]
    seed: u64,
    /// Noise multiplier: 1.0 is about 100,000 messages over a year.
    #[arg(long, default_value_t = sample::DEFAULT_SCALE)]
    scale: f64,
    /// Replace a case folder this command wrote before.
    #[arg(long)]
    force: bool,
    /// Write the backup encrypted with this password (Apple's iteration counts).
    #[arg(long)]
    password: Option<String>,
    /// No progress lines on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let jobs: Vec<(Case, PathBuf)> = if cli.case.eq_ignore_ascii_case("all") {
        Case::ALL
            .iter()
            .map(|c| (*c, cli.out.join(c.name())))
            .collect()
    } else {
        vec![(
            cli.case.parse::<Case>().map_err(anyhow::Error::msg)?,
            cli.out.clone(),
        )]
    };
    let opts = sample::Options {
        seed: cli.seed,
        scale: cli.scale,
    };
    for (case, dir) in jobs {
        if cli.force {
            sample::clear(&dir)?;
        }
        let started = std::time::Instant::now();
        let s = sample::generate(case, &dir, &opts)?;
        if let Some(pw) = &cli.password {
            sample::encrypt_case_backup(&dir, pw, &sample::EncryptOptions::apple(cli.seed))?;
        }
        if !cli.quiet {
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
