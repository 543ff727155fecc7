//! Checklist item 6: `flake-migrate verify` runs `nix flake check` and
//! evaluates each host against the upstream input's own packages, with real
//! nix and the offline stand-ins. The "migrated" seed is written here by
//! hand (overlay file, overlay imported by carbon and beryllium, old override
//! gone), so these tests do not depend on steps 0003–0005.

mod support;

use std::path::Path;

use assert_cmd::Command;
use support::*;

const CONFIG: &str = "[hosts]\ncarbon = \"cuda\"\nberyllium = \"vulkan\"\n";

const OVERLAY: &str = r#"# Upstream llama.cpp flake builds as llama-cpp-<variant> (portable: GGML_NATIVE off).
{ inputs }:
_final: prev:
let upstream = inputs.llama-cpp.packages.${prev.stdenv.hostPlatform.system}; in
{
  llama-cpp-cuda = upstream.cuda;
  llama-cpp-vulkan = upstream.vulkan;
}
"#;

fn replace(repo: &TempRepo, file: &str, from: &str, to: &str) {
    let text = repo.read(file);
    assert!(text.contains(from), "{file} has no {from:?}");
    repo.write(file, &text.replacen(from, to, 1));
}

/// The seed fixture as steps 0001–0005 leave it, configured, locked against
/// the stand-ins, committed.
fn migrated_seed() -> TempRepo {
    let repo = fixture_repo("seed");
    replace(
        &repo,
        "flake.nix",
        "    nixos-hardware.url = \"github:NixOS/nixos-hardware/master\";\n",
        "    nixos-hardware.url = \"github:NixOS/nixos-hardware/master\";\n\n    llama-cpp = {\n      url = \"github:ggml-org/llama.cpp\";\n      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n",
    );
    for host in ["carbon", "beryllium"] {
        replace(
            &repo,
            "flake.nix",
            &format!(
                "({{...}}: {{nixpkgs.overlays = [overlay-stable];}})\n          ./machines/{host}.nix"
            ),
            &format!(
                "({{...}}: {{nixpkgs.overlays = [overlay-stable (import ./nixos/overlays/llama-cpp.nix {{inherit inputs;}})];}})\n          ./machines/{host}.nix"
            ),
        );
    }
    replace(
        &repo,
        "nixos/default.nix",
        "      # Hardware-specific llama.cpp builds, see ./pkgs/llama-cpp-variants.nix\n      (import ./pkgs/llama-cpp-variants.nix)\n",
        "",
    );
    std::fs::remove_file(repo.path().join("nixos/pkgs/llama-cpp-variants.nix")).unwrap();
    repo.write("nixos/overlays/llama-cpp.nix", OVERLAY);
    repo.write("flake-migrate.toml", CONFIG);
    repo.commit_all("Migrate to the upstream llama.cpp flake by hand");
    flake_lock(repo.path()).unwrap();
    repo.commit_all("Lock inputs");
    repo
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn flake_migrate(repo: &Path, args: &[&str], path: Option<&str>) -> Run {
    let mut cmd = Command::cargo_bin("flake-migrate").unwrap();
    cmd.arg("-C")
        .arg(repo)
        .arg("--no-eval")
        .args(args)
        .env("NIX_CONFIG", NIX_CONFIG);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn verify(repo: &TempRepo, extra: &[String]) -> Run {
    let mut args = vec!["verify".to_string()];
    if !extra.is_empty() {
        args.push("--".into());
        args.extend(extra.iter().cloned());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    flake_migrate(repo.path(), &refs, None)
}

fn head(repo: &TempRepo) -> (git2::Oid, String) {
    let git = repo.git();
    let c = git.head().unwrap().peel_to_commit().unwrap();
    (c.id(), c.message().unwrap().to_string())
}

fn content_tree(repo: &TempRepo) -> String {
    let git = repo.git();
    flake_migrate::git::content_tree(&git, std::path::Path::new(""))
        .unwrap()
        .to_string()
}

fn step_state(repo: &TempRepo, id: &str) -> String {
    let run = flake_migrate(repo.path(), &["status", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str().unwrap().starts_with(id))
        .unwrap()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_migrated_fleet_verifies_and_the_record_goes_stale_when_the_tree_changes() {
    require_nix!();
    let repo = migrated_seed();
    // The user's nix arguments reach both nix commands (the overrides name
    // the same stand-ins the lock has; --no-build only reaches flake check).
    let mut extra = migration_override_args(repo.path());
    extra.push("--no-build".into());
    let run = verify(&repo, &extra);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("nix flake check"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("carbon (cuda): llama-cpp-cuda-0.0.0 is upstream's cuda (packages.x86_64-linux.cuda), CUDA in cmakeFlags"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "beryllium (vulkan): llama-cpp-vulkan-0.0.0 is upstream's vulkan (packages.x86_64-linux.vulkan), vulkan-loader in buildInputs"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("boron: no llama.cpp"), "{}", run.stdout);

    let (_, message) = head(&repo);
    assert!(message.contains("Migration: 0006-flake-check"), "{message}");
    let state: toml::Table = repo.read(".flake-migrate/state.toml").parse().unwrap();
    let v = state["verification"].as_table().unwrap();
    assert_eq!(v["tree"].as_str().unwrap(), content_tree(&repo));
    assert_eq!(
        v["hosts"].as_array().unwrap(),
        &vec![toml::Value::from("beryllium"), toml::Value::from("carbon")]
    );
    assert_eq!(step_state(&repo, "0006"), "applied");
    assert!(
        repo.git().statuses(None).unwrap().is_empty(),
        "verify leaves a clean tree"
    );

    // Verifying the same tree again records nothing new.
    let (before, _) = head(&repo);
    let run = verify(&repo, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("already verified"), "{}", run.stdout);
    assert_eq!(head(&repo).0, before);

    // Any change to the content makes the record stale.
    replace(&repo, "home/dan.nix", "    bat\n", "    bat\n    tree\n");
    repo.commit_all("Add tree");
    assert_eq!(step_state(&repo, "0006"), "stale");
    let run = verify(&repo, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(step_state(&repo, "0006"), "applied");
}

#[test]
fn a_host_still_installing_nixpkgs_llama_cpp_fails_and_records_nothing() {
    require_nix!();
    let repo = migrated_seed();
    // dan's home-manager profile (carbon and beryllium) brings nixpkgs'
    // build back, and beryllium's llama-cpp service runs its default package.
    replace(
        &repo,
        "home/dan.nix",
        "    bat\n",
        "    bat\n    llama-cpp\n",
    );
    replace(
        &repo,
        "machines/beryllium.nix",
        "  services.fwupd.enable = true;\n",
        "  services.fwupd.enable = true;\n  services.llama-cpp = {\n    enable = true;\n    model = \"/models/q4.gguf\";\n  };\n",
    );
    repo.commit_all("Bring nixpkgs' llama-cpp back");
    let (before, _) = head(&repo);

    let run = verify(&repo, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let err = &run.stderr;
    assert!(err.contains("2 of 3 host(s)"), "{err}");
    assert!(err.contains("carbon (cuda):"), "{err}");
    assert!(err.contains("beryllium (vulkan):"), "{err}");
    assert!(
        err.contains("nixpkgs' llama-cpp (llama-cpp-6000) is still installed, from home-manager.users.dan.home.packages"),
        "{err}"
    );
    assert!(
        err.contains("from services.llama-cpp.package; the service's default package is nixpkgs' llama-cpp: set services.llama-cpp.package = pkgs.llama-cpp-vulkan"),
        "{err}"
    );
    assert!(err.contains("nothing was recorded"), "{err}");
    assert!(!err.contains("boron"), "{err}");
    assert_eq!(head(&repo).0, before);
    assert!(!repo.path().join(".flake-migrate/state.toml").exists());
}

#[test]
fn the_unmigrated_seed_fails_naming_the_missing_input() {
    require_nix!();
    let repo = fixture_repo("seed");
    repo.write("flake-migrate.toml", CONFIG);
    repo.commit_all("Configure");
    flake_lock(repo.path()).unwrap();
    repo.commit_all("Lock");
    let run = verify(&repo, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the flake has no `llama-cpp` input"),
        "{}",
        run.stderr
    );
    // The old overlay's llama-cpp-cuda is nixpkgs' llama-cpp, overridden;
    // the module system says which file installs it.
    assert!(
        run.stderr
            .contains("nixpkgs' llama-cpp (llama-cpp-6000, overridden) is still installed, from environment.systemPackages (defined in machines/carbon.nix): use pkgs.llama-cpp-cuda instead"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failing_flake_check_is_reported_with_nix_output() {
    require_nix!();
    let repo = migrated_seed();
    replace(
        &repo,
        "machines/carbon.nix",
        "    kitty\n",
        "    kitty\n    no-such-package\n",
    );
    repo.commit_all("Break carbon");
    let (before, _) = head(&repo);
    let run = verify(&repo, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nix flake check"), "{}", run.stderr);
    assert!(run.stderr.contains("no-such-package"), "{}", run.stderr);
    assert_eq!(head(&repo).0, before);
}

#[test]
fn without_nix_verify_stops_with_exit_code_5() {
    let repo = fixture_repo("seed");
    repo.write("flake-migrate.toml", CONFIG);
    repo.commit_all("Configure");
    let (before, _) = head(&repo);
    let empty = tempfile::tempdir().unwrap();
    let run = flake_migrate(
        repo.path(),
        &["verify"],
        Some(&empty.path().display().to_string()),
    );
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("`nix` is not installed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was recorded"),
        "{}",
        run.stderr
    );
    assert_eq!(head(&repo).0, before);
}

#[test]
fn a_dirty_tree_is_refused() {
    let repo = fixture_repo("seed");
    repo.write("flake-migrate.toml", CONFIG);
    repo.commit_all("Configure");
    repo.write("flake.nix", "{ }\n");
    let run = flake_migrate(repo.path(), &["verify"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("flake.nix"), "{}", run.stderr);
}

#[test]
fn up_reaching_0006_verifies_then_waits_for_switches() {
    require_nix!();
    let repo = migrated_seed();
    // Steps 0001–0005 recorded as done by hand, so that `up` goes straight
    // to the verification.
    let mut state = String::new();
    for m in flake_migrate::catalogue::bundled().iter().take(5) {
        state.push_str(&format!(
            "[[applied]]\nid = \"{}\"\nchecksum = \"{}\"\nadopted = true\n\n",
            m.id, m.checksum
        ));
    }
    repo.write(".flake-migrate/state.toml", &state);
    repo.commit_all("Record steps 1-5");

    let mut args = vec!["up".to_string(), "--".to_string()];
    args.extend(migration_override_args(repo.path()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = flake_migrate(repo.path(), &refs, None);
    // 0006 is verified and committed; 0007 needs a switch per variant.
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("0006-flake-check: `nix flake check` passes (committed"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("0007-switch"), "{}", run.stderr);
    assert!(
        run.stderr.contains("flake-migrate switch --host H"),
        "{}",
        run.stderr
    );
    assert_eq!(step_state(&repo, "0006"), "applied");

    for host in ["carbon", "beryllium"] {
        let run = flake_migrate(repo.path(), &["confirm", "--host", host], None);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(step_state(&repo, "0007"), "applied");
    let run = flake_migrate(repo.path(), &["up"], None);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
}

fn verify_json(repo: &TempRepo) -> (Run, serde_json::Value) {
    let mut args = vec!["verify".to_string(), "--json".into(), "--".into()];
    args.extend(migration_override_args(repo.path()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = flake_migrate(repo.path(), &refs, None);
    let v = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run, v)
}

#[test]
fn verify_json_has_the_check_each_hosts_verdict_and_what_was_recorded() {
    require_nix!();
    let repo = migrated_seed();
    let (run, v) = verify_json(&repo);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(v["version"], 1);
    assert_eq!(v["check"]["passed"], true, "{v:#}");
    assert!(
        v["check"]["command"]
            .as_str()
            .unwrap()
            .starts_with("nix flake check --no-update-lock-file"),
        "{v:#}"
    );
    assert!(v["check"]["output"].is_null());
    let hosts = v["hosts"].as_array().unwrap();
    let carbon = hosts.iter().find(|h| h["name"] == "carbon").unwrap();
    assert_eq!(carbon["variant"], "cuda");
    assert_eq!(carbon["ok"], true);
    assert!(
        carbon["good"][0]
            .as_str()
            .unwrap()
            .contains("is upstream's cuda"),
        "{carbon:#}"
    );
    let boron = hosts.iter().find(|h| h["name"] == "boron").unwrap();
    assert!(boron["variant"].is_null(), "{boron:#}");
    assert_eq!(v["recorded"], "committed");
    assert_eq!(v["tree"].as_str().unwrap(), content_tree(&repo));
    assert!(v["error"].is_null());

    let (run, v) = verify_json(&repo);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(v["recorded"], "already-verified");
}

#[test]
fn a_failed_verification_still_prints_its_json_and_exits_1() {
    require_nix!();
    let repo = migrated_seed();
    replace(
        &repo,
        "home/dan.nix",
        "    bat\n",
        "    bat\n    llama-cpp\n",
    );
    repo.commit_all("Bring nixpkgs' llama-cpp back");
    let (run, v) = verify_json(&repo);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    assert_eq!(v["version"], 1);
    assert_eq!(v["check"]["passed"], true);
    assert_eq!(v["recorded"], "nothing");
    assert!(v["tree"].is_null());
    let carbon = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "carbon")
        .unwrap();
    assert_eq!(carbon["ok"], false);
    assert!(
        carbon["problems"][0]
            .as_str()
            .unwrap()
            .contains("home-manager.users.dan.home.packages"),
        "{carbon:#}"
    );
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{v:#}"
    );
}
