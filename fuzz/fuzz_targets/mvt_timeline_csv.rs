#![no_main]
//! MVT `timeline.csv` bytes → `import` rows.

use chainline::sources::{import, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut out = Output::new("", "timeline.csv");
    let _ = import::parse_bytes(data, &mut out);
    common::finish(out);
});
