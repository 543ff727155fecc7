//! The planned tree on disk, for nix to evaluate: the repository's tracked
//! files as the working tree has them, with the planned edits laid over
//! them, in a temporary repository whose index lists exactly those files.
//! Nix reads a `git+file` flake with uncommitted changes as its index lists
//! it, so the wrapper flake sees this tree as it sees the user's: tracked
//! files only, the flake at the same directory below the root. Its HEAD is
//! the user's HEAD commit, borrowed through git's alternates rather than
//! copied, so the flake's `lastModified` is the same too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::Session;
use crate::error::{Error, Result};
use crate::git;

pub(super) struct PlannedTree {
    dir: tempfile::TempDir,
}

impl PlannedTree {
    /// The tree with `layers` (each step's files, flake-relative, in
    /// order; `None` deletes) laid over it.
    pub(super) fn create(
        session: &Session,
        layers: &[&BTreeMap<PathBuf, Option<String>>],
    ) -> Result<PlannedTree> {
        let dir = tempfile::Builder::new()
            .prefix("flake-migrate-proof-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let root = dir.path();
        let workdir = git::workdir(&session.repo)?;
        for rel in git::tracked_files_under(&session.repo, Path::new(""))? {
            copy_tracked(&workdir.join(&rel), &root.join(&rel))?;
        }
        for layer in layers {
            for (path, content) in *layer {
                let full = root.join(session.repo_path(path));
                match content {
                    Some(text) => {
                        if let Some(parent) = full.parent() {
                            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                        }
                        std::fs::write(&full, text).map_err(|e| Error::io(&full, e))?;
                    }
                    None if full.exists() => {
                        std::fs::remove_file(&full).map_err(|e| Error::io(&full, e))?
                    }
                    None => {}
                }
            }
        }
        index_all(&session.repo, root)?;
        Ok(PlannedTree { dir })
    }

    pub(super) fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// One tracked path as the working tree has it: a link stays a link, a
/// file keeps its mode; one deleted by hand (a dry run of a dirty tree) is
/// left out, as its plan read it.
fn copy_tracked(from: &Path, to: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(from) else {
        return Ok(());
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(|e| Error::io(from, e))?;
        std::os::unix::fs::symlink(target, to).map_err(|e| Error::io(to, e))?;
    } else if meta.is_file() {
        std::fs::copy(from, to).map_err(|e| Error::io(from, e))?;
    }
    Ok(())
}

/// Makes `root` a repository whose HEAD is `user`'s HEAD commit (objects
/// shared through alternates) and whose index holds every file in it.
fn index_all(user: &git2::Repository, root: &Path) -> Result<()> {
    let repo = git2::Repository::init(root)?;
    let alternates = repo.path().join("objects/info/alternates");
    let objects = user.commondir().join("objects");
    std::fs::write(&alternates, format!("{}\n", objects.display()))
        .map_err(|e| Error::io(&alternates, e))?;
    let repo = git2::Repository::open(root)?;
    let head = git::head_commit(user)?.id();
    repo.reference(
        "refs/heads/flake-migrate-proof",
        head,
        true,
        "the user's HEAD",
    )?;
    repo.set_head("refs/heads/flake-migrate-proof")?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::FORCE, None)?;
    index.write()?;
    Ok(())
}
