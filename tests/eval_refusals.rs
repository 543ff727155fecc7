//! What evaluation lets `init` and `up` see that the syntax tree cannot, and
//! every way `up` is then blocked: each refusal commits nothing and leaves
//! the working tree as it was. Small repositories written here, evaluated
//! with the stand-ins (`--override-input`).

#[macro_use]
mod support;

use std::path::Path;
use std::process::Command;

use support::*;

/// `flake-migrate -C dir ARGS -- <stand-in overrides>`.
fn fm(dir: &Path, args: &[&str]) -> Run {
    fm_command(dir)
        .args(args)
        .arg("--")
        .args(migration_override_args(dir))
        .output()
        .expect("run flake-migrate")
        .into()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A committed repository of `files`.
fn repo(files: &[(&str, &str)]) -> TempRepo {
    repo_of_files(files, "eval-refusal")
}

const INPUTS: &str = r#"
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
"#;

fn flake(outputs: &str) -> String {
    format!("{{{INPUTS}\n  outputs = {{ self, nixpkgs, ... }}@inputs:\n{outputs}\n}}\n")
}

/// `up` must refuse: exit 3, `needle` said, HEAD and the tree unchanged.
#[track_caller]
fn assert_up_refuses(dir: &Path, needle: &str) -> Run {
    let head = git(dir, &["rev-parse", "HEAD"]);
    let up = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(up.code, 3, "{up:?}");
    assert!(up.stderr.contains(needle), "{needle:?} not said: {up:?}");
    assert!(up.stderr.contains("nothing was written"), "{up:?}");
    assert_eq!(
        git(dir, &["rev-parse", "HEAD"]),
        head,
        "a refusal commits nothing"
    );
    assert_eq!(
        git(dir, &["status", "--porcelain", "--untracked-files=all"]),
        "",
        "a refusal writes nothing"
    );
    up
}

const LLAMA_HOST: &str = "{ pkgs, ... }: {\n  networking.hostName = \"forge\";\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n";

/// A package set made by hand and passed as `specialArgs.pkgs` ignores
/// `nixpkgs.overlays`: 0003 adds the overlay where that set is made (issue
/// 21), once for the hosts sharing it, and the run is proven.
#[test]
fn a_package_set_passed_through_special_args_gets_the_overlay_where_it_is_made() {
    require_nix!();
    let repo = repo(&[
        (
            "flake.nix",
            &flake(
                r#"    let
      pkgs = import nixpkgs {
        system = "x86_64-linux";
        config.allowUnfree = true;
      };
    in
    {
      nixosConfigurations.forge = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        specialArgs = { inherit inputs pkgs; };
        modules = [ ./forge.nix ];
      };
      nixosConfigurations.anvil = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        specialArgs = { inherit inputs pkgs; };
        modules = [ ./anvil.nix ];
      };
    };"#,
            ),
        ),
        ("forge.nix", LLAMA_HOST),
        (
            "anvil.nix",
            "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.git ];\n}\n",
        ),
    ]);
    let dir = repo.path();
    let init = fm(dir, &["init", "--host", "forge=cuda"]);
    assert_eq!(init.code, 0, "{init:?}");
    let up = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout.contains("proven") || up.stderr.contains("proven"),
        "{up:?}"
    );
    let flake = repo.read("flake.nix");
    assert_eq!(
        flake
            .matches("overlays = [ (import ./nixos/overlays/llama-cpp.nix")
            .count(),
        1,
        "once, in the import that makes the set: {flake}"
    );
    assert!(
        flake.contains("config.allowUnfree = true;\n        overlays = ["),
        "{flake}"
    );
    assert!(nix_parses(&dir.join("flake.nix")));
    assert!(!repo.read("forge.nix").contains("nixpkgs.overlays"));
    flake_lock(dir).unwrap();
    assert_eq!(host_llama_packages(dir, "forge"), ["llama-cpp-cuda-0.0.0"]);
    assert!(host_llama_packages(dir, "anvil").is_empty());
    // Planned again: nothing left to do, and the guard agrees.
    let check = run(dir, &["check"], &[]);
    assert_eq!(check.code, 0, "{check:?}");
}

/// A package set the tool cannot add to (`legacyPackages`) is refused,
/// saying where the overlay has to go.
#[test]
fn a_legacy_packages_set_passed_through_special_args_blocks_the_overlay_import() {
    require_nix!();
    let repo = repo(&[
        (
            "flake.nix",
            &flake(
                r#"    {
      nixosConfigurations.forge = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        specialArgs = {
          inherit inputs;
          pkgs = nixpkgs.legacyPackages.x86_64-linux;
        };
        modules = [ ./forge.nix ];
      };
    };"#,
            ),
        ),
        ("forge.nix", LLAMA_HOST),
    ]);
    let dir = repo.path();
    let init = fm(dir, &["init", "--host", "forge=cuda"]);
    assert_eq!(init.code, 0, "{init:?}");
    let up = assert_up_refuses(dir, "does not reach the package set of forge");
    assert!(up.stderr.contains("specialArgs"), "{up:?}");
    assert!(
        up.stderr.contains("import nixpkgs"),
        "says where the overlay goes: {up:?}"
    );
}

const TWO_HOSTS_ONE_BROKEN: &str = r#"    {
      nixosConfigurations = {
        forge = nixpkgs.lib.nixosSystem {
          system = "x86_64-linux";
          specialArgs = { inherit inputs; };
          modules = [ ./forge.nix ];
        };
        attic = nixpkgs.lib.nixosSystem {
          system = "x86_64-linux";
          modules = [ { environment.systemPackages = [ (throw "attic is half-finished") ]; } ];
        };
      };
    };"#;

#[test]
fn a_host_that_fails_to_evaluate_is_unknown_and_never_given_a_variant() {
    require_nix!();
    let repo = repo(&[
        ("flake.nix", &flake(TWO_HOSTS_ONE_BROKEN)),
        ("forge.nix", LLAMA_HOST),
    ]);
    let dir = repo.path();
    let init = fm(dir, &["init", "--yes"]);
    assert_eq!(init.code, 0, "{init:?}");
    let attic = init
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("attic"))
        .unwrap_or_else(|| panic!("attic not listed: {init:?}"));
    assert!(
        attic.contains("none") && attic.contains("unknown"),
        "{attic}"
    );
    assert!(
        init.stdout.contains("attic is half-finished"),
        "nix's words: {init:?}"
    );
    let config = repo.read("flake-migrate.toml");
    assert!(config.contains("forge = \"cpu\""), "{config}");
    assert!(!config.contains("attic"), "{config}");

    // The broken host has no variant, so it does not stop forge's migration.
    let up = fm(dir, &["up", "--no-lock", "--to", "5"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(repo.read("forge.nix").contains("pkgs.llama-cpp-cpu"));
}

#[test]
fn a_configured_host_that_fails_to_evaluate_blocks_the_run() {
    require_nix!();
    let repo = repo(&[
        ("flake.nix", &flake(TWO_HOSTS_ONE_BROKEN)),
        ("forge.nix", LLAMA_HOST),
    ]);
    let dir = repo.path();
    let init = fm(
        dir,
        &["init", "--host", "forge=cuda", "--host", "attic=cpu"],
    );
    assert_eq!(init.code, 0, "{init:?}");
    assert_up_refuses(dir, "attic is half-finished");
}

/// forge (cuda) and a host only evaluation lists (every directory of
/// ./machines) share a module that installs nixpkgs' llama-cpp.
fn shared_with_an_unseen_host() -> TempRepo {
    repo(&[
        (
            "flake.nix",
            &flake(
                r#"    let
      lib = nixpkgs.lib;
      mk = modules: lib.nixosSystem { system = "x86_64-linux"; specialArgs = { inherit inputs; }; inherit modules; };
      machines = lib.filterAttrs (_: t: t == "directory") (builtins.readDir ./machines);
    in
    {
      nixosConfigurations = { forge = mk [ ./forge.nix ./common/ai.nix ]; }
        // builtins.mapAttrs (name: _: mk [ ./machines/${name} ./common/ai.nix ]) machines;
    };"#,
            ),
        ),
        (
            "forge.nix",
            "{ ... }: { networking.hostName = \"forge\"; }\n",
        ),
        (
            "machines/kiosk/default.nix",
            "{ ... }: { networking.hostName = \"kiosk\"; }\n",
        ),
        (
            "common/ai.nix",
            "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n",
        ),
    ])
}

#[test]
fn a_module_shared_with_a_host_only_evaluation_sees_is_not_rewritten_for_one_of_them() {
    require_nix!();
    let repo = shared_with_an_unseen_host();
    let dir = repo.path();
    let init = fm(dir, &["init", "--host", "forge=cuda"]);
    assert_eq!(init.code, 0, "{init:?}");
    assert!(
        init.stdout.contains("kiosk"),
        "evaluation lists kiosk: {init:?}"
    );
    let up = assert_up_refuses(dir, "common/ai.nix");
    assert!(
        up.stderr.contains("kiosk"),
        "the unseen host is named: {up:?}"
    );
}

#[test]
fn without_evaluation_hosts_that_cannot_be_listed_block_the_run() {
    require_nix!();
    let repo = shared_with_an_unseen_host();
    let dir = repo.path();
    let init = fm(dir, &["--no-eval", "init", "--host", "forge=cuda"]);
    assert_eq!(init.code, 0, "{init:?}");
    let head = git(dir, &["rev-parse", "HEAD"]);
    let up = fm(dir, &["--no-eval", "up", "--no-lock", "--to", "5"]);
    assert_eq!(up.code, 3, "{up:?}");
    assert!(up.stderr.contains("cannot list every host"), "{up:?}");
    assert!(
        up.stderr.contains("flake.nix:"),
        "points at the expression: {up:?}"
    );
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head);
}

#[test]
fn init_reports_where_evaluation_and_the_static_reading_differ() {
    require_nix!();
    let repo = shared_with_an_unseen_host();
    let dir = repo.path();
    let init = fm(dir, &["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    assert!(
        init.stdout
            .contains("evaluation found host(s) the static reading misses: kiosk"),
        "{init:?}"
    );
    assert!(init.stdout.contains("(evaluated)"), "{init:?}");
}
