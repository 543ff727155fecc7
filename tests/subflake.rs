//! A flake below the repository root (`configs/nixos/flake.nix`): running
//! there, or with `-C configs/nixos`, migrates that flake. The config and
//! the record sit beside it, the commits are the enclosing repository's, and
//! the guard (check and the hook) reads the flake as its root.

mod guard_support;
#[macro_use]
mod support;

use std::process::Command;

use guard_support::{Repo, empty_repo, fm_in, stderr, stdout};

const SUB: &str = "configs/nixos";

/// The seed fixture under configs/nixos of a repository that holds other
/// things too.
fn nested_seed() -> Repo {
    let repo = empty_repo();
    std::fs::create_dir_all(repo.path().join(SUB)).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", support::fixture_source("seed").display()))
        .arg(repo.path().join(SUB))
        .status()
        .expect("cp");
    assert!(status.success());
    repo.write("docs/notes.md", "not nix\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-q", "-m", "import the seed below the root"]);
    repo
}

fn fm_sub(repo: &Repo, args: &[&str]) -> std::process::Output {
    fm_in(&repo.path().join(SUB), args)
}

#[track_caller]
fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}):\n{}{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn a_flake_below_the_root_is_migrated_in_place() {
    let repo = nested_seed();
    let original = repo.head();
    ok(fm_sub(
        &repo,
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
    ));
    assert!(repo.path().join(SUB).join("flake-migrate.toml").is_file());
    assert!(!repo.path().join("flake-migrate.toml").exists());

    ok(fm_sub(&repo, &["up", "--no-lock", "--to", "5"]));
    assert_eq!(repo.git_ok(&["status", "--porcelain"]), "", "a clean tree");
    let changed = repo.git_ok(&["diff", "--name-only", &format!("{original}..HEAD")]);
    assert!(!changed.is_empty());
    for path in changed.lines() {
        assert!(
            path.starts_with(&format!("{SUB}/")),
            "{path} is outside the flake"
        );
    }
    for expected in [
        "configs/nixos/.flake-migrate/state.toml",
        "configs/nixos/nixos/overlays/llama-cpp.nix",
        "configs/nixos/flake.nix",
    ] {
        assert!(
            changed.lines().any(|l| l == expected),
            "{expected} not in:\n{changed}"
        );
    }
    // The old override file is gone from the flake, not looked for at the root.
    assert!(
        !repo
            .path()
            .join(SUB)
            .join("nixos/pkgs/llama-cpp-variants.nix")
            .exists()
    );

    // status and check read the nested flake, from the root with -C too.
    let status = ok(fm_sub(&repo, &["status"]));
    assert!(status.contains("0005"), "{status}");
    assert!(!status.contains("drifted"), "{status}");
    ok(fm_in(&repo.path().join(SUB), &["check"]));

    ok(fm_sub(&repo, &["down", "--all"]));
    assert_eq!(
        repo.git_ok(&[
            "diff",
            "--stat",
            &original,
            "HEAD",
            "--",
            ".",
            ":!configs/nixos/flake-migrate.toml"
        ]),
        "",
        "down --all restores every file"
    );
}

#[test]
fn the_hook_guards_a_flake_below_the_root() {
    let repo = nested_seed();
    ok(fm_sub(
        &repo,
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
    ));
    ok(fm_sub(&repo, &["up", "--no-lock", "--to", "5"]));
    ok(repo.fm(&["hook", "install"]));

    let carbon = format!("{SUB}/machines/carbon.nix");
    repo.edit(&carbon, "llama-cpp-cuda", "llama-cpp");
    repo.git_ok(&["add", &carbon]);
    let head = repo.head();
    let out = repo.commit("use nixpkgs' llama-cpp", &[]);
    assert!(!out.status.success(), "the regression went through");
    let err = stderr(&out);
    assert!(err.contains("nixpkgs-llama-cpp"), "{err}");
    assert!(err.contains("machines/carbon.nix"), "{err}");
    assert_eq!(repo.head(), head);

    // Outside the flake nothing is checked.
    repo.git_ok(&["checkout", "-q", "--", "."]);
    repo.git_ok(&["reset", "-q"]);
    repo.write("docs/notes.md", "llama-cpp is mentioned here\n");
    repo.git_ok(&["add", "docs/notes.md"]);
    assert!(repo.commit("notes", &[]).status.success());
}

#[test]
fn a_flake_below_the_root_is_evaluated_and_verified_in_place() {
    require_nix!();
    let repo = nested_seed();
    let sub = repo.path().join(SUB);
    let init = guard_support::fm_eval_in(
        &sub,
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
    );
    let said = stdout(&init);
    assert!(init.status.success(), "{said}{}", stderr(&init));
    assert!(said.contains("(evaluated)"), "{said}");
    let up = guard_support::fm_eval_in(&sub, &["up", "--no-lock", "--to", "5"]);
    assert!(up.status.success(), "{}{}", stdout(&up), stderr(&up));
    assert!(
        repo.read(&format!("{SUB}/machines/carbon.nix"))
            .contains("llama-cpp-cuda")
    );
    // The discovery was carried to the migrated tree: status needs no nix.
    let status = Command::new(guard_support::BIN)
        .current_dir(&sub)
        .args(["status", "--json"])
        .env("PATH", "/nonexistent")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        !stderr(&status).contains("nix is not installed"),
        "{}",
        stderr(&status)
    );
}
