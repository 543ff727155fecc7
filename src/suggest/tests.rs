use super::*;

use std::collections::BTreeMap;

use crate::files::MapFiles;

/// The suggestion for the one host `box` of a flake with `host_args`
/// in its `nixosSystem` call and `module` as its module.
fn suggest_box(host_args: &str, module: &str) -> Suggestion {
    let flake = format!(
        "{{ outputs = {{ nixpkgs, ... }}: {{ nixosConfigurations.box = nixpkgs.lib.nixosSystem {{ {host_args} modules = [ ./box.nix ]; }}; }}; }}"
    );
    let files = MapFiles(BTreeMap::from([
        ("flake.nix".into(), flake),
        ("box.nix".into(), module.to_string()),
    ]));
    let model = Model::read(&files).unwrap();
    suggest(&files, &model).unwrap().remove(0)
}

#[test]
fn backends_switched_off_in_the_override_beat_hardware_hints() {
    let s = suggest_box(
        "",
        "{ pkgs, ... }: {\n  services.xserver.videoDrivers = [ \"modesetting\" ];\n  environment.systemPackages = [ (pkgs.llama-cpp.override { cudaSupport = false; rocmSupport = false; }) ];\n}\n",
    );
    assert_eq!(s.variant, Some(Variant::Cpu), "{s:?}");
    assert!(s.evidence.contains("cudaSupport = false"), "{s:?}");
}

#[test]
fn a_variant_the_hosts_system_lacks_is_never_suggested() {
    let rocm = "{ pkgs, ... }: {\n  environment.systemPackages = [ (pkgs.llama-cpp.override { rocmSupport = true; }) ];\n}\n";
    let s = suggest_box("system = \"aarch64-linux\";", rocm);
    assert_eq!(s.variant, Some(Variant::Cpu), "{s:?}");
    assert!(
        s.evidence.contains("rocmSupport = true") && s.evidence.contains("aarch64-linux"),
        "{s:?}"
    );
    let s = suggest_box("system = \"x86_64-linux\";", rocm);
    assert_eq!(s.variant, Some(Variant::Rocm), "{s:?}");
}

#[test]
fn a_backend_switched_on_beats_others_switched_off() {
    let s = suggest_box(
        "",
        "{ pkgs, ... }: {\n  environment.systemPackages = [ (pkgs.llama-cpp.override { cudaSupport = false; vulkanSupport = true; }) ];\n}\n",
    );
    assert_eq!(s.variant, Some(Variant::Vulkan), "{s:?}");
}

#[test]
fn option_signs_are_found_in_order() {
    let text =
        "x = [ \"-DGGML_NATIVE=ON\" ]; NIX_ENFORCE_NO_NATIVE = 0; y = { rpcSupport = true; };";
    let found: Vec<String> = option_clues(text).into_iter().map(|(_, o, _)| o).collect();
    assert_eq!(found, ["native", "native", "rpc"]);
}

#[test]
fn cuda_architectures_are_offered_for_a_cuda_host_with_their_evidence() {
    let module = "{ pkgs, ... }: {\n  nixpkgs.config.cudaCapabilities = [ \"8.6\" \"8.9\" ];\n  environment.systemPackages = [ (pkgs.llama-cpp.override { cudaSupport = true; }) ];\n}\n";
    let s = suggest_box("", module);
    assert_eq!(s.variant, Some(Variant::Cuda), "{s:?}");
    assert!(
        s.evidence
            .contains("box.nix:2: `cudaCapabilities = [ \"8.6\" \"8.9\" ]`"),
        "{s:?}"
    );
    assert!(s.evidence.contains("--host box=cuda-sm86-sm89"), "{s:?}");
    let spec = s.evidence.rsplit_once("--host box=").unwrap().1;
    let build = crate::config::Build::parse(spec).unwrap();
    assert_eq!(build.options.cuda_architectures().as_deref(), Some("86;89"));

    let flags = "{ pkgs, ... }: {\n  environment.systemPackages = [ ((pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (o: {\n    cmakeFlags = o.cmakeFlags ++ [ (lib.cmakeFeature \"CMAKE_CUDA_ARCHITECTURES\" \"86\") ];\n  })) ];\n}\n";
    let s = suggest_box("", flags);
    assert!(
        s.evidence.contains("`CMAKE_CUDA_ARCHITECTURES=86`"),
        "{s:?}"
    );
    assert!(s.evidence.ends_with("--host box=cuda-sm86"), "{s:?}");

    // Not for a build without CUDA.
    let s = suggest_box("", &module.replace("cudaSupport", "vulkanSupport"));
    assert_eq!(s.variant, Some(Variant::Vulkan), "{s:?}");
    assert!(!s.evidence.contains("sm86"), "{s:?}");
}

#[test]
fn cmake_flags_of_an_override_name_the_backend() {
    assert_eq!(
        cmake_backend(
            r#"x.overrideAttrs (o: { cmakeFlags = o.cmakeFlags ++ [ (lib.cmakeBool "GGML_CUDA" true) ]; })"#
        ),
        Some(("GGML_CUDA", Variant::Cuda))
    );
    assert_eq!(
        cmake_backend(r#"[ "-DGGML_VULKAN=ON" ]"#),
        Some(("GGML_VULKAN", Variant::Vulkan))
    );
    assert_eq!(cmake_backend(r#"[ "-DGGML_CUDA=OFF" ]"#), None);
    assert_eq!(cmake_backend(r#"(lib.cmakeBool "GGML_CUDA" false)"#), None);
}

#[test]
fn suggestions_for_the_fixture_shapes() {
    let mut all = String::new();
    for shape in [
        "seed",
        "override-fleet",
        "dotted-mkhost",
        "services",
        "fork-pin",
        "let-root",
        "tabs",
        "native-fleet",
    ] {
        let tree = crate::model::tests::fixture_tree(shape);
        let model = Model::read(&tree).unwrap();
        for s in suggest(&tree, &model).unwrap() {
            all.push_str(&format!(
                "{shape}/{}: {} ({})\n",
                s.host,
                s.variant.map_or("none".to_string(), |v| v.to_string()),
                s.evidence
            ));
        }
    }
    insta::assert_snapshot!(all);
}

const GUARDED_GRAPHICS: &str = "{ lib, pkgs, ... }: {\n  config = lib.mkMerge [\n    (lib.mkIf (pkgs.stdenv.hostPlatform.system != \"aarch64-linux\") {\n      hardware.graphics.extraPackages = [ pkgs.mesa ];\n    })\n    { environment.systemPackages = [ pkgs.llama-cpp ]; }\n  ];\n}\n";

#[test]
fn evidence_under_a_condition_is_shown_with_it_and_ranks_below_the_rest() {
    let s = suggest_box("", GUARDED_GRAPHICS);
    assert_eq!(s.variant, Some(Variant::Vulkan), "{s:?}");
    assert!(
        s.evidence.contains("box.nix:4")
            && s.evidence.contains(
                "only if `(pkgs.stdenv.hostPlatform.system != \"aarch64-linux\")` (box.nix:3)"
            ),
        "{s:?}"
    );
    // Unconditional evidence of a weaker kind still wins.
    let s = suggest_box(
        "",
        "{ lib, config, pkgs, ... }: {\n  hardware.nvidia = lib.mkIf config.gpu.nvidia { open = true; };\n  hardware.graphics = if config.gpu.nvidia then { } else { extraPackages = [ pkgs.mesa ]; };\n  environment.systemPackages = [ (pkgs.llama-cpp.override { }) ] ++ lib.optionals config.x [ pkgs.llama-cpp-cuda ];\n  boot.kernelModules = [ ];\n  services.xserver.videoDrivers = [ \"amdgpu\" ];\n}\n",
    );
    assert_eq!(s.variant, Some(Variant::Vulkan), "{s:?}");
    assert!(s.evidence.contains("videoDrivers"), "{s:?}");
}

#[test]
fn a_condition_that_tests_the_system_is_decided_when_the_system_is_known() {
    let files = MapFiles(BTreeMap::from([
        (
            "flake.nix".into(),
            "{ outputs = { nixpkgs, ... }: { nixosConfigurations.box = nixpkgs.lib.nixosSystem { modules = [ ./box.nix ]; }; }; }".into(),
        ),
        ("box.nix".into(), GUARDED_GRAPHICS.into()),
    ]));
    let model = Model::read(&files).unwrap();
    let on = |system: &str| {
        let systems = HashMap::from([("box".to_string(), system.to_string())]);
        suggest_with_systems(&files, &model, &systems)
            .unwrap()
            .remove(0)
    };
    let pi = on("aarch64-linux");
    assert_eq!(pi.variant, Some(Variant::Cpu), "{pi:?}");
    assert!(
        pi.evidence
            .contains("not counted: box.nix:4: `hardware.graphics.extraPackages")
            && pi.evidence.contains("which is false on aarch64-linux"),
        "{pi:?}"
    );
    let pc = on("x86_64-linux");
    assert_eq!(pc.variant, Some(Variant::Vulkan), "{pc:?}");
    assert!(
        pc.evidence.contains("which holds on x86_64-linux"),
        "{pc:?}"
    );
}
