//! Where Nix files are read from. Paths are relative to the flake's
//! directory (the repository root, unless the flake sits below it), with
//! `/` separators.
//!
//! - [`WorkTree`]: the working tree with planned edits laid over it, so
//!   steps planned one after another see each other's changes.
//! - [`StagedFiles`]: the blobs staged in git's index, for the pre-commit
//!   guard, which must see what a commit would hold, not what is on disk.
//!   [`index`] reads the index itself (see its doc for why).
//! - [`TreeFiles`]: a commit's tree (HEAD's), for what a commit changes and
//!   for `status`.
//! - [`Subdir`]: any of them seen from a flake below the repository root.

pub mod index;
mod staged;
mod subdir;
mod tree;
mod work_tree;

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::error::Result;

pub use index::StagedIndex;
pub use staged::StagedFiles;
pub use subdir::Subdir;
pub use tree::TreeFiles;
pub use work_tree::WorkTree;

pub trait Files {
    /// The file's text, `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<String>>;
    /// Every tracked `.nix` file, sorted.
    fn nix_files(&self) -> Vec<PathBuf>;
    /// [`Self::read`] of each path, in order: where reading many files can
    /// go faster together (the working tree's, on several threads).
    fn read_all(&self, paths: &[PathBuf]) -> Vec<Result<Option<String>>> {
        paths.iter().map(|p| self.read(p)).collect()
    }
    fn exists(&self, path: &Path) -> bool {
        matches!(self.read(path), Ok(Some(_)))
    }
    /// What writing `path` would write through. Only the working tree has
    /// symlinks to follow; git's trees and index are read as regular files.
    fn link(&self, _path: &Path) -> Link {
        Link::NotALink
    }
    /// The file as it is now, without edits planned over it: for messages
    /// that name a line the user can find.
    fn read_as_is(&self, path: &Path) -> Result<Option<String>> {
        self.read(path)
    }
}

/// A tracked path as a place to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    NotALink,
    /// A symlink to this tracked regular file inside the tree: edits go
    /// there, and the link stays a link.
    Inside(PathBuf),
    /// A symlink that cannot be written through: it leaves the tree, or
    /// names nothing, or names a file git does not track. `points_to` is
    /// the link's own text, `why` says where that leads (`outside …`).
    Refused {
        points_to: PathBuf,
        why: String,
    },
}

/// Whether a git file mode is a regular file's (not a symlink's, a
/// submodule's or a directory's).
fn is_regular_file(mode: u32) -> bool {
    mode & 0o170000 == 0o100000
}

/// A blob's content as text. Bytes that are not UTF-8 are an error naming
/// the place, as on disk: the guard reports it as a finding of its own.
fn blob_text(repo: &Repository, oid: Oid, path: &Path) -> Result<String> {
    let blob = repo.find_blob(oid)?;
    match std::str::from_utf8(blob.content()) {
        Ok(text) => Ok(text.to_string()),
        Err(_) => Err(crate::error::Error::not_utf8(path, blob.content())),
    }
}

/// Files held in memory, by path: the unit tests' repository.
#[cfg(test)]
#[derive(Default)]
pub struct MapFiles(pub std::collections::BTreeMap<PathBuf, String>);

#[cfg(test)]
impl MapFiles {
    pub fn of(files: &[(&str, &str)]) -> MapFiles {
        MapFiles(
            files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
        )
    }
}

#[cfg(test)]
impl Files for MapFiles {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        Ok(self.0.get(path).cloned())
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        self.0.keys().cloned().collect()
    }
}
