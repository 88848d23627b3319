//! Private copies of SQLite evidence. Opening a WAL-mode database in place, even
//! with `mode=ro`, creates `-wal`/`-shm` files beside it or checkpoints the WAL into
//! it; so the file and its companions are copied into the scratch folder under their
//! original names and the copy is opened, which also reads the newest rows in the WAL.
//! A database of an encrypted backup is decrypted into the copy (the scratch folder is
//! private and removed at the end of the run).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::crypto::FileKey;
use super::{Artifact, Evidence, EvidenceError};

#[derive(Debug)]
pub struct SqliteCopy {
    conn: Connection,
    path: PathBuf,
    _dir: tempfile::TempDir,
    /// Whether a `-wal` file was found and copied with it.
    pub had_wal: bool,
}

impl SqliteCopy {
    pub(super) fn open(
        ev: &Evidence,
        art: &Artifact,
        companions: &[(String, Artifact)],
    ) -> Result<SqliteCopy, EvidenceError> {
        Self::open_keyed(ev, art, companions, None)
    }

    /// Opens a copy of `art`, decrypted with `key` when given (Manifest.db, whose key
    /// is in Manifest.plist), else with its own key if it belongs to an encrypted backup.
    pub(super) fn open_keyed(
        ev: &Evidence,
        art: &Artifact,
        companions: &[(String, Artifact)],
        key: Option<&FileKey>,
    ) -> Result<SqliteCopy, EvidenceError> {
        let dir = tempfile::Builder::new()
            .prefix("sqlite-")
            .tempdir_in(ev.scratch())
            .map_err(|e| EvidenceError::io(ev.scratch(), e))?;
        let name = art
            .logical
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("evidence.sqlite")
            .to_string();
        let path = dir.path().join(&name);
        let own = ev.file_key(art)?;
        let main_key = key
            .map(|k| (k, None))
            .or(own.as_ref().map(|(k, s)| (k, *s)));
        copy_hashed(ev, art, &path, main_key)?;
        let mut had_wal = false;
        for (suffix, c) in companions {
            let ck = ev.file_key(c)?;
            copy_hashed(
                ev,
                c,
                &dir.path().join(format!("{name}{suffix}")),
                ck.as_ref().map(|(k, s)| (k, *s)),
            )?;
            had_wal |= suffix == "-wal";
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| EvidenceError::Sqlite {
            path: art.path.clone(),
            source: e,
        })?;
        // The copy is ours, but nothing chainline does should write to it either.
        conn.execute_batch("PRAGMA query_only = 1;")
            .map_err(|e| EvidenceError::Sqlite {
                path: art.path.clone(),
                source: e,
            })?;
        // Reject files that are not SQLite at all with a clear message, early.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| EvidenceError::Sqlite {
            path: art.path.clone(),
            source: e,
        })?;
        Ok(SqliteCopy {
            conn,
            path,
            _dir: dir,
            had_wal,
        })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Path of the private copy (for opening a second connection).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Column names of a table, empty when the table does not exist.
    pub fn columns(&self, table: &str) -> Vec<String> {
        table_columns(&self.conn, table)
    }

    /// Closes the connection and keeps the private copy for later connections
    /// (a `Connection` cannot be shared between threads; the copy can).
    pub fn keep(self) -> KeptCopy {
        let SqliteCopy {
            conn, path, _dir, ..
        } = self;
        drop(conn);
        KeptCopy { path, _dir }
    }
}

/// A private copy of a SQLite file kept for the whole run.
#[derive(Debug)]
pub struct KeptCopy {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl KeptCopy {
    pub fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(conn)
    }
}

/// Rows in `table`, or 0 when it cannot be counted (missing, corrupt): only used to
/// size buffers before reading, never reported.
pub fn row_count(conn: &Connection, table: &str) -> usize {
    let sql = format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\""));
    conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

pub fn table_columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare("SELECT name FROM pragma_table_info(?1)") else {
        return Vec::new();
    };
    stmt.query_map([table], |r| r.get::<_, String>(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Streams the evidence file into the copy, hashing it on the way (and decrypting it
/// with `key` and the recorded size): a large database is never held in memory whole.
fn copy_hashed(
    ev: &Evidence,
    art: &Artifact,
    to: &Path,
    key: Option<(&FileKey, Option<u64>)>,
) -> Result<(), EvidenceError> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Write};
    let meta = std::fs::metadata(&art.path).map_err(|e| EvidenceError::io(&art.path, e))?;
    if !meta.is_file() {
        return Err(EvidenceError::NotRegular {
            path: art.path.clone(),
        });
    }
    let mut src = std::fs::File::open(&art.path).map_err(|e| EvidenceError::io(&art.path, e))?;
    let mut dst = std::fs::File::create(to).map_err(|e| EvidenceError::io(to, e))?;
    if let Some((key, size)) = key {
        let d = super::crypto::decrypt_stream(key, size, src, std::io::BufWriter::new(dst))
            .map_err(|e| EvidenceError::io(&art.path, e))?;
        ev.inputs.insert(
            &art.path,
            &art.logical,
            d.cipher_size,
            d.cipher_sha256.clone(),
        );
        ev.inputs.record_plain(&art.path, &d);
        return Ok(());
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| EvidenceError::io(&art.path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])
            .map_err(|e| EvidenceError::io(to, e))?;
        size += n as u64;
    }
    ev.inputs.insert(
        &art.path,
        &art.logical,
        size,
        hex::encode(hasher.finalize()),
    );
    Ok(())
}
