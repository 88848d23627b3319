#![no_main]
//! One plist (XML or binary) through every plist source: locationd clients.plist,
//! IDStatusCache and OSAnalytics ADDaily. Each seed feeds all three.

use chainline::sources::{addaily, idstatus, locationd, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    for parse in [
        locationd::parse_bytes,
        idstatus::parse_bytes,
        addaily::parse_bytes,
    ] {
        let mut out = Output::new("", "plist");
        let _ = parse(data, &mut out);
        common::finish(out);
    }
});
