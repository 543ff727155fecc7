//! `up` proves the planned result before it writes (issue 20): the tree
//! with every planned edit evaluated with nix, and nothing written unless
//! every host that evaluated still does, every configured host gets
//! upstream's build of its variant, and the others are unchanged. Real
//! binary, real git repositories, real nix against the stand-ins.

#[macro_use]
mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::*;

/// `flake-migrate -C dir ARGS -- NIX_ARGS`.
fn fm(dir: &Path, args: &[&str], nix_args: &[String]) -> Run {
    run(dir, args, nix_args)
}

/// HEAD, the index's bytes and `git status`: what a refusal must leave.
fn snapshot(dir: &Path) -> (String, Vec<u8>, String) {
    (
        head(dir),
        fs::read(dir.join(".git/index")).unwrap(),
        porcelain(dir),
    )
}

fn trailer_of(dir: &Path, rev: &str, key: &str) -> Option<String> {
    git(dir, &["log", "-1", "--format=%B", rev])
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(|v| v.trim().to_string())
}

/// The stand-in upstream llama.cpp with its `cuda` package throwing, laid
/// out in a directory of its own (the shared stand-in stays as it is).
fn broken_cuda_upstream() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("llama-cpp");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(standins_dir().join("llama-cpp"))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());
    let flake = dest.join("flake.nix");
    let text = fs::read_to_string(&flake).unwrap();
    let line = "cuda = (scopeFor pkgsCuda).llama-cpp;";
    assert!(text.contains(line), "the stand-in changed: {text}");
    fs::write(
        &flake,
        text.replace(
            line,
            r#"cuda = throw "stand-in: upstream's cuda package is broken";"#,
        ),
    )
    .unwrap();
    (tmp, dest)
}

/// `migration_override_args` with the upstream input at `upstream`.
fn with_upstream(dir: &Path, upstream: &Path) -> Vec<String> {
    let mut args = migration_override_args(dir);
    let at = args
        .chunks(3)
        .position(|c| c[1] == "llama-cpp")
        .expect("an override of llama-cpp");
    args[at * 3 + 2] = format!("path:{}", upstream.display());
    args
}

/// The seed fleet, configured: carbon (cuda), beryllium (vulkan), boron
/// without llama.cpp.
fn seed(nix_args: &[String]) -> TempRepo {
    let repo = fixture_repo("seed");
    let init = fm(
        repo.path(),
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
        nix_args,
    );
    assert_eq!(init.code, 0, "{init:?}");
    repo
}

#[test]
fn a_throwing_upstream_cuda_package_writes_nothing_and_names_the_cuda_host() {
    require_nix!();
    let (_keep, upstream) = broken_cuda_upstream();
    let probe = fixture_repo("seed");
    let args = with_upstream(probe.path(), &upstream);
    let repo = seed(&args);
    let dir = repo.path();
    let before = snapshot(dir);

    let up = fm(dir, &["up", "--no-lock", "--to", "5"], &args);
    assert_eq!(up.code, 3, "{up:?}");
    assert_eq!(snapshot(dir), before, "nothing written: {up:?}");
    assert!(up.stderr.contains("host carbon (cuda)"), "{up:?}");
    assert!(
        up.stderr.contains("upstream's cuda package is broken"),
        "nix's error: {up:?}"
    );
    assert!(
        !up.stderr.contains("beryllium"),
        "beryllium is fine: {up:?}"
    );
    assert!(up.stderr.contains("nothing was written"), "{up:?}");

    // The dry run says the same, and why it is not proven.
    let dry = fm(
        dir,
        &["up", "--dry-run", "--json", "--no-lock", "--to", "5"],
        &args,
    );
    assert_eq!(dry.code, 3, "{dry:?}");
    let json: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(json["steps"], serde_json::json!([]), "{json}");
    let reasons: Vec<&str> = json["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("carbon")), "{reasons:?}");
    assert_eq!(snapshot(dir), before);
}

#[test]
fn a_proven_run_says_so_in_its_commits_and_in_status() {
    require_nix!();
    let probe = fixture_repo("seed");
    let args = migration_override_args(probe.path());
    let repo = seed(&args);
    let dir = repo.path();

    let dry = fm(dir, &["up", "--dry-run", "--no-lock", "--to", "5"], &args);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout
            .contains("proven: the planned result evaluated for 3 host(s)"),
        "{dry:?}"
    );
    let json = fm(
        dir,
        &["up", "--dry-run", "--json", "--no-lock", "--to", "5"],
        &args,
    );
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["proof"]["proven"], true, "{json}");
    assert_eq!(json["proof"]["hosts"], 3, "{json}");

    let first = head(dir);
    let up = fm(dir, &["up", "--no-lock", "--to", "5"], &args);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout.contains("beryllium, carbon get upstream's build"),
        "{up:?}"
    );
    let commits = git(dir, &["rev-list", &format!("{first}..HEAD")]);
    for c in commits.lines() {
        assert_eq!(
            trailer_of(dir, c, "Proven").as_deref(),
            Some("3 hosts"),
            "{}",
            git(dir, &["log", "-1", "--format=%B", c])
        );
    }
    let status = fm(dir, &["status", "--json"], &args);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let first_step = &status["steps"][0];
    assert_eq!(first_step["proven"], "3 hosts", "{status}");
}

#[test]
fn without_evaluation_the_run_is_written_and_said_not_proven() {
    require_nix!();
    let repo = fixture_repo("seed");
    let dir = repo.path();
    let init = fm(
        dir,
        &[
            "--no-eval",
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
        &[],
    );
    assert_eq!(init.code, 0, "{init:?}");
    let up = fm(dir, &["--no-eval", "up", "--no-lock", "--to", "5"], &[]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(up.stdout.contains("not proven: --no-eval"), "{up:?}");
    assert_eq!(
        trailer_of(dir, "HEAD", "Proven").as_deref(),
        Some("no (--no-eval)")
    );
    let status = fm(dir, &["--no-eval", "status"], &[]);
    assert!(status.stdout.contains("not proven"), "{status:?}");
}

/// Hosts built by `import ./hosts inputs` whose modules get no `inputs`:
/// an overlay import that names `inputs` in a host module would not
/// evaluate (issue 20's report).
fn hosts_without_inputs() -> TempRepo {
    let host = |name: &str, llama: bool| {
        format!(
            "{{ pkgs, ... }}:\n{{\n  networking.hostName = \"{name}\";\n  environment.systemPackages = [ {} ];\n}}\n",
            if llama {
                "pkgs.llama-cpp"
            } else {
                "pkgs.helix"
            }
        )
    };
    repo_of_files(
        &[
            (
                "flake.nix",
                "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  outputs = { self, nixpkgs, ... }@inputs: {\n    nixosConfigurations = import ./hosts inputs;\n  };\n}\n",
            ),
            (
                "hosts/default.nix",
                "inputs:\n{\n  neon = inputs.nixpkgs.lib.nixosSystem {\n    system = \"x86_64-linux\";\n    modules = [ ./neon.nix ];\n  };\n  argon = inputs.nixpkgs.lib.nixosSystem {\n    system = \"x86_64-linux\";\n    modules = [ ./argon.nix ];\n  };\n}\n",
            ),
            ("hosts/neon.nix", &host("neon", true)),
            ("hosts/argon.nix", &host("argon", false)),
        ],
        "no-inputs",
    )
}

/// `hosts/default.nix` takes the inputs themselves: the overlay's import
/// names them as that file does (`inherit inputs;`), not as `inputs.inputs`,
/// which nix cannot evaluate (issue 20's report). Proven, then verified.
#[test]
fn hosts_built_by_a_function_of_the_inputs_are_migrated() {
    require_nix!();
    let repo = hosts_without_inputs();
    let dir = repo.path();
    let args = migration_override_args(dir);
    let init = fm(dir, &["init", "--host", "neon=cuda"], &args);
    assert_eq!(init.code, 0, "{init:?}");
    let up = fm(dir, &["up", "--no-lock", "--to", "5"], &args);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(up.stdout.contains("proven"), "{up:?}");
    let hosts = std::fs::read_to_string(dir.join("hosts/default.nix")).unwrap();
    assert!(hosts.contains("{ inherit inputs; }"), "{hosts}");
    assert!(!hosts.contains("inputs.inputs"), "{hosts}");
    let verify = fm(dir, &["verify"], &args);
    assert_eq!(verify.code, 0, "the migrated fleet verifies: {verify:?}");
}

/// `hosts/default.nix` gets only nixpkgs (`import ./hosts { inherit
/// nixpkgs; }`): no edit of it can reach upstream's flake, and the one
/// 0003 plans fails to evaluate. Nothing is written, and the refusal names
/// the host, nix's error, and the step and file whose edit caused it.
#[test]
fn an_edit_that_would_break_a_host_is_refused_naming_its_step_and_file() {
    require_nix!();
    let host = |name: &str, package: &str| {
        format!(
            "{{ pkgs, ... }}:\n{{\n  networking.hostName = \"{name}\";\n  environment.systemPackages = [ pkgs.{package} ];\n}}\n"
        )
    };
    let repo = repo_of_files(
        &[
            (
                "flake.nix",
                "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  outputs = { self, nixpkgs, ... }: {\n    nixosConfigurations = import ./hosts { inherit nixpkgs; };\n  };\n}\n",
            ),
            (
                "hosts/default.nix",
                "args:\n{\n  neon = args.nixpkgs.lib.nixosSystem {\n    system = \"x86_64-linux\";\n    modules = [ ./neon.nix ];\n  };\n  argon = args.nixpkgs.lib.nixosSystem {\n    system = \"x86_64-linux\";\n    modules = [ ./argon.nix ];\n  };\n}\n",
            ),
            ("hosts/neon.nix", &host("neon", "llama-cpp")),
            ("hosts/argon.nix", &host("argon", "helix")),
        ],
        "only-nixpkgs",
    );
    let dir = repo.path();
    let args = migration_override_args(dir);
    let init = fm(dir, &["init", "--host", "neon=cuda"], &args);
    assert_eq!(init.code, 0, "{init:?}");
    let before = snapshot(dir);
    let up = fm(dir, &["up", "--no-lock", "--to", "5"], &args);
    assert_eq!(up.code, 3, "{up:?}");
    assert_eq!(snapshot(dir), before, "nothing written: {up:?}");
    assert!(up.stderr.contains("host neon (cuda)"), "{up:?}");
    assert!(
        up.stderr.contains("attribute 'llama-cpp' missing"),
        "{up:?}"
    );
    assert!(up.stderr.contains("step 0003-import-overlay"), "{up:?}");
    assert!(up.stderr.contains("edit of hosts/default.nix"), "{up:?}");
    assert!(!up.stderr.contains("host argon"), "{up:?}");
}
