//! Everything the tool does with git, through git2. git2 runs no hooks:
//! the commits made here do not run the user's pre-commit hook.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{Commit, Oid, Repository, StatusOptions};

use crate::error::{Error, Result};

mod identity;
mod tree;
mod write;

pub use identity::{identities, signature};
pub use tree::{TreeFiles, head_blob};
pub use write::{remove_empty_parents, remove_locks_since, remove_temp_files, write_atomic};

pub const TRAILER_STEP: &str = "Migration";
pub const TRAILER_CHECKSUM: &str = "Migration-Checksum";
pub const TRAILER_REVERTED: &str = "Migration-Reverted";
/// Marks a commit that applied a drifted step again.
pub const TRAILER_REPAIR: &str = "Migration-Repair";
/// `up`'s proof of the run a commit belongs to: `3 hosts`, or `no (why)`.
pub const TRAILER_PROVEN: &str = "Proven";

/// Opens the repository that contains `dir`.
pub fn open(dir: &Path) -> Result<Repository> {
    Repository::discover(dir).map_err(|e| {
        Error::refused(
            format!(
                "{} is not inside a git repository ({})",
                dir.display(),
                e.message()
            ),
            "run flake-migrate inside the git repository of your flake, or pass -C DIR",
        )
    })
}

pub fn workdir(repo: &Repository) -> Result<PathBuf> {
    repo.workdir().map(Path::to_path_buf).ok_or_else(|| {
        Error::refused(
            "the repository is bare",
            "run flake-migrate in a checkout with a working tree",
        )
    })
}

/// Tracked paths, from the index.
pub fn tracked_files(repo: &Repository) -> Result<Vec<PathBuf>> {
    tracked_files_under(repo, Path::new(""))
}

/// Tracked paths below `prefix` (repository-relative), relative to it.
pub fn tracked_files_under(repo: &Repository, prefix: &Path) -> Result<Vec<PathBuf>> {
    let index = repo.index()?;
    Ok(index
        .iter()
        .filter_map(|e| String::from_utf8(e.path).ok().map(PathBuf::from))
        .filter_map(|p| p.strip_prefix(prefix).ok().map(Path::to_path_buf))
        .collect())
}

/// Where the flake is, relative to the working tree's root: the nearest
/// directory from `dir` upwards (as nix looks) that holds a `flake.nix`,
/// within the repository. Empty when that is the root, or when there is no
/// flake at all (the commands then say so).
pub fn flake_prefix(workdir: &Path, dir: &Path) -> PathBuf {
    let (Ok(workdir), Ok(dir)) = (workdir.canonicalize(), dir.canonicalize()) else {
        return PathBuf::new();
    };
    let mut here = dir.as_path();
    while let Ok(rel) = here.strip_prefix(&workdir) {
        if here.join("flake.nix").is_file() {
            return rel.to_path_buf();
        }
        match here.parent() {
            Some(parent) => here = parent,
            None => break,
        }
    }
    PathBuf::new()
}

/// Refuses what a commit on top of HEAD would get wrong: a detached HEAD
/// (the commits would belong to no branch) and an operation git has not
/// finished (a merge would get a one-parent commit and keep `MERGE_HEAD`,
/// a rebase would take the commit into the commits it replays), and a
/// branch with no commit yet.
pub fn refuse_unsafe_state(repo: &Repository) -> Result<()> {
    use git2::RepositoryState as S;
    head_commit(repo)?;
    let (what, way_out) = match repo.state() {
        S::Clean if repo.head_detached().unwrap_or(false) => (
            "detached HEAD: no branch is checked out",
            "check out a branch first (`git switch BRANCH`, or `git switch -c BRANCH` to keep where you are)",
        ),
        S::Clean => return Ok(()),
        S::Merge => (
            "a merge is in progress",
            "finish it with `git commit`, or abort it with `git merge --abort`",
        ),
        S::Rebase | S::RebaseInteractive | S::RebaseMerge => (
            "a rebase is in progress",
            "finish it with `git rebase --continue`, or abort it with `git rebase --abort`",
        ),
        S::ApplyMailbox | S::ApplyMailboxOrRebase => (
            "a `git am` is in progress",
            "finish it with `git am --continue`, or abort it with `git am --abort`",
        ),
        S::CherryPick | S::CherryPickSequence => (
            "a cherry-pick is in progress",
            "finish it with `git cherry-pick --continue`, or abort it with `git cherry-pick --abort`",
        ),
        S::Revert | S::RevertSequence => (
            "a revert is in progress",
            "finish it with `git revert --continue`, or abort it with `git revert --abort`",
        ),
        S::Bisect => ("a bisect is in progress", "end it with `git bisect reset`"),
    };
    Err(Error::refused(
        format!("{what}: flake-migrate commits on a branch, so it changes nothing now"),
        format!("{way_out}, then run again"),
    ))
}

/// Tracked files with staged or unstaged changes.
pub fn dirty_files(repo: &Repository) -> Result<Vec<String>> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let statuses = repo.statuses(Some(&mut opts))?;
    Ok(statuses
        .iter()
        .filter(|s| !s.status().is_empty())
        .filter_map(|s| s.path().ok().map(String::from))
        .collect())
}

pub fn head_commit(repo: &Repository) -> Result<Commit<'_>> {
    repo.head().and_then(|h| h.peel_to_commit()).map_err(|_| {
        Error::refused(
            "the repository has no commits yet",
            "commit your configuration first (`git add -A && git commit`), then run again",
        )
    })
}

/// Stages `paths` from the working tree (deleting missing ones) and commits
/// the index on top of HEAD.
pub fn commit_paths(repo: &Repository, paths: &[PathBuf], message: &str) -> Result<Oid> {
    let (author, committer) = identities(repo)?;
    let root = workdir(repo)?;
    let mut index = repo.index()?;
    for path in paths {
        if root.join(path).exists() {
            index.add_path(path)?;
        } else if index.get_path(path, 0).is_some() {
            index.remove_path(path)?;
        }
    }
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let parent = head_commit(repo)?;
    Ok(repo.commit(
        Some("HEAD"),
        &author,
        &committer,
        message,
        &tree,
        &[&parent],
    )?)
}

/// Commits `tree` on top of HEAD, then makes the index and the given paths
/// of the working tree match it.
pub fn commit_tree(repo: &Repository, tree: Oid, paths: &[PathBuf], message: &str) -> Result<Oid> {
    let (author, committer) = identities(repo)?;
    let tree = repo.find_tree(tree)?;
    let parent = head_commit(repo)?;
    let oid = repo.commit(
        Some("HEAD"),
        &author,
        &committer,
        message,
        &tree,
        &[&parent],
    )?;
    checkout_paths(repo, paths)?;
    Ok(oid)
}

/// Makes `paths` in the index and working tree match HEAD (removing those
/// HEAD does not have).
pub fn checkout_paths(repo: &Repository, paths: &[PathBuf]) -> Result<()> {
    let root = workdir(repo)?;
    let mut head = TreeFiles::head(repo)?;
    let mut index = repo.index()?;
    for path in paths {
        match head.blob(path)? {
            Some(content) => {
                let full = root.join(path);
                if let Some(dir) = full.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
                write_atomic(&full, &content)?;
                index.add_path(path)?;
            }
            None => {
                let full = root.join(path);
                if full.exists() {
                    std::fs::remove_file(&full).map_err(|e| Error::io(&full, e))?;
                    remove_empty_parents(&root, &full);
                }
                if index.get_path(path, 0).is_some() {
                    index.remove_path(path)?;
                }
            }
        }
    }
    index.write()?;
    Ok(())
}

/// The value of a `Key: value` trailer in a commit message.
pub fn trailer<'m>(message: &'m str, key: &str) -> Option<&'m str> {
    message
        .lines()
        .rev()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(str::trim)
}

/// The newest commit in HEAD's history that applied step `id` (and was not
/// itself a revert).
pub fn find_step_commit<'r>(repo: &'r Repository, id: &str) -> Result<Option<Commit<'r>>> {
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let message = commit.message().unwrap_or("");
        if trailer(message, TRAILER_STEP) == Some(id) {
            return Ok(Some(commit));
        }
    }
    Ok(None)
}

/// The commits that make step `id` what it is in HEAD's history, newest
/// first: its repairs, back to the commit that applied it.
pub fn step_commits<'r>(repo: &'r Repository, id: &str) -> Result<Vec<Commit<'r>>> {
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    let mut chain = Vec::new();
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let message = commit.message().unwrap_or("");
        if trailer(message, TRAILER_STEP) == Some(id) {
            let repair = trailer(message, TRAILER_REPAIR).is_some();
            chain.push(commit);
            if !repair {
                break;
            }
        }
    }
    Ok(chain)
}

/// Id of HEAD's tree without the flake's `.flake-migrate/` record (at `prefix`), so that recording
/// a verification does not itself make the verification stale.
pub fn content_tree(repo: &Repository, prefix: &Path) -> Result<Oid> {
    let tree = head_commit(repo)?.tree()?;
    let record = prefix.join(".flake-migrate");
    if tree.get_path(&record).is_err() {
        return Ok(tree.id());
    }
    let mut update = git2::build::TreeUpdateBuilder::new();
    update.remove(&record);
    Ok(update.create_updated(repo, &tree)?)
}

/// The full id of `rev` when it is a commit in HEAD's history. A revision
/// with a `-dirty` suffix (built from an uncommitted tree) is not.
pub fn commit_in_history(repo: &git2::Repository, rev: &str) -> Option<String> {
    if rev.len() < 7 || !rev.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let commit = repo.revparse_single(rev).ok()?.peel_to_commit().ok()?;
    let head = head_commit(repo).ok()?.id();
    (commit.id() == head || repo.graph_descendant_of(head, commit.id()).ok()?)
        .then(|| commit.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_read_from_the_last_paragraph() {
        let msg = "Add input\n\nMigration: not-this\n\nMigration: 0001-flake-input\nMigration-Checksum: abc\n";
        assert_eq!(trailer(msg, TRAILER_STEP), Some("0001-flake-input"));
        assert_eq!(trailer(msg, TRAILER_CHECKSUM), Some("abc"));
        assert_eq!(trailer("no trailers", TRAILER_STEP), None);
    }

    #[test]
    fn tree_files_finds_files_and_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = |text: &str| repo.blob(text.as_bytes()).unwrap();
        let mut hosts = repo.treebuilder(None).unwrap();
        hosts.insert("a.nix", blob("a"), 0o100644).unwrap();
        hosts.insert("b.nix", blob("b"), 0o100644).unwrap();
        let hosts = hosts.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("hosts", hosts, 0o040000).unwrap();
        root.insert("flake.nix", blob("f"), 0o100644).unwrap();
        let root = repo.find_tree(root.write().unwrap()).unwrap();
        let mut files = TreeFiles::of(&repo, &root);
        let content = |files: &mut TreeFiles, p: &str| files.blob(Path::new(p)).unwrap();
        assert_eq!(content(&mut files, "hosts/b.nix"), Some(b"b".to_vec()));
        assert_eq!(content(&mut files, "hosts/a.nix"), Some(b"a".to_vec()));
        assert_eq!(content(&mut files, "flake.nix"), Some(b"f".to_vec()));
        assert_eq!(content(&mut files, "hosts"), None, "a directory is no file");
        assert_eq!(content(&mut files, "flake.nix/x"), None);
        assert_eq!(content(&mut files, "hosts/c.nix"), None);
        assert_eq!(content(&mut files, "none/a.nix"), None);
    }
}
