//! The blobs staged in git's index, as [`Files`].

use std::path::{Path, PathBuf};

use git2::Repository;

use super::{Files, StagedIndex, blob_text};
use crate::error::Result;

/// The staged files, read through the same trait the rules use on the
/// working tree.
pub struct StagedFiles<'r> {
    repo: &'r Repository,
    index: StagedIndex,
}

impl<'r> StagedFiles<'r> {
    pub fn new(repo: &'r Repository, index: StagedIndex) -> Self {
        StagedFiles { repo, index }
    }

    pub fn index(&self) -> &StagedIndex {
        &self.index
    }
}

impl Files for StagedFiles<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        let Some(oid) = self.index.blob(path) else {
            return Ok(None);
        };
        blob_text(self.repo, oid, path).map(Some)
    }

    // The index says so without reading the blob.
    fn exists(&self, path: &Path) -> bool {
        self.index.blob(path).is_some()
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        self.index
            .file_paths()
            .filter(|p| p.ends_with(".nix"))
            .map(PathBuf::from)
            .collect()
    }
}
