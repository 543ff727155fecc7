//! Writing the working tree safely: atomic writes with the umask's mode,
//! the temporary files and git lock files an interrupted run leaves.

use super::*;

/// How [`write_atomic`]'s temporary files are named, so that what a killed
/// run leaves can be told from the user's files.
const TEMP_PREFIX: &str = ".flake-migrate-tmp-";

/// Removes the temporary files [`write_atomic`] left beside `paths`
/// (repository-relative) when a run was killed.
pub fn remove_temp_files(repo: &Repository, paths: &[PathBuf]) -> Result<()> {
    let root = workdir(repo)?;
    let dirs: std::collections::BTreeSet<PathBuf> = paths
        .iter()
        .filter_map(|p| root.join(p).parent().map(Path::to_path_buf))
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written file. The temporary file is created as any editor creates
/// one (0666 minus the umask, which the kernel applies); a file that
/// existed keeps its mode.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(content)?;
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Removes git's own lock files (the index's, HEAD's and its branch's)
/// made at or after `since`. Called while this run holds the tool's lock
/// and an interrupted run's journal exists: such files were made by that
/// run and left by its death. (A `git` command the user starts in this
/// very moment would look the same; that race is accepted, as git's own
/// advice for a stale `index.lock` is to delete it.)
pub fn remove_locks_since(repo: &Repository, since: std::time::SystemTime) -> Vec<PathBuf> {
    let mut candidates = vec![
        repo.path().join("index.lock"),
        repo.path().join("HEAD.lock"),
    ];
    if let Ok(head) = repo.find_reference("HEAD")
        && let Ok(Some(branch)) = head.symbolic_target()
    {
        candidates.push(repo.path().join(format!("{branch}.lock")));
    }
    candidates
        .into_iter()
        .filter(|lock| {
            std::fs::metadata(lock)
                .and_then(|m| m.modified())
                .is_ok_and(|made| made >= since)
        })
        .filter(|lock| std::fs::remove_file(lock).is_ok())
        .collect()
}

pub fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
