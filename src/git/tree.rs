//! Reading a commit's tree, each directory at most once per run.

use super::*;

/// The content of `path` in HEAD, when it exists there. For many paths,
/// use one [`TreeFiles`].
pub fn head_blob(repo: &Repository, path: &Path) -> Result<Option<Vec<u8>>> {
    TreeFiles::head(repo)?.blob(path)
}

/// Looks files up in one tree, reading each directory of it at most once:
/// `Tree::get_path` re-reads every tree on the way on each call, which for a
/// large directory makes looking up each of its files cost its size.
pub struct TreeFiles<'r> {
    repo: &'r Repository,
    root: Oid,
    /// Entries of each directory read so far: name -> (id, is a tree).
    dirs: HashMap<Oid, HashMap<Vec<u8>, (Oid, bool)>>,
}

impl<'r> TreeFiles<'r> {
    pub fn head(repo: &'r Repository) -> Result<Self> {
        Ok(Self::of(repo, &head_commit(repo)?.tree()?))
    }

    pub fn of(repo: &'r Repository, tree: &git2::Tree) -> Self {
        TreeFiles {
            repo,
            root: tree.id(),
            dirs: HashMap::new(),
        }
    }

    /// The id of the blob at `path`, when the tree has a file there.
    pub fn blob_id(&mut self, path: &Path) -> Result<Option<Oid>> {
        let mut dir = self.root;
        let mut names = path.components().peekable();
        while let Some(name) = names.next() {
            if !self.dirs.contains_key(&dir) {
                let entries = read_dir(self.repo, dir)?;
                self.dirs.insert(dir, entries);
            }
            let entries = &self.dirs[&dir];
            let key = name.as_os_str().as_encoded_bytes();
            let Some(&(id, is_tree)) = entries.get(key) else {
                return Ok(None);
            };
            match (names.peek().is_some(), is_tree) {
                (true, true) => dir = id,
                (false, false) => return Ok(Some(id)),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The content of the file at `path`, when the tree has one there.
    pub fn blob(&mut self, path: &Path) -> Result<Option<Vec<u8>>> {
        match self.blob_id(path)? {
            Some(id) => Ok(Some(self.repo.find_blob(id)?.content().to_vec())),
            None => Ok(None),
        }
    }
}

fn read_dir(repo: &Repository, id: Oid) -> Result<HashMap<Vec<u8>, (Oid, bool)>> {
    let tree = repo.find_tree(id)?;
    Ok(tree
        .iter()
        .map(|e| {
            let is_tree = e.kind() == Some(git2::ObjectType::Tree);
            (e.name_bytes().to_vec(), (e.id(), is_tree))
        })
        .collect())
}
