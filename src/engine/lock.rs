//! One run at a time per repository.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::error::{Error, Result};

/// Keeps two runs from interleaving: a file created exclusively in the git
/// directory, holding the owner's pid. A lock whose process is gone is taken over.
pub(super) struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn take(repo: &Repository) -> Result<Lock> {
        let path = repo.path().join("flake-migrate.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&path)
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    if process_alive(&pid) {
                        return Err(Error::Locked { path, pid });
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Locked {
            path,
            pid: "unknown".into(),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn process_alive(pid: &str) -> bool {
    match pid.parse::<u32>() {
        Ok(pid) if cfg!(target_os = "linux") => Path::new(&format!("/proc/{pid}")).exists(),
        Ok(_) => true,
        Err(_) => false,
    }
}
