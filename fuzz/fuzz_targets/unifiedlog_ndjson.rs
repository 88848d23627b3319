#![no_main]
//! `log show --style ndjson` bytes → `unifiedlog` rows (keep list, kinds, skip counts).

use chainline::sources::{unifiedlog, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut out = Output::new("", "system_logs.ndjson");
    let _ = unifiedlog::parse_bytes(data, &mut out);
    common::finish(out);
});
