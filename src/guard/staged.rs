//! What a commit would change: git's index compared with HEAD's tree,
//! without walking what did not change.
//!
//! libgit2's tree-to-index diff visits every entry, which is what makes it
//! grow with the repository. Git keeps, inside the index file, a cache of
//! the tree each directory would be written as (the `TREE` extension); a
//! directory whose cached tree equals HEAD's subtree has nothing staged and
//! is skipped whole. So we read the index file ourselves: entries (path,
//! mode, blob id) and that cache, then descend only where they differ.
//!
//! Formats we do not read (split index, sparse index, SHA-256) fall back to
//! `git ls-files --stage`, which gives the same entries without the cache.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::error::{Error, Result};
use crate::files::Files;

const OID_LEN: usize = 20;
const MODE_GITLINK: u32 = 0o160000;
const MODE_TREE: u32 = 0o040000;

/// One stage-0 entry of the index.
#[derive(Debug, Clone)]
struct Entry {
    /// The path's bytes in [`StagedIndex::paths`].
    path: Range<usize>,
    oid: Oid,
    mode: u32,
}

/// A node of the index's cached-tree extension.
#[derive(Debug)]
struct CacheNode {
    /// `None` when git invalidated it (something under it was staged).
    oid: Option<Oid>,
    children: HashMap<Vec<u8>, CacheNode>,
}

/// The index as a commit would see it.
pub struct StagedIndex {
    paths: Vec<u8>,
    /// Sorted by path bytes, as git keeps them.
    entries: Vec<Entry>,
    cache: Option<CacheNode>,
}

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
        match parse(data) {
            Some(index) => Ok(index),
            None => from_git_cli(repo, &path),
        }
    }

    fn path_of(&self, e: &Entry) -> &[u8] {
        &self.paths[e.path.clone()]
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
        is_file(e.mode).then_some(e.oid)
    }

    /// Every staged regular-file path.
    pub fn file_paths(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|e| is_file(e.mode))
            .filter_map(|e| std::str::from_utf8(self.path_of(e)).ok())
    }

    /// What committing this index would change on top of `head` (`None`
    /// before the first commit).
    pub fn changes(&self, repo: &Repository, head: Option<&git2::Tree>) -> Result<Changes> {
        let mut out = Vec::new();
        let mut walk = Walk {
            index: self,
            repo,
            out: &mut out,
        };
        walk.dir(
            b"",
            self.cache.as_ref(),
            head.map(git2::Tree::id),
            &self.entries,
        )?;
        out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        Ok(pair_renames(out))
    }
}

/// Entries of a regular file (not a symlink or submodule).
fn is_file(mode: u32) -> bool {
    mode & 0o170000 == 0o100000
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
        cache: Option<&CacheNode>,
        head: Option<Oid>,
        entries: &[Entry],
    ) -> Result<()> {
        if let (Some(cached), Some(head)) = (cache.and_then(|c| c.oid), head)
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
                        let run = entries[i..]
                            .iter()
                            .position(|e| {
                                let r = &self.index.path_of(e)[prefix.len()..];
                                !(r.starts_with(name) && r.get(name.len()) == Some(&b'/'))
                            })
                            .unwrap_or(entries.len() - i);
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
                        let sub_cache = cache.and_then(|c| c.children.get(name));
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

// ---------------------------------------------------------------------------
// The index file format (git's Documentation/gitformat-index.txt).

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// Parses versions 2–4; `None` for anything we do not read.
fn parse(owned: Vec<u8>) -> Option<StagedIndex> {
    let data = owned.as_slice();
    if data.get(..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let end = data.len().checked_sub(OID_LEN)?;
    let mut at = 12;
    let mut entries = Vec::with_capacity(count);
    // Versions 2 and 3 keep paths whole in the file: point into a copy of it.
    // Version 4 compresses them against the previous path: rebuild them.
    let mut compressed: Vec<u8> = Vec::new();
    let mut previous: Range<usize> = 0..0;
    for _ in 0..count {
        let mode = be32(data, at + 24)?;
        let oid = Oid::from_bytes(data.get(at + 40..at + 40 + OID_LEN)?).ok()?;
        let flags = be16(data, at + 60)?;
        let stage = (flags >> 12) & 0b11;
        let extended = flags & 0x4000 != 0;
        let mut name_at = at + 62;
        let mut intent_to_add = false;
        if extended {
            if version < 3 {
                return None;
            }
            let ext = be16(data, name_at)?;
            intent_to_add = ext & 0x2000 != 0;
            name_at += 2;
        }
        let path;
        if version == 4 {
            let (strip, used) = varint(data.get(name_at..)?)?;
            name_at += used;
            let nul = data.get(name_at..)?.iter().position(|b| *b == 0)?;
            let keep = previous.len().checked_sub(strip as usize)?;
            let start = compressed.len();
            compressed.extend_from_within(previous.start..previous.start + keep);
            compressed.extend_from_slice(&data[name_at..name_at + nul]);
            path = start..compressed.len();
            at = name_at + nul + 1;
        } else {
            let len = (flags & 0x0fff) as usize;
            let nul = if len < 0x0fff {
                len
            } else {
                data.get(name_at..)?.iter().position(|b| *b == 0)?
            };
            path = name_at..name_at + nul;
            // Entries are NUL-padded to a multiple of eight bytes.
            let entry_len = (name_at - at) + nul;
            at += (entry_len + 8) & !7;
        }
        if at > end {
            return None;
        }
        previous = path.clone();
        if stage == 0 && !intent_to_add && mode != MODE_GITLINK {
            entries.push(Entry { path, oid, mode });
        }
    }
    let mut cache = None;
    while at + 8 <= end {
        let sig = &data[at..at + 4];
        let size = be32(data, at + 4)? as usize;
        let body = data.get(at + 8..at + 8 + size)?;
        match sig {
            b"TREE" => cache = parse_tree_cache(body),
            // Required extensions we do not understand (split index,
            // sparse directories): a lowercase first letter means required.
            s if s[0].is_ascii_lowercase() => return None,
            _ => {}
        }
        at += 8 + size;
    }
    let paths = if version == 4 { compressed } else { owned };
    Some(StagedIndex {
        paths,
        entries,
        cache,
    })
}

/// Git's offset varint (not LEB128): each continuation adds one.
fn varint(data: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    let mut c = *data.get(i)?;
    let mut val = u64::from(c & 0x7f);
    while c & 0x80 != 0 {
        i += 1;
        val = val.checked_add(1)?.checked_mul(128)?;
        c = *data.get(i)?;
        val += u64::from(c & 0x7f);
    }
    Some((val, i + 1))
}

fn parse_tree_cache(body: &[u8]) -> Option<CacheNode> {
    let mut at = 0;
    let (_, node) = tree_node(body, &mut at)?;
    Some(node)
}

fn tree_node(body: &[u8], at: &mut usize) -> Option<(Vec<u8>, CacheNode)> {
    let nul = body.get(*at..)?.iter().position(|b| *b == 0)?;
    let name = body[*at..*at + nul].to_vec();
    *at += nul + 1;
    let nl = body.get(*at..)?.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&body[*at..*at + nl]).ok()?;
    *at += nl + 1;
    let (count, subtrees) = line.split_once(' ')?;
    let count: i64 = count.parse().ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    let oid = if count >= 0 {
        let oid = Oid::from_bytes(body.get(*at..*at + OID_LEN)?).ok()?;
        *at += OID_LEN;
        Some(oid)
    } else {
        None
    };
    let mut children = HashMap::with_capacity(subtrees);
    for _ in 0..subtrees {
        let (child_name, child) = tree_node(body, at)?;
        children.insert(child_name, child);
    }
    Some((name, CacheNode { oid, children }))
}

/// Entries from `git ls-files --stage -z`, for index formats we do not parse.
fn from_git_cli(repo: &Repository, index: &Path) -> Result<StagedIndex> {
    let workdir = repo.workdir().unwrap_or(repo.path());
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(workdir)
        .args(["ls-files", "--stage", "-z"])
        .env("GIT_INDEX_FILE", index)
        .output()
        .map_err(|e| Error::io("git", e))?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "cannot read the index {}: {}",
            index.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut paths = Vec::new();
    let mut entries = Vec::new();
    for record in output.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        // `<mode> <oid> <stage>\t<path>`
        let Some(tab) = record.iter().position(|b| *b == b'\t') else {
            continue;
        };
        let head = String::from_utf8_lossy(&record[..tab]);
        let mut fields = head.split(' ');
        let (Some(mode), Some(oid), Some("0")) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(mode), Ok(oid)) = (u32::from_str_radix(mode, 8), Oid::from_str(oid)) else {
            continue;
        };
        if mode == MODE_GITLINK {
            continue;
        }
        let start = paths.len();
        paths.extend_from_slice(&record[tab + 1..]);
        entries.push(Entry {
            path: start..paths.len(),
            oid,
            mode,
        });
    }
    // `ls-files` does not mark intent-to-add entries (`git add -N`): they
    // hold the empty blob and are not staged content. Keep an empty file
    // only when git counts it as staged.
    let empty = Oid::hash_object(git2::ObjectType::Blob, b"")?;
    if entries.iter().any(|e| e.oid == empty) {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(workdir)
            .args(["diff", "--cached", "--name-only", "-z"])
            .env("GIT_INDEX_FILE", index)
            .output()
            .map_err(|e| Error::io("git", e))?;
        let staged: Vec<&[u8]> = output.stdout.split(|b| *b == 0).collect();
        entries.retain(|e| e.oid != empty || staged.contains(&&paths[e.path.clone()]));
    }
    Ok(StagedIndex {
        paths,
        entries,
        cache: None,
    })
}

/// The staged files, read through the same trait the rules use on the
/// working tree.
pub struct StagedFiles<'r> {
    repo: &'r Repository,
    index: StagedIndex,
}

impl<'r> StagedFiles<'r> {
    pub fn new(repo: &'r Repository, index: StagedIndex) -> Self {
        StagedFiles { repo, index }
    }

    pub fn index(&self) -> &StagedIndex {
        &self.index
    }
}

impl Files for StagedFiles<'_> {
    fn read(&self, path: &Path) -> Result<Option<String>> {
        let Some(oid) = self.index.blob(path) else {
            return Ok(None);
        };
        let blob = self.repo.find_blob(oid)?;
        Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        self.index
            .file_paths()
            .filter(|p| p.ends_with(".nix"))
            .map(PathBuf::from)
            .collect()
    }
}

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
        if !is_file(entry.filemode() as u32) {
            return Ok(None);
        }
        let blob = self.repo.find_blob(entry.id())?;
        Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
    }

    fn nix_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let _ = self.tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if let Ok(name) = entry.name()
                && name.ends_with(".nix")
                && is_file(entry.filemode() as u32)
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
    fn varint_matches_git() {
        // Values from git's varint.c round trips.
        assert_eq!(varint(&[0x00]), Some((0, 1)));
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        assert_eq!(varint(&[0x80, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x80, 0x7f]), Some((255, 2)));
        assert_eq!(varint(&[0x81, 0x00]), Some((256, 2)));
    }

    #[test]
    fn rejects_what_is_not_an_index() {
        assert!(parse(b"not an index at all, no".to_vec()).is_none());
    }
}
