//! `--json` on `status`, `check`, `init` and `up --dry-run`: one versioned
//! shape each, as the README documents (`verify --json`, which needs nix,
//! is in verify_hosts.rs).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn fm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flake-migrate"))
        .current_dir(dir)
        .args(args)
        .env("PATH", "/usr/bin:/bin")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The example fleet, migrated up to step 5 (`flake-migrate demo`).
fn demo(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("fleet");
    let out = fm(tmp, &["demo", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn status_json_has_the_hosts_with_variants_and_full_commit_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let v = json(&fm(&dir, &["--no-eval", "status", "--json"]));
    assert_eq!(v["version"], 1);
    let hosts: Vec<(String, String)> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_string(),
                h["variant"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            ("beryllium".to_string(), "vulkan".to_string()),
            ("carbon".to_string(), "cuda".to_string())
        ]
    );
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 7);
    let repo = git2::Repository::open(&dir).unwrap();
    for step in &steps[..5] {
        assert!(
            step["state"] == "applied" || step["state"] == "adopted",
            "{step:#}"
        );
        let id = step["commit"].as_str().unwrap();
        assert_eq!(id.len(), 40, "a full commit id: {id}");
        repo.find_commit(git2::Oid::from_str(id).unwrap()).unwrap();
    }
    assert!(steps[5].get("commit").is_none(), "{:#}", steps[5]);
}

#[test]
fn status_json_before_init_has_no_hosts_and_every_step_pending() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("flake.nix"), "{ outputs = _: { }; }\n").unwrap();
    git2::Repository::init(tmp.path()).unwrap();
    let v = json(&fm(tmp.path(), &["--no-eval", "status", "--json"]));
    assert_eq!(v["version"], 1);
    assert_eq!(v["hosts"], serde_json::json!([]));
    let steps = v["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["state"] == "pending"), "{v:#}");
}

#[test]
fn check_json_lists_violations_under_a_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let clean = fm(&dir, &["check", "--json"]);
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(
        json(&clean),
        serde_json::json!({ "version": 1, "violations": [] })
    );

    let carbon = dir.join("machines/carbon.nix");
    let text = std::fs::read_to_string(&carbon).unwrap();
    std::fs::write(&carbon, text.replacen("llama-cpp-cuda", "llama-cpp", 1)).unwrap();
    let dirty = fm(&dir, &["check", "--json"]);
    assert_eq!(dirty.status.code(), Some(4));
    let v = json(&dirty);
    assert_eq!(v["version"], 1);
    let first = &v["violations"][0];
    assert_eq!(first["file"], "machines/carbon.nix");
    assert_eq!(first["rule"], "nixpkgs-llama-cpp");
    assert_eq!(first["allowed"], false);
    assert!(
        first["line"].is_u64() && first["column"].is_u64(),
        "{first:#}"
    );
}

#[test]
fn init_json_suggests_without_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let head_before = git2::Repository::open(&dir)
        .unwrap()
        .head()
        .unwrap()
        .target();
    let v = json(&fm(&dir, &["--no-eval", "init", "--json"]));
    assert_eq!(v["version"], 1);
    assert_eq!(v["evaluated"], false);
    let hosts = v["hosts"].as_array().unwrap();
    let variant = |name: &str| {
        hosts
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {v:#}"))["variant"]
            .clone()
    };
    assert_eq!(variant("carbon"), "cuda");
    assert_eq!(variant("boron"), Value::Null);
    assert!(hosts.iter().all(|h| h["evidence"].is_string()), "{v:#}");
    assert!(v["notes"].is_array());
    let head_after = git2::Repository::open(&dir)
        .unwrap()
        .head()
        .unwrap()
        .target();
    assert_eq!(head_before, head_after, "init --json commits nothing");

    let refused = fm(&dir, &["--no-eval", "init", "--json", "--yes"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "--json writes nothing, so not with --yes"
    );
}

#[test]
fn up_dry_run_json_has_each_step_with_its_files_and_diffs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let down = fm(&dir, &["--no-eval", "down", "--all"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let head = git2::Repository::open(&dir)
        .unwrap()
        .head()
        .unwrap()
        .target()
        .unwrap();
    let out = fm(
        &dir,
        &["--no-eval", "up", "--dry-run", "--json", "--to", "6"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["version"], 1);
    assert_eq!(v["blocked"], serde_json::json!([]));
    let steps = v["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        &ids[..2],
        ["0001-flake-input", "0002-overlay-file"],
        "{v:#}"
    );
    assert_eq!(steps[0]["action"], "apply");
    assert_eq!(steps[0]["lock_flake"], true);
    let flake = &steps[0]["files"][0];
    assert_eq!(flake["path"], "flake.nix");
    assert_eq!(flake["change"], "modify");
    assert!(
        flake["diff"].as_str().unwrap().contains("+    llama-cpp"),
        "{flake:#}"
    );
    assert_eq!(steps[1]["files"][0]["change"], "create", "{:#}", steps[1]);
    assert!(steps[3]["notes"].as_array().is_some(), "{:#}", steps[3]);
    assert_eq!(steps.last().unwrap()["action"], "verify", "{v:#}");
    assert_eq!(
        git2::Repository::open(&dir)
            .unwrap()
            .head()
            .unwrap()
            .target()
            .unwrap(),
        head,
        "nothing written"
    );
    // Without --to the switch, which needs a machine, is blocked after them.
    let out = fm(&dir, &["--no-eval", "up", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    assert_eq!(v["steps"].as_array().unwrap().len(), steps.len(), "{v:#}");
    assert_eq!(v["blocked"][0]["step"], "0007-switch", "{v:#}");
    // `--json` is only for a dry run.
    let out = fm(&dir, &["--no-eval", "up", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn up_dry_run_json_lists_blocked_steps_and_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let down = fm(&dir, &["--no-eval", "down", "--all"]);
    assert!(down.status.success());
    // A module shared by hosts of different variants blocks 0004.
    let shared = std::fs::read_to_string(dir.join("home/dan.nix")).unwrap();
    std::fs::write(
        dir.join("home/dan.nix"),
        shared.replacen("    bat\n", "    bat\n    llama-cpp\n", 1),
    )
    .unwrap();
    let repo = git2::Repository::open(&dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "shared", &tree, &[&parent])
        .unwrap();
    let out = fm(&dir, &["--no-eval", "up", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    assert_eq!(v["version"], 1);
    let blocked = v["blocked"].as_array().unwrap();
    assert_eq!(blocked[0]["step"], "0004-host-packages", "{v:#}");
    assert!(
        blocked[0]["reason"]
            .as_str()
            .unwrap()
            .contains("home/dan.nix"),
        "{v:#}"
    );
    assert!(!blocked[0]["help"].as_str().unwrap().is_empty());
}
