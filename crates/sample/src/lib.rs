//! Seeded sample cases: a year of an iPhone's life laid out as real evidence (an
//! iTunes backup, a sysdiagnose archive, a crash-report folder) with one planted
//! story per case and a `TRUTH.json` naming every planted row.
//!
//! Every random choice comes from ChaCha8 seeded by `(seed, case, purpose)` and every
//! date is fixed, so one seed and scale give the same bytes on every run. Benign life
//! ([`life`]) is generated first and kept away from the planted stories ([`cases`]);
//! [`model::World::settle`] then numbers rows the way the phone would, and one writer
//! per artifact turns the records into files.
//!
//! `scale` multiplies the noise: 1.0 is about 100,000 messages, 100,000 Manifest.db
//! entries and 130,000 DataUsage rows over a year; the committed cases use
//! [`DEFAULT_SCALE`].

mod backup;
mod cases;
mod clock;
mod datausage;
mod encrypt;
mod exploit_files;
mod life;
mod media;
mod model;
mod plists;
mod powerlog;
mod safari;
mod sms;
mod sysdiagnose;
mod tcc;
mod truth;
mod typedstream;

use std::path::{Path, PathBuf};

pub use encrypt::{encrypt_backup, encrypt_case_backup, EncryptOptions, EncryptSummary};

use rand::SeedableRng;
use thiserror::Error;

pub type Rng = rand_chacha::ChaCha8Rng;

/// The seed the committed sample cases were generated with.
pub const DEFAULT_SEED: u64 = 20220913;
/// The noise scale of the committed sample cases (each folder stays under ~2 MB).
pub const DEFAULT_SCALE: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Operation Triangulation, iOS 15.7, 2022-09-13 (Kaspersky's published timeline).
    Triangulation,
    /// NSO FORCEDENTRY, iOS 14.6, 2021 (Citizen Lab, Amnesty).
    Forcedentry,
    /// Benign life only, with the near misses detection must not flag.
    Clean,
}

impl Case {
    pub const ALL: [Case; 3] = [Case::Triangulation, Case::Forcedentry, Case::Clean];

    pub fn name(self) -> &'static str {
        match self {
            Case::Triangulation => "triangulation",
            Case::Forcedentry => "forcedentry",
            Case::Clean => "clean",
        }
    }
}

impl std::str::FromStr for Case {
    type Err = String;
    fn from_str(s: &str) -> Result<Case, String> {
        Case::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown case {s:?} (triangulation, forcedentry, clean or all)"))
    }
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub seed: u64,
    pub scale: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: DEFAULT_SEED,
            scale: DEFAULT_SCALE,
        }
    }
}

#[derive(Debug, Error)]
pub enum SampleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: sqlite: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0}: plist: {1}")]
    Plist(PathBuf, plist::Error),
    #[error("{0} is not empty; choose an empty folder (or --force to replace a generated case)")]
    NotEmpty(PathBuf),
    #[error("scale must be a positive number, got {0}")]
    Scale(f64),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SampleError + '_ {
    move |source| SampleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> SampleError + '_ {
    move |source| SampleError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// What one generated case holds.
#[derive(Debug, Clone)]
pub struct Summary {
    pub case: Case,
    pub dir: PathBuf,
    pub files: usize,
    pub bytes: u64,
    pub messages: usize,
    pub manifest_entries: usize,
    pub datausage_rows: usize,
    pub planted: usize,
}

/// A generator stream for one purpose of one case: streams are independent, so
/// changing how one artifact is generated leaves the others' bytes alone.
pub(crate) fn rng_for(seed: u64, case: Case, purpose: &str) -> Rng {
    // FNV-1a over the label: stable across Rust versions, unlike `Hash`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in case.name().bytes().chain([b'/']).chain(purpose.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Rng::seed_from_u64(seed ^ h)
}

/// Writes one case into `dir` (created if needed; must be empty).
pub fn generate(case: Case, dir: &Path, opts: &Options) -> Result<Summary, SampleError> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(SampleError::Scale(opts.scale));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .next()
            .is_some()
    {
        return Err(SampleError::NotEmpty(dir.to_path_buf()));
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;

    let mut world = cases::world(case, opts.seed);
    life::populate(&mut world, case, opts);
    cases::plant(&mut world, case, opts.seed);
    world.settle();

    let mut truths = Vec::new();
    let manifest_entries =
        backup::write(&world, case, opts.seed, &dir.join("backup"), &mut truths)?;
    sysdiagnose::write(&world, case, opts.seed, dir, &mut truths)?;
    sysdiagnose::write_crash_folder(&world, case, opts.seed, &dir.join("crashes"))?;
    let planted = truth::write(&world, case, opts, dir, truths)?;

    let (mut files, mut bytes) = (0usize, 0u64);
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_file() {
            files += 1;
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    Ok(Summary {
        case,
        dir: dir.to_path_buf(),
        files,
        bytes,
        messages: world.messages.iter().filter(|m| !m.deleted).count(),
        manifest_entries,
        datausage_rows: world.processes.iter().filter(|p| !p.deleted).count()
            + datausage::live_rows(&world).rows.len(),
        planted,
    })
}

/// Removes a case folder this generator wrote before (it holds `TRUTH.json`), so it
/// can be written again. Refuses any other non-empty folder.
pub fn clear(dir: &Path) -> Result<(), SampleError> {
    if !dir.exists() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .next()
        .is_none();
    if empty {
        return Ok(());
    }
    if !dir.join("TRUTH.json").is_file() {
        return Err(SampleError::NotEmpty(dir.to_path_buf()));
    }
    std::fs::remove_dir_all(dir).map_err(io_err(dir))
}
