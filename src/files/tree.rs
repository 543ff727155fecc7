//! A commit's tree, as [`Files`].

use std::path::{Path, PathBuf};

use git2::Repository;

use super::{Files, blob_text, is_regular_file};
use crate::error::Result;

/// The files of a commit's tree (HEAD's, for what a commit changes, and
/// for `status`).
pub struct TreeFiles<'r> {
    repo: &'r Repository,
    tree: git2::Tree<'r>,
}

impl<'r> TreeFiles<'r> {
    pub fn new(repo: &'r Repository, tree: git2::Tree<'r>) -> Self {
        TreeFiles { repo, tree }
    }
}

impl Files for TreeFiles<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        let Ok(entry) = self.tree.get_path(path) else {
            return Ok(None);
        };
        if !is_regular_file(entry.filemode() as u32) {
            return Ok(None);
        }
        blob_text(self.repo, entry.id()).map(Some)
    }

    // The tree says so without reading the blob.
    fn exists(&self, path: &Path) -> bool {
        self.tree
            .get_path(path)
            .is_ok_and(|e| is_regular_file(e.filemode() as u32))
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let _ = self.tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if let Ok(name) = entry.name()
                && name.ends_with(".nix")
                && is_regular_file(entry.filemode() as u32)
            {
                out.push(PathBuf::from(format!("{dir}{name}")));
            }
            git2::TreeWalkResult::Ok
        });
        out.sort();
        out
    }
}
