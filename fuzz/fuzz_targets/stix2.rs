#![no_main]
//! STIX 2.1 bundle bytes (`--iocs`) → indicators, then the lookup index built from them.

use std::sync::LazyLock;

use chainline::detect::stix::BundleReader;
use chainline::detect::IocSet;
use libfuzzer_sys::fuzz_target;

static READER: LazyLock<BundleReader> = LazyLock::new(BundleReader::default);

fuzz_target!(|data: &[u8]| {
    if let Ok((indicators, _malware, _skipped)) = READER.read(data, "fuzz.stix2") {
        let set = IocSet::from_indicators(indicators);
        let _ = set.malware();
    }
});
