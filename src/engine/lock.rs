//! One run at a time per repository.

use std::fs::File;
use std::io::{Read, Seek, Write};

use std::time::{Duration, Instant};

use git2::Repository;

use crate::error::{Error, Result};

/// Keeps two runs from interleaving: an advisory lock (`flock`) on a file in
/// the git directory. The kernel releases it when the process ends, however
/// it ends, so a killed run never leaves a lock behind. The file holds the
/// owner's pid only to name it; it is never deleted, since a run that opened
/// the old file could otherwise lock it while a third run locks a new one.
/// How long to wait for a holder to go away: a run killed a moment ago
/// still holds the lock until the kernel has closed its files.
const DYING_RUN_GRACE: Duration = Duration::from_secs(2);

pub(super) struct Lock {
    _file: File,
}

impl Lock {
    pub fn take(repo: &Repository) -> Result<Lock> {
        let path = repo.path().join("flake-migrate.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match try_lock_for(&file, DYING_RUN_GRACE) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = match pid.trim() {
                    "" => "unknown".to_string(),
                    p => p.to_string(),
                };
                return Err(Error::Locked { path, pid });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()));
        Ok(Lock { _file: file })
    }
}

fn try_lock_for(file: &File, grace: Duration) -> std::result::Result<(), fs4::TryLockError> {
    let start = Instant::now();
    loop {
        match fs4::FileExt::try_lock(file) {
            Err(fs4::TryLockError::WouldBlock) if start.elapsed() < grace => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
