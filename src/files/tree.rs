//! A commit's tree, as [`Files`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use git2::{Oid, Repository};

use super::{Files, blob_text, is_regular_file};
use crate::error::Result;

/// A directory's entries: name -> (id, file mode).
type Entries = HashMap<Vec<u8>, (Oid, u32)>;

/// The files of a commit's tree (HEAD's, for what a commit changes, and
/// for `status`).
pub struct TreeFiles<'r> {
    repo: &'r Repository,
    tree: git2::Tree<'r>,
    /// Each directory read so far, by id. `Tree::get_path` reads every tree
    /// on the way on each call, so looking up each file of a large
    /// directory (`hosts/` of a fleet) would cost the directory's size
    /// each time.
    dirs: RefCell<HashMap<Oid, Rc<Entries>>>,
}

impl<'r> TreeFiles<'r> {
    pub fn new(repo: &'r Repository, tree: git2::Tree<'r>) -> Self {
        TreeFiles {
            repo,
            tree,
            dirs: RefCell::default(),
        }
    }

    /// The id and mode of the entry at `path`, reading each directory on
    /// the way at most once.
    fn entry(&self, path: &Path) -> Option<(Oid, u32)> {
        let mut dir = self.tree.id();
        let mut names = path.components().peekable();
        while let Some(name) = names.next() {
            let entries = self.dir(dir)?;
            let &(id, mode) = entries.get(name.as_os_str().as_encoded_bytes())?;
            if names.peek().is_none() {
                return Some((id, mode));
            }
            dir = id;
        }
        None
    }

    /// A directory's entries; `None` when `id` is not a tree.
    fn dir(&self, id: Oid) -> Option<Rc<Entries>> {
        if let Some(entries) = self.dirs.borrow().get(&id) {
            return Some(entries.clone());
        }
        let tree = self.repo.find_tree(id).ok()?;
        let entries: Rc<Entries> = Rc::new(
            tree.iter()
                .map(|e| (e.name_bytes().to_vec(), (e.id(), e.filemode() as u32)))
                .collect(),
        );
        self.dirs.borrow_mut().insert(id, entries.clone());
        Some(entries)
    }
}

impl Files for TreeFiles<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        match self.entry(path) {
            Some((id, mode)) if is_regular_file(mode) => blob_text(self.repo, id, path).map(Some),
            _ => Ok(None),
        }
    }

    // The tree says so without reading the blob.
    fn exists(&self, path: &Path) -> bool {
        self.entry(path)
            .is_some_and(|(_, mode)| is_regular_file(mode))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_through_each_directory_and_only_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = |text: &str| repo.blob(text.as_bytes()).unwrap();
        let mut hosts = repo.treebuilder(None).unwrap();
        hosts.insert("a.nix", blob("a"), 0o100644).unwrap();
        hosts.insert("b.nix", blob("b"), 0o100755).unwrap();
        hosts.insert("link.nix", blob("a.nix"), 0o120000).unwrap();
        let hosts = hosts.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("hosts", hosts, 0o040000).unwrap();
        root.insert("flake.nix", blob("f"), 0o100644).unwrap();
        let root = repo.find_tree(root.write().unwrap()).unwrap();
        let files = TreeFiles::new(&repo, root);
        let read = |p: &str| files.read(Path::new(p)).unwrap();
        assert_eq!(read("hosts/b.nix").as_deref(), Some("b"));
        assert_eq!(read("hosts/a.nix").as_deref(), Some("a"));
        assert_eq!(read("flake.nix").as_deref(), Some("f"));
        for none in [
            "hosts",
            "hosts/link.nix",
            "flake.nix/x",
            "hosts/c.nix",
            "no/a.nix",
        ] {
            assert_eq!(read(none), None, "{none}");
            assert!(!files.exists(Path::new(none)), "{none}");
        }
        assert!(files.exists(Path::new("hosts/a.nix")));
        assert_eq!(
            files.nix_files(),
            ["flake.nix", "hosts/a.nix", "hosts/b.nix"].map(PathBuf::from)
        );
    }
}
