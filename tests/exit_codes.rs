//! The README's exit-code table, row by row, against the real binary: for
//! each code at least one real failure, in every command where that kind
//! of failure applies.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_flake-migrate");

fn run(dir: &Path, args: &[&str], path: Option<&Path>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test User")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test User")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid");
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.output().expect("run flake-migrate")
}

/// Each of `commands` (arguments after `--no-eval`) exits `code` in `dir`,
/// saying `says` on stderr.
#[track_caller]
fn expect(code: i32, dir: &Path, commands: &[&[&str]], says: &str, path: Option<&Path>) {
    for args in commands {
        let mut all = vec!["--no-eval"];
        all.extend(*args);
        let out = run(dir, &all, path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test User")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test User")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// The example fleet migrated up to step 5 (`flake-migrate demo`).
fn fleet(tmp: &Path) -> PathBuf {
    let dir = tmp.join("fleet");
    let out = run(tmp, &["demo", dir.to_str().unwrap()], None);
    assert!(out.status.success(), "{out:?}");
    dir
}

fn append(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    let mut old = fs::read_to_string(&path).unwrap();
    old.push_str(text);
    fs::write(path, old).unwrap();
}

/// `file` with `from` replaced by `to`, committed.
fn commit_edit(dir: &Path, file: &str, from: &str, to: &str) {
    let text = fs::read_to_string(dir.join(file)).unwrap();
    assert!(text.contains(from), "{file}: {from:?}");
    fs::write(dir.join(file), text.replacen(from, to, 1)).unwrap();
    git(dir, &["commit", "-qam", "edit"]);
}

#[test]
fn zero_is_success() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fleet(tmp.path());
    expect(
        0,
        &dir,
        &[
            &["status"],
            &["check"],
            &["init"],
            &["down", "--dry-run"],
            &["up", "--dry-run", "--to", "5"],
        ],
        "",
        None,
    );
}

#[test]
fn one_is_an_error_the_message_explains() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a repository to work on.
    let plain = tmp.path().join("plain");
    fs::create_dir(&plain).unwrap();
    expect(
        1,
        &plain,
        &[
            &["status"],
            &["up"],
            &["down"],
            &["verify"],
            &["check"],
            &["hook", "run"],
            &["init", "--host", "a=cpu"],
            &["confirm", "--host", "a"],
        ],
        "not inside a git repository",
        None,
    );
    // A repository without a flake, or not yet configured: run `init` (in
    // the right place) first. A state of the repository, not a usage error.
    let noflake = tmp.path().join("noflake");
    fs::create_dir(&noflake).unwrap();
    git(&noflake, &["init", "-q"]);
    git(&noflake, &["commit", "-q", "--allow-empty", "-m", "empty"]);
    expect(
        1,
        &noflake,
        &[&["init"], &["init", "--json"]],
        "no flake.nix",
        None,
    );
    let dir = fleet(tmp.path());
    git(&dir, &["rm", "-q", "flake-migrate.toml"]);
    git(&dir, &["commit", "-qm", "unconfigure"]);
    expect(
        1,
        &dir,
        &[
            &["up"],
            &["up", "--dry-run", "--json"],
            &["verify"],
            &["verify", "--json"],
            &["switch", "--host", "carbon", "--force"],
            &["confirm", "--host", "carbon"],
        ],
        "no flake-migrate.toml",
        None,
    );
    git(&dir, &["revert", "--no-edit", "HEAD"]);
    // Uncommitted changes where a command would commit.
    append(&dir, "flake.nix", "# local edit\n");
    expect(
        1,
        &dir,
        &[
            &["up"],
            &["down"],
            &["verify"],
            &["init", "--host", "carbon=vulkan"],
        ],
        "uncommitted changes",
        None,
    );
}

#[test]
fn two_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fleet(tmp.path());
    let unknown_flag: Vec<Vec<&str>> = [
        "init", "status", "up", "verify", "switch", "confirm", "down", "check",
    ]
    .iter()
    .map(|c| vec![*c, "--no-such-flag"])
    .chain([
        vec!["hook", "run", "--no-such-flag"],
        vec!["demo", "--no-such-flag"],
    ])
    .collect();
    let unknown_flag: Vec<&[&str]> = unknown_flag.iter().map(Vec::as_slice).collect();
    expect(2, &dir, &unknown_flag, "--no-such-flag", None);
    expect(
        2,
        &dir,
        &[
            &["init", "--host", "nope=cuda"],
            &["switch", "--host", "nope"],
            &["confirm", "--host", "nope"],
        ],
        "no host `nope`",
        None,
    );
    expect(2, &dir, &[&["init", "--host", "carbon=tpu"]], "tpu", None);
    // A variant upstream does not build for the machine: Metal is Apple
    // Silicon's, and carbon is a NixOS host.
    expect(
        2,
        &dir,
        &[&["init", "--host", "carbon=metal"]],
        "Apple Silicon",
        None,
    );
    expect(
        2,
        &dir,
        &[
            &["up", "--to", "99"],
            &["up", "--dry-run", "--json", "--to", "99"],
            &["down", "--to", "99"],
        ],
        "no migration `99`",
        None,
    );
    expect(
        2,
        &dir,
        &[
            &["-C", "missing", "status"],
            &["-C", "missing", "up"],
            &["-C", "flake.nix", "check"],
        ],
        "cannot change to",
        None,
    );
    expect(
        2,
        &dir,
        &[&["check", "missing.nix"]],
        "does not exist",
        None,
    );
    expect(
        2,
        &dir,
        &[&["check", "--explain", "nope"]],
        "no guard rule",
        None,
    );
    expect(2, &dir, &[&["completions", "nosh"]], "nosh", None);
    expect(2, &dir, &[&["up", "--json"]], "--dry-run", None);
}

#[test]
fn three_is_a_step_that_needs_manual_action() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fleet(tmp.path());
    let down = run(&dir, &["--no-eval", "down", "--all"], None);
    assert!(down.status.success(), "{down:?}");
    // dan's profile is shared by carbon (cuda) and beryllium (vulkan).
    commit_edit(
        &dir,
        "home/dan.nix",
        "    bat\n",
        "    bat\n    llama-cpp\n",
    );
    let before = fs::read_to_string(dir.join("flake.nix")).unwrap();
    expect(
        3,
        &dir,
        &[&["up"], &["up", "--dry-run"]],
        "step 0004-host-packages needs manual action",
        None,
    );
    // JSON has the blocked steps on stdout.
    expect(3, &dir, &[&["up", "--dry-run", "--json"]], "", None);
    assert_eq!(
        fs::read_to_string(dir.join("flake.nix")).unwrap(),
        before,
        "nothing written"
    );
}

#[test]
fn four_is_guard_violations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fleet(tmp.path());
    let carbon = fs::read_to_string(dir.join("machines/boron.nix")).unwrap();
    fs::write(
        dir.join("machines/boron.nix"),
        carbon.replacen(
            "networking.hostName = \"boron\";",
            "networking.hostName = \"boron\";\n  environment.systemPackages = [ pkgs.llama-cpp ];",
            1,
        ),
    )
    .unwrap();
    expect(4, &dir, &[&["check"], &["check", "--json"]], "", None);
    git(&dir, &["add", "machines/boron.nix"]);
    expect(4, &dir, &[&["hook", "run"]], "", None);
}

#[test]
fn five_is_nix_or_the_switch_program_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fleet(tmp.path());
    let empty = tmp.path().join("empty-path");
    fs::create_dir(&empty).unwrap();
    let no_nix = Some(empty.as_path());
    expect(
        5,
        &dir,
        &[&["verify"], &["verify", "--json"], &["up"]],
        "`nix` is not installed",
        no_nix,
    );
    expect(
        5,
        &dir,
        &[&["switch", "--host", "carbon", "--force"]],
        "nixos-rebuild",
        no_nix,
    );
}
