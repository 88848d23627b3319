#![no_main]
//! Crash report bytes: `.ips` (iOS 15+ JSON body or older text body, with the one-line
//! JSON header) and `.crash` text all go through one parser, which picks by shape.

use chainline::sources::{crash, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut out = Output::new("", "crash.ips");
    let _ = crash::parse_bytes(data, &mut out);
    common::finish(out);
});
