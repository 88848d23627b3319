//! Filesystem dumps as archives and folders: recognised by their `private/var` layout,
//! read as a stream, and their file-system times in the timeline (source `filesystem`),
//! spelt like Manifest.db rows so the same rules apply.

use std::path::Path;

use chainline::timeline;

struct Member<'a> {
    path: &'a str,
    dir: bool,
    mtime: u64,
    body: &'a [u8],
}

/// A tar (gzip-compressed when `gz`) in the layout agent-based extractions write,
/// under a `filesystem1/` root; GNU headers carrying atime and ctime.
fn tar_dump(dest: &Path, members: &[Member<'_>], gz: bool) {
    let file = std::fs::File::create(dest).unwrap();
    let w: Box<dyn std::io::Write> = if gz {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    let mut b = tar::Builder::new(w);
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_path(format!("filesystem1/{}", m.path)).unwrap();
        h.set_mtime(m.mtime);
        h.set_mode(if m.dir { 0o755 } else { 0o644 });
        h.set_entry_type(if m.dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_size(m.body.len() as u64);
        if let Some(g) = h.as_gnu_mut() {
            g.set_atime(m.mtime + 5);
            g.set_ctime(m.mtime + 1);
        }
        h.set_cksum();
        b.append(&h, m.body).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

fn sms_db() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sms.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, service TEXT NOT NULL);
         CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT, text TEXT, handle_id INTEGER DEFAULT 0, service TEXT, date INTEGER, is_from_me INTEGER DEFAULT 0);
         INSERT INTO handle VALUES (1, 'attacker@example.com', 'iMessage');
         INSERT INTO message VALUES (1, 'G1', 'hi', 1, 'iMessage', 684_756_000_000_000_000, 0);",
    )
    .unwrap();
    drop(c);
    std::fs::read(&p).unwrap()
}

// 2022-09-13 10:04:54 UTC, the emptied folder of Kaspersky's published timeline.
const EMPTIED: u64 = 1_663_063_494;

fn members(db: &[u8]) -> Vec<Member<'_>> {
    vec![
        Member {
            path: "private/var/mobile/Library/SMS/sms.db",
            dir: false,
            mtime: EMPTIED - 100,
            body: db,
        },
        Member {
            path: "private/var/mobile/Library/SMS/Attachments/65",
            dir: true,
            mtime: EMPTIED,
            body: b"",
        },
        Member {
            path: "private/var/mobile/Library/SMS/Attachments/65/05",
            dir: true,
            mtime: EMPTIED,
            body: b"",
        },
        Member {
            path: "private/var/mobile/Library/SMS/Attachments/1a",
            dir: true,
            mtime: EMPTIED - 50,
            body: b"",
        },
        Member {
            path: "private/var/mobile/Library/SMS/Attachments/1a/0b/G/IMG_1.HEIC",
            dir: false,
            mtime: EMPTIED - 50,
            body: b"photo",
        },
        Member {
            path: "private/var/root/Library/Preferences/com.apple.ImageIO.plist",
            dir: false,
            mtime: EMPTIED + 30,
            body: b"bplist00",
        },
        Member {
            path: "System/Library/CoreServices/SystemVersion.plist",
            dir: false,
            mtime: 1,
            body: b"not read",
        },
        Member {
            path: "private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC",
            dir: false,
            mtime: 1,
            body: b"not read",
        },
    ]
}

fn analyze(input: &Path, out: &Path) -> (serde_json::Value, polars::prelude::DataFrame) {
    let opts = chainline::analyze::Options {
        inputs: vec![input.to_path_buf()],
        out: out.to_path_buf(),
        quiet: true,
        ..Default::default()
    };
    chainline::analyze::run(&opts).unwrap();
    let run =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    (
        run,
        timeline::read_parquet(&out.join("timeline.parquet")).unwrap(),
    )
}

/// (kind, ts seconds, target, tags) of every `filesystem` row.
fn fs_rows(df: &polars::prelude::DataFrame) -> Vec<(String, i64, String, Vec<String>)> {
    let s = |n: &str| df.column(n).unwrap().str().unwrap().clone();
    let (source, kind, target) = (s("source"), s("kind"), s("target"));
    let ts = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let tags = df.column("tags").unwrap().list().unwrap().clone();
    (0..df.height())
        .filter(|&i| source.get(i) == Some("filesystem"))
        .map(|i| {
            let t: Vec<String> = tags
                .get_as_series(i)
                .map(|s| {
                    s.str()
                        .unwrap()
                        .iter()
                        .flatten()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            (
                kind.get(i).unwrap().to_string(),
                ts.get(i).unwrap() / 1_000_000,
                target.get(i).unwrap().to_string(),
                t,
            )
        })
        .collect()
}

fn check_archive_dump(name: &str, gz: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = sms_db();
    let archive = dir.path().join(name);
    tar_dump(&archive, &members(&db), gz);
    let (run, df) = analyze(&archive, &dir.path().join("out"));
    assert_eq!(
        run["containers"][0]["kind"], "filesystem",
        "{}",
        run["containers"]
    );
    // sms.db was extracted and read like in a folder dump.
    let sms = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "sms")
        .unwrap();
    // (A minimal sms.db: read with warnings about the columns it lacks.)
    assert_eq!(
        (sms["rows"].as_u64(), sms["error"].is_null()),
        (Some(1), true),
        "{sms}"
    );
    assert_eq!(sms["artifact"], "private/var/mobile/Library/SMS/sms.db");
    let rows = fs_rows(&df);
    // The emptied folder: M at the header's mtime, C and A from the GNU header.
    let emptied: Vec<_> = rows
        .iter()
        .filter(|r| r.2 == "private/var/mobile/Library/SMS/Attachments/65/05")
        .collect();
    assert_eq!(emptied.len(), 3, "{emptied:?}");
    let m = emptied.iter().find(|r| r.0 == "file_modified").unwrap();
    assert_eq!(m.1, EMPTIED as i64);
    for t in ["attachment_dir", "empty_dir", "M"] {
        assert!(m.3.iter().any(|x| x == t), "{t} in {:?}", m.3);
    }
    assert!(emptied
        .iter()
        .any(|r| r.0 == "file_changed" && r.1 == EMPTIED as i64 + 1));
    assert!(emptied
        .iter()
        .any(|r| r.0 == "file_accessed" && r.1 == EMPTIED as i64 + 5));
    // A folder that holds a file is not empty; the file is an attachment file.
    let holding = rows
        .iter()
        .find(|r| r.2 == "private/var/mobile/Library/SMS/Attachments/1a" && r.0 == "file_modified")
        .unwrap();
    assert!(!holding.3.iter().any(|x| x == "empty_dir"));
    assert!(rows
        .iter()
        .any(|r| r.2.ends_with("IMG_1.HEIC") && r.3.iter().any(|x| x == "attachment_file")));
    assert!(rows
        .iter()
        .any(|r| r.2.ends_with("com.apple.ImageIO.plist")));
    // Outside the subtrees: no rows (DCIM, System).
    assert!(!rows
        .iter()
        .any(|r| r.2.contains("DCIM") || r.2.contains("SystemVersion")));
    // The rules apply to dump rows as to backup rows: the emptied folder followed by the
    // ImageIO plist change is the triangulation_heuristic trigger with a second class.
    let out = dir.path().join("out");
    let findings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap()).unwrap();
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "triangulation_heuristic"),
        "{findings}"
    );
    // The archive is hashed as one input; members inside are shown as archive!/member.
    let inputs = run["inputs"].as_array().unwrap();
    assert!(inputs
        .iter()
        .any(|i| i["path"].as_str().unwrap().ends_with(name)));
    assert!(inputs
        .iter()
        .any(|i| i["path"].as_str().unwrap().contains("!/")));
}

#[test]
fn tar_gz_dump_is_a_filesystem_dump_with_file_times() {
    check_archive_dump("iphone_ffs.tar.gz", true);
}

#[test]
fn plain_tar_dump_too() {
    check_archive_dump("extraction.tar", false);
}

#[test]
fn folder_dump_gives_modification_times() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dump");
    let db = sms_db();
    for m in members(&db) {
        let p = root.join(m.path);
        if m.dir {
            std::fs::create_dir_all(&p).unwrap();
        } else {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, m.body).unwrap();
        }
    }
    // Times set after every file exists (creating a file changes its folder's mtime).
    for m in members(&db) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.mtime);
        let f = std::fs::File::open(root.join(m.path)).unwrap();
        f.set_modified(t).unwrap();
    }
    let (run, df) = analyze(&root, &dir.path().join("out"));
    assert_eq!(run["containers"][0]["kind"], "filesystem");
    let rows = fs_rows(&df);
    let emptied: Vec<_> = rows
        .iter()
        .filter(|r| r.2 == "private/var/mobile/Library/SMS/Attachments/65/05")
        .collect();
    // Only M: the copy's other times are the analyst's machine's.
    assert_eq!(emptied.len(), 1, "{emptied:?}");
    assert_eq!(
        (emptied[0].0.as_str(), emptied[0].1),
        ("file_modified", EMPTIED as i64)
    );
    assert!(emptied[0].3.iter().any(|x| x == "empty_dir"));
}

#[test]
fn damaged_and_hostile_archives() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    std::fs::create_dir_all(&case).unwrap();
    // A truncated dump: the members before the damage are kept, with a warning.
    let db = sms_db();
    let whole = dir.path().join("whole.tar");
    tar_dump(&whole, &members(&db), false);
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(case.join("cut.tar"), &bytes[..bytes.len() / 2 + 700]).unwrap();
    // Not an archive at all, though named like one.
    std::fs::write(case.join("junk.tar.gz"), b"\x1f\x8bgarbage").unwrap();
    // A member climbing out of the archive is never written.
    {
        let f = std::fs::File::create(case.join("evil.tar")).unwrap();
        let mut b = tar::Builder::new(f);
        let mut h = tar::Header::new_gnu();
        let name = b"private/var/mobile/Library/SMS/../../../../../../tmp/chainline-escape";
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"bad"[..]).unwrap();
        b.finish().unwrap();
    }
    let (run, _) = analyze(&case, &dir.path().join("out"));
    let warnings = run["warnings"].to_string();
    assert!(warnings.contains("junk.tar.gz"), "{warnings}");
    assert!(warnings.contains("cut.tar"), "{warnings}");
    assert!(warnings.contains("evil.tar"), "{warnings}");
    assert!(!Path::new("/tmp/chainline-escape").exists());
    assert!(run["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["kind"] == "filesystem"));
}

/// A `.zip` extraction: listed from its central directory, the members sources read
/// extracted, DOS times read as UTC with a warning that their zone is unknown.
#[test]
fn zip_dump_is_a_filesystem_dump() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ffs.zip");
    let db = sms_db();
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let when = zip::DateTime::from_date_and_time(2022, 9, 13, 10, 4, 54).unwrap();
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(when);
        z.add_directory("private/var/mobile/Library/SMS/Attachments/65/05/", opts)
            .unwrap();
        z.start_file("private/var/mobile/Library/SMS/sms.db", opts)
            .unwrap();
        z.write_all(&db).unwrap();
        z.start_file("private/var/mobile/Media/DCIM/IMG_1.HEIC", opts)
            .unwrap();
        z.write_all(b"not read").unwrap();
        z.finish().unwrap();
    }
    let (run, df) = analyze(&path, &dir.path().join("out"));
    assert_eq!(
        run["containers"][0]["kind"], "filesystem",
        "{}",
        run["containers"]
    );
    let sms = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "sms")
        .unwrap();
    assert_eq!(sms["rows"], 1, "{sms}");
    let rows = fs_rows(&df);
    let emptied = rows
        .iter()
        .find(|r| r.2 == "private/var/mobile/Library/SMS/Attachments/65/05")
        .expect("the emptied folder");
    assert_eq!(
        (emptied.0.as_str(), emptied.1),
        ("file_modified", EMPTIED as i64)
    );
    assert!(emptied.3.iter().any(|t| t == "empty_dir"));
    assert!(run["warnings"].to_string().contains("DOS time"));
    // Not a zip at all: a warning in a case folder, the run goes on.
    let case = dir.path().join("case");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::write(case.join("broken.zip"), b"PK\x03\x04 nothing").unwrap();
    std::fs::copy(&path, case.join("good.zip")).unwrap();
    let (run, _) = analyze(&case, &dir.path().join("out2"));
    assert!(run["warnings"].to_string().contains("broken.zip"));
    assert!(run["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["kind"] == "filesystem"));
}
