//! What a commit would change: git's index compared with HEAD's tree,
//! without walking what did not change.
//!
//! libgit2's tree-to-index diff visits every entry, which is what makes it
//! grow with the repository. Git keeps, inside the index file, a cache of
//! the tree each directory would be written as (the `TREE` extension); a
//! directory whose cached tree equals HEAD's subtree has nothing staged and
//! is skipped whole. So we walk the index as [`crate::files::index`] reads
//! it (entries and that cache) beside HEAD's tree, and descend only where
//! they differ. Reading the index lives with the other git-backed
//! [`crate::files::Files`]; what counts as a change, and renames, is the
//! guard's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::error::Result;
use crate::files::StagedIndex;
use crate::files::index::{CachedTree, Entry};

const MODE_TREE: u32 = 0o040000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
}

/// The staged changes, with exact renames paired up.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub changes: Vec<Change>,
    /// `(from, to)` for each deleted path whose content reappears at an added one.
    pub renames: Vec<(PathBuf, PathBuf)>,
}

impl Changes {
    pub fn touches(&self, path: &Path) -> bool {
        self.changes.iter().any(|c| c.path == path)
    }

    pub fn kind(&self, path: &Path) -> Option<ChangeKind> {
        self.changes.iter().find(|c| c.path == path).map(|c| c.kind)
    }

    /// Added or modified paths: the ones whose staged content is new.
    pub fn written(&self) -> impl Iterator<Item = &Path> {
        self.changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Deleted)
            .map(|c| c.path.as_path())
    }

    pub fn renamed_from(&self, to: &Path) -> Option<&Path> {
        self.renames
            .iter()
            .find(|(_, t)| t == to)
            .map(|(f, _)| f.as_path())
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes below `prefix` (a flake below the repository root),
    /// with paths relative to it.
    pub fn within(self, prefix: &Path) -> Changes {
        let strip = |p: &Path| p.strip_prefix(prefix).ok().map(Path::to_path_buf);
        Changes {
            changes: self
                .changes
                .into_iter()
                .filter_map(|c| {
                    Some(Change {
                        path: strip(&c.path)?,
                        kind: c.kind,
                    })
                })
                .collect(),
            renames: self
                .renames
                .into_iter()
                .filter_map(|(from, to)| Some((strip(&from)?, strip(&to)?)))
                .collect(),
        }
    }
}

/// What committing `index` would change on top of `head` (`None` before
/// the first commit).
pub fn changes(
    repo: &Repository,
    index: &StagedIndex,
    head: Option<&git2::Tree>,
) -> Result<Changes> {
    let mut out = Vec::new();
    let mut walk = Walk {
        index,
        repo,
        out: &mut out,
    };
    walk.dir(
        b"",
        index.cached_tree(),
        head.map(git2::Tree::id),
        index.entries(),
    )?;
    out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    Ok(pair_renames(out))
}

struct Walk<'a> {
    index: &'a StagedIndex,
    repo: &'a Repository,
    out: &'a mut Vec<(Change, Option<Oid>)>,
}

impl Walk<'_> {
    /// Compares the index entries under directory `prefix` (given with its
    /// trailing `/`, empty at the root) with HEAD's tree `head` there.
    fn dir(
        &mut self,
        prefix: &[u8],
        cache: Option<&CachedTree>,
        head: Option<Oid>,
        entries: &[Entry],
    ) -> Result<()> {
        if let (Some(cached), Some(head)) = (cache.and_then(CachedTree::oid), head)
            && cached == head
        {
            return Ok(());
        }
        // HEAD's entries here, in tree order; the index's items (files, and
        // directories as runs of paths sharing `name/`) come in the same
        // order, so one merge pass pairs them.
        let head_tree = match head {
            Some(oid) => Some(self.repo.find_tree(oid)?),
            None => None,
        };
        let head_entries: Vec<(Vec<u8>, Oid, u32)> = head_tree
            .as_ref()
            .map(|t| {
                t.iter()
                    .map(|e| (e.name_bytes().to_vec(), e.id(), e.filemode() as u32))
                    .collect()
            })
            .unwrap_or_default();
        let (mut i, mut h) = (0, 0);
        while i < entries.len() || h < head_entries.len() {
            // The next index item: a file, or a directory and its run.
            let item = (i < entries.len()).then(|| {
                let rel = &self.index.path_of(&entries[i])[prefix.len()..];
                match rel.iter().position(|b| *b == b'/') {
                    Some(slash) => {
                        let name = &rel[..slash];
                        // The paths under `name/` are one sorted block: its
                        // end is found by bisection, not by a scan.
                        let under = &self.index.path_of(&entries[i])[..prefix.len() + slash + 1];
                        let run = entries[i..]
                            .partition_point(|e| self.index.path_of(e).starts_with(under));
                        (name, true, i + run)
                    }
                    None => (rel, false, i + 1),
                }
            });
            let head_item = head_entries
                .get(h)
                .map(|(n, o, m)| (n.as_slice(), *o, *m, *m == MODE_TREE));
            let order = match (&item, &head_item) {
                (Some((name, dir, _)), Some((hname, _, _, hdir))) => {
                    tree_order(name, *dir, hname, *hdir)
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, _) => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    let (name, dir, next) = item.expect("an index item");
                    if dir {
                        let sub = [prefix, name, b"/"].concat();
                        self.dir(&sub, None, None, &entries[i..next])?;
                    } else {
                        let e = &entries[i];
                        self.push(self.index.path_of(e), ChangeKind::Added, Some(e.oid));
                    }
                    i = next;
                }
                std::cmp::Ordering::Greater => {
                    let (name, oid, _, dir) = head_item.expect("a HEAD entry");
                    let path = [prefix, name].concat();
                    if dir {
                        self.deleted_tree(&[&path[..], b"/"].concat(), oid)?;
                    } else {
                        self.push(&path, ChangeKind::Deleted, Some(oid));
                    }
                    h += 1;
                }
                std::cmp::Ordering::Equal => {
                    let (name, dir, next) = item.expect("an index item");
                    let (_, oid, mode, _) = head_item.expect("a HEAD entry");
                    if dir {
                        let sub = [prefix, name, b"/"].concat();
                        let sub_cache = cache.and_then(|c| c.child(name));
                        self.dir(&sub, sub_cache, Some(oid), &entries[i..next])?;
                    } else {
                        let e = &entries[i];
                        if e.oid != oid || e.mode != mode {
                            self.push(self.index.path_of(e), ChangeKind::Modified, Some(e.oid));
                        }
                    }
                    i = next;
                    h += 1;
                }
            }
        }
        Ok(())
    }

    fn deleted_tree(&mut self, prefix: &[u8], oid: Oid) -> Result<()> {
        let tree = self.repo.find_tree(oid)?;
        for entry in tree.iter() {
            let mut path = prefix.to_vec();
            path.extend_from_slice(entry.name_bytes());
            if entry.filemode() as u32 == MODE_TREE {
                path.push(b'/');
                self.deleted_tree(&path, entry.id())?;
            } else {
                self.push(&path, ChangeKind::Deleted, Some(entry.id()));
            }
        }
        Ok(())
    }

    fn push(&mut self, path: &[u8], kind: ChangeKind, oid: Option<Oid>) {
        if let Ok(p) = std::str::from_utf8(path) {
            self.out.push((
                Change {
                    path: PathBuf::from(p),
                    kind,
                },
                oid,
            ));
        }
    }
}

/// Git's tree order: names compared bytewise, a directory as if its name
/// ended in `/`. The index's path order agrees with it.
fn tree_order(a: &[u8], a_dir: bool, b: &[u8], b_dir: bool) -> std::cmp::Ordering {
    let slash: &[u8] = b"/";
    a.iter()
        .chain(if a_dir { slash } else { &[] })
        .cmp(b.iter().chain(if b_dir { slash } else { &[] }))
}

fn pair_renames(changes: Vec<(Change, Option<Oid>)>) -> Changes {
    let mut added: BTreeMap<Oid, Vec<PathBuf>> = BTreeMap::new();
    for (c, oid) in &changes {
        if c.kind == ChangeKind::Added
            && let Some(oid) = oid
        {
            added.entry(*oid).or_default().push(c.path.clone());
        }
    }
    let mut renames = Vec::new();
    for (c, oid) in &changes {
        if c.kind == ChangeKind::Deleted
            && let Some(to) = oid.and_then(|o| added.get_mut(&o)).and_then(|v| v.pop())
        {
            renames.push((c.path.clone(), to));
        }
    }
    Changes {
        changes: changes.into_iter().map(|(c, _)| c).collect(),
        renames,
    }
}
