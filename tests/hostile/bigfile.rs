//! A huge log is streamed with bounded memory. The default test writes a 512 MiB
//! shutdown.log that is mostly one endless line (a sparse hole reads as NUL bytes,
//! so it costs no disk); the 4 GiB run is `#[ignore]`d (docs/HOSTILE.md has the
//! numbers measured with both).

use std::io::{Seek, SeekFrom, Write};

use crate::fixture::Case;

/// Memory the analysis may use above the same case without the big log.
const HEADROOM: u64 = 64 << 20;

fn big_log_run(hole: u64) {
    let mut case = Case::new();
    let sysdiagnose = case.unpack_sysdiagnose();
    let baseline = case.analyze();

    let log = case.shutdown_log(&sysdiagnose);
    let clean = std::fs::read(&log).expect("log");
    let reboots = |run: &crate::fixture::Run| {
        run.rows_of("shutdown")
            .iter()
            .filter(|r| r.message.starts_with("reboot"))
            .count()
    };
    let mid = clean.len() / 2;
    let cut = mid
        + clean[mid..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("line end")
        + 1;
    let mut f = std::fs::File::create(&log).expect("create");
    f.write_all(&clean[..cut]).expect("first half");
    f.write_all(b"remaining client pid: 9 (/private/var/tmp/")
        .expect("w");
    f.seek(SeekFrom::Current(hole as i64)).expect("hole");
    f.write_all(b")\n").expect("w");
    f.write_all(&clean[cut..]).expect("second half");
    drop(f);
    let size = std::fs::metadata(&log).expect("size").len();
    assert!(size > hole);

    let started = std::time::Instant::now();
    let run = case.analyze();
    let took = started.elapsed();
    eprintln!(
        "big log: {size} bytes, {:.1} s (with hashing by the test), peak RSS {} MiB (baseline {} MiB)",
        took.as_secs_f64(),
        run.max_rss >> 20,
        baseline.max_rss >> 20
    );
    assert!(
        run.max_rss < baseline.max_rss + HEADROOM,
        "peak memory {} MiB for a {} MiB log (baseline {} MiB): not streamed",
        run.max_rss >> 20,
        size >> 20,
        baseline.max_rss >> 20
    );
    run.assert_artifact_reports(
        "shutdown",
        "shutdown.log",
        &["longer than 65536 bytes were cut"],
    );
    assert_eq!(
        reboots(&run),
        reboots(&baseline),
        "reboots around the endless line lost"
    );
    // The whole file is still hashed for the chain of custody.
    let input = run.json["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .find(|i| {
            i["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("Extra/shutdown.log"))
        })
        .expect("shutdown.log input")
        .clone();
    assert_eq!(input["size"].as_u64(), Some(size));
    assert_eq!(
        input["sha256"].as_str(),
        Some(crate::fixture::hash_file(&log).as_str())
    );
    run.assert_others_parsed(&[]);
}

#[test]
fn a_half_gigabyte_endless_line_is_streamed_in_bounded_memory() {
    big_log_run(512 << 20);
}

#[test]
#[ignore = "multi-GB: about a minute in debug; run with --ignored (docs/HOSTILE.md)"]
fn a_four_gigabyte_log_is_streamed_in_bounded_memory() {
    big_log_run(4 << 30);
}
