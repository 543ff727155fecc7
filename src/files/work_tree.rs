//! The working tree as git tracks it, with planned edits laid over it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{Files, Link};
use crate::error::{Error, Result};

/// The working tree as git tracks it, plus edits not yet written.
///
/// One is made for one plan (a command's, or `up`'s run of steps), and the
/// engine writes only after planning: so what it read from disk is kept,
/// and the steps, which read the same files again and again, read the disk
/// once per file.
pub struct WorkTree {
    root: PathBuf,
    tracked: Vec<PathBuf>,
    /// Planned content by path; `None` means deleted.
    pending: BTreeMap<PathBuf, Option<String>>,
    /// What each path held on disk when first read (`None`: no such file).
    disk: RefCell<HashMap<PathBuf, Option<String>>>,
    /// What each path asked about is as a place to write (`link`).
    links: RefCell<HashMap<PathBuf, Link>>,
    /// Whether to keep what was read in `disk`; see [`WorkTree::read_once`].
    keep: bool,
    /// Where each file is first read to ([`read_file`]), made on the first.
    scratch: RefCell<Vec<u8>>,
}

impl WorkTree {
    pub fn new(root: &Path, tracked: Vec<PathBuf>) -> Self {
        WorkTree {
            root: root.to_path_buf(),
            tracked,
            pending: BTreeMap::new(),
            disk: RefCell::new(HashMap::new()),
            links: RefCell::new(HashMap::new()),
            keep: true,
            scratch: RefCell::new(Vec::new()),
        }
    }

    /// A tree for a reader that keeps what it reads itself (the guard's
    /// scope): a second copy of every file would only cost time, which on
    /// `check` over 20,000 files was a tenth of it.
    pub fn read_once(root: &Path, tracked: Vec<PathBuf>) -> Self {
        WorkTree {
            keep: false,
            ..WorkTree::new(root, tracked)
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

impl WorkTree {
    /// Calls `f` with the path's content on disk, read at most once.
    fn on_disk<T>(&self, path: &Path, f: impl FnOnce(Option<&String>) -> T) -> Result<T> {
        if let Some(content) = self.disk.borrow().get(path) {
            return Ok(f(content.as_ref()));
        }
        let content = self.read_disk(path)?;
        let answer = f(content.as_ref());
        if self.keep {
            self.disk.borrow_mut().insert(path.to_path_buf(), content);
        }
        Ok(answer)
    }

    fn link_on_disk(&self, path: &Path) -> Link {
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

    fn read_disk(&self, path: &Path) -> Result<Option<String>> {
        let mut scratch = self.scratch.borrow_mut();
        if scratch.is_empty() {
            scratch.resize(FIRST_READ, 0);
        }
        read_text(&self.root, path, &mut scratch)
    }

    /// Reads `paths` from disk on several threads: on `check` over a large
    /// tree, reading is most of the time, and most of that is the
    /// kernel's, which a second core halves.
    fn read_disk_all(&self, paths: &[&Path]) -> Vec<Result<Option<String>>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_READERS)
            .min(paths.len() / FILES_PER_READER)
            .max(1);
        let root = self.root.as_path();
        let read_chunk = move |chunk: &[&Path]| {
            let mut scratch = vec![0; FIRST_READ];
            chunk
                .iter()
                .map(|p| read_text(root, p, &mut scratch))
                .collect::<Vec<_>>()
        };
        if threads == 1 {
            return read_chunk(paths);
        }
        let size = paths.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = paths
                .chunks(size)
                .map(|chunk| scope.spawn(move || read_chunk(chunk)))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }
}

/// `path` under `root` as text; `None` when there is no such file.
fn read_text(root: &Path, path: &Path, scratch: &mut [u8]) -> Result<Option<String>> {
    let full = root.join(path);
    match read_file(&full, scratch) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| Error::not_utf8(path, e.as_bytes())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
        Err(e) => Err(Error::io(full, e)),
    }
}

/// At most this many threads read at once; each takes at least
/// [`FILES_PER_READER`] files, so a small tree is read on one.
const MAX_READERS: usize = 8;
const FILES_PER_READER: usize = 1024;

/// The file's bytes in as few system calls as a file allows: open, one
/// read, close. `std::fs::read` also asks the size (`statx`) and reads once
/// more to see the end, five calls a file, which on `check` over 20,000
/// small files was most of its time. A read that returns less than was
/// asked of a regular file has reached its end; a larger file goes on with
/// `read_to_end`. The first read goes to `scratch`, made once per tree: a
/// buffer made (and zeroed) per file cost a tenth of `check`'s CPU time.
fn read_file(path: &Path, scratch: &mut [u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let n = file.read(scratch)?;
    let mut bytes = scratch[..n].to_vec();
    if n == scratch.len() {
        file.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// Most Nix files fit in one read of this size.
const FIRST_READ: usize = 16 * 1024;

impl Files for WorkTree {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        if let Some(content) = self.pending.get(&self.content_path(path)) {
            return Ok(content.clone());
        }
        if !self.keep {
            return self.read_disk(path);
        }
        self.on_disk(path, |c| c.cloned())
    }

    fn exists(&self, path: &Path) -> bool {
        if let Some(content) = self.pending.get(&self.content_path(path)) {
            return content.is_some();
        }
        matches!(self.on_disk(path, |c| c.is_some()), Ok(true))
    }

    fn link(&self, path: &Path) -> Link {
        if let Some(link) = self.links.borrow().get(path) {
            return link.clone();
        }
        let link = self.link_on_disk(path);
        self.links
            .borrow_mut()
            .insert(path.to_path_buf(), link.clone());
        link
    }

    fn read_all(&self, paths: &[PathBuf]) -> Vec<Result<Option<String>>> {
        // Planned content and what was read already come from memory; the
        // rest from disk, together.
        // Decided once per path: what is read below joins `disk`.
        let known: Vec<bool> = paths
            .iter()
            .map(|p| {
                self.pending.contains_key(&self.content_path(p))
                    || self.disk.borrow().contains_key(p)
            })
            .collect();
        let unread: Vec<&Path> = paths
            .iter()
            .zip(&known)
            .filter(|(_, known)| !**known)
            .map(|(p, _)| p.as_path())
            .collect();
        let mut from_disk = self.read_disk_all(&unread).into_iter();
        paths
            .iter()
            .zip(known)
            .map(|(p, known)| {
                if known {
                    return self.read(p);
                }
                let content = from_disk.next().unwrap_or(Ok(None));
                if self.keep
                    && let Ok(c) = &content
                {
                    self.disk.borrow_mut().insert(p.clone(), c.clone());
                }
                content
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Planned content, a file read before, one named twice and one that
    /// does not exist: each answer is the one `read` gives, in order.
    #[test]
    fn reading_together_gives_what_reading_one_by_one_gives() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("a.nix", "a"), ("b.nix", "b"), ("c.nix", "c")] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let tracked: Vec<PathBuf> = ["a.nix", "b.nix", "c.nix"].map(PathBuf::from).to_vec();
        let mut tree = WorkTree::new(dir.path(), tracked);
        tree.stage(Path::new("a.nix"), Some("planned".into()));
        tree.read(Path::new("b.nix")).unwrap();
        let paths: Vec<PathBuf> = ["a.nix", "b.nix", "c.nix", "c.nix", "gone.nix"]
            .map(PathBuf::from)
            .to_vec();
        let together: Vec<Option<String>> = tree
            .read_all(&paths)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let one_by_one: Vec<Option<String>> = paths.iter().map(|p| tree.read(p).unwrap()).collect();
        assert_eq!(together, one_by_one);
        assert_eq!(
            together,
            [Some("planned"), Some("b"), Some("c"), Some("c"), None].map(|t| t.map(String::from))
        );
    }
}
