//! The index's entries from `git ls-files --stage -z`, for index formats
//! [`super::parse`] does not read. Git gives no cached trees this way, so
//! the staged diff walks every directory.

use std::path::Path;

use git2::{Oid, Repository};

use super::{Entry, MODE_GITLINK, StagedIndex};
use crate::error::{Error, Result};

/// The entries of the index file `index`.
pub(super) fn load(repo: &Repository, index: &Path) -> Result<StagedIndex> {
    let workdir = repo.workdir().unwrap_or(repo.path());
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(workdir)
        .args(["ls-files", "--stage", "-z"])
        .env("GIT_INDEX_FILE", index)
        .output()
        .map_err(|e| Error::io("git", e))?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "cannot read the index {}: {}",
            index.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut paths = Vec::new();
    let mut entries = Vec::new();
    for record in output.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        // `<mode> <oid> <stage>\t<path>`
        let Some(tab) = record.iter().position(|b| *b == b'\t') else {
            continue;
        };
        let head = String::from_utf8_lossy(&record[..tab]);
        let mut fields = head.split(' ');
        let (Some(mode), Some(oid), Some("0")) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(mode), Ok(oid)) = (u32::from_str_radix(mode, 8), Oid::from_str(oid)) else {
            continue;
        };
        if mode == MODE_GITLINK {
            continue;
        }
        let start = paths.len();
        paths.extend_from_slice(&record[tab + 1..]);
        entries.push(Entry {
            path: start..paths.len(),
            oid,
            mode,
        });
    }
    // `ls-files` does not mark intent-to-add entries (`git add -N`): they
    // hold the empty blob and are not staged content. Keep an empty file
    // only when git counts it as staged.
    let empty = Oid::hash_object(git2::ObjectType::Blob, b"")?;
    if entries.iter().any(|e| e.oid == empty) {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(workdir)
            .args(["diff", "--cached", "--name-only", "-z"])
            .env("GIT_INDEX_FILE", index)
            .output()
            .map_err(|e| Error::io("git", e))?;
        let staged: Vec<&[u8]> = output.stdout.split(|b| *b == 0).collect();
        entries.retain(|e| e.oid != empty || staged.contains(&&paths[e.path.clone()]));
    }
    Ok(StagedIndex {
        paths,
        entries,
        cache: None,
    })
}
