//! The private scratch folder of a run: SQLite copies, decrypted files of encrypted
//! backups and unpacked archives live here, never beside the evidence. It is created
//! readable by the owner only (0700) and removed when dropped — at the end of the run,
//! on an error — and by the Ctrl-C handler, which cannot rely on destructors.
//!
//! The handler needs to know the live folders from another thread, so this module
//! keeps the one process-wide list in the crate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tempfile::TempDir;

static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// A password prompt has turned terminal echo off.
static PROMPTING: AtomicBool = AtomicBool::new(false);

/// Marks a no-echo password prompt as running, so an interrupt turns echo back on.
pub(crate) fn set_prompting(on: bool) {
    PROMPTING.store(on, Ordering::SeqCst);
}

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    match LIVE.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

#[derive(Debug)]
pub struct Scratch {
    dir: TempDir,
}

impl Scratch {
    pub fn new() -> std::io::Result<Scratch> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("chainline-");
        // Created owner-only: tempfile's default for folders is 0777 less the umask
        // (usually 0755), and changing the mode afterwards would leave a moment in
        // which the folder that receives decrypted evidence is readable by others.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = builder.tempdir()?;
        live().push(dir.path().to_path_buf());
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let p = self.dir.path();
        live().retain(|l| l != p);
        // TempDir's own drop removes the folder.
    }
}

/// Removes every live scratch folder (the Ctrl-C handler calls this before exiting).
pub fn remove_all() {
    let dirs = std::mem::take(&mut *live());
    for d in dirs {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// On Ctrl-C (and SIGTERM), remove the scratch folders and exit with 130.
pub fn install_interrupt_handler() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| {
        remove_all();
        if PROMPTING.load(Ordering::SeqCst) {
            // Exiting here skips the prompt's own restore of the terminal.
            let _ = std::process::Command::new("stty")
                .arg("echo")
                .stdin(std::process::Stdio::inherit())
                .status();
        }
        eprintln!("\ninterrupted: private temp files removed");
        std::process::exit(130);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_removed_on_drop() {
        let s = Scratch::new().unwrap();
        let p = s.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        assert!(live().contains(&p));
        std::fs::write(p.join("plain"), b"secret").unwrap();
        drop(s);
        assert!(!p.exists());
        assert!(!live().contains(&p));
    }
}
