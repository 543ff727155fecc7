//! Where Nix files are read from: the working tree with pending edits laid
//! over it (for planning steps one after another), or git's index (for the
//! pre-commit guard, which must see what is staged, not what is on disk).
//! Paths are relative to the repository root, with `/` separators.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub trait Files {
    /// The file's text, `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<String>>;
    /// Every tracked `.nix` file, sorted.
    fn nix_files(&self) -> Vec<PathBuf>;
    fn exists(&self, path: &Path) -> bool {
        matches!(self.read(path), Ok(Some(_)))
    }
}

/// The working tree as git tracks it, plus edits not yet written.
pub struct WorkTree {
    root: PathBuf,
    tracked: Vec<PathBuf>,
    /// Planned content by path; `None` means deleted.
    pending: BTreeMap<PathBuf, Option<String>>,
}

impl WorkTree {
    pub fn new(root: &Path, tracked: Vec<PathBuf>) -> Self {
        WorkTree {
            root: root.to_path_buf(),
            tracked,
            pending: BTreeMap::new(),
        }
    }

    /// Lays planned content over the tree so later steps see it.
    pub fn stage(&mut self, path: &Path, content: Option<String>) {
        self.pending.insert(path.to_path_buf(), content);
    }
}

impl Files for WorkTree {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        if let Some(content) = self.pending.get(path) {
            return Ok(content.clone());
        }
        let full = self.root.join(path);
        match std::fs::read_to_string(&full) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(Error::io(full, e)),
        }
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .tracked
            .iter()
            .filter(|p| !matches!(self.pending.get(*p), Some(None)))
            .cloned()
            .chain(
                self.pending
                    .iter()
                    .filter(|(_, c)| c.is_some())
                    .map(|(p, _)| p.clone()),
            )
            .filter(|p| p.extension().is_some_and(|e| e == "nix"))
            .collect();
        files.sort();
        files.dedup();
        files
    }
}

/// Files as they are staged in git's index.
pub struct IndexFiles<'r> {
    repo: &'r git2::Repository,
    entries: BTreeMap<PathBuf, git2::Oid>,
}

impl<'r> IndexFiles<'r> {
    pub fn new(repo: &'r git2::Repository, index: &git2::Index) -> Self {
        let entries = index
            .iter()
            .filter_map(|e| {
                let path = std::str::from_utf8(&e.path).ok()?;
                Some((PathBuf::from(path), e.id))
            })
            .collect();
        IndexFiles { repo, entries }
    }
}

impl Files for IndexFiles<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        let Some(oid) = self.entries.get(path) else {
            return Ok(None);
        };
        let blob = self.repo.find_blob(*oid)?;
        Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        self.entries
            .keys()
            .filter(|p| p.extension().is_some_and(|e| e == "nix"))
            .cloned()
            .collect()
    }
}
