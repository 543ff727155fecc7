//! `flake-migrate hook install | uninstall`: where the hook goes, how an
//! existing hook is kept, and that uninstalling restores it exactly.

mod guard_support;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use guard_support::{Repo, empty_repo, migrated_seed, stderr, stdout};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A regression the guard blocks once steps are applied: the old override
/// file staged back.
fn stage_regression(repo: &Repo) {
    repo.write("nixos/pkgs/llama-cpp-variants.nix", "final: prev: { }\n");
    repo.git_ok(&["add", "nixos/pkgs/llama-cpp-variants.nix"]);
}

#[test]
fn install_in_a_fresh_repository_writes_an_executable_hook_once() {
    let repo = empty_repo();
    let out = repo.fm_ok(&["hook", "install"]);
    assert!(out.contains("installed the pre-commit hook"), "{out}");
    let hook = repo.path().join(".git/hooks/pre-commit");
    let script = fs::read_to_string(&hook).unwrap();
    assert!(script.starts_with("#!/bin/sh\n"));
    assert!(
        script.contains(guard_support::BIN),
        "records the binary's path"
    );
    assert_eq!(mode(&hook), 0o755);

    let again = repo.fm_ok(&["hook", "install"]);
    assert!(again.contains("already installed"), "{again}");
    assert_eq!(fs::read_to_string(&hook).unwrap(), script);
    assert!(
        !repo
            .path()
            .join(".git/hooks/pre-commit.before-flake-migrate")
            .exists()
    );

    repo.fm_ok(&["hook", "uninstall"]);
    assert!(!hook.exists());
    let nothing = repo.fm_ok(&["hook", "uninstall"]);
    assert!(nothing.contains("nothing to do"), "{nothing}");
}

#[test]
fn an_existing_hook_is_chained_runs_first_and_is_restored_byte_for_byte() {
    let repo = migrated_seed();
    let hooks = repo.path().join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    let hook = hooks.join("pre-commit");
    let original =
        "#!/bin/sh\n# the team's formatter check\necho previous-hook-ran >&2\n[ ! -e .block ]\n";
    fs::write(&hook, original).unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o750)).unwrap();

    let out = repo.fm_ok(&["hook", "install"]);
    assert!(out.contains("runs first"), "{out}");
    let moved = hooks.join("pre-commit.before-flake-migrate");
    assert_eq!(fs::read_to_string(&moved).unwrap(), original);
    repo.fm_ok(&["hook", "install"]);
    assert_eq!(
        fs::read_to_string(&moved).unwrap(),
        original,
        "installing twice changes nothing"
    );

    // The previous hook runs, and its failure blocks the commit.
    repo.write("notes.txt", "x\n");
    repo.git_ok(&["add", "notes.txt"]);
    repo.write(".block", "");
    let blocked = repo.commit("blocked by the previous hook", &[]);
    assert!(!blocked.status.success());
    assert!(stderr(&blocked).contains("previous-hook-ran"));
    fs::remove_file(repo.path().join(".block")).unwrap();
    let ok = repo.commit("passes both", &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("previous-hook-ran"));

    // Ours still runs after it.
    stage_regression(&repo);
    let out = repo.commit("bring the override back", &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error[old-override]"),
        "{}",
        stderr(&out)
    );

    repo.fm_ok(&["hook", "uninstall"]);
    assert_eq!(fs::read_to_string(&hook).unwrap(), original);
    assert_eq!(mode(&hook), 0o750);
    assert!(!moved.exists());
}

#[test]
fn a_second_foreign_hook_is_refused_not_clobbered() {
    let repo = empty_repo();
    let hooks = repo.path().join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    fs::write(hooks.join("pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    fs::write(
        hooks.join("pre-commit.before-flake-migrate"),
        "#!/bin/sh\nexit 1\n",
    )
    .unwrap();
    let out = repo.fm(&["hook", "install"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("merge the two by hand"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
}

#[test]
fn install_respects_core_hooks_path() {
    let repo = migrated_seed();
    repo.git_ok(&["config", "core.hooksPath", ".githooks"]);
    let out = repo.fm_ok(&["hook", "install"]);
    let dir = repo.path().join(".githooks");
    assert!(out.contains(&dir.display().to_string()), "{out}");
    assert!(dir.join("pre-commit").exists());
    assert!(!repo.path().join(".git/hooks/pre-commit").exists());

    stage_regression(&repo);
    let blocked = repo.commit("regress", &[]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(stderr(&blocked).contains("error[old-override]"));

    repo.fm_ok(&["hook", "uninstall"]);
    assert!(!dir.join("pre-commit").exists());
}

#[test]
fn install_from_a_worktree_guards_every_worktree() {
    let repo = migrated_seed();
    let wt_parent = tempfile::tempdir().unwrap();
    let wt = wt_parent.path().join("wt");
    repo.git_ok(&["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()]);
    let out = guard_support::fm_in(&wt, &["hook", "install"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Hooks live in the common git directory, shared by all worktrees.
    assert!(
        repo.path().join(".git/hooks/pre-commit").exists(),
        "{}",
        stdout(&out)
    );

    fs::create_dir_all(wt.join("nixos/pkgs")).unwrap();
    fs::write(
        wt.join("nixos/pkgs/llama-cpp-variants.nix"),
        "final: prev: { }\n",
    )
    .unwrap();
    let add = guard_support::git_in(&wt, &["add", "nixos/pkgs/llama-cpp-variants.nix"]);
    assert!(add.status.success());
    let blocked = guard_support::git_in(&wt, &["commit", "-q", "-m", "regress in a worktree"]);
    assert!(!blocked.status.success());
    assert!(
        stderr(&blocked).contains("error[old-override]"),
        "{}",
        stderr(&blocked)
    );

    stage_regression(&repo);
    let blocked = repo.commit("regress in the main worktree", &[]);
    assert!(!blocked.status.success());
}

#[test]
fn a_hook_whose_binary_moved_uses_path_or_says_how_to_fix_it() {
    let repo = migrated_seed();
    repo.fm_ok(&["hook", "install"]);
    let hook = repo.path().join(".git/hooks/pre-commit");
    let script = fs::read_to_string(&hook).unwrap();
    fs::write(
        &hook,
        script.replace(guard_support::BIN, "/nonexistent/flake-migrate"),
    )
    .unwrap();
    stage_regression(&repo);
    let commit = |path: &str| {
        std::process::Command::new("git")
            .current_dir(repo.path())
            .args(["commit", "-q", "-m", "regress"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("PATH", path)
            .output()
            .unwrap()
    };
    // Not on PATH either: the commit fails, saying how to fix it.
    let out = commit("/usr/bin:/bin");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot find flake-migrate"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("flake-migrate hook install"));
    // On PATH: that one runs, and blocks the regression.
    let bin_dir = Path::new(guard_support::BIN).parent().unwrap();
    let out = commit(&format!("{}:/usr/bin:/bin", bin_dir.display()));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error[old-override]"),
        "{}",
        stderr(&out)
    );
}
