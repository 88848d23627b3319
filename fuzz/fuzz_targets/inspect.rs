#![no_main]
//! Any bytes → the attachment inspector (`chainline scan`): every parser behind the
//! sniff (JBIG2, WebP VP8L, TrueType, TIFF/DNG, PSD, PDF streams, ZIP members). The
//! first byte picks the name given for the magic-versus-declared check.

use chainline::inspect::{inspect, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let names = ["a.gif", "a.pdf", "a.pkpass", "a.webp", "a.dng"];
    let name = data.first().map(|b| names[usize::from(*b) % names.len()]);
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let _ = inspect(data, name, &limits);
});
