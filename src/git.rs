//! Everything the tool does with git, through git2. git2 runs no hooks:
//! the commits made here do not run the user's pre-commit hook.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{Commit, Oid, Repository, StatusOptions};

use crate::error::{Error, Result};

pub const TRAILER_STEP: &str = "Migration";
pub const TRAILER_CHECKSUM: &str = "Migration-Checksum";
pub const TRAILER_REVERTED: &str = "Migration-Reverted";

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

/// The author, after checking that a committer can be named too (for
/// commands that must know before they write anything).
pub fn signature(repo: &Repository) -> Result<git2::Signature<'static>> {
    identities(repo).map(|(author, _)| author)
}

/// Author and committer as git resolves them: `GIT_AUTHOR_*` /
/// `GIT_COMMITTER_*`, then `author.*` / `committer.*`, then `user.*` in the
/// configuration (honouring `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_SYSTEM` and
/// `GIT_CONFIG_NOSYSTEM`, which libgit2 does not), then `EMAIL`.
pub fn identities(
    repo: &Repository,
) -> Result<(git2::Signature<'static>, git2::Signature<'static>)> {
    let config = config(repo)?;
    let who = |role: &str| -> Result<git2::Signature<'static>> {
        let env = |key: &str| {
            std::env::var(format!("GIT_{}_{key}", role.to_uppercase()))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let conf = |key: &str| {
            config
                .get_string(&format!("{role}.{key}"))
                .or_else(|_| config.get_string(&format!("user.{key}")))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let name = env("NAME").or_else(|| conf("name"));
        let email = env("EMAIL")
            .or_else(|| conf("email"))
            .or_else(|| std::env::var("EMAIL").ok().filter(|v| !v.is_empty()));
        match (name, email) {
            (Some(name), Some(email)) => {
                git2::Signature::now(&name, &email).map_err(|_| Error::NoIdentity)
            }
            _ => Err(Error::NoIdentity),
        }
    };
    Ok((who("author")?, who("committer")?))
}

/// The repository's configuration with the files git itself would read.
fn config(repo: &Repository) -> Result<git2::Config> {
    use git2::{Config, ConfigLevel};
    let var = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    let mut config = Config::new()?;
    let mut add = |path: PathBuf, level: ConfigLevel| -> Result<()> {
        if path.is_file() {
            config.add_file(&path, level, false)?;
        }
        Ok(())
    };
    if var("GIT_CONFIG_NOSYSTEM").is_none() {
        match var("GIT_CONFIG_SYSTEM") {
            Some(path) => add(path.into(), ConfigLevel::System)?,
            None => {
                if let Ok(path) = Config::find_system() {
                    add(path, ConfigLevel::System)?;
                }
            }
        }
    }
    match var("GIT_CONFIG_GLOBAL") {
        Some(path) => add(path.into(), ConfigLevel::Global)?,
        None => {
            if let Ok(path) = Config::find_xdg() {
                add(path, ConfigLevel::XDG)?;
            }
            if let Ok(path) = Config::find_global() {
                add(path, ConfigLevel::Global)?;
            }
        }
    }
    add(repo.path().join("config"), ConfigLevel::Local)?;
    Ok(config)
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

/// How [`write_atomic`]'s temporary files are named, so that what a killed
/// run leaves can be told from the user's files.
const TEMP_PREFIX: &str = ".flake-migrate-tmp-";

/// Removes the temporary files [`write_atomic`] left beside `paths`
/// (repository-relative) when a run was killed.
pub fn remove_temp_files(repo: &Repository, paths: &[PathBuf]) -> Result<()> {
    let root = workdir(repo)?;
    let dirs: std::collections::BTreeSet<PathBuf> = paths
        .iter()
        .filter_map(|p| root.join(p).parent().map(Path::to_path_buf))
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written file. The temporary file is created as any editor creates
/// one (0666 minus the umask, which the kernel applies); a file that
/// existed keeps its mode.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(content)?;
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Removes git's own lock files (the index's, HEAD's and its branch's)
/// made at or after `since`. Called while this run holds the tool's lock
/// and an interrupted run's journal exists: such files were made by that
/// run and left by its death. (A `git` command the user starts in this
/// very moment would look the same; that race is accepted, as git's own
/// advice for a stale `index.lock` is to delete it.)
pub fn remove_locks_since(repo: &Repository, since: std::time::SystemTime) -> Vec<PathBuf> {
    let mut candidates = vec![
        repo.path().join("index.lock"),
        repo.path().join("HEAD.lock"),
    ];
    if let Ok(head) = repo.find_reference("HEAD")
        && let Ok(Some(branch)) = head.symbolic_target()
    {
        candidates.push(repo.path().join(format!("{branch}.lock")));
    }
    candidates
        .into_iter()
        .filter(|lock| {
            std::fs::metadata(lock)
                .and_then(|m| m.modified())
                .is_ok_and(|made| made >= since)
        })
        .filter(|lock| std::fs::remove_file(lock).is_ok())
        .collect()
}

pub fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
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
