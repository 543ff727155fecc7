//! The hook's view of a commit (`guard::staged`) agrees with
//! `git diff --cached`, whatever the index format: versions 2 and 4, an
//! index without cached trees, a split index (read through git).

mod guard_support;
mod support;

use flake_migrate::files::StagedIndex;
use flake_migrate::guard::staged::{self, ChangeKind};
use guard_support::{Repo, migrated_seed};

/// Adds, modifies, deletes and renames in nested and new directories, and
/// a whole directory deleted.
fn stage_a_mix(repo: &Repo) {
    repo.edit(
        "machines/carbon.nix",
        "    kitty\n",
        "    kitty\n    htop\n",
    );
    repo.write("machines/new/deep/x.nix", "{ }\n");
    repo.write("zz-last.nix", "{ }\n");
    repo.git_ok(&["rm", "-q", "machines/boron.nix"]);
    repo.git_ok(&["rm", "-q", "-r", "machines/hardware"]);
    repo.git_ok(&["mv", "home/dan.nix", "home/daniel.nix"]);
    repo.git_ok(&["add", "-A"]);
    // Intent-to-add is not staged content.
    repo.write("later.nix", "{ }\n");
    repo.git_ok(&["add", "-N", "later.nix"]);
}

/// `(status letter, path)` as `git diff --cached --no-renames` lists them.
fn git_view(repo: &Repo, index: Option<&str>) -> Pairs {
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(repo.path())
        .args(["diff", "--cached", "--no-renames", "--name-status", "-z"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    if let Some(i) = index {
        cmd.env("GIT_INDEX_FILE", i);
    }
    let out = cmd.output().unwrap();
    let fields: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut v: Pairs = fields
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

/// `(status letter, path)` pairs, or `(from, to)` renames.
type Pairs = Vec<(String, String)>;

fn our_view(repo: &Repo) -> (Pairs, Pairs) {
    let git = git2::Repository::open(repo.path()).unwrap();
    let head = git.head().unwrap().peel_to_tree().unwrap();
    let index = StagedIndex::load(&git).unwrap();
    let changes = staged::changes(&git, &index, Some(&head)).unwrap();
    let letter = |k: ChangeKind| match k {
        ChangeKind::Added => "A",
        ChangeKind::Modified => "M",
        ChangeKind::Deleted => "D",
    };
    let view = changes
        .changes
        .iter()
        .map(|c| (letter(c.kind).to_string(), c.path.display().to_string()))
        .collect();
    let renames = changes
        .renames
        .iter()
        .map(|(f, t)| (f.display().to_string(), t.display().to_string()))
        .collect();
    (view, renames)
}

fn assert_agrees(repo: &Repo, what: &str) {
    let (ours, renames) = our_view(repo);
    assert_eq!(ours, git_view(repo, None), "{what}");
    assert!(
        !ours.iter().any(|(_, p)| p == "later.nix"),
        "{what}: intent-to-add"
    );
    assert_eq!(
        renames,
        [("home/dan.nix".to_string(), "home/daniel.nix".to_string())],
        "{what}"
    );
}

#[test]
fn agrees_with_git_on_a_default_index() {
    let repo = migrated_seed();
    stage_a_mix(&repo);
    assert_agrees(&repo, "index v2/v3");
}

#[test]
fn agrees_with_git_on_a_version_4_index() {
    let repo = migrated_seed();
    repo.git_ok(&["update-index", "--index-version", "4"]);
    stage_a_mix(&repo);
    let index = std::fs::read(repo.path().join(".git/index")).unwrap();
    assert_eq!(&index[4..8], &[0, 0, 0, 4]);
    assert_agrees(&repo, "index v4");
}

#[test]
fn agrees_with_git_on_a_split_index() {
    let repo = migrated_seed();
    repo.git_ok(&["update-index", "--split-index"]);
    stage_a_mix(&repo);
    assert!(
        std::fs::read_dir(repo.path().join(".git"))
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("sharedindex."))
    );
    assert_agrees(&repo, "split index");
}

#[test]
fn agrees_with_git_without_cached_trees() {
    let repo = migrated_seed();
    stage_a_mix(&repo);
    // Rebuild the index from its entries: no TREE extension.
    let listing = repo.git_ok(&["ls-files", "--stage"]);
    std::fs::remove_file(repo.path().join(".git/index")).unwrap();
    let mut child = std::process::Command::new("git")
        .current_dir(repo.path())
        .args(["update-index", "--index-info"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(listing.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let (ours, _) = our_view(&repo);
    let mut theirs = git_view(&repo, None);
    // The rebuilt index lost the intent-to-add flag: later.nix is an empty
    // file staged now, for git and for us.
    theirs.retain(|(_, p)| p != "later.nix");
    let ours: Vec<_> = ours.into_iter().filter(|(_, p)| p != "later.nix").collect();
    assert_eq!(ours, theirs);
}
