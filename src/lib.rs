//! chainline: one UTC timeline of an iPhone's evidence, and the zero-click chains in it.
//!
//! The pipeline runs one way: [`evidence`] finds and opens files read-only,
//! [`sources`] turn artifacts into rows, [`timeline`] holds the one schema,
//! [`detect`] finds chains and indicator hits, [`report`] writes the HTML;
//! [`analyze`] wires them together. Afterwards, [`query`] runs SQL over a finished
//! analysis, [`shell`] is the interactive investigation on top of it, [`export`] writes
//! Timesketch and MVT formats, and [`annotations`] keeps the analyst's tags and notes.

pub mod analyze;
pub mod annotations;
pub mod detect;
pub mod evidence;
pub mod export;
pub mod inspect;
pub mod query;
pub mod report;
pub mod saved;
pub mod scan;
pub mod shell;
pub mod sources;
pub mod timeline;

pub use query::query;

/// The shared test material (`shared/testdata`, `shared/iocs`) when it sits beside the
/// checkout: `$CHAINLINE_SHARED`, `../shared` or `../../shared` from the crate root.
/// Tests that need it skip cleanly when this returns `None`.
pub fn shared_dir() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CHAINLINE_SHARED")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([root.join("../shared"), root.join("../../shared")])
        .find(|p| p.join("testdata").is_dir() || p.join("iocs").is_dir())
}
