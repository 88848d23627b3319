//! Hostile and broken evidence (issue 8; docs/HOSTILE.md).
//!
//! Every test builds a small sample case in a temp folder (the seeded generator of
//! `sample_cases/`), damages or plants one thing, runs the real binary on it and
//! checks, through [`fixture::Case::analyze`], that:
//! - the run neither panics nor hangs and exits 0 (the documented status of a finished
//!   analysis, complete or not), with `"partial": true` in run.json when something
//!   could not be read;
//! - every byte of the evidence is unchanged and no file appeared or vanished
//!   (no `-wal`, `-shm` or `-journal` beside a database);
//! - run.json names the damaged artifact and what was lost, and the other artifacts
//!   are still analysed.

mod fixture;

mod bigfile;
mod custody;
mod determinism;
mod discovery;
mod escaping;
mod files;
mod readonly;
mod timestamps;
