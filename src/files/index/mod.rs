//! Git's index, read as a commit would see it: its stage-0 entries (path,
//! mode, blob id) and its cache of the trees directories would be written
//! as.
//!
//! We read the index file ourselves rather than through libgit2 because of
//! that cache (the `TREE` extension): libgit2 offers it only through a
//! tree-to-index diff that visits every entry, so the hook's cost grew with
//! the repository (BENCHMARKS.md). With the cache, `guard::staged` skips
//! every directory whose cached tree equals HEAD's.
//!
//! Three parts, so each can be read alone: this file holds what the index
//! is and how to look things up in it; [`parse`] the file format; and
//! [`ls_files`] the fallback through `git ls-files` for formats `parse`
//! does not read (split index, sparse index, SHA-256), which yields the
//! same entries without the cache. Comparing with HEAD is the guard's
//! business, not this module's.

mod ls_files;
mod parse;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use super::is_regular_file;
use crate::error::{Error, Result};

/// Submodules: the index records the commit they point at, not content.
const MODE_GITLINK: u32 = 0o160000;

/// One stage-0 entry of the index.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The path's bytes in [`StagedIndex::paths`].
    path: Range<usize>,
    pub oid: Oid,
    pub mode: u32,
}

/// A directory in the index's cached-tree extension.
#[derive(Debug)]
pub struct CachedTree {
    /// `None` when git invalidated it (something under it was staged).
    oid: Option<Oid>,
    children: HashMap<Vec<u8>, CachedTree>,
}

impl CachedTree {
    /// The tree the directory would be written as, when git still knows it.
    pub fn oid(&self) -> Option<Oid> {
        self.oid
    }

    /// The cached tree of subdirectory `name`.
    pub fn child(&self, name: &[u8]) -> Option<&CachedTree> {
        self.children.get(name)
    }
}

/// The index as a commit would see it.
pub struct StagedIndex {
    paths: Vec<u8>,
    /// Sorted by path bytes, as git keeps them.
    entries: Vec<Entry>,
    cache: Option<CachedTree>,
}

impl StagedIndex {
    /// Reads the index a commit would be made from: `$GIT_INDEX_FILE` when
    /// git set it (`git commit -a`, `git commit PATH` use a temporary index),
    /// else the repository's own (per worktree).
    pub fn load(repo: &Repository) -> Result<StagedIndex> {
        let path = index_path(repo);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StagedIndex {
                    paths: Vec::new(),
                    entries: Vec::new(),
                    cache: None,
                });
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        match parse::parse(data) {
            Some(index) => Ok(index),
            None => ls_files::load(repo, &path),
        }
    }

    /// The entries, sorted by path bytes.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn path_of(&self, e: &Entry) -> &[u8] {
        &self.paths[e.path.clone()]
    }

    /// The root of the cached trees, when the index has them.
    pub fn cached_tree(&self) -> Option<&CachedTree> {
        self.cache.as_ref()
    }

    fn find(&self, path: &[u8]) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| self.path_of(e).cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The blob staged at `path` (regular files only).
    pub fn blob(&self, path: &Path) -> Option<Oid> {
        let e = self.find(path.to_str()?.as_bytes())?;
        is_regular_file(e.mode).then_some(e.oid)
    }

    /// The staged regular files called `name`, in any directory; cheaper
    /// than filtering [`Self::file_paths`] on a large index.
    pub fn files_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.entries
            .iter()
            .filter(move |e| {
                let path = self.path_of(e);
                path.ends_with(name.as_bytes())
                    && (path.len() == name.len() || path[path.len() - name.len() - 1] == b'/')
            })
            .filter(|e| is_regular_file(e.mode))
            .filter_map(|e| std::str::from_utf8(self.path_of(e)).ok())
    }

    /// Every path the index tracks at or under `prefix` (a directory), made
    /// relative to it: what `git ls-files` lists there.
    pub fn paths_under(&self, prefix: &Path) -> Vec<PathBuf> {
        let prefix = prefix.to_str().unwrap_or_default().trim_end_matches('/');
        self.entries
            .iter()
            .filter_map(|e| std::str::from_utf8(self.path_of(e)).ok())
            .filter_map(|p| match prefix {
                "" => Some(p),
                dir => p.strip_prefix(dir)?.strip_prefix('/'),
            })
            .map(PathBuf::from)
            .collect()
    }

    /// Every staged regular-file path.
    pub fn file_paths(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|e| is_regular_file(e.mode))
            .filter_map(|e| std::str::from_utf8(self.path_of(e)).ok())
    }
}

fn index_path(repo: &Repository) -> PathBuf {
    match std::env::var_os("GIT_INDEX_FILE") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                // Git runs hooks at the top of the worktree and passes a
                // path relative to it.
                repo.workdir().map_or(p.clone(), |w| w.join(&p))
            }
        }
        _ => repo.path().join("index"),
    }
}
