//! The working tree as git tracks it, with planned edits laid over it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Files, Link};
use crate::error::{Error, Result};

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

    /// Refuses a tree with a `.nix` file that is not UTF-8, before a
    /// command reads (and then edits) only some of them.
    pub fn refuse_non_utf8(&self) -> Result<()> {
        for path in self.nix_files() {
            self.read(&path)?;
        }
        Ok(())
    }

    /// Lays planned content over the tree so later steps see it.
    pub fn stage(&mut self, path: &Path, content: Option<String>) {
        let key = self.content_path(path);
        self.pending.insert(key, content);
    }

    /// Where `path`'s content lives: the file a symlink inside the tree
    /// names, so a plan made through the link and one made through the
    /// target see the same pending edit. Looked up only while edits are
    /// pending, as nothing else can differ.
    fn content_path(&self, path: &Path) -> PathBuf {
        if !self.pending.is_empty()
            && let Link::Inside(target) = self.link(path)
        {
            return target;
        }
        path.to_path_buf()
    }
}

impl Files for WorkTree {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        if let Some(content) = self.pending.get(&self.content_path(path)) {
            return Ok(content.clone());
        }
        let full = self.root.join(path);
        match std::fs::read(&full) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| Error::NotUtf8 {
                    offset: e.utf8_error().valid_up_to(),
                    path: full,
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(Error::io(full, e)),
        }
    }

    fn link(&self, path: &Path) -> Link {
        let full = self.root.join(path);
        let Ok(points_to) = std::fs::read_link(&full) else {
            return Link::NotALink;
        };
        let refused = |why: String| Link::Refused {
            points_to: points_to.clone(),
            why,
        };
        let (Ok(root), Ok(target)) = (self.root.canonicalize(), full.canonicalize()) else {
            return refused("which names no file".into());
        };
        match target.strip_prefix(&root) {
            Ok(inside) if target.is_file() && self.tracked.iter().any(|t| t == inside) => {
                Link::Inside(inside.to_path_buf())
            }
            Ok(inside) => refused(format!(
                "which names {}, not a file git tracks",
                inside.display()
            )),
            Err(_) if target == points_to => refused(format!("outside {}", root.display())),
            Err(_) => refused(format!(
                "that is {}, outside {}",
                target.display(),
                root.display()
            )),
        }
    }

    fn read_as_is(&self, path: &Path) -> Result<Option<String>> {
        WorkTree::new(&self.root, Vec::new()).read(path)
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
