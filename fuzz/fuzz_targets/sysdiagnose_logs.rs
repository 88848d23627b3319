#![no_main]
//! ps.txt, mobile_installation.log and lockdownd.log bytes → rows, with and without a
//! known zone (the first byte chooses), so odd dates and offsets meet the conversions.

use chainline::sources::textlog::LocalZone;
use chainline::sources::{installlog, lockdownd, ps, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (zone, data) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => (
            LocalZone::from_name("sysdiagnose_2022.09.20_18-40-03+0300_iPhone-OS_iPhone_19H12"),
            rest,
        ),
        Some((_, rest)) => (LocalZone::UNKNOWN, rest),
        None => (LocalZone::UNKNOWN, data),
    };
    let mut out = Output::new("", "ps.txt");
    let _ = ps::parse_bytes(data, zone, &mut out);
    common::finish(out);
    let mut out = Output::new("", "mobile_installation.log");
    let _ = installlog::parse_bytes(data, zone, &mut out);
    common::finish(out);
    let mut out = Output::new("", "lockdownd.log");
    let _ = lockdownd::parse_bytes(data, zone, &mut out);
    common::finish(out);
});
