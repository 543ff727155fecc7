//! `flake-migrate demo` end to end: it must work on a fresh machine, with
//! no nix and no git identity.

use std::process::Command;

fn demo_in(dir: &std::path::Path, home: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .arg("demo")
        .arg(dir)
        // No nix, no git CLI, no identity: only the binary.
        .env("PATH", "/nonexistent")
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn demo_migrates_the_example_fleet_and_shows_a_blocked_regression() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fleet");
    let out = demo_in(&dir, tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("carbon     cuda"), "{stdout}");
    assert!(stdout.contains("beryllium  vulkan"), "{stdout}");
    assert!(stdout.contains("5 of 7 checklist items done"), "{stdout}");
    assert!(stdout.contains("error[nixpkgs-llama-cpp]"), "{stdout}");
    assert!(stdout.contains("machines/carbon.nix:22:5"), "{stdout}");

    let repo = git2::Repository::open(&dir).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_head().unwrap();
    let trailers: Vec<String> = walk
        .map(|oid| repo.find_commit(oid.unwrap()).unwrap())
        .filter_map(|c| {
            c.message()
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("Migration: ").map(String::from))
        })
        .collect();
    assert_eq!(
        trailers,
        vec![
            "0005-remove-old-override",
            "0004-host-packages",
            "0003-import-overlay",
            "0002-overlay-file",
            "0001-flake-input"
        ]
    );
    // The regression shown was put back: the tree is clean.
    let statuses = repo.statuses(None).unwrap();
    assert_eq!(
        statuses.iter().filter(|s| !s.status().is_ignored()).count(),
        0
    );
    assert!(dir.join(".git/hooks/pre-commit").exists());
    assert!(!dir.join("nixos/pkgs/llama-cpp-variants.nix").exists());
}

#[test]
fn demo_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let out = demo_in(tmp.path(), tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}
