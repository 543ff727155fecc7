//! The installed hook through real `git commit`: it checks what is staged,
//! not the working tree, and points at the staged content.

mod guard_support;
mod support;

use guard_support::{Repo, migrated_seed, stderr};

const OLD: &str = "nixos/pkgs/llama-cpp-variants.nix";
const CARBON: &str = "machines/carbon.nix";
const GOOD_LINE: &str = "    llama-cpp-cuda # local models on the 4070\n";
const BAD_LINE: &str = "    llama-cpp # local models on the 4070\n";

fn guarded() -> Repo {
    let repo = migrated_seed();
    repo.fm_ok(&["hook", "install"]);
    repo
}

fn blocked(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "the commit went through:\n{}",
        stderr(out)
    );
    stderr(out)
}

fn passed(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "the commit was blocked:\n{}",
        stderr(out)
    );
}

#[test]
fn a_staged_regression_is_blocked_even_when_the_working_tree_is_clean() {
    let repo = guarded();
    repo.edit(CARBON, GOOD_LINE, BAD_LINE);
    repo.git_ok(&["add", CARBON]);
    repo.edit(CARBON, BAD_LINE, GOOD_LINE);
    let head = repo.head();
    let err = blocked(&repo.commit("use nixpkgs' llama-cpp", &[]));
    assert!(
        err.contains("error[nixpkgs-llama-cpp]: reference to nixpkgs' llama-cpp"),
        "{err}"
    );
    assert!(err.contains("--> machines/carbon.nix:22:5"), "{err}");
    assert!(
        err.contains("help: use `llama-cpp-cuda` instead (carbon uses cuda)"),
        "{err}"
    );
    assert_eq!(repo.head(), head);
}

#[test]
fn an_unstaged_regression_does_not_block() {
    let repo = guarded();
    repo.edit(CARBON, GOOD_LINE, BAD_LINE);
    repo.write("notes.md", "unrelated\n");
    repo.git_ok(&["add", "notes.md"]);
    passed(&repo.commit("unrelated change", &[]));
    // The regression is still in the working tree, and check sees it.
    let check = repo.fm(&["check"]);
    assert_eq!(check.status.code(), Some(4));
}

#[test]
fn partial_staging_blocks_only_the_staged_hunk() {
    let repo = guarded();
    // Two edits in one file: a harmless one staged, the regression not.
    repo.edit(CARBON, "    kitty\n", "    kitty\n    htop\n");
    repo.git_ok(&["add", CARBON]);
    repo.edit(CARBON, GOOD_LINE, BAD_LINE);
    passed(&repo.commit("add htop", &[]));

    // The other way round: the regression staged, a harmless edit not; the
    // position is the staged content's, not the working tree's.
    repo.git_ok(&["add", CARBON]);
    repo.edit(
        CARBON,
        "{\n",
        "{\n# a comment that shifts lines in the working tree\n\n\n",
    );
    let err = blocked(&repo.commit("regress", &[]));
    assert!(err.contains("--> machines/carbon.nix:22:5"), "{err}");
}

#[test]
fn commit_all_checks_git_s_temporary_index() {
    let repo = guarded();
    repo.edit(CARBON, GOOD_LINE, BAD_LINE);
    let err = blocked(&repo.commit("regress with -a", &["-a"]));
    assert!(err.contains("error[nixpkgs-llama-cpp]"), "{err}");
    // `git commit PATH` uses a temporary index too.
    let err = blocked(&repo.commit("regress with a path", &["--", CARBON]));
    assert!(err.contains("error[nixpkgs-llama-cpp]"), "{err}");
}

#[test]
fn the_deleted_override_file_staged_back_is_blocked() {
    let repo = guarded();
    let deleting = repo
        .git_ok(&["log", "--format=%H", "--grep=^Migration: 0005", "-n1"])
        .trim()
        .to_string();
    repo.git_ok(&["checkout", &format!("{deleting}~1"), "--", OLD]);
    let err = blocked(&repo.commit("bring it back", &[]));
    assert!(
        err.contains(&format!(
            "error[old-override]: the old override file {OLD} is back"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("--> {OLD}:1:1")), "{err}");
    assert!(err.contains(&format!("git rm {OLD}")), "{err}");
    assert!(err.contains("error[llama-cpp-override]"), "{err}");
}

#[test]
fn a_rename_onto_the_old_override_path_is_blocked_and_named() {
    let repo = guarded();
    repo.write("nixos/pkgs/mine.nix", "final: prev: { }\n");
    repo.git_ok(&["add", "nixos/pkgs/mine.nix"]);
    passed(&repo.commit("add mine", &[]));
    repo.git_ok(&["mv", "nixos/pkgs/mine.nix", OLD]);
    let err = blocked(&repo.commit("rename", &[]));
    assert!(err.contains("renamed from nixos/pkgs/mine.nix"), "{err}");
}

#[test]
fn renaming_the_overlay_away_is_blocked() {
    let repo = guarded();
    repo.git_ok(&[
        "mv",
        "nixos/overlays/llama-cpp.nix",
        "nixos/overlays/llama.nix",
    ]);
    let err = blocked(&repo.commit("rename overlay", &[]));
    assert!(
        err.contains(
            "error[overlay-file]: the llama.cpp overlay nixos/overlays/llama-cpp.nix is missing"
        ),
        "{err}"
    );
    assert!(err.contains("renamed to nixos/overlays/llama.nix"), "{err}");
}

#[test]
fn dropping_a_host_s_overlay_import_is_blocked() {
    let repo = guarded();
    let flake = repo.read("flake.nix");
    // The import 0003 added to beryllium's inline overlay module, however
    // it spelled the argument set.
    let at = flake.find("./machines/beryllium.nix").unwrap();
    let start = flake[..at]
        .rfind(" (import ./nixos/overlays/llama-cpp.nix")
        .unwrap();
    let end = start + flake[start..].find(")").unwrap() + 1;
    let edited = format!("{}{}", &flake[..start], &flake[end..]);
    repo.write("flake.nix", &edited);
    let err = blocked(&repo.commit("drop import", &["-a"]));
    assert!(
        err.contains("error[overlay-imported]: host `beryllium` no longer imports the overlay"),
        "{err}"
    );
    assert!(!err.contains("host `carbon`"), "{err}");
}

#[test]
fn the_allow_comment_lets_an_intentional_exception_through() {
    let repo = guarded();
    repo.edit(
        CARBON,
        GOOD_LINE,
        "    # flake-migrate: allow nixpkgs-llama-cpp\n    llama-cpp # the CPU build, for comparison\n",
    );
    passed(&repo.commit("keep nixpkgs' build on purpose", &["-a"]));
    let json = repo.fm_ok(&["check", "--json"]);
    assert_eq!(
        guard_support::json_locations(&json),
        ["machines/carbon.nix:23:5 nixpkgs-llama-cpp (allowed)"]
    );
}

#[test]
fn no_verify_bypasses_the_hook_and_check_and_status_then_report_it() {
    let repo = guarded();
    repo.edit(CARBON, GOOD_LINE, BAD_LINE);
    passed(&repo.commit("bypass", &["-a", "--no-verify"]));
    let check = repo.fm(&["check"]);
    assert_eq!(check.status.code(), Some(4));
    let status = repo.fm_ok(&["status"]);
    assert!(status.contains("0004  drifted"), "{status}");
}

#[test]
fn commits_that_touch_nothing_guarded_pass() {
    let repo = guarded();
    repo.edit(
        "machines/boron.nix",
        "{",
        "# boron: still no llama.cpp here\n{",
    );
    repo.write("docs/notes.md", "hello\n");
    repo.git_ok(&["add", "-A"]);
    passed(&repo.commit("docs", &[]));
    // Deleting a file no rule cares about passes too.
    repo.git_ok(&["rm", "-q", "docs/notes.md"]);
    passed(&repo.commit("rm docs", &[]));
}

#[test]
fn before_any_step_is_applied_the_hook_lets_everything_through() {
    let repo = guard_support::seed();
    repo.fm_ok(&["hook", "install"]);
    repo.edit(CARBON, GOOD_LINE, BAD_LINE);
    passed(&repo.commit("anything goes", &["-a"]));
}
