//! Item 2: chain of custody. run.json lists every input file used with path, size,
//! mtime (UTC, RFC 3339) and SHA-256; the report lists every one of them.

use std::path::{Path, PathBuf};

use crate::fixture::{hash_file, html_escape, Case};

fn mtime_of(p: &Path) -> String {
    let t = std::fs::metadata(p)
        .expect("metadata")
        .modified()
        .expect("mtime");
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[test]
fn run_json_and_the_report_list_every_input_with_path_size_mtime_and_sha256() {
    let mut case = Case::new();
    let archive = case.archive();
    let run = case.analyze();
    let inputs = run.json["inputs"].as_array().expect("inputs");
    assert!(inputs.len() > 10, "{inputs:#?}");

    let mut members = 0;
    for i in inputs {
        let path = i["path"].as_str().expect("path");
        let size = i["size"].as_u64().expect("size");
        let sha = i["sha256"].as_str().expect("sha256");
        let mtime = i["mtime"].as_str().expect("mtime");
        assert_eq!(sha.len(), 64);
        assert!(
            chrono::DateTime::parse_from_rfc3339(mtime).is_ok() && mtime.ends_with('Z'),
            "{mtime}"
        );
        match path.split_once("!/") {
            // A file inside the sysdiagnose archive: `<archive>!/<member>`.
            Some((arch, member)) => {
                members += 1;
                assert_eq!(Path::new(arch), archive, "{path}");
                let f = std::fs::File::open(arch).expect("archive");
                let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
                let mut found = false;
                for e in tar.entries().expect("entries") {
                    let mut e = e.expect("entry");
                    if e.path().expect("member path") == Path::new(member) {
                        let mut bytes = Vec::new();
                        std::io::Read::read_to_end(&mut e, &mut bytes).expect("read member");
                        assert_eq!(bytes.len() as u64, size, "{path}");
                        assert_eq!(
                            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                            sha
                        );
                        let t = e.header().mtime().expect("member mtime") as i64;
                        let want = chrono::DateTime::from_timestamp(t, 0)
                            .expect("time")
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                        assert_eq!(mtime, want, "{path}");
                        found = true;
                    }
                }
                assert!(found, "{member} not in {arch}");
            }
            None => {
                let p = PathBuf::from(path);
                assert!(p.starts_with(&case.root), "{path} is not evidence");
                assert_eq!(std::fs::metadata(&p).expect("exists").len(), size, "{path}");
                assert_eq!(hash_file(&p), sha, "{path}");
                assert_eq!(mtime_of(&p), mtime, "{path}");
            }
        }
    }
    assert!(members >= 2, "the sysdiagnose members are listed");

    // Every artifact that was read is an input.
    let logical: Vec<&str> = inputs
        .iter()
        .filter_map(|i| i["logical"].as_str())
        .collect();
    for a in run.artifacts() {
        let name = a["artifact"].as_str().expect("artifact");
        assert!(
            logical.contains(&name),
            "{name} read but not listed as an input"
        );
    }
    for want in ["Manifest.db", "Info.plist", "Manifest.plist"] {
        assert!(logical.contains(&want), "{want} not listed");
    }

    // The report lists every input: logical name, path, SHA-256 and time.
    let html = std::fs::read_to_string(run.out.join("report.html")).expect("report");
    for i in inputs {
        let sha = i["sha256"].as_str().expect("sha");
        let row = html
            .split("<tr>")
            .find(|r| r.contains(sha))
            .unwrap_or_else(|| panic!("{sha} not in the report"));
        assert!(row.contains(&html_escape(i["logical"].as_str().expect("logical"))));
        assert!(row.contains(&html_escape(i["path"].as_str().expect("path"))));
        let shown = i["mtime"].as_str().expect("mtime").replace('T', " ");
        assert!(row.contains(&shown[..19]), "{row}");
    }
}
