#![no_main]
//! App Privacy Report ndjson bytes → `network_activity` / `data_access` rows.

use chainline::sources::{privacyreport, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut out = Output::new("", "App_Privacy_Report.ndjson");
    let _ = privacyreport::parse_bytes(data, &mut out);
    common::finish(out);
});
