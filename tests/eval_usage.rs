//! What evaluation counts as a host running llama.cpp, beyond the options
//! that install packages: a systemd service whose command names the build
//! by its store path (`"${lib.getExe' pkgs.llama-cpp "llama-bench"} …"`),
//! and which backend a build really has when its override argument is an
//! expression (`cudaSupport = cfg.nvidia`). Real binary, real git, real nix
//! against the stand-ins; migrated to 0006, whose `verify` must pass.

#[macro_use]
mod support;

use std::path::Path;

use support::*;

/// `flake-migrate -C dir ARGS -- <stand-in overrides>`: evaluated.
fn fm_eval(dir: &Path, args: &[&str]) -> Run {
    run(dir, args, &migration_override_args(dir))
}

const FLAKE: &str = r#"{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    home-manager.url = "github:nix-community/home-manager";
    home-manager.inputs.nixpkgs.follows = "nixpkgs";
  };
  outputs = { self, nixpkgs, home-manager, ... }@inputs:
    let
      mkHost = name: nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        specialArgs = { inherit inputs; };
        modules = [
          ./hosts/${name}.nix
          ./modules/ai.nix
          home-manager.nixosModules.home-manager
        ];
      };
    in {
      nixosConfigurations = nixpkgs.lib.genAttrs [ "orion" "vega" "lyra" "deneb" ] mkHost;
    };
}
"#;

/// Shared by every host, turned on by orion only; its override argument
/// is an expression the syntax tree cannot read.
const AI: &str = r#"{ config, lib, pkgs, ... }:
let
  cfg = config.my.ai;
in
{
  options.my.ai = {
    enable = lib.mkEnableOption "local LLMs";
    nvidia = lib.mkOption { type = lib.types.bool; default = false; };
  };
  config = lib.mkIf cfg.enable {
    services.llama-cpp = {
      enable = true;
      package = pkgs.llama-cpp.override { cudaSupport = cfg.nvidia; };
      model = "/var/lib/models/qwen.gguf";
    };
  };
}
"#;

const ORION: &str = "{ ... }:\n{\n  networking.hostName = \"orion\";\n  my.ai.enable = true;\n  my.ai.nvidia = true;\n}\n";

const VEGA: &str = r#"{ pkgs, ... }:
{
  networking.hostName = "vega";
  home-manager.useGlobalPkgs = true;
  home-manager.users.ada = { pkgs, ... }: {
    home.packages = with pkgs; [ ripgrep (llama-cpp.override { vulkanSupport = true; }) ];
    home.stateVersion = "24.11";
  };
}
"#;

/// A home-manager user whose user service runs llama.cpp (its build's
/// `Service.ExecStart`), installing nothing: read from the user's evaluated
/// configuration.
const DENEB: &str = r#"{ pkgs, ... }:
{
  networking.hostName = "deneb";
  home-manager.useGlobalPkgs = true;
  home-manager.users.bo = { pkgs, ... }: {
    systemd.user.services.llama-server.Service.ExecStart = "${pkgs.llama-cpp}/bin/llama-server -m /m.gguf";
  };
}
"#;

/// Runs llama.cpp from a service of its own, installing nothing.
const LYRA: &str = r#"{ pkgs, lib, ... }:
{
  networking.hostName = "lyra";
  systemd.services.llama-bench = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${lib.getExe' pkgs.llama-cpp "llama-bench"} -m /models/x.gguf";
  };
  # Another program's service: not llama.cpp.
  systemd.services.chat.serviceConfig.ExecStart = "${pkgs.ollama}/bin/ollama serve";
}
"#;

fn fleet() -> TempRepo {
    repo_of_files(
        &[
            ("flake.nix", FLAKE),
            ("modules/ai.nix", AI),
            ("hosts/orion.nix", ORION),
            ("hosts/vega.nix", VEGA),
            ("hosts/lyra.nix", LYRA),
            ("hosts/deneb.nix", DENEB),
        ],
        "usage",
    )
}

/// `verify` passes, and names each of `options` as where a host's
/// upstream build comes from.
fn verifies_from(dir: &Path, options: &[&str]) {
    let verify = fm_eval(dir, &["verify"]);
    assert_eq!(verify.code, 0, "{verify:?}");
    for option in options {
        assert!(
            verify.stdout.contains(&format!("from {option}")),
            "{option}: {verify:?}"
        );
    }
}

/// `init --yes` writes `host_line` (`nova = "cpu"`) into the config, and
/// `up --to 6` migrates, proves and verifies the fleet.
fn accept_and_migrate(repo: &TempRepo, host_line: &str) {
    let dir = repo.path();
    let init = fm_eval(dir, &["init", "--yes"]);
    assert_eq!(init.code, 0, "{init:?}");
    assert!(
        repo.read("flake-migrate.toml").contains(host_line),
        "{host_line}: {init:?}"
    );
    let up = fm_eval(dir, &["up", "--to", "6"]);
    assert_eq!(up.code, 0, "{up:?}");
}

/// `init`'s table row for `host`.
fn row<'a>(init: &'a Run, host: &str) -> &'a str {
    init.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{host} ")))
        .unwrap_or_else(|| panic!("no row for {host}: {init:?}"))
}

#[test]
fn evaluation_sees_a_service_command_and_the_backend_a_build_is_made_with() {
    require_nix!();
    let repo = fleet();
    let dir = repo.path();
    let init = fm_eval(dir, &["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    // The service's command runs nixpkgs' build; ollama's is not llama.cpp.
    let lyra = row(&init, "lyra");
    assert!(lyra.contains(" cpu "), "{lyra}");
    assert!(lyra.contains("hosts/lyra.nix:6"), "{lyra}");
    // `cudaSupport = cfg.nvidia` is true on orion: its build has CUDA.
    let orion = row(&init, "orion");
    assert!(orion.contains(" cuda "), "{orion}");
    assert!(orion.contains("GGML_CUDA"), "{orion}");
    let vega = row(&init, "vega");
    assert!(vega.contains(" vulkan "), "{vega}");
    let deneb = row(&init, "deneb");
    assert!(deneb.contains(" cpu "), "{deneb}");
    assert!(
        !deneb.contains("which evaluation does not list"),
        "evaluation lists it: {deneb}"
    );
}

#[test]
fn a_host_that_runs_llama_cpp_from_a_service_is_migrated_and_verified() {
    require_nix!();
    let repo = fleet();
    let dir = repo.path();
    let init = fm_eval(dir, &["init", "--yes"]);
    assert_eq!(init.code, 0, "{init:?}");
    let config = repo.read("flake-migrate.toml");
    for (host, variant) in [
        ("lyra", "cpu"),
        ("orion", "cuda"),
        ("vega", "vulkan"),
        ("deneb", "cpu"),
    ] {
        assert!(
            config.contains(&format!("{host} = \"{variant}\"")),
            "{host}: {config}"
        );
    }
    let up = fm_eval(dir, &["up", "--to", "6"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout
            .contains("deneb, lyra, orion, vega get upstream's build"),
        "the proof judged all four: {up:?}"
    );
    let lyra = repo.read("hosts/lyra.nix");
    assert!(
        lyra.contains("lib.getExe' pkgs.llama-cpp-cpu \"llama-bench\""),
        "{lyra}"
    );
    assert!(lyra.contains("${pkgs.ollama}/bin/ollama"), "{lyra}");
    verifies_from(
        dir,
        &[
            "systemd.services.llama-bench.serviceConfig.ExecStart",
            "home-manager.users.bo.systemd.user.services.llama-server.Service.ExecStart",
        ],
    );
}

/// A standalone home-manager configuration that runs llama.cpp from a user
/// service (home-manager's `Service.ExecStart`), installing nothing.
#[test]
fn a_home_configuration_running_llama_cpp_from_a_user_service_is_migrated_and_verified() {
    require_nix!();
    let flake = r#"{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    home-manager.url = "github:nix-community/home-manager";
    home-manager.inputs.nixpkgs.follows = "nixpkgs";
  };
  outputs = { nixpkgs, home-manager, ... }: {
    homeConfigurations."ada@box" = home-manager.lib.homeManagerConfiguration {
      pkgs = nixpkgs.legacyPackages.x86_64-linux;
      modules = [ ./home.nix ];
    };
  };
}
"#;
    let home = r#"{ pkgs, ... }:
{
  home.username = "ada";
  home.homeDirectory = "/home/ada";
  systemd.user.services.llama-server = {
    Unit.Description = "llama-server";
    Service.ExecStart = "${pkgs.llama-cpp}/bin/llama-server -m /home/ada/m.gguf";
  };
}
"#;
    let repo = repo_of_files(&[("flake.nix", flake), ("home.nix", home)], "home-service");
    let dir = repo.path();
    let init = fm_eval(dir, &["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    let ada = row(&init, "ada@box");
    assert!(ada.contains(" cpu "), "{ada}");
    let init = fm_eval(dir, &["init", "--yes"]);
    assert_eq!(init.code, 0, "{init:?}");
    let up = fm_eval(dir, &["up", "--to", "6"]);
    assert_eq!(up.code, 0, "{up:?}");
    let home = repo.read("home.nix");
    assert!(
        home.contains("${pkgs.llama-cpp-cpu}/bin/llama-server"),
        "{home}"
    );
    verifies_from(
        dir,
        &["systemd.user.services.llama-server.Service.ExecStart"],
    );
}

/// A package of the flake's own outputs, built from `legacyPackages` (which
/// no overlay reaches) and installed by a host as `self.packages.…`: it
/// becomes upstream's package of the backend its override turns on, and
/// the host is proven and verified.
#[test]
fn a_package_of_the_flakes_own_outputs_becomes_upstreams() {
    require_nix!();
    let flake = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs, ... }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
    in {
      packages.${system}.llama = pkgs.llama-cpp.override { cudaSupport = true; };
      nixosConfigurations.titan = nixpkgs.lib.nixosSystem {
        inherit system;
        specialArgs = { inherit self; };
        modules = [ ./titan.nix ];
      };
    };
}
"#;
    let titan = "{ self, pkgs, ... }:\n{\n  environment.systemPackages = [ self.packages.x86_64-linux.llama pkgs.git ];\n}\n";
    let repo = repo_of_files(&[("flake.nix", flake), ("titan.nix", titan)], "own-output");
    let dir = repo.path();
    accept_and_migrate(&repo, "titan = \"cuda\"");
    let flake = repo.read("flake.nix");
    assert!(
        flake.contains(
            "packages.${system}.llama = inputs.llama-cpp.packages.${pkgs.stdenv.hostPlatform.system}.cuda;"
        ),
        "{flake}"
    );
    verifies_from(dir, &["environment.systemPackages"]);
}

/// A wrapper script whose text runs nixpkgs' build
/// (`writeShellScriptBin "llm" "exec ${pkgs.llama-cpp}/bin/llama-cli …"`):
/// evaluation reads the text's context, so the host is suggested a
/// variant, migrated, proven and verified.
#[test]
fn a_wrapper_script_running_llama_cpp_is_migrated_and_verified() {
    require_nix!();
    let flake = "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n  outputs = { self, nixpkgs, ... }: {\n    nixosConfigurations.nova = nixpkgs.lib.nixosSystem {\n      system = \"x86_64-linux\";\n      modules = [ ./nova.nix ];\n    };\n  };\n}\n";
    let nova = "{ pkgs, ... }:\n{\n  environment.systemPackages = [\n    (pkgs.writeShellScriptBin \"llm\" \"exec ${pkgs.llama-cpp}/bin/llama-cli \\\"$@\\\"\")\n  ];\n}\n";
    let repo = repo_of_files(&[("flake.nix", flake), ("nova.nix", nova)], "wrapper");
    let dir = repo.path();
    accept_and_migrate(&repo, "nova = \"cpu\"");
    assert!(
        repo.read("nova.nix")
            .contains("${pkgs.llama-cpp-cpu}/bin/llama-cli")
    );
    verifies_from(dir, &["environment.systemPackages"]);
}
