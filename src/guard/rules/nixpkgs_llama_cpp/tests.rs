use crate::guard::rules::testing::findings;

const FLAKE: &str = r#"{
  outputs = { nixpkgs, ... }: {
nixosConfigurations = {
  carbon = nixpkgs.lib.nixosSystem { modules = [ ./machines/carbon.nix ]; };
  boron = nixpkgs.lib.nixosSystem { modules = [ ./machines/boron.nix ]; };
};
  };
}"#;

// boron has no variant: its reference was let through before (issue 10, hole 2).
#[test]
fn every_form_in_any_host_fails() {
    let carbon = r#"{ pkgs, ... }: {
  environment.systemPackages = with pkgs; [ llama-cpp ];
  services.llama-cpp.enable = true;
  systemd.services.llama-cpp.serviceConfig.Nice = 5;
  environment.etc.x.text = "${pkgs.llama-cpp}/bin/llama-server";
  users.users.dan.packages = [ pkgs.myns.llama-cpp (pkgs.llama-cpp.override { cudaSupport = true; }) ];
}"#;
    let found = findings(
        &super::RULE,
        &[
            ("flake.nix", FLAKE),
            ("machines/carbon.nix", carbon),
            (
                "machines/boron.nix",
                "{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp ]; }",
            ),
        ],
    );
    assert_eq!(
        found,
        [
            "machines/boron.nix:1:49: reference to nixpkgs' llama-cpp",
            "machines/carbon.nix:2:45: reference to nixpkgs' llama-cpp",
            "machines/carbon.nix:3:3: `services.llama-cpp` is enabled without a `package`",
            "machines/carbon.nix:5:31: reference to nixpkgs' llama-cpp",
            "machines/carbon.nix:6:52: override of nixpkgs' llama-cpp",
        ]
    );
}

#[test]
fn the_allow_comment_is_honoured() {
    let carbon = "{ pkgs, ... }: {\n  # flake-migrate: allow nixpkgs-llama-cpp\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}";
    let found = findings(
        &super::RULE,
        &[("flake.nix", FLAKE), ("machines/carbon.nix", carbon)],
    );
    assert_eq!(
        found,
        ["machines/carbon.nix:3:34: reference to nixpkgs' llama-cpp (allowed)"]
    );
}

/// The help of each finding, for the tests of what it says.
fn helps(files: &[(&str, &str)]) -> Vec<String> {
    crate::guard::rules::testing::helps(&super::RULE, files)
}

#[test]
fn a_file_no_host_is_known_to_import_fails_and_says_so() {
    let files = [
        ("flake.nix", FLAKE),
        ("machines/carbon.nix", "{ }"),
        (
            "machines/llm.nix",
            "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}",
        ),
    ];
    assert_eq!(
        findings(&super::RULE, &files),
        ["machines/llm.nix:2:34: reference to nixpkgs' llama-cpp"]
    );
    let help = &helps(&files)[0];
    assert!(
        help.contains("no host is known to import machines/llm.nix"),
        "{help}"
    );
    assert!(help.contains("[guard] exclude"), "{help}");
}

#[test]
fn a_host_without_a_variant_is_told_how_to_get_one() {
    let files = [
        ("flake.nix", FLAKE),
        (
            "machines/boron.nix",
            "{ pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp ]; }",
        ),
    ];
    let help = &helps(&files)[0];
    assert!(
        help.contains("boron has no variant: run `flake-migrate init --host boron=VARIANT`"),
        "{help}"
    );
}

#[test]
fn excluded_paths_are_not_examined() {
    let mut config = crate::guard::rules::testing::seed_config();
    config.guard.exclude = vec!["pkgs/legacy/**".into()];
    let files = [
        ("pkgs/legacy/old/llama.nix", "{ pkgs }: pkgs.llama-cpp"),
        ("pkgs/llama.nix", "{ pkgs }: pkgs.llama-cpp"),
    ];
    assert_eq!(
        crate::guard::rules::testing::findings_with(&super::RULE, &config, &files),
        ["pkgs/llama.nix:1:11: reference to nixpkgs' llama-cpp"]
    );
}

#[test]
fn instances_of_their_own_and_call_package_are_references() {
    let module = r#"{ pkgs, inputs, system, ... }: {
  a = inputs.nixpkgs.legacyPackages.${system}.llama-cpp;
  b = inputs.nixpkgs.legacyPackages.x86_64-linux.llama-cpp;
  c = (import inputs.nixpkgs { inherit system; }).llama-cpp;
  d = pkgs.callPackage ./pkgs/llama.nix { };
  e = pkgs.callPackage ./pkgs/fine.nix { };
  f = inputs.llama-cpp.legacyPackages.${system}.llamaPackages.llama-cpp;
}"#;
    let files = [
        ("hosts/m.nix", module),
        (
            "hosts/pkgs/llama.nix",
            "{ llama-cpp }: llama-cpp.override { cudaSupport = true; }",
        ),
        ("hosts/pkgs/fine.nix", "{ hello }: hello"),
    ];
    assert_eq!(
        findings(&super::RULE, &files),
        [
            "hosts/m.nix:2:7: reference to nixpkgs' llama-cpp through an instance of its own",
            "hosts/m.nix:3:7: reference to nixpkgs' llama-cpp through an instance of its own",
            "hosts/m.nix:4:7: reference to nixpkgs' llama-cpp through an instance of its own",
            "hosts/m.nix:5:7: callPackage of hosts/pkgs/llama.nix, which takes nixpkgs' llama-cpp as `llama-cpp`",
        ]
    );
}

const FLEET: &str = r#"{
  outputs = { nixpkgs, ... }@inputs: {
nixosConfigurations = {
  carbon = nixpkgs.lib.nixosSystem { modules = [ ./machines/carbon.nix ./nixos/overlays/llama-cpp.nix ]; };
  boron = nixpkgs.lib.nixosSystem { modules = [ ./machines/boron.nix ]; };
  up = nixpkgs.lib.nixosSystem { modules = [ ./machines/up.nix { nixpkgs.overlays = [ inputs.llama-cpp.overlays.default ]; } ]; };
};
  };
}"#;

#[test]
fn variant_names_are_upstreams_only_where_the_overlay_defines_them() {
    let files = [
        ("flake.nix", FLEET),
        (
            "machines/carbon.nix",
            "{ pkgs, unstable, ... }: {\n  a = [ pkgs.llama-cpp-cuda pkgs.llama-cpp-vulkan ];\n  b = pkgs.llama-cpp-rocm;\n  c = unstable.llama-cpp-cuda;\n  d = pkgs.llama-cpp-python;\n}",
        ),
        (
            "machines/boron.nix",
            "{ pkgs, ... }: { imports = [ ./shared.nix ]; }",
        ),
        (
            "machines/shared.nix",
            "{ pkgs, ... }: { x = with pkgs; [ llama-cpp-cuda ]; }",
        ),
    ];
    assert_eq!(
        findings(&super::RULE, &files),
        [
            "machines/carbon.nix:3:7: `llama-cpp-rocm` is nixpkgs' build: the overlay does not define it",
            "machines/carbon.nix:4:7: `unstable.llama-cpp-cuda` is nixpkgs' build",
            "machines/shared.nix:1:35: `llama-cpp-cuda` is nixpkgs' build on boron, which does not import the overlay",
        ]
    );
}

#[test]
fn upstreams_own_overlay_makes_llama_cpp_upstreams() {
    let files = [
        ("flake.nix", FLEET),
        (
            "machines/up.nix",
            "{ pkgs, ... }: {\n  a = [ pkgs.llama-cpp ];\n  b = pkgs.llama-cpp.override { cudaSupport = true; };\n  services.llama-cpp.enable = true;\n}",
        ),
    ];
    assert_eq!(
        findings(&super::RULE, &files),
        ["machines/up.nix:3:7: override of nixpkgs' llama-cpp"]
    );
}

#[test]
fn the_service_package_may_be_set_in_another_module_of_the_host() {
    let flake = FLAKE.replace(
        "./machines/carbon.nix ]",
        "./machines/carbon.nix ./machines/llm.nix ]",
    );
    let files = [
        ("flake.nix", flake.as_str()),
        (
            "machines/carbon.nix",
            "{ pkgs, ... }: { services.llama-cpp.package = pkgs.my-llama; }",
        ),
        (
            "machines/llm.nix",
            "{ ... }: { services.llama-cpp.enable = true; }",
        ),
        (
            "machines/boron.nix",
            "{ ... }: { services.llama-cpp.enable = true; }",
        ),
    ];
    assert_eq!(
        findings(&super::RULE, &files),
        ["machines/boron.nix:1:12: `services.llama-cpp` is enabled without a `package`"]
    );
}
