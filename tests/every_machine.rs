//! Issue 22: nix-darwin hosts and standalone home-manager configurations
//! are hosts like NixOS ones. Evaluation and the static reading find them
//! with their kind and system; a name two outputs share is written
//! `darwin/NAME` or `home/NAME`; `init` suggests `metal` on Apple Silicon
//! and `cpu` on an Intel Mac, and refuses CUDA, ROCm or Vulkan on darwin.

mod support;

use std::path::Path;

use flake_migrate::eval::discover::{HostFacts, discover};
use flake_migrate::host_kind::HostKind;
use flake_migrate::model::Model;
use support::*;

/// The real binary, as the support module runs it: (exit code, stdout, stderr).
fn fm(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let r = run(dir, args, &[]);
    (r.code, r.stdout, r.stderr)
}

/// `init` with `hosts` (`--host` values), then `up --to 5`, evaluated with
/// the stand-ins `args`; both must succeed. What `up` printed.
fn init_and_up(dir: &Path, hosts: &[&str], args: &[String]) -> String {
    let mut init = vec!["init"];
    for h in hosts {
        init.extend(["--host", h]);
    }
    init.push("--");
    init.extend(args.iter().map(String::as_str));
    let (code, out, err) = fm(dir, &init);
    assert_eq!(code, 0, "{out}{err}");
    let mut up = vec!["up", "--no-lock", "--to", "5", "--"];
    up.extend(args.iter().map(String::as_str));
    let (code, out, err) = fm(dir, &up);
    assert_eq!(code, 0, "{out}{err}");
    out
}

#[test]
fn evaluation_finds_every_machine_with_its_kind_system_and_packages() {
    require_nix!();
    let repo = fixture_repo("mixed-fleet");
    let args = migration_override_args(repo.path());
    let found = discover(repo.path(), Path::new(""), &args).expect("discover");
    let HostFacts::Known(mac) = &found.hosts["mac"] else {
        panic!("{found:?}")
    };
    let runs: Vec<String> = mac
        .service
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {:?}",
                d.option,
                d.file.as_ref().unwrap().display(),
                d.name,
                d.origin
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            "launchd.user.agents.llama-server.serviceConfig.ProgramArguments hosts/mac.nix llama-cpp-6000 Nixpkgs"
        ]
    );
    let seen: Vec<(String, HostKind, String, Vec<String>)> = found
        .hosts
        .iter()
        .map(|(name, facts)| {
            let HostFacts::Known(info) = facts else {
                panic!("{name}: {facts:?}")
            };
            let packages = info
                .packages
                .iter()
                .map(|d| {
                    format!(
                        "{} {} {}",
                        d.option,
                        d.file.as_ref().unwrap().display(),
                        d.name
                    )
                })
                .collect();
            (name.clone(), info.kind, info.system.clone(), packages)
        })
        .collect();
    let line = |p: &str| vec![p.to_string()];
    assert_eq!(
        seen,
        [
            (
                "ada@laptop".to_string(),
                HostKind::Home,
                "x86_64-linux".to_string(),
                line("home.packages home/ada.nix llama-cpp-6000")
            ),
            (
                "ada@studio".to_string(),
                HostKind::Home,
                "x86_64-darwin".to_string(),
                line("home.packages home/ada.nix llama-cpp-6000")
            ),
            (
                "desktop".to_string(),
                HostKind::Nixos,
                "x86_64-linux".to_string(),
                line("environment.systemPackages hosts/desktop.nix llama-cpp-6000")
            ),
            (
                "mac".to_string(),
                HostKind::Darwin,
                "aarch64-darwin".to_string(),
                line("environment.systemPackages hosts/mac.nix llama-cpp-6000")
            ),
        ]
    );
}

/// The same name in nixosConfigurations, darwinConfigurations and
/// homeConfigurations: the NixOS host keeps it, the others are written with
/// their kind, by the static reading and by evaluation alike.
const SHARED_NAMES: &str = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.nix-darwin = { url = "github:nix-darwin/nix-darwin"; inputs.nixpkgs.follows = "nixpkgs"; };
  inputs.home-manager = { url = "github:nix-community/home-manager"; inputs.nixpkgs.follows = "nixpkgs"; };
  outputs = { self, nixpkgs, nix-darwin, home-manager, ... }@inputs: {
    nixosConfigurations.studio = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./studio.nix ];
    };
    darwinConfigurations.studio = nix-darwin.lib.darwinSystem {
      modules = [ ./mac.nix ];
    };
    homeConfigurations.studio = home-manager.lib.homeManagerConfiguration {
      pkgs = nixpkgs.legacyPackages.aarch64-darwin;
      modules = [ ./home.nix ];
    };
  };
}
"#;

fn shared_names_repo() -> TempRepo {
    repo_of_files(
        &[
            ("flake.nix", SHARED_NAMES),
            (
                "studio.nix",
                "{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp ]; }\n",
            ),
            (
                "mac.nix",
                "{ pkgs, ... }: {\n  nixpkgs.hostPlatform = \"aarch64-darwin\";\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n",
            ),
            (
                "home.nix",
                "{ pkgs, ... }: {\n  home.username = \"ada\";\n  home.homeDirectory = \"/Users/ada\";\n  home.packages = [ pkgs.llama-cpp ];\n}\n",
            ),
        ],
        "shared-names",
    )
}

#[test]
fn a_name_two_outputs_share_is_written_with_its_kind() {
    let repo = shared_names_repo();
    let tracked = ["flake.nix", "studio.nix", "mac.nix", "home.nix"]
        .map(std::path::PathBuf::from)
        .to_vec();
    let files = flake_migrate::files::WorkTree::new(repo.path(), tracked);
    let model = Model::read(&files).unwrap();
    let mut names: Vec<(String, HostKind)> = model
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.kind))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("darwin/studio".to_string(), HostKind::Darwin),
            ("home/studio".to_string(), HostKind::Home),
            ("studio".to_string(), HostKind::Nixos),
        ]
    );
    let (code, out, err) = fm(repo.path(), &["--no-eval", "init"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("`studio` is the name of machines in more than one output: darwinConfigurations's is written `darwin/studio`"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("darwin/studio") && l.contains("metal")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("home/studio") && l.contains("metal")),
        "{out}"
    );
}

#[test]
fn evaluation_names_shared_machines_as_the_static_reading_does() {
    require_nix!();
    let repo = shared_names_repo();
    let args = migration_override_args(repo.path());
    let found = discover(repo.path(), Path::new(""), &args).expect("discover");
    let names: Vec<&str> = found.hosts.keys().map(String::as_str).collect();
    assert_eq!(names, ["darwin/studio", "home/studio", "studio"]);
    assert_eq!(
        host_names(repo.path()),
        ["darwin/studio", "home/studio", "studio"]
    );
}

#[test]
fn init_suggests_metal_on_apple_silicon_and_cpu_on_an_intel_mac() {
    let repo = fixture_repo("mixed-fleet");
    let (code, out, err) = fm(repo.path(), &["--no-eval", "init"]);
    assert_eq!(code, 0, "{out}{err}");
    let variant = |host: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{host} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("{host} not listed: {out}"))
            .to_string()
    };
    assert_eq!(variant("mac"), "metal");
    assert_eq!(variant("ada@studio"), "cpu");
    assert_eq!(variant("ada@laptop"), "cpu");
    assert_eq!(variant("desktop"), "cuda");
    assert!(out.contains("mac (nix-darwin host)"), "{out}");
    assert!(
        out.contains("ada@laptop (home-manager configuration)"),
        "{out}"
    );
}

#[test]
fn cuda_rocm_or_vulkan_on_a_mac_is_a_usage_error_that_says_why() {
    let repo = fixture_repo("mixed-fleet");
    for (spec, why) in [
        ("mac=cuda", "no CUDA, ROCm or Vulkan for darwin"),
        ("mac=vulkan", "no CUDA, ROCm or Vulkan for darwin"),
        ("ada@studio=rocm", "no CUDA, ROCm or Vulkan for darwin"),
        ("ada@studio=metal", "Apple Silicon (aarch64-darwin) only"),
        ("desktop=metal", "Apple Silicon"),
    ] {
        let (code, out, err) = fm(repo.path(), &["--no-eval", "init", "--host", spec]);
        assert_eq!(code, 2, "{spec}: {out}{err}");
        assert!(err.contains(why), "{spec}: {err}");
        assert!(err.contains("help:"), "{spec}: {err}");
        assert!(!repo.path().join("flake-migrate.toml").exists());
    }
    // Native builds are fine on darwin.
    let (code, out, err) = fm(
        repo.path(),
        &["--no-eval", "init", "--host", "mac=metal-native"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let config = repo.read("flake-migrate.toml");
    assert!(
        config
            .lines()
            .any(|l| l.starts_with("mac = ") && l.contains("native")),
        "{config}"
    );
}

/// A home-manager module's `programs.<p>.package = pkgs.llama-cpp` of an
/// enabled program is found by evaluation and rewritten by 0004, as
/// `home.packages` is.
#[test]
fn a_home_manager_programs_package_is_found_and_migrated() {
    require_nix!();
    let flake = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.home-manager = { url = "github:nix-community/home-manager"; inputs.nixpkgs.follows = "nixpkgs"; };
  outputs = { self, nixpkgs, home-manager, ... }@inputs: {
    homeConfigurations.ada = home-manager.lib.homeManagerConfiguration {
      pkgs = nixpkgs.legacyPackages.x86_64-linux;
      modules = [ ./llm.nix ./ada.nix ];
    };
  };
}
"#;
    // A program module of the user's own, as home-manager's are written.
    let llm = "{ config, lib, pkgs, ... }: {\n  options.programs.llm = {\n    enable = lib.mkEnableOption \"a local model server\";\n    package = lib.mkOption { type = lib.types.package; default = pkgs.hello or pkgs.htop; };\n  };\n  config.home.sessionVariables = lib.mkIf config.programs.llm.enable { LLM = \"${config.programs.llm.package}\"; };\n}\n";
    let ada = "{ pkgs, ... }: {\n  home.username = \"ada\";\n  home.homeDirectory = \"/home/ada\";\n  programs.llm = {\n    enable = true;\n    package = pkgs.llama-cpp;\n  };\n}\n";
    let repo = repo_of_files(
        &[("flake.nix", flake), ("llm.nix", llm), ("ada.nix", ada)],
        "hm-programs",
    );
    let args = migration_override_args(repo.path());
    let found = discover(repo.path(), Path::new(""), &args).expect("discover");
    let HostFacts::Known(info) = &found.hosts["ada"] else {
        panic!("{found:?}")
    };
    let defs: Vec<String> = info
        .packages
        .iter()
        .map(|d| format!("{} {:?} {}", d.option, d.file, d.name))
        .collect();
    assert_eq!(
        defs,
        ["programs.llm.package Some(\"ada.nix\") llama-cpp-6000"]
    );

    let out = init_and_up(repo.path(), &["ada=cpu"], &args);
    assert!(
        repo.read("ada.nix")
            .contains("package = pkgs.llama-cpp-cpu;"),
        "{}",
        repo.read("ada.nix")
    );
    assert!(out.contains("proven"), "{out}");
}

/// A Mac that runs llama.cpp only from a launchd agent (`lib.getExe
/// pkgs.llama-cpp`) runs it: evaluation says so, and init suggests metal.
#[test]
fn a_mac_running_llama_cpp_only_from_launchd_is_suggested_metal() {
    require_nix!();
    let repo = fixture_repo("mixed-fleet");
    let mac = repo
        .read("hosts/mac.nix")
        .replace("    pkgs.llama-cpp\n", "");
    repo.write("hosts/mac.nix", &mac);
    repo.commit_all("The Mac runs llama-server only");
    let mut init = vec!["init", "--"];
    let args = migration_override_args(repo.path());
    init.extend(args.iter().map(String::as_str));
    let (code, out, err) = fm(repo.path(), &init);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("mac ") && l.contains("metal")),
        "{out}"
    );
}

/// Once migrated, a reference to nixpkgs' llama-cpp brought back into a
/// nix-darwin or home-manager module is a violation whose help names that
/// machine's own variant, as for a NixOS host.
#[test]
fn the_guard_resolves_names_per_machine_on_darwin_and_home_manager() {
    let repo = fixture_repo("mixed-fleet");
    let dir = repo.path();
    let hosts = [
        "desktop=cuda",
        "mac=metal",
        "ada@laptop=cpu",
        "ada@studio=cpu",
    ];
    let mut init = vec!["--no-eval", "init"];
    for h in &hosts {
        init.extend(["--host", h]);
    }
    let (code, out, err) = fm(dir, &init);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = fm(dir, &["--no-eval", "up", "--no-lock", "--to", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = fm(dir, &["check"]);
    assert_eq!(code, 0, "{out}{err}");

    repo.write(
        "hosts/mac.nix",
        &repo.read("hosts/mac.nix").replace(
            "(lib.getExe pkgs.llama-cpp-metal)",
            "(lib.getExe pkgs.llama-cpp)",
        ),
    );
    repo.write(
        "home/ada.nix",
        &repo
            .read("home/ada.nix")
            .replace("llama-cpp-cpu", "llama-cpp"),
    );
    let (code, out, err) = fm(dir, &["check"]);
    assert_eq!(code, 4, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("use `pkgs.llama-cpp-metal` instead (mac uses metal)"),
        "{all}"
    );
    assert!(all.contains("use `llama-cpp-cpu` instead"), "{all}");
    assert!(all.contains("ada@laptop"), "{all}");
}

/// A Mac whose user gets llama.cpp through home-manager's nix-darwin module
/// (`useGlobalPkgs`): the overlay goes into the Mac's modules, the user's
/// module is rewritten to the Mac's variant, and the user installs
/// upstream's Metal build.
#[test]
fn home_manager_users_of_a_mac_get_its_metal_build() {
    require_nix!();
    let flake = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.nix-darwin = { url = "github:nix-darwin/nix-darwin"; inputs.nixpkgs.follows = "nixpkgs"; };
  inputs.home-manager = { url = "github:nix-community/home-manager"; inputs.nixpkgs.follows = "nixpkgs"; };
  outputs = { self, nixpkgs, nix-darwin, home-manager, ... }@inputs: {
    darwinConfigurations.air = nix-darwin.lib.darwinSystem {
      modules = [
        ./air.nix
        home-manager.darwinModules.home-manager
        {
          home-manager.useGlobalPkgs = true;
          home-manager.users.ada = import ./ada.nix;
        }
      ];
    };
  };
}
"#;
    let air =
        "{ ... }: {\n  nixpkgs.hostPlatform = \"aarch64-darwin\";\n  system.stateVersion = 6;\n}\n";
    let ada = "{ pkgs, ... }: {\n  home.packages = with pkgs; [ llama-cpp ];\n}\n";
    let repo = repo_of_files(
        &[("flake.nix", flake), ("air.nix", air), ("ada.nix", ada)],
        "darwin-hm",
    );
    let args = migration_override_args(repo.path());
    let mut init = vec!["init", "--yes", "--"];
    init.extend(args.iter().map(String::as_str));
    let (code, out, err) = fm(repo.path(), &init);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        repo.read("flake-migrate.toml").contains("air = \"metal\""),
        "{out}"
    );
    let mut up = vec!["up", "--no-lock", "--to", "5", "--"];
    up.extend(args.iter().map(String::as_str));
    let (code, out, err) = fm(repo.path(), &up);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        repo.read("ada.nix").contains("[ llama-cpp-metal ]"),
        "{}",
        repo.read("ada.nix")
    );
    assert_eq!(
        host_llama_packages(repo.path(), "air"),
        ["llama-cpp-metalkit-0.0.0"]
    );
}

#[test]
fn init_json_gives_each_machine_its_kind_and_system() {
    let repo = fixture_repo("mixed-fleet");
    let (code, out, err) = fm(repo.path(), &["--no-eval", "init", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hosts: Vec<String> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{} {} {} {}",
                h["name"], h["kind"], h["system"], h["variant"]
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            "\"ada@laptop\" \"home\" \"x86_64-linux\" \"cpu\"",
            "\"ada@studio\" \"home\" \"x86_64-darwin\" \"cpu\"",
            "\"desktop\" \"nixos\" \"x86_64-linux\" \"cuda\"",
            "\"mac\" \"darwin\" \"aarch64-darwin\" \"metal\"",
        ]
    );
}

/// `native` works on darwin as on Linux: the Mac's Metal build with
/// GGML_NATIVE on and the compiler wrapper keeping `-mcpu=native`.
#[test]
fn a_native_metal_build_keeps_metal_and_turns_native_on() {
    require_nix!();
    let repo = fixture_repo("mixed-fleet");
    let args = migration_override_args(repo.path());
    init_and_up(
        repo.path(),
        &[
            "mac=metal-native",
            "desktop=cuda",
            "ada@laptop=cpu",
            "ada@studio=cpu",
        ],
        &args,
    );
    assert!(
        repo.read("hosts/mac.nix")
            .contains("pkgs.llama-cpp-metal-native"),
        "{}",
        repo.read("hosts/mac.nix")
    );
    let mac = host_llama_derivations(repo.path(), "mac");
    assert_eq!(mac.len(), 1, "{mac:?}");
    assert_eq!(mac[0].name, "llama-cpp-metalkit-0.0.0");
    let last = |flag: &str| {
        mac[0]
            .cmake_flags
            .iter()
            .rev()
            .find(|f| f.contains(flag))
            .cloned()
    };
    assert_eq!(
        last("GGML_METAL").as_deref(),
        Some("-DGGML_METAL:BOOL=TRUE")
    );
    assert_eq!(
        last("GGML_NATIVE").as_deref(),
        Some("-DGGML_NATIVE:BOOL=TRUE")
    );
}
