//! `flake-migrate check`: the guard over the working tree, for CI.

mod guard_support;
mod support;

use guard_support::{migrated_seed, stderr, stdout};

const CARBON: &str = "machines/carbon.nix";

/// Snapshots live with the guard's fixtures.
fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "fixtures/guard/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn a_freshly_migrated_repository_passes_every_rule() {
    let repo = migrated_seed();
    let out = repo.fm(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("ok: 8 rule(s) pass"),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value = serde_json::from_str(&repo.fm_ok(&["check", "--json"])).unwrap();
    assert_eq!(json, serde_json::json!({ "version": 1, "violations": [] }));
}

#[test]
fn violations_are_reported_rustc_style_with_exit_code_4() {
    let repo = migrated_seed();
    repo.edit(
        CARBON,
        "    llama-cpp-cuda # local models on the 4070\n",
        "    (llama-cpp.override { cudaSupport = true; }) # local models on the 4070\n",
    );
    repo.edit(
        "flake.nix",
        "    llama-cpp.inputs.nixpkgs.follows = \"nixpkgs\";\n",
        "",
    );
    let out = repo.fm(&["check"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    snapshot("check_human", &stdout(&out));
}

#[test]
fn json_lists_file_line_column_rule_message_help_and_allowed() {
    let repo = migrated_seed();
    repo.edit(
        CARBON,
        "    llama-cpp-cuda # local models on the 4070\n",
        "    llama-cpp # flake-migrate: allow nixpkgs-llama-cpp\n    pkgs.llama-cpp\n",
    );
    let out = repo.fm(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    snapshot("check_json", &serde_json::to_string_pretty(&items).unwrap());
}

#[test]
fn paths_restrict_the_check() {
    let repo = migrated_seed();
    repo.edit(CARBON, "    llama-cpp-cuda #", "    llama-cpp #");
    assert_eq!(
        repo.fm(&["check", "machines/boron.nix"]).status.code(),
        Some(0)
    );
    assert_eq!(repo.fm(&["check", "machines"]).status.code(), Some(4));
    let sub = guard_support::fm_in(&repo.path().join("machines"), &["check", "carbon.nix"]);
    assert_eq!(
        sub.status.code(),
        Some(4),
        "paths are relative to the current directory"
    );
    let outside = repo.fm(&["check", "/"]);
    assert_eq!(outside.status.code(), Some(2), "{}", stderr(&outside));
}

#[test]
fn rules_can_be_listed_and_explained() {
    let repo = migrated_seed();
    let list = repo.fm_ok(&["check", "--list-rules"]);
    for id in [
        "flake-input",
        "overlay-file",
        "overlay-imported",
        "nixpkgs-llama-cpp",
        "old-override",
        "llama-cpp-fork-input",
        "llama-cpp-override",
    ] {
        assert!(list.contains(id), "{list}");
        let explained = repo.fm_ok(&["check", "--explain", id]);
        assert!(explained.starts_with(&format!("{id}: ")), "{explained}");
        assert!(explained.contains(&format!("flake-migrate: allow {id}")));
    }
    let unknown = repo.fm(&["check", "--explain", "no-such-rule"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("nixpkgs-llama-cpp"),
        "lists the rules"
    );
}

#[test]
fn without_config_or_applied_steps_there_is_nothing_to_check() {
    let repo = guard_support::seed();
    let out = repo.fm(&["check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("no flake-migrate.toml"),
        "{}",
        stdout(&out)
    );
    repo.fm_ok(&[
        "init",
        "--host",
        "carbon=cuda",
        "--host",
        "beryllium=vulkan",
    ]);
    let out = repo.fm(&["check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("no step is applied yet"),
        "{}",
        stdout(&out)
    );
}
