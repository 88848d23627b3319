#![no_main]
//! shutdown.log bytes → `reboot` / `shutdown_client` rows.

use chainline::sources::{shutdown, Output};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut out = Output::new("", "shutdown.log");
    let _ = shutdown::parse_bytes(data, &mut out);
    common::finish(out);
});
