#![no_main]
//! Manifest.db `Files.file` blobs (NSKeyedArchiver MBFile) → file metadata.

use chainline::evidence::mbfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mbfile::decode(data);
});
