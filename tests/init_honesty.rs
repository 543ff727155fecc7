//! `init` says only what the configuration supports: one variant per host,
//! no host with evidence silently left out, no variant the host's system
//! lacks, and explicit override arguments over hardware hints. Small
//! repositories written here (issue 11, `init`).

#[macro_use]
mod support;

use std::path::Path;

use support::*;

fn repo(files: &[(&str, &str)]) -> TempRepo {
    repo_of_files(files, "init-honesty")
}

/// Evaluated, with the stand-ins for the flake's inputs.
fn fm_eval(dir: &Path, args: &[&str]) -> Run {
    run(dir, args, &migration_override_args(dir))
}

/// A flake whose hosts (name, system) each import `./<name>.nix`.
fn flake(hosts: &[(&str, &str)]) -> String {
    let entries: String = hosts
        .iter()
        .map(|(name, system)| {
            format!(
                "      {name} = nixpkgs.lib.nixosSystem {{\n        system = \"{system}\";\n        modules = [ ./{name}.nix ];\n      }};\n"
            )
        })
        .collect();
    format!(
        "{{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n\n  outputs = {{ self, nixpkgs, ... }}@inputs: {{\n    nixosConfigurations = {{\n{entries}    }};\n  }};\n}}\n"
    )
}

/// `init`'s row for `host` in its table of hosts.
fn row(init: &Run, host: &str) -> String {
    init.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{host} ")))
        .unwrap_or_else(|| panic!("{host} is not listed: {init:?}"))
        .to_string()
}

const CUDA_HOST: &str = "{ pkgs, ... }: {\n  hardware.nvidia.open = true;\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n";

#[test]
fn one_host_given_two_variants_is_a_usage_error() {
    let repo = repo(&[
        ("flake.nix", &flake(&[("carbon", "x86_64-linux")])),
        ("carbon.nix", CUDA_HOST),
    ]);
    let init = fm_static(
        repo.path(),
        &["init", "--host", "carbon=cuda", "--host", "carbon=vulkan"],
    );
    assert_eq!(init.code, 2, "{init:?}");
    assert!(init.stderr.contains("carbon"), "names the host: {init:?}");
    assert!(
        !repo.path().join("flake-migrate.toml").exists(),
        "nothing written: {init:?}"
    );
}

const VULKAN_HOST: &str = "{ pkgs, ... }: {\n  environment.systemPackages = [ (pkgs.llama-cpp.override { vulkanSupport = true; }) ];\n}\n";
const PHONE_HOST: &str = "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.git ];\n}\n";

#[test]
fn hosts_with_evidence_that_the_command_leaves_out_are_warned_about() {
    let repo = repo(&[
        (
            "flake.nix",
            &flake(&[
                ("carbon", "x86_64-linux"),
                ("beryllium", "x86_64-linux"),
                ("phone", "x86_64-linux"),
            ]),
        ),
        ("carbon.nix", CUDA_HOST),
        ("beryllium.nix", VULKAN_HOST),
        ("phone.nix", PHONE_HOST),
    ]);
    let init = fm_static(repo.path(), &["init", "--host", "carbon=cuda"]);
    assert_eq!(init.code, 0, "{init:?}");
    assert!(init.stdout.contains("warning:"), "{init:?}");
    let warned: Vec<&str> = init
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("warning:"))
        .collect();
    let beryllium = warned
        .iter()
        .find(|l| l.trim_start().starts_with("beryllium"))
        .unwrap_or_else(|| panic!("beryllium is not listed: {init:?}"));
    assert!(
        beryllium.contains("beryllium.nix:2") && beryllium.contains("vulkanSupport = true"),
        "the evidence is listed: {beryllium}"
    );
    assert!(
        beryllium.contains("--host") && beryllium.contains("beryllium=vulkan"),
        "{beryllium}"
    );
    assert!(
        !warned.iter().any(|l| l.contains("phone")),
        "a host without evidence is not warned about: {init:?}"
    );
    assert!(
        repo.read("flake-migrate.toml")
            .contains("carbon = \"cuda\"")
    );

    // Every host with evidence named: no warning.
    let init = fm_static(
        repo.path(),
        &[
            "init",
            "--host",
            "carbon=cuda",
            "--host",
            "beryllium=vulkan",
        ],
    );
    assert_eq!(init.code, 0, "{init:?}");
    assert!(!init.stdout.contains("warning:"), "{init:?}");
}

/// With evaluation the host's system is known even where its definition
/// does not spell it out.
#[test]
fn with_evaluation_a_variant_the_hosts_system_lacks_is_never_suggested() {
    require_nix!();
    let flake = flake(&[("pi", "aarch64-linux")]).replace(
        "system = \"aarch64-linux\";",
        "system = builtins.head [ \"aarch64-linux\" ];",
    );
    let repo = repo(&[
        ("flake.nix", &flake),
        (
            "pi.nix",
            "{ pkgs, ... }: {\n  environment.systemPackages = [ (pkgs.llama-cpp.override { rocmSupport = true; }) ];\n}\n",
        ),
    ]);
    let init = fm_eval(repo.path(), &["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    let pi = init
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("pi "))
        .unwrap_or_else(|| panic!("pi not listed: {init:?}"));
    // The ROCm build, seen in the override or (with evaluation) in its
    // cmake flags, fitted to the Pi's system.
    assert!(
        pi.contains("cpu")
            && pi.contains("aarch64-linux")
            && (pi.contains("rocmSupport") || pi.contains("GGML_HIP")),
        "{pi}"
    );
}

/// A Raspberry Pi whose graphics block is guarded against aarch64: with
/// evaluation the host's system decides the guard, and the guard is shown.
#[test]
fn evidence_under_a_condition_on_the_system_follows_the_evaluated_system() {
    require_nix!();
    let module = "{ lib, pkgs, ... }: {\n  config = lib.mkMerge [\n    (lib.mkIf (pkgs.stdenv.hostPlatform.system != \"aarch64-linux\") {\n      hardware.graphics.extraPackages = [ pkgs.mesa ];\n    })\n    { environment.systemPackages = [ pkgs.llama-cpp ]; }\n  ];\n}\n";
    let repo = repo(&[
        (
            "flake.nix",
            &flake(&[("pi", "aarch64-linux"), ("desk", "x86_64-linux")]),
        ),
        ("pi.nix", module),
        ("desk.nix", module),
    ]);
    let init = fm_eval(repo.path(), &["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    let line = |host: &str| row(&init, host);
    // stderr is a pipe here: the spinner draws nothing at all.
    assert!(
        !init.stderr.contains('\u{1b}') && !init.stderr.contains("evaluating pi"),
        "{init:?}"
    );
    let condition = "`(pkgs.stdenv.hostPlatform.system != \"aarch64-linux\")` (pi.nix:3)";
    let pi = line("pi");
    assert!(pi.contains(" cpu "), "not vulkan on that evidence: {pi}");
    assert!(
        pi.contains("not counted: pi.nix:4") && pi.contains(condition),
        "the condition is printed: {pi}"
    );
    let desk = line("desk");
    assert!(
        desk.contains(" vulkan ") && desk.contains("which holds on x86_64-linux"),
        "{desk}"
    );
    // Read statically the system is not decided: the evidence is shown
    // with its condition, as the weaker kind it is.
    let init = fm_static(repo.path(), &["init"]);
    let pi = init
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("pi "))
        .unwrap_or_else(|| panic!("{init:?}"));
    assert!(pi.contains(&format!("only if {condition}")), "{pi}");
}

/// A host gets a variant only from evidence that it installs or runs
/// llama.cpp: an overlay module every host imports that redefines
/// `llama-cpp`, and GPU settings, only choose which (issue 21).
#[test]
fn a_shared_overlay_and_gpu_settings_alone_give_no_variant_statically() {
    let overlay = "{ ... }: {\n  nixpkgs.overlays = [\n    (final: prev: {\n      llama-cpp = prev.llama-cpp.override { cudaSupport = true; };\n    })\n  ];\n}\n";
    let nas = "{ ... }: {\n  imports = [ ./overlay.nix ];\n  hardware.nvidia.open = true;\n  services.xserver.videoDrivers = [ \"nvidia\" ];\n}\n";
    let ws = "{ pkgs, ... }: {\n  imports = [ ./overlay.nix ];\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n";
    let repo = repo(&[
        (
            "flake.nix",
            &flake(&[("nas", "x86_64-linux"), ("ws", "x86_64-linux")]),
        ),
        ("overlay.nix", overlay),
        ("nas.nix", nas),
        ("ws.nix", ws),
    ]);
    let init = fm_static(repo.path(), &["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    let nas = row(&init, "nas");
    assert!(nas.contains(" none "), "nas installs nothing: {nas}");
    let ws = row(&init, "ws");
    assert!(
        ws.contains(" cuda "),
        "the overlay's argument chooses ws's build: {ws}"
    );
}

/// A `callPackage` of a local file that customises llama-cpp is evidence
/// read in that file; one that builds a wrapper with it is use that
/// evaluation does not list by name (issue 21).
#[test]
fn package_files_called_with_llama_cpp_are_evidence_with_and_without_evaluation() {
    require_nix!();
    let repo = fixture_repo("call-package");
    for init in [
        fm_static(repo.path(), &["init"]),
        fm_eval(repo.path(), &["init"]),
    ] {
        assert_eq!(init.code, 0, "{init:?}");
        let quasar = row(&init, "quasar");
        assert!(
            quasar.contains(" cuda ")
                && quasar.contains("pkgs/llama.nix:3: override argument `cudaSupport = true`"),
            "{quasar}"
        );
        let pulsar = row(&init, "pulsar");
        assert!(pulsar.contains(" vulkan "), "{pulsar}");
    }
}
