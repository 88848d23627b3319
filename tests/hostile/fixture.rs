//! Building, damaging and analysing one small sample case.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_chainline");

/// Sources that yield rows on the pristine case (idstatus is present but empty).
pub const SOURCES: [&str; 12] = [
    "manifest",
    "sms",
    "datausage",
    "tcc",
    "safari",
    "shutdown",
    "crash",
    "addaily",
    "locationd",
    "ps",
    "mobileinstallation",
    "powerlog",
];

pub const SMS_DB: (&str, &str) = ("HomeDomain", "Library/SMS/sms.db");
pub const DATAUSAGE: (&str, &str) = ("WirelessDomain", "Library/Databases/DataUsage.sqlite");
pub const ADDAILY: (&str, &str) = (
    "HomeDomain",
    "Library/Preferences/com.apple.osanalytics.addaily.plist",
);
pub const CLIENTS: (&str, &str) = ("RootDomain", "Library/Caches/locationd/clients.plist");
pub const IDSTATUS: (&str, &str) = (
    "HomeDomain",
    "Library/Preferences/com.apple.identityservices.idstatuscache.plist",
);

/// A sample case (Operation Triangulation story, tiny scale) in its own temp folder:
/// `case/backup/<udid>/`, `case/sysdiagnose_….tar.gz`, `case/crashes/`.
pub struct Case {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    runs: usize,
}

impl Case {
    pub fn new() -> Case {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("case");
        let opts = chainline_sample::Options {
            scale: 0.002,
            ..Default::default()
        };
        chainline_sample::generate(chainline_sample::Case::Triangulation, &root, &opts)
            .expect("generate the sample case");
        Case { tmp, root, runs: 0 }
    }

    /// The backup folder (named by the UDID).
    pub fn backup(&self) -> PathBuf {
        let dir = self.root.join("backup");
        let mut subs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("backup folder")
            .map(|e| e.expect("entry").path())
            .collect();
        subs.sort();
        subs.into_iter().next().expect("one backup")
    }

    /// Where the backup stores a file: `<backup>/<id[..2]>/<id>`.
    pub fn backup_file(&self, (domain, rel): (&str, &str)) -> PathBuf {
        let id = chainline::evidence::file_id(domain, rel);
        self.backup().join(&id[..2]).join(&id)
    }

    pub fn manifest_db(&self) -> Connection {
        Connection::open(self.backup().join("Manifest.db")).expect("Manifest.db")
    }

    pub fn crashes(&self) -> PathBuf {
        self.root.join("crashes")
    }

    pub fn archive(&self) -> PathBuf {
        std::fs::read_dir(&self.root)
            .expect("case")
            .map(|e| e.expect("entry").path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .expect("sysdiagnose archive")
    }

    /// Replaces the sysdiagnose archive by its unpacked folder (so its files can be
    /// damaged) and returns that folder.
    pub fn unpack_sysdiagnose(&self) -> PathBuf {
        let archive = self.archive();
        let f = std::fs::File::open(&archive).expect("archive");
        tar::Archive::new(flate2::read::GzDecoder::new(f))
            .unpack(&self.root)
            .expect("unpack");
        std::fs::remove_file(&archive).expect("remove archive");
        let dir = std::fs::read_dir(&self.root)
            .expect("case")
            .map(|e| e.expect("entry").path())
            .find(|p| p.is_dir() && p.to_string_lossy().contains("sysdiagnose_"))
            .expect("sysdiagnose folder");
        dir
    }

    pub fn shutdown_log(&self, sysdiagnose: &Path) -> PathBuf {
        sysdiagnose.join("system_logs.logarchive/Extra/shutdown.log")
    }

    /// Runs `chainline analyze <inputs> -o OUT` and checks what every hostile run must
    /// hold: no panic, exit 0, evidence byte-identical, no file added or removed.
    pub fn analyze(&mut self) -> Run {
        let inputs = vec![self.root.clone()];
        self.analyze_paths(&inputs)
    }

    pub fn analyze_paths(&mut self, inputs: &[PathBuf]) -> Run {
        self.runs += 1;
        let out = self.tmp.path().join(format!("out{}", self.runs));
        let before = snapshot(&self.root);
        let mut args: Vec<OsString> = vec!["analyze".into()];
        args.extend(inputs.iter().map(|p| p.as_os_str().to_os_string()));
        args.push("-o".into());
        args.push(out.as_os_str().to_os_string());
        let (output, max_rss) = run_measured(&args, HANG_LIMIT);
        let mut run = Run::read(out, output);
        run.max_rss = max_rss;
        let after = snapshot(&self.root);
        assert_evidence_unchanged(&before, &after);
        run
    }
}

/// A run that takes longer than this is a hang: it is killed and the test fails.
pub const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs chainline and waits for it with `wait4`, which gives this child's own peak
/// memory (`getrusage(RUSAGE_CHILDREN)` would mix in the other tests' children). A
/// watchdog kills it after `limit`.
pub fn run_measured(args: &[OsString], limit: std::time::Duration) -> (Output, u64) {
    use std::os::unix::process::ExitStatusExt;
    use std::sync::{Arc, Mutex};
    let logs = tempfile::tempdir().expect("log dir");
    let (so, se) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let child = Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&so).expect("stdout"))
        .stderr(std::fs::File::create(&se).expect("stderr"))
        .spawn()
        .expect("run chainline");
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(Mutex::new(false));
    let watch = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while start.elapsed() < limit {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if *done.lock().expect("flag") {
                    return false;
                }
            }
            let finished = done.lock().expect("flag");
            if !*finished {
                // SAFETY: kill(2) on our own child, not yet reaped (the flag is set
                // under this lock right after wait4 returns).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                return true;
            }
            false
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    *done.lock().expect("flag") = true;
    assert_eq!(r, pid, "wait4 failed");
    let killed = watch.join().expect("watchdog");
    assert!(!killed, "chainline hung for more than {limit:?}: {args:?}");
    drop(child);
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: std::fs::read(&so).expect("stdout"),
        stderr: std::fs::read(&se).expect("stderr"),
    };
    // ru_maxrss is in KiB on Linux.
    (output, usage.ru_maxrss as u64 * 1024)
}

/// One finished analysis.
pub struct Run {
    pub out: PathBuf,
    pub output: Output,
    pub json: Value,
    /// Peak resident memory of the chainline process, bytes.
    pub max_rss: u64,
}

impl Run {
    pub fn read(out: PathBuf, output: Output) -> Run {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stderr.contains("panicked") && !stderr.contains("internal error"),
            "a panic: {stderr}"
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "a finished analysis exits 0 (docs/HOSTILE.md): {stderr}"
        );
        let bytes = std::fs::read(out.join("run.json")).expect("run.json written");
        let json: Value = serde_json::from_slice(&bytes).expect("run.json is JSON");
        for f in ["timeline.parquet", "findings.json", "report.html"] {
            assert!(out.join(f).is_file(), "{f} not written");
        }
        Run {
            out,
            output,
            json,
            max_rss: 0,
        }
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn partial(&self) -> bool {
        self.json["partial"].as_bool().expect("run.json partial")
    }

    pub fn rows(&self, source: &str) -> u64 {
        self.json["rows_by_source"][source].as_u64().unwrap_or(0)
    }

    pub fn artifacts(&self) -> Vec<&Value> {
        self.json["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .collect()
    }

    /// The run.json entries of one source whose artifact name contains `needle`.
    pub fn artifact(&self, source: &str, needle: &str) -> Vec<&Value> {
        self.artifacts()
            .into_iter()
            .filter(|a| {
                a["source"] == source && a["artifact"].as_str().unwrap_or("").contains(needle)
            })
            .collect()
    }

    /// Everything run.json says went wrong with an artifact (error and warnings).
    pub fn problems_of(a: &Value) -> String {
        let mut s = a["error"].as_str().unwrap_or("").to_string();
        for w in a["warnings"].as_array().into_iter().flatten() {
            s.push('\n');
            s.push_str(w.as_str().unwrap_or(""));
        }
        s
    }

    /// The one artifact of `source` named `needle`: not parsed cleanly, and its
    /// problems mention every one of `says`.
    pub fn assert_artifact_reports(&self, source: &str, needle: &str, says: &[&str]) {
        let found = self.artifact(source, needle);
        assert!(
            !found.is_empty(),
            "no {source} artifact {needle:?} in run.json: {:#}",
            self.json["artifacts"]
        );
        for a in found {
            assert_ne!(a["status"], "parsed", "{a:#}");
            let text = Run::problems_of(a);
            for s in says {
                assert!(text.contains(s), "{source} {needle}: {s:?} not in {text:?}");
            }
        }
        assert!(self.partial(), "run.json partial must be true");
    }

    /// Run-level warnings (`warnings`), as "artifact: message" lines.
    pub fn warnings(&self) -> Vec<String> {
        self.json["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| {
                format!(
                    "{}: {}",
                    w["artifact"].as_str().unwrap_or(""),
                    w["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// A run-level warning names `artifact` and says `what`.
    pub fn assert_warning(&self, artifact: &str, what: &str) {
        let ws = self.warnings();
        assert!(
            ws.iter().any(|w| w.contains(artifact) && w.contains(what)),
            "no warning naming {artifact:?} with {what:?}: {ws:#?}"
        );
        assert!(self.partial(), "run.json partial must be true");
    }

    /// Every source of the pristine case still yields rows, except `lost`.
    pub fn assert_others_parsed(&self, lost: &[&str]) {
        for s in SOURCES.iter().filter(|s| !lost.contains(s)) {
            assert!(
                self.rows(s) > 0,
                "{s} lost its rows: {:#}",
                self.json["rows_by_source"]
            );
        }
    }

    pub fn timeline(&self) -> polars::prelude::DataFrame {
        chainline::timeline::read_parquet(&self.out.join("timeline.parquet")).expect("parquet")
    }

    /// (artifact, record, ts is null, tags) of every row of one source.
    pub fn rows_of(&self, source: &str) -> Vec<Row> {
        let df = self.timeline();
        let col = |n: &str| df.column(n).expect(n).str().expect(n).clone();
        let (src, art, rec, actor, target, msg) = (
            col("source"),
            col("artifact"),
            col("record"),
            col("actor"),
            col("target"),
            col("message"),
        );
        let ts = df.column("ts").expect("ts").datetime().expect("ts").clone();
        let tags = df
            .column("tags")
            .expect("tags")
            .list()
            .expect("tags")
            .clone();
        let mut out = Vec::new();
        for i in 0..df.height() {
            if src.get(i) != Some(source) {
                continue;
            }
            let t: Vec<String> = tags
                .get_as_series(i)
                .map(|s| {
                    s.str()
                        .expect("tag strings")
                        .iter()
                        .flatten()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            out.push(Row {
                artifact: art.get(i).unwrap_or("").to_string(),
                record: rec.get(i).unwrap_or("").to_string(),
                actor: actor.get(i).unwrap_or("").to_string(),
                target: target.get(i).unwrap_or("").to_string(),
                message: msg.get(i).unwrap_or("").to_string(),
                timed: ts.physical().get(i).is_some(),
                tags: t,
            });
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub artifact: String,
    pub record: String,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub timed: bool,
    pub tags: Vec<String>,
}

/// Every entry below `dir`: files by SHA-256, links by target, folders by name.
/// Links are never followed, so loops are harmless.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.expect("walk the evidence");
        let ft = e.file_type();
        let what = if ft.is_symlink() {
            format!(
                "link -> {}",
                std::fs::read_link(e.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )
        } else if ft.is_file() {
            hash_file(e.path())
        } else if ft.is_dir() {
            "dir".into()
        } else {
            "special".into()
        };
        out.insert(e.path().to_path_buf(), what);
    }
    out
}

/// SHA-256 of a file, streamed.
pub fn hash_file(p: &Path) -> String {
    let mut f = std::fs::File::open(p).expect("open evidence file");
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("hash evidence file");
    hex::encode(h.finalize())
}

pub fn assert_evidence_unchanged(
    before: &BTreeMap<PathBuf, String>,
    after: &BTreeMap<PathBuf, String>,
) {
    let added: Vec<&PathBuf> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<&PathBuf> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<&PathBuf> = before
        .iter()
        .filter(|(k, v)| after.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        added.is_empty() && removed.is_empty() && changed.is_empty(),
        "evidence changed: added {added:?}, removed {removed:?}, changed {changed:?}"
    );
}

/// Inserts a Manifest.db `Files` row with a real MBFile blob.
pub fn add_manifest_entry(db: &Connection, file_id: &str, domain: &str, rel: &str, flags: i64) {
    let blob = chainline::evidence::mbfile::encode(&chainline::evidence::mbfile::MbFile {
        last_modified: Some(1_663_063_494),
        last_status_change: Some(1_663_063_494),
        birth: Some(1_663_063_400),
        size: Some(0),
        mode: Some(0o100644),
        relative_path: Some(rel.to_string()),
        ..Default::default()
    });
    db.execute(
        "INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![file_id, domain, rel, flags, blob],
    )
    .expect("insert Manifest entry");
}

/// Copies a SQLite file into `staging`, turns it into WAL mode and adds a row with
/// `sql` that stays in the WAL; returns the paths of the copied db, -wal and -shm
/// (taken while the writer is still open, as on a live phone).
pub fn with_wal(db: &Path, staging: &Path, sql: &str) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(staging).expect("staging");
    let name = db.file_name().expect("name").to_string_lossy().into_owned();
    let name = if name.contains('.') {
        name
    } else {
        "evidence.db".into()
    };
    let work = staging.join(format!("work-{name}"));
    std::fs::copy(db, &work).expect("copy db");
    let conn = Connection::open(&work).expect("open copy");
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
        .expect("wal mode");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    conn.execute_batch(sql).expect("row in the WAL");
    let out = (
        staging.join(&name),
        staging.join(format!("{name}-wal")),
        staging.join(format!("{name}-shm")),
    );
    std::fs::copy(&work, &out.0).expect("db");
    let mut wal = work.clone().into_os_string();
    wal.push("-wal");
    let mut shm = work.clone().into_os_string();
    shm.push("-shm");
    std::fs::copy(&wal, &out.1).expect("wal");
    std::fs::copy(&shm, &out.2).expect("shm");
    assert!(std::fs::metadata(&out.1).expect("wal").len() > 0);
    drop(conn);
    out
}

/// HTML as tera escapes it (the report's text).
pub fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            c => out.push(c),
        }
    }
    out
}

/// Runs chainline with arguments, returning its output (no checks).
pub fn chainline(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run chainline")
}
