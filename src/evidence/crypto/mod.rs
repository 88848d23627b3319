//! Encrypted iTunes/Finder backups, decrypted in memory or in the private scratch
//! folder, never beside the evidence.
//!
//! The scheme (iOS 10.2 and later; before that only the SHA-1 stage): the password
//! goes through PBKDF2-HMAC-SHA256 (keybag DPSL, DPIC rounds) then PBKDF2-HMAC-SHA1
//! (SALT, ITER rounds) to the *backup key*; it unwraps (RFC 3394) the class keys of
//! `Manifest.plist:BackupKeyBag`; a class key unwraps `ManifestKey` (4-byte
//! little-endian class + wrapped key), which decrypts Manifest.db with AES-256-CBC and
//! a zero IV; each file's own key is wrapped the same way in its MBFile
//! `EncryptionKey`. The backup key is what `chainline key` saves, as 64 hex
//! characters like `mvt-ios extract-key`, so later runs skip the derivation.

mod decrypt;
mod keybag;

pub use decrypt::{decrypt_stream, Decrypted};
pub use keybag::{ClassKeys, FileKey, Keybag, WrappedClassKey, MAX_ROUNDS};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

/// The environment variable read for the backup password when `--password` is absent.
pub const PASSWORD_ENV: &str = "CHAINLINE_BACKUP_PASSWORD";

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("wrong backup password (class keys did not unwrap)")]
    WrongPassword,
    #[error("the key file does not open this backup (class keys did not unwrap)")]
    WrongKeyFile,
    /// A key that failed to unwrap the class keys, before the caller says which.
    #[error("wrong backup key (class keys did not unwrap)")]
    WrongKey,
    #[error("no backup password given: pass --password, set {PASSWORD_ENV}, or use --key-file (stdin is not a terminal, so chainline cannot ask)")]
    NoPassword,
    #[error("key file {path}: {msg}")]
    KeyFile { path: PathBuf, msg: String },
    #[error("keybag: {0}")]
    Keybag(String),
    #[error("file key: {0}")]
    FileKey(String),
    #[error("{0}")]
    Manifest(String),
}

/// The backup password. Never printed, wiped from memory when dropped.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(s: String) -> Self {
        Password(Zeroizing::new(s))
    }
    /// The UTF-8 bytes PBKDF2 runs over (iTunes and Finder use UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// The key derived from the password (what unwraps the class keys). Never printed.
pub struct BackupKey(pub(crate) Zeroizing<[u8; 32]>);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(redacted)")
    }
}

impl BackupKey {
    /// Reads a key file: 64 hex characters (surrounding whitespace allowed).
    pub fn read_file(path: &Path) -> Result<BackupKey, CryptoError> {
        let bad = |msg: String| CryptoError::KeyFile {
            path: path.to_path_buf(),
            msg,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.len() > 4096 {
            return Err(bad(format!("{} bytes is not a key file", meta.len())));
        }
        let text = Zeroizing::new(std::fs::read(path).map_err(|e| bad(e.to_string()))?);
        let hexed = text.trim_ascii();
        let mut key = Zeroizing::new([0u8; 32]);
        if hexed.len() != 64 || hex::decode_to_slice(hexed, &mut key[..]).is_err() {
            return Err(bad(
                "expected 64 hex characters (a 32-byte key), as written by `chainline key` or `mvt-ios extract-key`".into(),
            ));
        }
        Ok(BackupKey(key))
    }

    /// Writes the key as 64 lowercase hex characters without a newline (the layout
    /// `mvt-ios extract-key` writes and `--key-file` reads), readable by the owner
    /// only. Refuses to replace an existing file.
    pub fn write_file(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path)?;
        let text = Zeroizing::new(hex::encode(&self.0[..]));
        f.write_all(text.as_bytes())?;
        f.sync_all()
    }
}

/// How a backup was opened (run.json says this, never the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockMethod {
    Password,
    KeyFile,
}

/// What the analyst gave to open encrypted backups.
#[derive(Debug, Clone, Default)]
pub struct Unlock {
    /// From `--password` or the environment.
    pub password: Option<Password>,
    pub key_file: Option<PathBuf>,
    /// Whether chainline may ask on the terminal.
    pub interactive: bool,
    /// No spinner during the key derivation.
    pub quiet: bool,
}

impl Unlock {
    /// From the command line: `--password`, else `CHAINLINE_BACKUP_PASSWORD`, else a
    /// prompt when stdin is a terminal.
    pub fn from_cli(password: Option<String>, key_file: Option<PathBuf>, quiet: bool) -> Unlock {
        use std::io::IsTerminal;
        let password = password
            .or_else(|| std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()))
            .map(Password::new);
        Unlock {
            password,
            key_file,
            interactive: std::io::stdin().is_terminal(),
            quiet,
        }
    }
}

/// The analyst's secret during one discovery: a password typed at the prompt is asked
/// once and used for every backup of the case.
#[derive(Debug)]
pub(crate) struct Keyring<'a> {
    unlock: &'a Unlock,
    prompted: Mutex<Option<Password>>,
}

impl<'a> Keyring<'a> {
    pub(crate) fn new(unlock: &'a Unlock) -> Self {
        Keyring {
            unlock,
            prompted: Mutex::new(None),
        }
    }

    fn password(&self, backup: &Path) -> Result<Password, CryptoError> {
        if let Some(p) = &self.unlock.password {
            return Ok(p.clone());
        }
        let mut prompted = match self.prompted.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(p) = prompted.as_ref() {
            return Ok(p.clone());
        }
        if !self.unlock.interactive {
            return Err(CryptoError::NoPassword);
        }
        super::scratch::set_prompting(true);
        let typed = rpassword::prompt_password(format!(
            "password of the encrypted backup {}: ",
            backup.display()
        ));
        super::scratch::set_prompting(false);
        let typed = typed.map_err(|_| CryptoError::NoPassword)?;
        let p = Password::new(typed);
        *prompted = Some(p.clone());
        Ok(p)
    }

    /// The backup key for one keybag, from the key file or derived from the password
    /// (with a spinner: PBKDF2 cannot report progress mid-way).
    pub(crate) fn key_for(
        &self,
        backup: &Path,
        bag: &Keybag,
    ) -> Result<(BackupKey, UnlockMethod), CryptoError> {
        if let Some(path) = &self.unlock.key_file {
            return Ok((BackupKey::read_file(path)?, UnlockMethod::KeyFile));
        }
        let password = self.password(backup)?;
        let spinner = if self.unlock.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new_spinner()
        };
        spinner.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let rounds = match bag.dp_iterations {
            Some(dp) => format!("{} + {}", thousands(dp), thousands(bag.iterations)),
            None => format!("{}, iOS before 10.2", thousands(bag.iterations)),
        };
        spinner.set_message(format!("deriving the backup key (PBKDF2, {rounds} rounds)"));
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        let key = bag.derive(password.as_bytes());
        spinner.finish_and_clear();
        Ok((key, UnlockMethod::Password))
    }
}

fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An opened encrypted backup: its class keys, kept in memory for the run.
pub struct Encryption {
    pub method: UnlockMethod,
    /// The key came from SHA-1 only (keybag without DPSL/DPIC: iOS before 10.2).
    pub sha1_only: bool,
    pub(crate) keys: ClassKeys,
    /// Manifest.db's key; `None` when Manifest.db is not encrypted (before iOS 10.2).
    pub(crate) manifest_key: Option<FileKey>,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("method", &self.method)
            .field("sha1_only", &self.sha1_only)
            .finish_non_exhaustive()
    }
}

/// Opens an encrypted backup from its Manifest.plist: keybag, key, class keys and
/// the Manifest.db key.
pub(crate) fn open(
    dir: &Path,
    manifest: &plist::Dictionary,
    keyring: &Keyring<'_>,
) -> Result<Encryption, CryptoError> {
    let bag = keybag_of(manifest)?;
    let (key, method) = keyring.key_for(dir, &bag)?;
    let keys = bag.unlock(&key).map_err(|e| match (e, method) {
        (CryptoError::WrongKey, UnlockMethod::Password) => CryptoError::WrongPassword,
        (CryptoError::WrongKey, UnlockMethod::KeyFile) => CryptoError::WrongKeyFile,
        (e, _) => e,
    })?;
    let manifest_key = match manifest.get("ManifestKey") {
        None => None,
        Some(v) => {
            let blob = v
                .as_data()
                .ok_or_else(|| CryptoError::Manifest("ManifestKey is not data".into()))?;
            Some(
                keys.unwrap_file_key(blob)
                    .map_err(|e| CryptoError::Manifest(format!("ManifestKey: {e}")))?,
            )
        }
    };
    Ok(Encryption {
        method,
        sha1_only: bag.sha1_only(),
        keys,
        manifest_key,
    })
}

/// The parsed `BackupKeyBag` of a Manifest.plist.
pub fn keybag_of(manifest: &plist::Dictionary) -> Result<Keybag, CryptoError> {
    let blob = manifest
        .get("BackupKeyBag")
        .and_then(plist::Value::as_data)
        .ok_or_else(|| CryptoError::Keybag("Manifest.plist has no BackupKeyBag".into()))?;
    Keybag::parse(blob)
}

/// Derives and checks the backup key of one backup folder (for `chainline key`):
/// the key is returned only if it unwraps the class keys.
pub fn derive_key(backup: &Path, unlock: &Unlock) -> anyhow::Result<BackupKey> {
    use anyhow::Context;
    let mp = backup.join("Manifest.plist");
    let v = plist::Value::from_file(&mp).with_context(|| format!("reading {}", mp.display()))?;
    let d = v
        .as_dictionary()
        .with_context(|| format!("{} is not a dictionary", mp.display()))?;
    if d.get("IsEncrypted").and_then(plist::Value::as_boolean) != Some(true) {
        anyhow::bail!(
            "{} is not an encrypted backup (Manifest.plist IsEncrypted is not true): it has no key to save",
            backup.display()
        );
    }
    let bag = keybag_of(d)?;
    let keyring = Keyring::new(unlock);
    let (key, method) = keyring.key_for(backup, &bag)?;
    bag.unlock(&key).map_err(|e| match (e, method) {
        (CryptoError::WrongKey, UnlockMethod::Password) => CryptoError::WrongPassword,
        (CryptoError::WrongKey, UnlockMethod::KeyFile) => CryptoError::WrongKeyFile,
        (e, _) => e,
    })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let p = Password::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        let k = BackupKey(Zeroizing::new([0xab; 32]));
        assert!(!format!("{k:?}").contains("abab"));
    }

    #[test]
    fn rounds_read_with_separators() {
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn key_files_in_mvt_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        let key = BackupKey(Zeroizing::new([7; 32]));
        key.write_file(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "07".repeat(32));
        assert!(key.write_file(&path).is_err(), "an existing file is kept");
        // MVT's file, with a trailing newline added by an editor, still reads.
        std::fs::write(&path, format!("{}\n", "07".repeat(32))).unwrap();
        assert_eq!(*BackupKey::read_file(&path).unwrap().0, [7; 32]);
        std::fs::write(&path, "07".repeat(31)).unwrap();
        assert!(BackupKey::read_file(&path).is_err());
    }
}
