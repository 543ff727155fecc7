//! A failure every host shares is one error, said once, in a bounded number
//! of nix processes (issue 19): on nixpkgs' real module system, a missing
//! attribute in a module every host imports is not something
//! `builtins.tryEval` catches, and one process per host would take minutes
//! on a large fleet.

#[macro_use]
mod support;

use std::path::Path;

use support::*;

const HOSTS: usize = 40;

/// `HOSTS` hosts built by `genAttrs` (so the static reading cannot list
/// them) importing `modules/common.nix`, which reads an option nobody
/// declared; and `healthy`, which does not import it and installs
/// nixpkgs' llama-cpp.
fn fleet() -> TempRepo {
    let flake = format!(
        r#"{{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = {{ self, nixpkgs, ... }}:
    let
      names = builtins.genList (i: "node${{toString i}}") {HOSTS};
      node = name: nixpkgs.lib.nixosSystem {{
        system = "x86_64-linux";
        modules = [ ./modules/common.nix {{ networking.hostName = name; }} ];
      }};
    in {{
      nixosConfigurations = nixpkgs.lib.genAttrs names node // {{
        healthy = nixpkgs.lib.nixosSystem {{
          system = "x86_64-linux";
          modules = [ ./hosts/healthy.nix ];
        }};
      }};
    }};
}}
"#
    );
    repo_of_files(
        &[
            ("flake.nix", &flake),
            (
                "modules/common.nix",
                "{ config, pkgs, ... }:\n{\n  environment.systemPackages = [\n    pkgs.git\n    config.site.tools\n  ];\n}\n",
            ),
            (
                "hosts/healthy.nix",
                "{ pkgs, ... }:\n{\n  hardware.nvidia.open = true;\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n",
            ),
        ],
        "shared-failure",
    )
}

/// A `nix` on PATH that logs each invocation to `log` and runs the real one.
fn counting_nix(dir: &Path, log: &Path) -> std::path::PathBuf {
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v nix"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("nix");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn a_module_every_host_imports_failing_is_one_error_in_at_most_three_nix_processes() {
    require_nix!();
    let repo = fleet();
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("nix.log");
    let bin = counting_nix(tools.path(), &log);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out: Run = fm_command(repo.path())
        .env("PATH", path)
        .arg("init")
        .arg("--")
        .args(migration_override_args(repo.path()))
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{out:?}");

    let log = std::fs::read_to_string(&log).unwrap();
    let evaluations: Vec<&str> = log.lines().collect();
    assert!(
        evaluations.len() <= 3,
        "nix ran {} times for {HOSTS} failing hosts:\n{log}",
        evaluations.len()
    );

    let all = format!("{}{}", out.stdout, out.stderr);
    let notes: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("note:") && l.contains("failed to evaluate"))
        .collect();
    assert_eq!(notes.len(), 1, "said once: {all}");
    assert!(
        notes[0].contains(&format!(
            "{HOSTS} hosts failed to evaluate, all the same way"
        )),
        "{}",
        notes[0]
    );
    // nix's own error, at the file nix names, as the repository names it.
    assert!(
        notes[0].contains("attribute 'site' missing"),
        "{}",
        notes[0]
    );
    assert!(
        notes[0].contains("(at modules/common.nix:5:"),
        "{}",
        notes[0]
    );
    // The healthy host is still evaluated, and suggested from its evidence.
    let healthy = all
        .lines()
        .find(|l| l.trim_start().starts_with("healthy"))
        .unwrap_or_else(|| panic!("healthy is listed: {all}"));
    assert!(healthy.contains("cuda"), "{healthy}");
}
