//! The last model read on this thread, with everything it read to make it.
//! Each step `status` and `up` plan reads the model again (0003, 0004,
//! 0005); the model is a function of what it reads, so when every file it
//! read still has the same text (and the same files exist, and the tracked
//! `.nix` files are the same), the last model is the answer. A step that
//! changed any of them makes the next read start again from the files:
//! keeping every file's syntax tree for that would cost several times the
//! memory of the fleet's text.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Model;
use crate::error::Result;
use crate::files::Files;

thread_local! {
    static LAST: RefCell<Option<(Seen, Model)>> = const { RefCell::new(None) };
}

/// Reads the model through `read`, or gives the last one when nothing it
/// read has changed.
pub(super) fn read(files: &dyn Files, read: fn(&dyn Files) -> Result<Model>) -> Result<Model> {
    let kept = LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|(seen, _)| seen.still_holds(files))
            .map(|(_, model)| model.clone())
    });
    if let Some(model) = kept {
        return Ok(model);
    }
    let recorder = Recorder {
        inner: files,
        seen: RefCell::default(),
    };
    let model = read(&recorder)?;
    LAST.set(Some((recorder.seen.into_inner(), model.clone())));
    Ok(model)
}

/// What a reading of the model asked its files, and the answers.
#[derive(Default)]
struct Seen {
    reads: HashMap<PathBuf, Option<String>>,
    exists: HashMap<PathBuf, bool>,
    nix_files: Option<Vec<PathBuf>>,
}

impl Seen {
    fn still_holds(&self, files: &dyn Files) -> bool {
        self.reads
            .iter()
            .all(|(path, text)| matches!(files.read(path), Ok(now) if now == *text))
            && self
                .exists
                .iter()
                .all(|(path, there)| files.exists(path) == *there)
            && self
                .nix_files
                .as_ref()
                .is_none_or(|listed| files.nix_files() == *listed)
    }
}

/// `Files` that remember what was asked of them.
struct Recorder<'a> {
    inner: &'a dyn Files,
    seen: RefCell<Seen>,
}

impl Files for Recorder<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        let text = self.inner.read(path)?;
        self.seen
            .borrow_mut()
            .reads
            .entry(path.to_path_buf())
            .or_insert_with(|| text.clone());
        Ok(text)
    }

    fn exists(&self, path: &Path) -> bool {
        let there = self.inner.exists(path);
        self.seen
            .borrow_mut()
            .exists
            .entry(path.to_path_buf())
            .or_insert(there);
        there
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        let listed = self.inner.nix_files();
        self.seen
            .borrow_mut()
            .nix_files
            .get_or_insert_with(|| listed.clone());
        listed
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::files::WorkTree;

    const FLAKE: &str = r#"{
  outputs = { nixpkgs, ... }: {
    nixosConfigurations = {
      a = nixpkgs.lib.nixosSystem { modules = [ ./a.nix ./common.nix ]; };
      b = nixpkgs.lib.nixosSystem { modules = [ ./b.nix ./common.nix ]; };
    };
  };
}"#;

    fn fleet() -> WorkTree {
        let mut tree = WorkTree::new(Path::new("/nonexistent"), Vec::new());
        tree.stage(Path::new("flake.nix"), Some(FLAKE.into()));
        for f in ["a.nix", "b.nix", "common.nix"] {
            tree.stage(Path::new(f), Some("{ ... }: { }".into()));
        }
        tree
    }

    /// Counts the reads that reach it.
    struct Counting<'a>(&'a WorkTree, Cell<usize>);

    impl Files for Counting<'_> {
        fn read(&self, path: &Path) -> Result<Option<String>> {
            self.1.set(self.1.get() + 1);
            self.0.read(path)
        }
        fn exists(&self, path: &Path) -> bool {
            self.0.exists(path)
        }
        fn nix_files(&self) -> Vec<PathBuf> {
            self.0.nix_files()
        }
    }

    fn files_of(model: &Model, host: &str) -> Vec<PathBuf> {
        model.host(host).unwrap().files.clone()
    }

    #[test]
    fn an_unchanged_tree_is_not_read_again() {
        let tree = fleet();
        let first = Counting(&tree, Cell::new(0));
        let model = Model::read(&first).unwrap();
        // The shared module is read once per host that imports it.
        assert_eq!(first.1.get(), 5, "flake.nix, a, b and common twice");
        let again = Counting(&tree, Cell::new(0));
        let same = Model::read(&again).unwrap();
        assert_eq!(again.1.get(), 4, "each file read once, to compare");
        assert_eq!(files_of(&same, "a"), files_of(&model, "a"));
    }

    #[test]
    fn a_changed_module_is_read_again() {
        let mut tree = fleet();
        let before = Model::read(&tree).unwrap();
        assert_eq!(
            files_of(&before, "a"),
            ["a.nix", "common.nix"].map(PathBuf::from)
        );
        tree.stage(
            Path::new("common.nix"),
            Some("{ ... }: { imports = [ ./extra.nix ]; }".into()),
        );
        tree.stage(Path::new("extra.nix"), Some("{ }".into()));
        let after = Model::read(&tree).unwrap();
        for host in ["a", "b"] {
            assert_eq!(
                files_of(&after, host),
                [
                    format!("{host}.nix"),
                    "common.nix".into(),
                    "extra.nix".into()
                ]
                .map(PathBuf::from)
            );
        }
    }

    #[test]
    fn a_file_that_appears_is_seen() {
        let mut tree = fleet();
        tree.stage(
            Path::new("common.nix"),
            Some("{ ... }: { imports = [ ./later.nix ]; }".into()),
        );
        let before = Model::read(&tree).unwrap();
        assert!(!files_of(&before, "a").contains(&PathBuf::from("later.nix")));
        tree.stage(Path::new("later.nix"), Some("{ }".into()));
        let after = Model::read(&tree).unwrap();
        assert!(files_of(&after, "a").contains(&PathBuf::from("later.nix")));
    }

    #[test]
    fn a_host_removed_from_the_flake_is_gone() {
        let mut tree = fleet();
        assert!(Model::read(&tree).unwrap().host("b").is_some());
        tree.stage(
            Path::new("flake.nix"),
            Some(FLAKE.replace(
                "b = nixpkgs.lib.nixosSystem { modules = [ ./b.nix ./common.nix ]; };",
                "",
            )),
        );
        let after = Model::read(&tree).unwrap();
        assert!(after.host("b").is_none());
        assert!(after.host("a").is_some());
    }
}
