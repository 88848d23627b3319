//! chainline: one UTC timeline of an iPhone's evidence, and the zero-click chains in it.
//!
//! The pipeline runs one way: [`evidence`] finds and opens files read-only,
//! [`sources`] turn artifacts into rows, [`timeline`] holds the one schema,
//! [`detect`] finds chains and indicator hits, [`report`] writes the HTML;
//! [`analyze`] wires them together.

pub mod analyze;
pub mod evidence;
pub mod report;
pub mod sources;
pub mod timeline;
