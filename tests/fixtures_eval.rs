//! The fixture repositories and the stand-in flakes behave like the real
//! thing: every fixture locks, passes `nix flake check --no-build` and, before
//! any migration, gives each host nixpkgs' llama-cpp (or none), offline.

mod support;

use std::collections::BTreeSet;

use support::*;

/// Lock, check and evaluate one fixture shape against its `.expect.toml`.
fn fixture_evaluates_as_expected(shape: &str) {
    let expect = expectations(shape);
    let repo = fixture_repo(shape);
    let dir = repo.path();

    flake_lock(dir).unwrap_or_else(|e| panic!("{shape}: {e}"));
    let check_fails = expect
        .raw
        .get("flake_check_fails")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    match flake_check(dir) {
        Ok(()) => assert!(
            !check_fails,
            "{shape}: flake check passed but the fixture says it fails"
        ),
        Err(e) => assert!(check_fails, "{shape}: {e}"),
    }

    let hosts: BTreeSet<String> = host_names(dir).into_iter().collect();
    let expected: BTreeSet<String> = expect.hosts.keys().cloned().collect();
    assert_eq!(
        hosts, expected,
        "{shape}: the flake's machines differ from [hosts]"
    );

    let before = expect.raw.get("before").and_then(|v| v.as_table());
    for (host, variant) in &expect.hosts {
        let names = host_llama_packages(dir, host);
        if let Some(exact) = before.and_then(|b| b.get(host)) {
            let exact: Vec<String> = exact
                .as_array()
                .unwrap_or_else(|| panic!("{shape}: before.{host} is not a list"))
                .iter()
                .map(|v| v.as_str().expect("package name").to_string())
                .collect();
            assert_eq!(names, exact, "{shape}: llama packages of {host}");
        }
        let nixpkgs_llama = names.iter().filter(|n| n.starts_with("llama-cpp-")).count();
        if expect.strings("wrapped").contains(host) {
            // Its llama.cpp is a dependency of another package.
            assert_eq!(nixpkgs_llama, 0, "{shape}: {host} installs {names:?}");
        } else if variant == "none" {
            assert_eq!(
                nixpkgs_llama, 0,
                "{shape}: {host} uses no llama.cpp, got {names:?}"
            );
        } else {
            assert!(
                nixpkgs_llama > 0,
                "{shape}: {host} ({variant}) should have a llama-cpp, got {names:?}"
            );
        }
    }
}

macro_rules! fixture_tests {
    ($($test:ident => $shape:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                require_nix!();
                fixture_evaluates_as_expected($shape);
            }
        )*

        /// Every fixture directory has a test above (and the reverse).
        #[test]
        fn every_fixture_shape_has_an_eval_test() {
            let tested: BTreeSet<&str> = [$($shape),*].into_iter().collect();
            let shapes = fixture_shapes();
            let on_disk: BTreeSet<&str> = shapes.iter().map(String::as_str).collect();
            assert_eq!(tested, on_disk);
        }
    };
}

fixture_tests! {
    seed_fixture_evaluates_before_migration => "seed",
    override_fleet_fixture_evaluates_before_migration => "override-fleet",
    dotted_mkhost_fixture_evaluates_before_migration => "dotted-mkhost",
    home_manager_users_fixture_evaluates_before_migration => "home-manager-users",
    services_fixture_evaluates_before_migration => "services",
    let_alias_fixture_evaluates_before_migration => "let-alias",
    shared_conflict_fixture_evaluates_before_migration => "shared-conflict",
    fork_pin_fixture_evaluates_before_migration => "fork-pin",
    tabs_fixture_evaluates_before_migration => "tabs",
    let_root_fixture_evaluates_before_migration => "let-root",
    flake_parts_fixture_evaluates_before_migration => "flake-parts",
    eval_only_fixture_evaluates_before_migration => "eval-only",
    overlay_names_fixture_evaluates_before_migration => "overlay-names",
    upstream_input_fixture_evaluates_before_migration => "upstream-input",
    native_fleet_fixture_evaluates_before_migration => "native-fleet",
    shared_reach_fixture_evaluates_before_migration => "shared-reach",
    call_package_fixture_evaluates_before_migration => "call-package",
    mixed_fleet_fixture_evaluates_before_migration => "mixed-fleet",
}

#[test]
fn every_fixture_has_expectations_with_known_variants() {
    for shape in fixture_shapes() {
        let expect = expectations(&shape);
        assert!(!expect.hosts.is_empty(), "{shape}: [hosts] is empty");
        assert!(!expect.notes.trim().is_empty(), "{shape}: notes are empty");
        for (host, variant) in &expect.hosts {
            assert!(
                ["cuda", "vulkan", "cpu", "rocm", "metal", "none"].contains(&variant.as_str()),
                "{shape}: host {host} has unknown variant {variant:?}"
            );
        }
        assert!(
            !expect.llama_hosts().is_empty(),
            "{shape}: no host uses llama.cpp"
        );
    }
}

#[test]
fn every_fixture_and_standin_nix_file_parses() {
    require_nix!();
    let files = nix_files(&fixtures_dir());
    assert!(files.len() > 50, "found only {} .nix files", files.len());
    let broken: Vec<_> = files.iter().filter(|f| !nix_parses(f)).collect();
    assert!(broken.is_empty(), "these files do not parse: {broken:#?}");
}

#[test]
fn locked_fixture_repo_leaves_a_clean_tree() {
    require_nix!();
    let repo = locked_fixture_repo("tabs");
    let git = repo.git();
    let statuses = git.statuses(None).unwrap();
    assert!(
        statuses.is_empty(),
        "dirty after locking: {:?}",
        statuses
            .iter()
            .map(|s| s.path().map(String::from))
            .collect::<Vec<_>>()
    );
    let head = git.head().unwrap().peel_to_tree().unwrap();
    assert!(head.get_path(std::path::Path::new("flake.lock")).is_ok());
    assert_eq!(git.head().unwrap().shorthand().ok(), Some("main"));
    let sig = git
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .author()
        .email()
        .ok()
        .map(String::from);
    assert_eq!(sig.as_deref(), Some("test@example.invalid"));
}

#[test]
fn fixtures_carry_no_lock_file() {
    for shape in fixture_shapes() {
        assert!(
            !fixture_source(&shape).join("flake.lock").exists(),
            "{shape}: fixtures are kept unlocked; tests lock them against the stand-ins"
        );
    }
}

#[test]
fn override_args_map_every_input_to_a_standin() {
    require_nix!();
    let repo = fixture_repo("fork-pin");
    let args = standin_override_args(repo.path());
    let pairs: Vec<(String, String)> = args
        .chunks(3)
        .map(|c| {
            assert_eq!(c[0], "--override-input");
            let standin = c[2].rsplit('/').next().unwrap().to_string();
            (c[1].clone(), standin)
        })
        .collect();
    let has = |input: &str, standin: &str| pairs.iter().any(|(i, s)| i == input && s == standin);
    assert!(has("nixpkgs", "nixpkgs"), "{pairs:?}");
    // flake = false source trees: any directory.
    assert!(has("llama-cpp-src", "empty"), "{pairs:?}");
    // A fork of llama.cpp is a llama.cpp flake; its own nixpkgs is not
    // followed in this fixture, so it is overridden too.
    assert!(has("llama-fork", "llama-cpp"), "{pairs:?}");
    assert!(has("llama-fork/nixpkgs", "nixpkgs"), "{pairs:?}");
}

/// Override arguments computed before 0001 still lock the upstream input
/// that 0001 adds (following nixpkgs) without the network.
#[test]
fn migration_override_args_cover_the_input_added_later() {
    require_nix!();
    let repo = fixture_repo("tabs");
    let args = migration_override_args(repo.path());
    let flake = repo
        .read("flake.nix")
        .replace(
            "\t\tnixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n",
            "\t\tnixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n\t\tllama-cpp = {\n\t\t\turl = \"github:ggml-org/llama.cpp\";\n\t\t\tinputs.nixpkgs.follows = \"nixpkgs\";\n\t\t};\n",
        )
        .replace("{self, nixpkgs}:", "{self, nixpkgs, llama-cpp}:");
    repo.write("flake.nix", &flake);
    repo.commit_all("Add llama-cpp input");

    let out = nix_cmd()
        .current_dir(repo.path())
        .args(["flake", "lock"])
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock: serde_json::Value = serde_json::from_str(&repo.read("flake.lock")).unwrap();
    let node = &lock["nodes"]["llama-cpp"];
    assert_eq!(node["original"]["repo"], "llama.cpp", "{lock:#}");
    assert_eq!(node["locked"]["type"], "path", "{lock:#}");
    assert_eq!(
        node["inputs"]["nixpkgs"],
        serde_json::json!(["nixpkgs"]),
        "{lock:#}"
    );
    assert!(flake_check(repo.path()).is_ok());
}

/// The upstream stand-in has upstream's output names, derivation names and
/// backend flags, and refuses `cudaCapabilities` like upstream's package.nix.
#[test]
fn llama_cpp_standin_matches_upstream_outputs() {
    require_nix!();
    let standins = standins_dir();
    let flake = format!("path:{}", standins.join("llama-cpp").display());
    let nixpkgs = format!("path:{}", standins.join("nixpkgs").display());
    let eval = |attr: &str, apply: &str| -> Result<serde_json::Value, String> {
        let out = nix_cmd()
            .args([
                "eval",
                "--json",
                "--impure",
                "--no-write-lock-file",
                "--override-input",
                "nixpkgs",
                &nixpkgs,
            ])
            .arg(format!("{flake}#{attr}"))
            .args(["--apply", apply])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };

    let describe = "ps: builtins.mapAttrs (_: p: { inherit (p) name; flags = p.cmakeFlags or []; \
                    inputs = map (i: i.name) (p.buildInputs or []); }) ps";
    let x86 = eval("packages.x86_64-linux", describe).unwrap();
    let names: BTreeSet<&str> = x86
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "cuda",
            "default",
            "mpi-cpu",
            "mpi-cuda",
            "python-scripts",
            "rocm",
            "vulkan",
            "windows"
        ])
    );
    let name = |v: &str| x86[v]["name"].as_str().unwrap().to_string();
    let flags =
        |v: &str| -> Vec<String> { serde_json::from_value(x86[v]["flags"].clone()).unwrap() };
    assert_eq!(name("default"), "llama-cpp-blas-0.0.0");
    assert_eq!(name("cuda"), "llama-cpp-cuda-0.0.0");
    assert_eq!(name("vulkan"), "llama-cpp-vulkan-0.0.0");
    assert_eq!(name("rocm"), "llama-cpp-rocm-0.0.0");
    assert_eq!(name("mpi-cpu"), "llama-cpp-blas-mpi-0.0.0");
    // Upstream's `mpi-cuda` is its CPU build with MPI, as in its flake.nix.
    assert_eq!(name("mpi-cuda"), "llama-cpp-blas-mpi-0.0.0");
    for v in ["default", "cuda", "vulkan", "rocm"] {
        assert!(
            flags(v).contains(&"-DGGML_NATIVE:BOOL=FALSE".to_string()),
            "{v}: {:?}",
            flags(v)
        );
    }
    assert!(flags("cuda").contains(&"-DGGML_CUDA:BOOL=TRUE".to_string()));
    assert!(flags("vulkan").contains(&"-DGGML_VULKAN:BOOL=TRUE".to_string()));
    assert!(flags("default").contains(&"-DGGML_CUDA:BOOL=FALSE".to_string()));
    let vulkan_inputs: Vec<String> =
        serde_json::from_value(x86["vulkan"]["inputs"].clone()).unwrap();
    assert!(
        vulkan_inputs
            .iter()
            .any(|i| i.starts_with("vulkan-loader-")),
        "{vulkan_inputs:?}"
    );

    let aarch64 = eval("packages.aarch64-linux", "builtins.attrNames").unwrap();
    assert!(
        !aarch64.as_array().unwrap().iter().any(|v| v == "rocm"),
        "rocm is x86_64-linux only"
    );

    let err = eval(
        "packages.x86_64-linux.cuda",
        "p: (p.override { cudaCapabilities = [ \"8.9\" ]; }).name",
    )
    .unwrap_err();
    assert!(err.contains("cudaCapabilities"), "{err}");
    let ok = eval(
        "packages.x86_64-linux.default",
        "p: (p.override { useVulkan = true; }).name",
    )
    .unwrap();
    assert_eq!(ok, "llama-cpp-vulkan-0.0.0");

    // Like upstream, overlays.default swaps in upstream's llama-cpp.
    let overlay = eval(
        "overlays.default",
        &format!(
            "o: (import {}/nixpkgs {{ system = \"x86_64-linux\"; overlays = [ o ]; }}).llama-cpp.name",
            standins.display()
        ),
    );
    assert_eq!(overlay.unwrap(), "llama-cpp-blas-0.0.0");
}

/// On darwin upstream's `default` is the Metal build on Apple Silicon
/// (`useMetalKit`, no BLAS suffix) and the CPU build on Intel Macs, with no
/// CUDA, ROCm or Vulkan output, as upstream's flake.nix and package.nix.
#[test]
fn llama_cpp_standin_builds_metal_on_apple_silicon_and_cpu_on_intel_macs() {
    require_nix!();
    let standins = standins_dir();
    let out = nix_cmd()
        .args(["eval", "--json", "--no-write-lock-file", "--override-input", "nixpkgs"])
        .arg(format!("path:{}", standins.join("nixpkgs").display()))
        .arg(format!("path:{}#packages", standins.join("llama-cpp").display()))
        .args([
            "--apply",
            "ps: builtins.mapAttrs (_: s: { names = builtins.attrNames s; default = s.default.name; \
             metal = builtins.elem \"-DGGML_METAL:BOOL=TRUE\" s.default.cmakeFlags; }) \
             { inherit (ps) aarch64-darwin x86_64-darwin; }",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["aarch64-darwin"]["default"], "llama-cpp-metalkit-0.0.0");
    assert_eq!(v["aarch64-darwin"]["metal"], true);
    assert_eq!(v["x86_64-darwin"]["default"], "llama-cpp-blas-0.0.0");
    assert_eq!(v["x86_64-darwin"]["metal"], false);
    for system in ["aarch64-darwin", "x86_64-darwin"] {
        assert_eq!(
            v[system]["names"],
            serde_json::json!(["default", "python-scripts", "windows"]),
            "{system}"
        );
    }
}

/// The corrected plan applied by hand to the seed fixture: upstream input
/// following nixpkgs, the overlay imported only by carbon and beryllium, the
/// old override file deleted. The stand-ins must give each host its upstream
/// variant and no nixpkgs llama-cpp: what migration 0006 will verify.
#[test]
fn seed_migrated_by_hand_gets_upstream_variants() {
    require_nix!();
    let repo = fixture_repo("seed");
    let flake = repo.read("flake.nix");
    let flake = flake.replacen(
        "    nixos-hardware.url",
        "    llama-cpp = {\n      url = \"github:ggml-org/llama.cpp\";\n      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n\n    nixos-hardware.url",
        1,
    );
    let overlay_module = "({...}: {nixpkgs.overlays = [overlay-stable];})";
    let with_llama = "({...}: {nixpkgs.overlays = [overlay-stable (import ./nixos/overlays/llama-cpp.nix {inherit inputs;})];})";
    // carbon and beryllium come first in the file; boron keeps its module.
    let flake = flake.replacen(overlay_module, with_llama, 2);
    repo.write("flake.nix", &flake);
    repo.write(
        "nixos/overlays/llama-cpp.nix",
        "{inputs}: final: prev: let\n  up = inputs.llama-cpp.packages.${prev.stdenv.hostPlatform.system};\nin {\n  \
         llama-cpp-cpu = up.default;\n  llama-cpp-cuda = up.cuda;\n  llama-cpp-vulkan = up.vulkan;\n}\n",
    );
    std::fs::remove_file(repo.path().join("nixos/pkgs/llama-cpp-variants.nix")).unwrap();
    let shared = repo.read("nixos/default.nix");
    let start = shared.find("    overlays = [").unwrap();
    let end = shared[start..].find("];\n").unwrap() + start + 3;
    repo.write(
        "nixos/default.nix",
        &format!("{}{}", &shared[..start], &shared[end..]),
    );
    repo.commit_all("Migrate by hand");

    flake_lock(repo.path()).unwrap();
    let lock = repo.read("flake.lock");
    assert!(lock.contains("\"llama-cpp\""), "{lock}");
    flake_check(repo.path()).unwrap();

    let carbon = host_llama_derivations(repo.path(), "carbon");
    assert_eq!(
        carbon.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["llama-cpp-cuda-0.0.0"]
    );
    assert!(
        carbon[0]
            .cmake_flags
            .contains(&"-DGGML_CUDA:BOOL=TRUE".to_string())
    );
    let beryllium = host_llama_derivations(repo.path(), "beryllium");
    assert_eq!(
        beryllium
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["llama-cpp-vulkan-0.0.0"]
    );
    assert!(
        beryllium[0]
            .build_inputs
            .iter()
            .any(|i| i.starts_with("vulkan-loader-"))
    );
    assert!(host_llama_packages(repo.path(), "boron").is_empty());

    // A host that kept a reference to the deleted attribute fails the check.
    let carbon_nix = repo
        .read("machines/carbon.nix")
        .replace("llama-cpp-cuda", "llama-cpp-rocm");
    repo.write("machines/carbon.nix", &carbon_nix);
    repo.commit_all("Break carbon");
    let err = flake_check(repo.path()).unwrap_err();
    assert!(err.contains("llama-cpp-rocm"), "{err}");
}

/// Home-Manager sees the system's overlays only with useGlobalPkgs = true
/// (otherwise it builds its own pkgs), and services.llama-cpp.package
/// defaults to nixpkgs' llama-cpp, as in NixOS.
#[test]
fn standin_home_manager_and_service_behave_like_nixos() {
    require_nix!();
    let standins = standins_dir();
    let expr = format!(
        r#"
let
  # The stand-in flake's lib: nixpkgs' real lib with nixosSystem.
  lib = ((import "{s}/nixpkgs/flake.nix").outputs {{ self = {{ outPath = "{s}/nixpkgs"; }}; }}).lib;
  host = global: lib.nixosSystem {{
    system = "x86_64-linux";
    modules = [
      "{s}/home-manager/nixos"
      ({{ pkgs, ... }}: {{
        nixpkgs.overlays = [ (final: prev: {{ overlay-marker = prev.writeText "overlay-marker" ""; }}) ];
        home-manager.useGlobalPkgs = global;
        home-manager.users.alice = {{ imports = [ ({{ pkgs, lib, ... }}: {{
          home.packages = lib.optional (pkgs ? overlay-marker) pkgs.overlay-marker ++ [ pkgs.htop ];
        }}) ]; }};
        services.llama-cpp = {{ enable = true; model = "/srv/models/m.gguf"; }};
      }})
    ];
  }};
  names = c: map (p: p.name) c.home-manager.users.alice.home.packages;
in {{
  global = names (host true).config;
  own = names (host false).config;
  service = (host true).config.services.llama-cpp.package.name;
  unit = (host true).config.systemd.services.llama-cpp.serviceConfig.ExecStart;
}}
"#,
        s = standins.display()
    );
    let out = nix_instantiate_cmd()
        .args(["--eval", "--strict", "--json", "-E", &expr])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["global"],
        serde_json::json!(["overlay-marker", "htop-3.4.1"])
    );
    assert_eq!(v["own"], serde_json::json!(["htop-3.4.1"]));
    assert_eq!(v["service"], "llama-cpp-6000");
    assert!(
        v["unit"]
            .as_str()
            .unwrap()
            .contains("-llama-cpp-6000/bin/llama-server"),
        "{v}"
    );
}

/// `.override` with an argument nixpkgs' llama-cpp does not take fails, as
/// the real callPackage'd package does; known arguments change the flags.
#[test]
fn standin_nixpkgs_llama_cpp_overrides_like_nixpkgs() {
    require_nix!();
    let pkgs = format!(
        "import \"{}/nixpkgs\" {{ system = \"x86_64-linux\"; }}",
        standins_dir().display()
    );
    let eval = |body: &str| {
        nix_instantiate_cmd()
            .args([
                "--eval",
                "--strict",
                "--json",
                "-E",
                &format!("let pkgs = {pkgs}; in {body}"),
            ])
            .output()
            .unwrap()
    };
    let ok = eval(
        "let p = pkgs.llama-cpp.override { vulkanSupport = true; }; in [ p.name (builtins.elem \"-DGGML_VULKAN:BOOL=TRUE\" p.cmakeFlags) pkgs.llama-cpp.pname pkgs.stdenv.hostPlatform.system pkgs.system ]",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            "llama-cpp-6000",
            true,
            "llama-cpp",
            "x86_64-linux",
            "x86_64-linux"
        ])
    );
    let bad = eval("(pkgs.llama-cpp.override { useCuda = true; }).name");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("useCuda"));
    // overrideAttrs survives a later .override, as with makeOverridable.
    let both = eval(
        "let p = (pkgs.llama-cpp.overrideAttrs (old: { version = \"git\"; })).override { cudaSupport = true; }; in [ p.name (builtins.elem \"-DGGML_CUDA:BOOL=TRUE\" p.cmakeFlags) ]",
    );
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&both.stdout).unwrap();
    assert_eq!(v, serde_json::json!(["llama-cpp-git", true]));
}
