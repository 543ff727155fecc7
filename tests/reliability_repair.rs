//! Issue 13, continued: host modules that are symlinks (written through
//! when they name a tracked file inside the repository, refused when they
//! leave it), and `up` repairing a step that drifted. The real binary
//! against real repositories built from the `seed` fixture, on the static
//! reading (`--no-eval`).

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use support::detailed::Run;
use support::*;

const SEED_HOSTS: [&str; 4] = ["--host", "carbon=cuda", "--host", "beryllium=vulkan"];

/// `flake-migrate -C dir --no-eval args…` with the user's git and nix
/// config shut out.
fn fm(dir: &Path, args: &[&str]) -> Run {
    fm_command(dir)
        .arg("--no-eval")
        .args(args)
        .output()
        .expect("run flake-migrate")
        .into()
}

/// What git tracks, with modes and blobs: a link replaced by a copy shows
/// here even when the bytes read through it are the same.
fn index_entries(dir: &Path) -> String {
    git(dir, &["ls-files", "--stage"])
}

fn init(dir: &Path) {
    let mut args = vec!["init"];
    args.extend(SEED_HOSTS);
    fm(dir, &args).ok();
}

/// The module every seed host imports, which 0005 edits.
const SHARED: &str = "nixos/default.nix";

/// The seed fixture with [`SHARED`] made a symlink: `place` puts the
/// module somewhere and returns what the link says; committed and
/// configured.
fn seed_with_linked_module(place: impl FnOnce(&Path, &str) -> PathBuf) -> TempRepo {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let module = repo.read(SHARED);
    let target = place(dir, &module);
    fs::remove_file(dir.join(SHARED)).unwrap();
    symlink(target, dir.join(SHARED)).unwrap();
    repo.commit_all("the shared module is a link");
    init(dir);
    repo
}

// ---------------------------------------------------------------------------
// Symlinks

#[test]
fn a_linked_host_module_inside_the_repository_is_edited_at_its_target() {
    let repo = seed_with_linked_module(|dir, module| {
        fs::write(dir.join("nixos/common.nix"), module).unwrap();
        PathBuf::from("common.nix")
    });
    let dir = repo.path();
    let (before_bytes, before_index) = (tree_bytes(dir), index_entries(dir));
    let module = repo.read("nixos/common.nix");

    fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    let link = dir.join(SHARED);
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("common.nix"));
    assert!(
        index_entries(dir).contains("120000"),
        "the link stays mode 120000:\n{}",
        index_entries(dir)
    );
    let edited = repo.read("nixos/common.nix");
    assert_ne!(edited, module, "the target was edited");
    assert!(!edited.contains("llama-cpp-variants.nix)"), "{edited}");
    assert!(nix_parses(&dir.join("nixos/common.nix")));
    assert_eq!(porcelain(dir), "");

    fm(dir, &["down", "--all"]).ok();
    assert_same_tree(&tree_bytes(dir), &before_bytes);
    assert_eq!(index_entries(dir), before_index);
    assert_eq!(porcelain(dir), "");
}

/// `up` refuses with exit 3, before writing anything, naming the link,
/// where it is imported, why and what to do; the file outside is left
/// alone.
#[track_caller]
fn assert_link_refused(repo: &TempRepo, outside: &Path) {
    let dir = repo.path();
    let outside_before = fs::read(outside).unwrap();
    let before = (head(dir), tree_bytes(dir), index_entries(dir));
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 3, "{run:#?}");
    for said in [
        "nixos/default.nix",
        "flake.nix:44:11:",
        "is a symlink to",
        "never writes outside the repository",
        "cp --remove-destination",
    ] {
        assert!(run.stderr.contains(said), "says {said:?}: {run:#?}");
    }
    let root = dir.canonicalize().unwrap();
    assert!(
        run.stderr.contains(&format!("outside {}", root.display())),
        "says where it leaves: {run:#?}"
    );
    assert_eq!((head(dir), tree_bytes(dir), index_entries(dir)), before);
    assert_eq!(porcelain(dir), "");
    assert_eq!(fs::read(outside).unwrap(), outside_before);

    let status = fm(dir, &["status"]);
    assert!(
        status.stdout.contains("is a symlink to"),
        "status shows the refusal: {status:#?}"
    );
}

#[test]
fn a_host_module_linked_by_absolute_path_outside_the_repository_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("common.nix");
    let repo = seed_with_linked_module(|_, module| {
        fs::write(&outside, module).unwrap();
        outside.clone()
    });
    assert_link_refused(&repo, &outside);
}

#[test]
fn a_host_module_linked_through_dotdot_outside_the_repository_is_refused() {
    let mut outside = PathBuf::new();
    let repo = seed_with_linked_module(|dir, module| {
        // Beside the work tree, two levels up from `nixos/`.
        let name = format!("{}-common.nix", dir.file_name().unwrap().to_string_lossy());
        outside = dir.parent().unwrap().join(&name);
        fs::write(&outside, module).unwrap();
        Path::new("../..").join(name)
    });
    let _cleanup = Removes(outside.clone());
    assert_link_refused(&repo, &outside);
}

/// Removes a file outside any temporary directory when the test ends.
struct Removes(PathBuf);

impl Drop for Removes {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Drift repaired by `up`

/// The seed fixture configured, with every edit step applied.
fn seed_migrated() -> TempRepo {
    let repo = fixture_repo("seed");
    init(repo.path());
    fm(repo.path(), &["up", "--no-lock", "--to", "5"]).ok();
    repo
}

/// carbon's overlay import, as 0003 writes it.
const CARBON_IMPORT: &str =
    "[overlay-stable (import ./nixos/overlays/llama-cpp.nix {inherit inputs;})]";

/// Undoes 0003 for carbon by hand and changes the description, committed
/// past the hook (`--no-verify`).
fn drift_0003(repo: &TempRepo) {
    let flake = repo.read("flake.nix");
    assert!(flake.contains(CARBON_IMPORT), "{flake}");
    let flake = flake
        .replacen(CARBON_IMPORT, "[overlay-stable]", 1)
        .replace("dan's NixOS machines", "dan's NixOS machines (by hand)");
    repo.write("flake.nix", &flake);
    git(repo.path(), &["commit", "-qam", "by hand", "--no-verify"]);
}

fn step_state(status: &str, id: &str) -> String {
    status
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no {id} in {status}"))
        .to_string()
}

#[test]
fn up_repairs_a_drifted_step_in_a_commit_of_its_own_and_down_all_still_restores() {
    let repo = fixture_repo("seed");
    let dir = repo.path();
    init(dir);
    let configured = tree_bytes(dir);
    fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    drift_0003(&repo);
    let status = fm(dir, &["status"]).stdout;
    assert!(step_state(&status, "0003").contains("drifted"), "{status}");

    let before = head(dir);
    let dry = fm(dir, &["up", "--no-lock", "--to", "5", "--dry-run"]).ok();
    assert!(
        dry.stdout.contains("0003-import-overlay")
            && dry.stdout.contains("drifted; would be applied again"),
        "{dry:#?}"
    );
    assert_eq!(head(dir), before, "a dry run commits nothing");

    let up = fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    assert!(
        up.stdout.contains("it had drifted; applied again"),
        "{up:#?}"
    );
    assert_eq!(
        git(dir, &["rev-list", "--count", &format!("{before}..HEAD")]).trim(),
        "1",
        "one commit of its own"
    );
    let message = git(dir, &["log", "-1", "--format=%B"]);
    let checksum = git(
        dir,
        &[
            "log",
            "--format=%(trailers:key=Migration-Checksum,valueonly)",
            "--grep",
            "^Import the llama.cpp overlay",
            "-1",
        ],
    );
    assert!(message.starts_with("Repair: "), "{message}");
    assert!(
        message.contains("\nMigration: 0003-import-overlay\n"),
        "{message}"
    );
    assert!(
        message.contains(&format!("Migration-Checksum: {}", checksum.trim())),
        "{message}"
    );
    assert!(repo.read("flake.nix").contains(CARBON_IMPORT));
    assert!(
        repo.read("flake.nix").contains("(by hand)"),
        "the rest of the hand edit stays"
    );
    let status = fm(dir, &["status"]).stdout;
    assert!(!status.contains("drifted"), "{status}");
    assert_eq!(porcelain(dir), "");

    let again = fm(dir, &["up", "--no-lock", "--to", "5"]).ok();
    assert!(again.stdout.contains("nothing to do"), "{again:#?}");

    fm(dir, &["down", "--all"]).ok();
    let mut expected = configured;
    let flake = String::from_utf8(expected[Path::new("flake.nix")].clone()).unwrap();
    expected.insert(
        "flake.nix".into(),
        flake
            .replace("dan's NixOS machines", "dan's NixOS machines (by hand)")
            .into_bytes(),
    );
    assert_same_tree(&tree_bytes(dir), &expected);
    assert_eq!(porcelain(dir), "");
}

#[test]
fn up_to_a_step_repairs_the_drifted_one_below_it() {
    let repo = seed_migrated();
    let dir = repo.path();
    // 0004 undone by hand for carbon: nixpkgs' plain build again.
    let host = repo.read("machines/carbon.nix");
    repo.write(
        "machines/carbon.nix",
        &host.replace("llama-cpp-cuda #", "llama-cpp #"),
    );
    git(dir, &["commit", "-qam", "by hand", "--no-verify"]);
    assert!(step_state(&fm(dir, &["status"]).stdout, "0004").contains("drifted"));

    let up = fm(dir, &["up", "--no-lock", "--to", "4"]).ok();
    assert!(up.stdout.contains("0004-host-packages"), "{up:#?}");
    assert!(
        repo.read("machines/carbon.nix")
            .contains("llama-cpp-cuda #")
    );
    let message = git(dir, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("\nMigration: 0004-host-packages\n"),
        "{message}"
    );
    assert!(message.contains("Migration-Checksum: "), "{message}");
    assert!(!fm(dir, &["status"]).stdout.contains("drifted"));
}

#[test]
fn a_drift_up_cannot_repair_is_refused_with_the_place_and_nothing_is_written() {
    let repo = seed_migrated();
    let dir = repo.path();
    // 0003 drifted (repairable) and 0004 drifted in a module shared by
    // hosts of different variants (not): the run writes neither.
    drift_0003(&repo);
    let shared = repo.read("nixos/default.nix");
    repo.write(
        "nixos/default.nix",
        &shared.replace("    htop\n", "    htop\n    llama-cpp\n"),
    );
    git(dir, &["commit", "-qam", "by hand", "--no-verify"]);
    let line = repo
        .read("nixos/default.nix")
        .lines()
        .position(|l| l.trim() == "llama-cpp")
        .unwrap()
        + 1;

    let before = (head(dir), tree_bytes(dir));
    let run = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(run.code, 3, "{run:#?}");
    for said in [
        "0004-host-packages",
        "recorded as applied, but the files drifted from it",
        &format!("nixos/default.nix:{line}:5"),
        "shared by hosts of different variants",
        "help: 0004-host-packages: move the reference out of nixos/default.nix",
        "nothing was written",
    ] {
        assert!(run.stderr.contains(said), "says {said:?}: {run:#?}");
    }
    assert_eq!((head(dir), tree_bytes(dir)), before);
    assert_eq!(porcelain(dir), "");
}
