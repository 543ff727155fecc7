//! The journal: what a run is about to write, so that the next run can
//! finish or undo a step that was killed half way.

use std::io::Write;
use std::path::PathBuf;

use git2::Repository;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git;
use crate::output::say;

/// What a run is about to do, written before any file is touched.
#[derive(Debug, Serialize, Deserialize)]
pub struct Journal {
    pub step: String,
    /// HEAD before the step.
    pub head: String,
    pub paths: Vec<PathBuf>,
}

impl Journal {
    fn path(repo: &Repository) -> PathBuf {
        repo.path().join("flake-migrate-journal.toml")
    }

    pub fn write(&self, repo: &Repository) -> Result<()> {
        let text = toml::to_string(self).expect("journal serializes");
        git::write_atomic(&Self::path(repo), text.as_bytes())
    }

    pub fn remove(repo: &Repository) {
        let _ = std::fs::remove_file(Self::path(repo));
    }
}

/// The journal an interrupted run left, if any; read without touching
/// anything, so that `status` can say the next changing run recovers it.
pub fn interrupted(repo: &Repository) -> Result<Option<Journal>> {
    let path = Journal::path(repo);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    toml::from_str(&text).map(Some).map_err(|e| Error::Config {
        path,
        message: e.to_string(),
    })
}

/// Finishes or undoes a step that an earlier run left half done.
pub(super) fn recover(repo: &Repository, out: &mut dyn Write) -> Result<()> {
    let Some(journal) = interrupted(repo)? else {
        return Ok(());
    };
    let path = Journal::path(repo);
    if let Ok(written) = std::fs::metadata(&path).and_then(|m| m.modified()) {
        for stale in git::remove_locks_since(repo, written) {
            say(
                out,
                format!(
                    "recovered: removed {}, left by the interrupted run",
                    stale.display()
                ),
            );
        }
    }
    git::remove_temp_files(repo, &journal.paths)?;
    let head = git::head_commit(repo)?;
    if head.id().to_string() == journal.head {
        git::checkout_paths(repo, &journal.paths)?;
        say(
            out,
            format!(
                "recovered: an earlier run was interrupted before committing {}; its partial edits were undone",
                journal.step
            ),
        );
    } else if head
        .parent_id(0)
        .is_ok_and(|p| p.to_string() == journal.head)
        && [git::TRAILER_STEP, git::TRAILER_REVERTED]
            .iter()
            .any(|k| git::trailer(head.message().unwrap_or(""), k) == Some(journal.step.as_str()))
    {
        git::checkout_paths(repo, &journal.paths)?;
        say(
            out,
            format!(
                "recovered: an earlier run committed {} but was interrupted before updating the working tree; it now matches the commit",
                journal.step
            ),
        );
    } else {
        return Err(Error::Failed(format!(
            "an interrupted run left {} (step {}), but HEAD has moved since; check `git status` and `git log`, then delete that file",
            path.display(),
            journal.step
        )));
    }
    Journal::remove(repo);
    Ok(())
}
