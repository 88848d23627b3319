//! Encrypted iTunes/Finder backups, end to end through the CLI. Fixtures are encrypted
//! twins of plaintext backups, written by `sample::encrypt_backup` with the RustCrypto
//! primitives and low iteration counts (the reader takes the counts from the keybag).
//!
//! Each run gets its own TMPDIR, so "no plaintext left on disk" is checked by that
//! folder being empty afterwards; the evidence folder is hashed before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chainline::evidence::{file_id, mbfile};
use chainline_sample::{encrypt_backup, EncryptOptions};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_chainline");
const PASSWORD: &str = "correct horse";
const WEIRD: &str = "pässwörd $(rm -rf ~) \"'`;|&";
const UDID: &str = "00008030-001a2b3c4d5e6f70";

fn triangulation_backup() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample_cases/triangulation/backup/00841bbf86741368dc87c5d7b120711119ccfbe2")
}

/// A small plaintext backup: an SMS database, a preferences plist, folder rows.
fn tiny_backup(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let files: Vec<(&str, &str, Vec<u8>)> = vec![
        ("HomeDomain", "Library/SMS/sms.db", sms_db()),
        (
            "HomeDomain",
            "Library/Preferences/com.apple.example.plist",
            plist_bytes(),
        ),
    ];
    let db = Connection::open(dir.join("Manifest.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    let put = |domain: &str, rel: &str, flags: i64, size: usize, t: i64| {
        let blob = mbfile::encode(&mbfile::MbFile {
            last_modified: Some(t),
            last_status_change: Some(t),
            birth: Some(t - 100),
            size: Some(size as i64),
            mode: Some(if flags == 2 { 0o40755 } else { 0o100644 }),
            protection_class: Some(if flags == 1 { 3 } else { 0 }),
            relative_path: Some(rel.to_string()),
            ..Default::default()
        });
        db.execute(
            "INSERT INTO Files VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![file_id(domain, rel), domain, rel, flags, blob],
        )
        .unwrap();
    };
    put(
        "MediaDomain",
        "Library/SMS/Attachments/65/05",
        2,
        0,
        1_663_063_494,
    );
    for (i, (domain, rel, bytes)) in files.iter().enumerate() {
        put(domain, rel, 1, bytes.len(), 1_663_063_500 + i as i64);
        let id = file_id(domain, rel);
        std::fs::create_dir_all(dir.join(&id[..2])).unwrap();
        std::fs::write(dir.join(&id[..2]).join(&id), bytes).unwrap();
    }
    drop(db);
    let mut info = plist::Dictionary::new();
    info.insert("Unique Identifier".into(), UDID.to_uppercase().into());
    info.insert("Product Version".into(), "15.7".to_string().into());
    plist::Value::Dictionary(info)
        .to_file_xml(dir.join("Info.plist"))
        .unwrap();
    let mut manifest = plist::Dictionary::new();
    manifest.insert("IsEncrypted".into(), plist::Value::Boolean(false));
    plist::Value::Dictionary(manifest)
        .to_file_binary(dir.join("Manifest.plist"))
        .unwrap();
}

fn sms_db() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("sms.db");
    let c = Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
         CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER,
             service TEXT, date INTEGER, date_read INTEGER, date_delivered INTEGER, is_from_me INTEGER,
             cache_has_attachments INTEGER);
         INSERT INTO handle VALUES (1, 'attacker@example.com', 'iMessage');
         INSERT INTO message VALUES (1, 'G1', 'hello', 1, 'iMessage', 684756000000000000, 0, 0, 0, 0);
         INSERT INTO message VALUES (2, 'G2', 'again', 1, 'iMessage', 684756060000000000, 0, 0, 1, 0);",
    )
    .unwrap();
    drop(c);
    std::fs::read(p).unwrap()
}

fn plist_bytes() -> Vec<u8> {
    let mut d = plist::Dictionary::new();
    d.insert("key".into(), "value".to_string().into());
    let mut out = Vec::new();
    plist::Value::Dictionary(d)
        .to_writer_binary(&mut out)
        .unwrap();
    out
}

/// Every file below `dir` with its SHA-256.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let h = if e.file_type().is_file() {
                hex::encode(Sha256::digest(std::fs::read(e.path()).unwrap()))
            } else {
                "dir".into()
            };
            (e.path().to_path_buf(), h)
        })
        .collect()
}

/// One run of the binary with a private TMPDIR and no password in the environment
/// unless `env` gives one; stdin is not a terminal.
struct Run {
    out: Output,
    tmp: tempfile::TempDir,
}

impl Run {
    fn ok(&self) -> bool {
        self.out.status.success()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// The private TMPDIR holds nothing after the run.
    fn assert_temp_empty(&self) {
        let left: Vec<PathBuf> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "temp files left behind: {left:?}");
    }
}

/// `chainline analyze -q BACKUP -o OUT --password PASSWORD`.
fn analyze_with_password(backup: &Path, out: &Path) -> Run {
    run(
        &[
            "analyze",
            "-q",
            s(backup),
            "-o",
            s(out),
            "--password",
            PASSWORD,
        ],
        None,
    )
}

fn run(args: &[&str], env: Option<&str>) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("TMPDIR", tmp.path())
        .env_remove("CHAINLINE_BACKUP_PASSWORD")
        .stdin(Stdio::null());
    if let Some(pw) = env {
        cmd.env("CHAINLINE_BACKUP_PASSWORD", pw);
    }
    Run {
        out: cmd.output().unwrap(),
        tmp,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_one_line_error(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn timeline(out: &Path) -> polars::prelude::DataFrame {
    chainline::timeline::read_parquet(&out.join("timeline.parquet")).unwrap()
}

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
}

/// A plaintext backup at `<tmp>/plain/<UDID>` and its encrypted twin at
/// `<tmp>/evidence/<UDID>`.
fn twins(
    tmp: &Path,
    plain_src: Option<&Path>,
    password: &str,
    opts: EncryptOptions,
) -> (PathBuf, PathBuf) {
    let plain = match plain_src {
        Some(p) => p.to_path_buf(),
        None => {
            let p = tmp.join("plain").join(UDID);
            tiny_backup(&p);
            p
        }
    };
    let enc = tmp.join("evidence").join(UDID);
    let summary = encrypt_backup(&plain, &enc, password, &opts).unwrap();
    assert!(summary.encrypted_files > 0);
    (plain, enc)
}

#[test]
fn encrypted_backup_gives_the_timeline_of_its_plaintext_twin_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = twins(
        tmp.path(),
        Some(&triangulation_backup()),
        PASSWORD,
        EncryptOptions::fast(1),
    );
    // The twin really is encrypted.
    assert!(!std::fs::read(enc.join("Manifest.db"))
        .unwrap()
        .starts_with(b"SQLite format 3"));
    let sms = file_id("HomeDomain", "Library/SMS/sms.db");
    let cipher_sms = enc.join(&sms[..2]).join(&sms);
    assert!(!std::fs::read(&cipher_sms).unwrap().starts_with(b"SQLite"));

    let out_plain = tmp.path().join("out-plain");
    let r = run(&["analyze", "-q", s(&plain), "-o", s(&out_plain)], None);
    assert!(r.ok(), "{}", r.stderr());

    let before = snapshot(&tmp.path().join("evidence"));
    let out_enc = tmp.path().join("out-enc");
    let r = analyze_with_password(&enc, &out_enc);
    assert!(r.ok(), "{}", r.stderr());
    r.assert_temp_empty();
    assert_eq!(
        before,
        snapshot(&tmp.path().join("evidence")),
        "the evidence folder changed"
    );

    // Same rows, same order, every column: nothing in the timeline depends on where
    // the evidence lives or on how it was stored.
    let (a, b) = (timeline(&out_plain), timeline(&out_enc));
    assert!(
        a.height() > 1000,
        "the sample backup has rows: {}",
        a.height()
    );
    assert!(a.equals_missing(&b), "timelines differ:\n{a}\n{b}");
    let findings = |o: &Path| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(o.join("findings.json")).unwrap()).unwrap();
        v["findings"].as_array().unwrap().len()
    };
    assert!(findings(&out_plain) > 0);
    assert_eq!(findings(&out_plain), findings(&out_enc));

    // run.json: how it was opened, never the secret; ciphertext hashes with the plaintext's beside.
    let log = run_json(&out_enc);
    assert_eq!(log["containers"][0]["encryption"]["encrypted"], true);
    assert_eq!(
        log["containers"][0]["encryption"]["unlocked_with"],
        "password"
    );
    let input = log["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["logical"] == "HomeDomain/Library/SMS/sms.db")
        .unwrap();
    let on_disk = hex::encode(Sha256::digest(std::fs::read(&cipher_sms).unwrap()));
    let plain_sms = hex::encode(Sha256::digest(
        std::fs::read(plain.join(&sms[..2]).join(&sms)).unwrap(),
    ));
    assert_eq!(input["sha256"], on_disk.as_str());
    assert_eq!(input["plaintext"]["sha256"], plain_sms.as_str());
    for f in ["run.json", "report.html", "findings.json"] {
        let text = String::from_utf8_lossy(&std::fs::read(out_enc.join(f)).unwrap()).into_owned();
        assert!(!text.contains(PASSWORD), "{f} holds the password");
    }
    assert!(log["command"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "<redacted>"));
}

#[test]
fn wrong_password_fails_in_one_line_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, enc) = twins(tmp.path(), None, PASSWORD, EncryptOptions::fast(2));
    let before = snapshot(&tmp.path().join("evidence"));
    let out = tmp.path().join("out");
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&out),
            "--password",
            "Correct horse",
        ],
        None,
    );
    assert!(!r.ok());
    assert_eq!(r.out.status.code(), Some(2));
    assert_one_line_error(
        &r.stderr(),
        "wrong backup password (class keys did not unwrap)",
    );
    assert!(r.stderr().contains(s(&enc)), "{}", r.stderr());
    r.assert_temp_empty();
    assert_eq!(before, snapshot(&tmp.path().join("evidence")));
    assert!(!out.join("run.json").exists());
}

#[test]
fn no_password_off_a_terminal_says_how_to_give_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, enc) = twins(tmp.path(), None, PASSWORD, EncryptOptions::fast(3));
    let r = run(
        &["analyze", "-q", s(&enc), "-o", s(&tmp.path().join("out"))],
        None,
    );
    assert!(!r.ok());
    assert_one_line_error(&r.stderr(), "--password");
    assert!(r.stderr().contains("CHAINLINE_BACKUP_PASSWORD"));
    r.assert_temp_empty();
}

#[test]
fn password_with_non_ascii_and_shell_characters_works_by_flag_and_by_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = twins(tmp.path(), None, WEIRD, EncryptOptions::fast(4));
    let out_plain = tmp.path().join("out-plain");
    assert!(run(&["analyze", "-q", s(&plain), "-o", s(&out_plain)], None).ok());
    let want = timeline(&out_plain);
    assert!(want.height() >= 4);

    let by_flag = tmp.path().join("out-flag");
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&by_flag),
            "--password",
            WEIRD,
        ],
        None,
    );
    assert!(r.ok(), "{}", r.stderr());
    r.assert_temp_empty();
    assert!(want.equals_missing(&timeline(&by_flag)));

    let by_env = tmp.path().join("out-env");
    let r = run(&["analyze", "-q", s(&enc), "-o", s(&by_env)], Some(WEIRD));
    assert!(r.ok(), "{}", r.stderr());
    r.assert_temp_empty();
    assert!(want.equals_missing(&timeline(&by_env)));
    let raw =
        String::from_utf8_lossy(&std::fs::read(by_flag.join("run.json")).unwrap()).into_owned();
    assert!(!raw.contains("pässwörd"), "run.json holds the password");
    // The same characters normalised differently are another password.
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&tmp.path().join("x")),
            "--password",
            &WEIRD.replace('ä', "a\u{308}"),
        ],
        None,
    );
    assert!(!r.ok());
}

#[test]
fn keybag_of_ios_before_10_2_uses_sha1_only_and_a_clear_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = twins(tmp.path(), None, PASSWORD, EncryptOptions::before_10_2(5));
    let manifest = plist::Value::from_file(enc.join("Manifest.plist")).unwrap();
    let d = manifest.as_dictionary().unwrap();
    assert!(d.get("ManifestKey").is_none());
    let bag = chainline::evidence::crypto::keybag_of(d).unwrap();
    assert!(bag.sha1_only());
    // Manifest.db is SQLite, the files are not.
    assert!(std::fs::read(enc.join("Manifest.db"))
        .unwrap()
        .starts_with(b"SQLite format 3"));

    let out_plain = tmp.path().join("out-plain");
    assert!(run(&["analyze", "-q", s(&plain), "-o", s(&out_plain)], None).ok());
    let out = tmp.path().join("out");
    let r = analyze_with_password(&enc, &out);
    assert!(r.ok(), "{}", r.stderr());
    r.assert_temp_empty();
    assert!(timeline(&out_plain).equals_missing(&timeline(&out)));
    assert_eq!(
        run_json(&out)["containers"][0]["encryption"]["sha1_only"],
        true
    );
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&tmp.path().join("x")),
            "--password",
            "nope",
        ],
        None,
    );
    assert_one_line_error(&r.stderr(), "wrong backup password");
}

#[test]
fn key_file_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = twins(tmp.path(), None, PASSWORD, EncryptOptions::fast(6));
    let key = tmp.path().join("keys").join("alice.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();

    // A plaintext backup has no key.
    let r = run(
        &[
            "key",
            "-q",
            s(&plain),
            "-o",
            s(&key),
            "--password",
            PASSWORD,
        ],
        None,
    );
    assert_one_line_error(&r.stderr(), "not an encrypted backup");
    assert!(!key.exists());
    // Wrong password: no key file.
    let r = run(
        &["key", "-q", s(&enc), "-o", s(&key), "--password", "nope"],
        None,
    );
    assert!(!r.ok());
    assert_one_line_error(&r.stderr(), "wrong backup password");
    assert!(!key.exists());
    // Never next to the evidence.
    let r = run(
        &[
            "key",
            "-q",
            s(&enc),
            "-o",
            s(&enc.join("k")),
            "--password",
            PASSWORD,
        ],
        None,
    );
    assert_one_line_error(&r.stderr(), "inside the evidence");
    assert!(!enc.join("k").exists());

    let r = run(&["key", "-q", s(&enc), "-o", s(&key)], Some(PASSWORD));
    assert!(r.ok(), "{}", r.stderr());
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(
        text.len(),
        64,
        "64 hex characters, no newline (mvt-ios extract-key layout)"
    );
    assert!(text
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // An existing key file is not replaced.
    let r = run(&["key", "-q", s(&enc), "-o", s(&key)], Some(PASSWORD));
    assert!(!r.ok());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);

    let out_plain = tmp.path().join("out-plain");
    assert!(run(&["analyze", "-q", s(&plain), "-o", s(&out_plain)], None).ok());
    let out = tmp.path().join("out");
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&out),
            "--key-file",
            s(&key),
        ],
        None,
    );
    assert!(r.ok(), "{}", r.stderr());
    r.assert_temp_empty();
    assert!(timeline(&out_plain).equals_missing(&timeline(&out)));
    assert_eq!(
        run_json(&out)["containers"][0]["encryption"]["unlocked_with"],
        "key_file"
    );
    assert!(!std::fs::read_to_string(out.join("run.json"))
        .unwrap()
        .contains(&text));

    // The key of another backup does not open this one.
    let other = tmp.path().join("other");
    let (_, enc2) = twins(&other, None, PASSWORD, EncryptOptions::fast(7));
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc2),
            "-o",
            s(&tmp.path().join("o2")),
            "--key-file",
            s(&key),
        ],
        None,
    );
    assert_one_line_error(&r.stderr(), "the key file does not open this backup");
    // A key file that is not one.
    let junk = tmp.path().join("junk.key");
    std::fs::write(&junk, "not a key").unwrap();
    let r = run(
        &[
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&tmp.path().join("o3")),
            "--key-file",
            s(&junk),
        ],
        None,
    );
    assert_one_line_error(&r.stderr(), "64 hex characters");
}

#[test]
fn a_backup_that_does_not_open_is_reported_and_the_rest_analysed() {
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("case");
    tiny_backup(&case.join("plain-backup"));
    encrypt_backup(
        &case.join("plain-backup"),
        &tmp.path().join("locked"),
        "other password",
        &EncryptOptions::fast(8),
    )
    .unwrap();
    std::fs::rename(tmp.path().join("locked"), case.join("locked-backup")).unwrap();
    let out = tmp.path().join("out");
    let r = run(
        &["analyze", s(&case), "-o", s(&out), "--password", PASSWORD],
        None,
    );
    assert!(r.ok(), "{}", r.stderr());
    assert!(
        r.stderr().contains("warning: encrypted backup")
            && r.stderr().contains("wrong backup password"),
        "{}",
        r.stderr()
    );
    r.assert_temp_empty();
    let log = run_json(&out);
    let containers = log["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    let locked = containers
        .iter()
        .find(|c| c["origin"].as_str().unwrap().ends_with("locked-backup"))
        .unwrap();
    assert!(locked["encryption"]["error"]
        .as_str()
        .unwrap()
        .contains("wrong backup password"));
    assert!(locked["encryption"]["unlocked_with"].is_null());
    assert!(timeline(&out).height() >= 4);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("NOT ANALYSED"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_the_run_removes_the_temp_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, enc) = twins(tmp.path(), None, PASSWORD, EncryptOptions::fast(9));
    // Raise DPIC so the derivation runs long enough to be interrupted.
    let mp = enc.join("Manifest.plist");
    let mut manifest = plist::Value::from_file(&mp)
        .unwrap()
        .into_dictionary()
        .unwrap();
    let mut bag = manifest["BackupKeyBag"].as_data().unwrap().to_vec();
    let at = bag.windows(4).position(|w| w == b"DPIC").unwrap() + 8;
    bag[at..at + 4].copy_from_slice(&50_000_000u32.to_be_bytes());
    manifest.insert("BackupKeyBag".into(), plist::Value::Data(bag));
    plist::Value::Dictionary(manifest)
        .to_file_binary(&mp)
        .unwrap();

    let private = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args([
            "analyze",
            "-q",
            s(&enc),
            "-o",
            s(&tmp.path().join("out")),
            "--password",
            PASSWORD,
        ])
        .env("TMPDIR", private.path())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let scratch = loop {
        let found = std::fs::read_dir(private.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("chainline-")
            });
        if let Some(p) = found {
            break p;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "no scratch folder appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&scratch).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!scratch.exists(), "scratch folder left after Ctrl-C");
    assert_eq!(std::fs::read_dir(private.path()).unwrap().count(), 0);
}

#[test]
fn one_file_that_does_not_decrypt_costs_only_its_own_rows() {
    let tmp = tempfile::tempdir().unwrap();
    // Before iOS 10.2 Manifest.db is in the clear, so its key blobs can be spoiled here.
    let (_, enc) = twins(tmp.path(), None, PASSWORD, EncryptOptions::before_10_2(10));
    let db = Connection::open(enc.join("Manifest.db")).unwrap();
    let id = file_id("HomeDomain", "Library/SMS/sms.db");
    let blob: Vec<u8> = db
        .query_row("SELECT file FROM Files WHERE fileID = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    let mut mb = mbfile::decode(&blob).unwrap();
    let mut key = mb.encryption_key.take().unwrap();
    key[10] ^= 0xff;
    mb.encryption_key = Some(key);
    db.execute(
        "UPDATE Files SET file = ?1 WHERE fileID = ?2",
        rusqlite::params![mbfile::encode(&mb), id],
    )
    .unwrap();
    drop(db);
    let out = tmp.path().join("out");
    let r = analyze_with_password(&enc, &out);
    assert!(r.ok(), "{}", r.stderr());
    r.assert_temp_empty();
    let log = run_json(&out);
    let sms = log["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "sms")
        .unwrap();
    assert_eq!(sms["status"], "failed");
    assert!(
        sms["error"].as_str().unwrap().contains("cannot decrypt"),
        "{sms}"
    );
    let manifest = log["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "manifest")
        .unwrap();
    assert_eq!(manifest["status"], "parsed");
    assert!(timeline(&out).height() >= 4);
}
