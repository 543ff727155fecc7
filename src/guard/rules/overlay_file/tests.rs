use crate::guard::rules::testing::findings;

const OVERLAY: &str = "nixos/overlays/llama-cpp.nix";
const GOOD: &str = "# Upstream llama.cpp flake builds as llama-cpp-<variant> (portable: GGML_NATIVE off).\n{ inputs }:\n_final: prev:\nlet upstream = inputs.llama-cpp.packages.${prev.stdenv.hostPlatform.system}; in\n{\n  llama-cpp-cuda = upstream.cuda;\n  llama-cpp-vulkan = upstream.vulkan;\n}\n";

#[test]
fn the_generated_overlay_passes() {
    assert_eq!(
        findings(&super::RULE, &[(OVERLAY, GOOD)]),
        Vec::<String>::new()
    );
}

#[test]
fn a_missing_overlay_fails() {
    assert_eq!(
        findings(&super::RULE, &[("flake.nix", "{ }")]),
        [
            "nixos/overlays/llama-cpp.nix: the llama.cpp overlay nixos/overlays/llama-cpp.nix is missing"
        ]
    );
}

#[test]
fn each_variant_maps_to_upstreams_output_for_it() {
    let swapped = GOOD.replace(
        "llama-cpp-cuda = upstream.cuda",
        "llama-cpp-cuda = upstream.vulkan",
    );
    assert_eq!(
        findings(&super::RULE, &[(OVERLAY, &swapped)]),
        [
            "nixos/overlays/llama-cpp.nix:6:20: `llama-cpp-cuda` maps to upstream's `vulkan`, not its `cuda`"
        ]
    );
    let other = GOOD.replace(
        "upstream.vulkan",
        "inputs.other.packages.x86_64-linux.vulkan",
    );
    assert_eq!(
        findings(&super::RULE, &[(OVERLAY, &other)]),
        ["nixos/overlays/llama-cpp.nix:7:22: `llama-cpp-vulkan` is not upstream's `vulkan` build"]
    );
    let cpu = "{ inputs }: final: prev: { llama-cpp-cpu = inputs.llama-cpp.packages.${prev.system}.default; llama-cpp-cuda = inputs.llama-cpp.packages.${prev.system}.cuda; llama-cpp-vulkan = inputs.llama-cpp.packages.${prev.system}.vulkan; }";
    let mut config = crate::guard::rules::testing::seed_config();
    config
        .hosts
        .insert("boron".into(), crate::config::Variant::Cpu);
    assert_eq!(
        crate::guard::rules::testing::findings_with(&super::RULE, &config, &[(OVERLAY, cpu)]),
        Vec::<String>::new()
    );
}

#[test]
fn cuda_capabilities_are_built_by_the_helper_from_upstreams_overlay() {
    let mut config = crate::guard::rules::testing::seed_config();
    let caps = crate::config::Options {
        cuda_capabilities: Some(vec!["8.9".into()]),
        ..Default::default()
    };
    config.options.insert("carbon".into(), caps);
    let text = format!(
        "{}\n    {} in\n{{\n  llama-cpp-cuda-sm89 = cuda [ \"8.9\" ];\n  llama-cpp-vulkan = upstream.vulkan;\n}}\n",
        GOOD.split(" in\n{").next().unwrap(),
        crate::config::cuda_helper("llama-cpp")
    );
    let check = |text: &str| {
        crate::guard::rules::testing::findings_with(&super::RULE, &config, &[(OVERLAY, text)])
    };
    assert_eq!(check(&text), Vec::<String>::new(), "{text}");
    let other = text.replace("inputs.llama-cpp.overlays", "inputs.fork.overlays");
    assert_eq!(
        check(&other),
        ["nixos/overlays/llama-cpp.nix:7:25: `llama-cpp-cuda-sm89` is not upstream's `cuda` build"]
    );
}

#[test]
fn options_are_upstreams_package_overridden_and_still_checked() {
    let mut config = crate::guard::rules::testing::seed_config();
    let native = crate::config::Options {
        native: true,
        ..Default::default()
    };
    config.options.insert("beryllium".into(), native.clone());
    config.options.insert(
        "carbon".into(),
        crate::config::Options {
            rpc: true,
            ..native
        },
    );
    // As step 0002 writes it for this config.
    let text = format!(
        "{}\n    {} in\n{{\n  llama-cpp-cuda-native-rpc = native (upstream.cuda.override {{ useRpc = true; }});\n  llama-cpp-vulkan-native = native upstream.vulkan;\n}}\n",
        GOOD.split(" in\n{").next().unwrap(),
        crate::config::NATIVE_HELPER
    );
    let check = |text: &str| {
        crate::guard::rules::testing::findings_with(&super::RULE, &config, &[(OVERLAY, text)])
    };
    assert_eq!(check(&text), Vec::<String>::new(), "{text}");
    let swapped = text.replace("native upstream.vulkan", "native upstream.cuda");
    assert_eq!(
        check(&swapped),
        [
            "nixos/overlays/llama-cpp.nix:8:29: `llama-cpp-vulkan-native` maps to upstream's `cuda`, not its `vulkan`"
        ]
    );
    let base_only = GOOD;
    assert_eq!(
        check(base_only),
        [
            "nixos/overlays/llama-cpp.nix:2:1: the overlay does not define `llama-cpp-cuda-native-rpc`",
            "nixos/overlays/llama-cpp.nix:2:1: the overlay does not define `llama-cpp-vulkan-native`",
        ]
    );
}

#[test]
fn a_dropped_variant_or_a_nixpkgs_build_fails() {
    let text = GOOD
        .replace("  llama-cpp-vulkan = upstream.vulkan;\n", "")
        .replace(
            "upstream.cuda",
            "prev.llama-cpp.override { cudaSupport = true; }",
        );
    assert_eq!(
        findings(&super::RULE, &[(OVERLAY, &text)]),
        [
            "nixos/overlays/llama-cpp.nix:2:1: the overlay does not define `llama-cpp-vulkan`",
            "nixos/overlays/llama-cpp.nix:6:20: `llama-cpp-cuda` is built from nixpkgs' llama-cpp again",
        ]
    );
}

#[test]
fn mpi_cuda_is_upstreams_cuda_with_mpi_not_its_mpi_cuda_output() {
    let mut config = crate::guard::rules::testing::seed_config();
    config
        .hosts
        .insert("carbon".into(), crate::config::Variant::MpiCuda);
    config
        .hosts
        .insert("neon".into(), crate::config::Variant::MpiCuda);
    let sm89 = crate::config::Options {
        cuda_capabilities: Some(vec!["8.9".into()]),
        ..Default::default()
    };
    config.options.insert("neon".into(), sm89);
    // As step 0002 writes it for this config.
    let text = format!(
        "{}\n    {} in\n{{\n  llama-cpp-mpi-cuda = upstream.cuda.override {{ useMpi = true; }};\n  llama-cpp-mpi-cuda-sm89 = (cuda [ \"8.9\" ]).override {{ useMpi = true; }};\n  llama-cpp-vulkan = upstream.vulkan;\n}}\n",
        GOOD.split(" in\n{").next().unwrap(),
        crate::config::cuda_helper("llama-cpp")
    );
    let check = |text: &str| {
        crate::guard::rules::testing::findings_with(&super::RULE, &config, &[(OVERLAY, text)])
    };
    assert_eq!(check(&text), Vec::<String>::new(), "{text}");
    let upstreams = text.replace(
        "upstream.cuda.override { useMpi = true; }",
        "upstream.mpi-cuda",
    );
    assert_eq!(
        check(&upstreams),
        [
            "nixos/overlays/llama-cpp.nix:7:24: `llama-cpp-mpi-cuda` maps to upstream's `mpi-cuda`, not its `cuda` with useMpi = true"
        ]
    );
    let no_mpi = text
        .replace("upstream.cuda.override { useMpi = true; }", "upstream.cuda")
        .replace(
            "(cuda [ \"8.9\" ]).override { useMpi = true; }",
            "cuda [ \"8.9\" ]",
        );
    assert_eq!(
        check(&no_mpi),
        [
            "nixos/overlays/llama-cpp.nix:7:24: `llama-cpp-mpi-cuda` is upstream's `cuda` without `useMpi = true;`",
            "nixos/overlays/llama-cpp.nix:8:29: `llama-cpp-mpi-cuda-sm89` is upstream's `cuda` without `useMpi = true;`",
        ]
    );
}

#[test]
fn what_darwin_lacks_may_be_read_with_a_throw_and_nothing_else() {
    let guarded = GOOD.replace(
        "llama-cpp-cuda = upstream.cuda;",
        "llama-cpp-cuda = (upstream.cuda or (absent \"cuda\"));",
    );
    assert_eq!(
        findings(&super::RULE, &[(OVERLAY, &guarded)]),
        Vec::<String>::new()
    );
    let fallback = GOOD.replace(
        "llama-cpp-cuda = upstream.cuda;",
        "llama-cpp-cuda = upstream.cuda or upstream.default;",
    );
    assert_eq!(
        findings(&super::RULE, &[(OVERLAY, &fallback)]),
        ["nixos/overlays/llama-cpp.nix:6:20: `llama-cpp-cuda` is not upstream's `cuda` build"]
    );
}
