//! A flake below the repository's root, seen as if it were the root: the
//! guard and `status` read it through this, so every rule sees `flake.nix`
//! and paths relative to the flake, whatever the repository around it.

use std::path::{Path, PathBuf};

use super::{Files, Link};
use crate::error::Result;

pub struct Subdir<'a> {
    inner: &'a dyn Files,
    prefix: PathBuf,
}

impl<'a> Subdir<'a> {
    pub fn new(inner: &'a dyn Files, prefix: &Path) -> Self {
        Subdir {
            inner,
            prefix: prefix.to_path_buf(),
        }
    }
}

impl Files for Subdir<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        self.inner.read(&self.prefix.join(path))
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(&self.prefix.join(path))
    }

    fn link(&self, path: &Path) -> Link {
        match self.inner.link(&self.prefix.join(path)) {
            Link::Inside(target) => match target.strip_prefix(&self.prefix) {
                Ok(inside) => Link::Inside(inside.to_path_buf()),
                Err(_) => Link::Refused {
                    why: format!("outside the flake's directory {}", self.prefix.display()),
                    points_to: target,
                },
            },
            other => other,
        }
    }

    fn read_as_is(&self, path: &Path) -> Result<Option<String>> {
        self.inner.read_as_is(&self.prefix.join(path))
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        self.inner
            .nix_files()
            .into_iter()
            .filter_map(|p| p.strip_prefix(&self.prefix).ok().map(Path::to_path_buf))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::WorkTree;

    #[test]
    fn reads_and_lists_relative_to_the_subdirectory() {
        let mut tree = WorkTree::new(Path::new("/nonexistent"), Vec::new());
        tree.stage(Path::new("configs/nixos/flake.nix"), Some("{ }".into()));
        tree.stage(Path::new("configs/nixos/hosts/a.nix"), Some("{ }".into()));
        tree.stage(Path::new("other/flake.nix"), Some("{ }".into()));
        let sub = Subdir::new(&tree, Path::new("configs/nixos"));
        assert_eq!(
            sub.nix_files(),
            [PathBuf::from("flake.nix"), PathBuf::from("hosts/a.nix")]
        );
        assert_eq!(
            sub.read(Path::new("flake.nix")).unwrap().as_deref(),
            Some("{ }")
        );
        assert!(!sub.exists(Path::new("other/flake.nix")));
    }
}
