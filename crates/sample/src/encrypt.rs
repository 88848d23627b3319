//! Encrypted twins of plaintext backups, for fixtures and for analysts who want to try
//! `chainline analyze --password`: the same scheme iTunes and Finder use (see
//! `evidence::crypto`), written with the RustCrypto primitives directly rather than
//! through chainline's reader, so a test that round-trips through both checks one
//! against the other.
//!
//! The twin gets a keybag with random class keys for protection classes 1 to 11
//! (wrapped with the key derived from the password), every listed file encrypted under
//! its own random key (AES-256-CBC, zero IV, PKCS#7) wrapped with its class key into
//! its MBFile `EncryptionKey`, and Manifest.db encrypted under `ManifestKey`. Keys come
//! from a seeded generator: a sample is reproducible, not secret.

use std::path::{Path, PathBuf};

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use aes_kw::KekAes256;
use plist::Value;
use rand::{Rng as _, SeedableRng};
use rusqlite::{params, Connection};

use super::{io_err, sql_err, SampleError};
use chainline::evidence::mbfile;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// The protection class of Manifest.db's key in real backups (NSFileProtectionNone).
const MANIFEST_CLASS: u32 = 4;

#[derive(Debug, Clone, Copy)]
pub struct EncryptOptions {
    /// PBKDF2-HMAC-SHA256 rounds (DPIC); `None` writes an iOS-before-10.2 keybag
    /// (SHA-1 stage only) and leaves Manifest.db unencrypted, as those backups did.
    pub dp_rounds: Option<u32>,
    /// PBKDF2-HMAC-SHA1 rounds (ITER).
    pub rounds: u32,
    pub seed: u64,
}

impl EncryptOptions {
    /// Apple's counts: 10,000,000 then 10,000 (seconds to derive).
    pub fn apple(seed: u64) -> Self {
        EncryptOptions {
            dp_rounds: Some(10_000_000),
            rounds: 10_000,
            seed,
        }
    }
    /// Small counts for tests: the reader takes the counts from the keybag.
    pub fn fast(seed: u64) -> Self {
        EncryptOptions {
            dp_rounds: Some(1000),
            rounds: 100,
            seed,
        }
    }
    /// An iOS 10.0/10.1 backup: SHA-1 only, Manifest.db in the clear.
    pub fn before_10_2(seed: u64) -> Self {
        EncryptOptions {
            dp_rounds: None,
            rounds: 100,
            seed,
        }
    }
}

/// What the twin holds.
#[derive(Debug, Clone)]
pub struct EncryptSummary {
    pub encrypted_files: usize,
    pub manifest_encrypted: bool,
}

fn block(out: &mut Vec<u8>, tag: &[u8; 4], value: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

fn encrypt(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    Aes256CbcEnc::new(key.into(), &[0u8; 16].into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

/// 4-byte little-endian class, then `key` wrapped with the class key.
fn wrapped(class: u32, class_key: &[u8; 32], key: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![0u8; 44];
    out[..4].copy_from_slice(&class.to_le_bytes());
    // A 32-byte key always wraps into 40 bytes.
    let _ = KekAes256::from(*class_key).wrap(key, &mut out[4..]);
    out
}

fn bad(path: &Path, msg: impl Into<String>) -> SampleError {
    SampleError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(msg.into()),
    }
}

/// Writes an encrypted twin of the plaintext backup `src` into `dst` (created; must
/// not exist or be empty). `src` is only read.
pub fn encrypt_backup(
    src: &Path,
    dst: &Path,
    password: &str,
    opts: &EncryptOptions,
) -> Result<EncryptSummary, SampleError> {
    if dst.exists()
        && std::fs::read_dir(dst)
            .map_err(io_err(dst))?
            .next()
            .is_some()
    {
        return Err(SampleError::NotEmpty(dst.to_path_buf()));
    }
    std::fs::create_dir_all(dst).map_err(io_err(dst))?;
    let mut rng = super::Rng::seed_from_u64(opts.seed ^ 0x656e_6372_7970_7421);

    // The keybag: header, then one class key per protection class.
    let salt: [u8; 20] = rng.random();
    let dp_salt: [u8; 20] = rng.random();
    let mut derived = [0u8; 32];
    match opts.dp_rounds {
        Some(dpic) => {
            let mut first = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &dp_salt, dpic, &mut first);
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&first, &salt, opts.rounds, &mut derived);
        }
        None => {
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), &salt, opts.rounds, &mut derived)
        }
    }
    let passcode_kek = KekAes256::from(derived);
    let mut keybag = Vec::new();
    block(&mut keybag, b"VERS", &4u32.to_be_bytes());
    block(&mut keybag, b"TYPE", &1u32.to_be_bytes());
    block(&mut keybag, b"UUID", &rng.random::<[u8; 16]>());
    block(&mut keybag, b"HMCK", &rng.random::<[u8; 32]>());
    block(&mut keybag, b"WRAP", &0u32.to_be_bytes());
    block(&mut keybag, b"SALT", &salt);
    block(&mut keybag, b"ITER", &opts.rounds.to_be_bytes());
    if let Some(dpic) = opts.dp_rounds {
        block(&mut keybag, b"DPWT", &1u32.to_be_bytes());
        block(&mut keybag, b"DPIC", &dpic.to_be_bytes());
        block(&mut keybag, b"DPSL", &dp_salt);
    }
    let mut class_keys = std::collections::BTreeMap::new();
    for class in 1u32..=11 {
        let key: [u8; 32] = rng.random();
        let mut wpky = [0u8; 40];
        let _ = passcode_kek.wrap(&key, &mut wpky);
        block(&mut keybag, b"UUID", &rng.random::<[u8; 16]>());
        block(&mut keybag, b"CLAS", &class.to_be_bytes());
        // Both kinds seen in real keybags: 2 (password) and 3 (password and device).
        block(
            &mut keybag,
            b"WRAP",
            &(if class % 2 == 0 { 2u32 } else { 3 }).to_be_bytes(),
        );
        block(&mut keybag, b"KTYP", &0u32.to_be_bytes());
        block(&mut keybag, b"WPKY", &wpky);
        class_keys.insert(class, key);
    }

    // Manifest.db: checkpoint any WAL into a private copy, then give every file a key.
    let staging = tempfile::tempdir().map_err(io_err(dst))?;
    let db_path = staging.path().join("Manifest.db");
    for suffix in ["", "-wal", "-shm"] {
        let from = src.join(format!("Manifest.db{suffix}"));
        if from.is_file() {
            std::fs::copy(&from, staging.path().join(format!("Manifest.db{suffix}")))
                .map_err(io_err(&from))?;
        }
    }
    let conn = Connection::open(&db_path).map_err(sql_err(&db_path))?;
    conn.execute_batch("PRAGMA journal_mode = DELETE;")
        .map_err(sql_err(&db_path))?;
    let rows: Vec<(String, i64, Option<Vec<u8>>)> = {
        let mut stmt = conn
            .prepare("SELECT fileID, flags, file FROM Files ORDER BY fileID")
            .map_err(sql_err(&db_path))?;
        let it = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    r.get(2)?,
                ))
            })
            .map_err(sql_err(&db_path))?;
        it.collect::<Result<_, _>>().map_err(sql_err(&db_path))?
    };
    let mut encrypted_files = 0usize;
    for (id, flags, blob) in rows {
        if flags != 1 || id.len() < 2 {
            continue;
        }
        let Some(mut mb) = blob.as_deref().and_then(|b| mbfile::decode(b).ok()) else {
            continue;
        };
        let class = mb
            .protection_class
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| class_keys.contains_key(c))
            .unwrap_or(3);
        let file_key: [u8; 32] = rng.random();
        let stored: PathBuf = [id[..2].to_string(), id.clone()].iter().collect();
        let from = src.join(&stored);
        if from.is_file() {
            let plain = std::fs::read(&from).map_err(io_err(&from))?;
            let to = dst.join(&stored);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            std::fs::write(&to, encrypt(&file_key, &plain)).map_err(io_err(&to))?;
            mb.size = Some(plain.len() as i64);
            encrypted_files += 1;
        }
        mb.encryption_key = Some(wrapped(class, &class_keys[&class], &file_key));
        conn.execute(
            "UPDATE Files SET file = ?1 WHERE fileID = ?2",
            params![mbfile::encode(&mb), id],
        )
        .map_err(sql_err(&db_path))?;
    }
    conn.close().map_err(|(_, e)| SampleError::Sqlite {
        path: db_path.clone(),
        source: e,
    })?;
    let db = std::fs::read(&db_path).map_err(io_err(&db_path))?;
    let manifest_key = match opts.dp_rounds {
        Some(_) => {
            let key: [u8; 32] = rng.random();
            let out = dst.join("Manifest.db");
            std::fs::write(&out, encrypt(&key, &db)).map_err(io_err(&out))?;
            Some(wrapped(MANIFEST_CLASS, &class_keys[&MANIFEST_CLASS], &key))
        }
        None => {
            let out = dst.join("Manifest.db");
            std::fs::write(&out, &db).map_err(io_err(&out))?;
            None
        }
    };

    // Manifest.plist says so and carries the keybag; the other plists are copied.
    let mp = src.join("Manifest.plist");
    let mut manifest = Value::from_file(&mp)
        .map_err(|e| SampleError::Plist(mp.clone(), e))?
        .into_dictionary()
        .ok_or_else(|| bad(&mp, "Manifest.plist is not a dictionary"))?;
    manifest.insert("IsEncrypted".into(), Value::Boolean(true));
    manifest.insert("BackupKeyBag".into(), Value::Data(keybag));
    match &manifest_key {
        Some(k) => {
            manifest.insert("ManifestKey".into(), Value::Data(k.clone()));
        }
        None => {
            manifest.remove("ManifestKey");
        }
    }
    let out = dst.join("Manifest.plist");
    Value::Dictionary(manifest)
        .to_file_binary(&out)
        .map_err(|e| SampleError::Plist(out.clone(), e))?;
    for name in ["Info.plist", "Status.plist"] {
        let from = src.join(name);
        if from.is_file() {
            std::fs::copy(&from, dst.join(name)).map_err(io_err(&from))?;
        }
    }
    Ok(EncryptSummary {
        encrypted_files,
        manifest_encrypted: manifest_key.is_some(),
    })
}

/// Replaces the plaintext backup of a generated case (`<case>/backup/<UDID>/`) with
/// its encrypted twin.
pub fn encrypt_case_backup(
    case_dir: &Path,
    password: &str,
    opts: &EncryptOptions,
) -> Result<EncryptSummary, SampleError> {
    let backups = case_dir.join("backup");
    let udid = std::fs::read_dir(&backups)
        .map_err(io_err(&backups))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("Manifest.db").is_file())
        .ok_or_else(|| bad(&backups, "no backup folder with a Manifest.db"))?;
    let name = udid
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let twin = backups.join(format!(".{name}.encrypting"));
    let summary = encrypt_backup(&udid, &twin, password, opts)?;
    std::fs::remove_dir_all(&udid).map_err(io_err(&udid))?;
    std::fs::rename(&twin, &udid).map_err(io_err(&twin))?;
    Ok(summary)
}
