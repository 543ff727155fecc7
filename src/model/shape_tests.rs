//! One small in-memory flake per shape the static model reads, and the
//! shapes it must report as needing evaluation.

use std::path::PathBuf;

use super::Model;
use crate::files::MapFiles;

fn model(files: &[(&str, &str)]) -> Model {
    Model::read(&MapFiles::of(files)).unwrap()
}

const MODULE: &str = "{ ... }: { }";

fn names(m: &Model) -> Vec<&str> {
    m.hosts.iter().map(|h| h.name.as_str()).collect()
}

fn modules(m: &Model, host: &str) -> Vec<String> {
    m.host(host)
        .unwrap()
        .direct_modules
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

fn unresolved(m: &Model) -> Vec<String> {
    m.unresolved
        .iter()
        .map(|u| format!("{}:{}:{} {}", u.file.display(), u.line, u.column, u.what))
        .collect()
}

#[test]
fn gen_attrs_over_a_let_bound_list() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: let
    hosts = [ "a" "b" ];
    mkHost = name: nixpkgs.lib.nixosSystem { modules = [ ./hosts/${name}.nix ]; };
  in { nixosConfigurations = nixpkgs.lib.genAttrs hosts mkHost; };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("hosts/a.nix", MODULE),
        ("hosts/b.nix", MODULE),
    ]);
    assert_eq!(names(&m), ["a", "b"]);
    assert_eq!(modules(&m, "a"), ["hosts/a.nix"]);
    assert_eq!(modules(&m, "b"), ["hosts/b.nix"]);
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn map_attrs_over_a_let_bound_set_hands_each_entry_over() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: let
    hosts = {
      a = { modules = [ ./a.nix ]; };
      b = { modules = [ ./b.nix ]; };
    };
  in {
    nixosConfigurations = builtins.mapAttrs (name: cfg:
      nixpkgs.lib.nixosSystem { modules = [ ./common.nix ] ++ cfg.modules; }) hosts;
  };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("a.nix", MODULE),
        ("b.nix", MODULE),
        ("common.nix", MODULE),
    ]);
    assert_eq!(names(&m), ["a", "b"]);
    assert_eq!(modules(&m, "a"), ["common.nix", "a.nix"]);
    assert_eq!(modules(&m, "b"), ["common.nix", "b.nix"]);
    // Its own list is the one in its entry of the set.
    let a = m.host("a").unwrap();
    assert_eq!(&flake[a.modules_list.clone().unwrap()], "[ ./a.nix ]");
    assert_eq!(a.own_module, Some(PathBuf::from("a.nix")));
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn list_to_attrs_over_a_literal_and_a_let_bound_list() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: let
    mkSystem = n: nixpkgs.lib.nixosSystem { modules = [ ./hosts/${n} ]; };
    more = [ "c" ];
  in {
    nixosConfigurations =
      builtins.listToAttrs (map (n: { name = n; value = mkSystem n; }) [ "a" "b" ])
      // builtins.listToAttrs (map (h: { name = "${h}"; value = mkSystem h; }) more);
  };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("hosts/a/default.nix", MODULE),
        ("hosts/b/default.nix", MODULE),
        ("hosts/c/default.nix", MODULE),
    ]);
    assert_eq!(names(&m), ["a", "b", "c"]);
    assert_eq!(modules(&m, "a"), ["hosts/a/default.nix"]);
    assert_eq!(modules(&m, "c"), ["hosts/c/default.nix"]);
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn hosts_imported_from_a_function_of_the_inputs() {
    let flake = r#"{
  outputs = inputs: {
    nixosConfigurations = (import ./hosts inputs) // {
      c = inputs.nixpkgs.lib.nixosSystem { modules = [ ./c.nix ]; };
    };
  };
}"#;
    let hosts = r#"inputs: {
  a = inputs.nixpkgs.lib.nixosSystem { modules = [ ./a.nix ../common.nix ]; };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("hosts/default.nix", hosts),
        ("hosts/a.nix", MODULE),
        ("common.nix", MODULE),
        ("c.nix", MODULE),
    ]);
    assert_eq!(names(&m), ["a", "c"]);
    let a = m.host("a").unwrap();
    assert_eq!(a.def_file, PathBuf::from("hosts/default.nix"));
    assert_eq!(modules(&m, "a"), ["hosts/a.nix", "common.nix"]);
    assert_eq!(modules(&m, "c"), ["c.nix"]);
    assert_eq!(
        m.flake_files,
        [
            PathBuf::from("flake.nix"),
            PathBuf::from("hosts/default.nix")
        ]
    );
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn hosts_imported_with_a_set_of_arguments() {
    let flake = r#"{
  outputs = inputs: { nixosConfigurations = import ./hosts { inherit inputs; }; };
}"#;
    let hosts = r#"{ inputs }:
let lib = inputs.nixpkgs.lib; in {
  a = lib.nixosSystem { modules = [ ./a.nix ]; };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("hosts/default.nix", hosts),
        ("hosts/a.nix", MODULE),
    ]);
    assert_eq!(names(&m), ["a"]);
    assert_eq!(modules(&m, "a"), ["hosts/a.nix"]);
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn with_inputs_lists_and_a_local_modules_helper() {
    let flake = r#"{
  outputs = inputs@{ nixpkgs, ... }: let
    commonModules = with inputs; [
      ./modules/base.nix
      home-manager.nixosModules.home-manager
    ];
    modulesFor = name: [ ./hosts/${name}.nix ];
  in {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      modules = commonModules ++ modulesFor "a";
    };
  };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("modules/base.nix", MODULE),
        ("hosts/a.nix", MODULE),
    ]);
    assert_eq!(names(&m), ["a"]);
    assert_eq!(modules(&m, "a"), ["modules/base.nix", "hosts/a.nix"]);
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn the_flakes_own_nixos_modules_name_their_files() {
    let flake = r#"{
  outputs = inputs@{ self, nixpkgs, ... }: {
    nixosModules.base = ./modules/base.nix;
    nixosModules.extra = import ./modules/extra;
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      modules = [
        self.nixosModules.base
        inputs.self.nixosModules.extra
        self.nixosModules.missing
      ];
    };
  };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("modules/base.nix", MODULE),
        ("modules/extra/default.nix", MODULE),
    ]);
    assert_eq!(
        modules(&m, "a"),
        ["modules/base.nix", "modules/extra/default.nix"]
    );
    assert_eq!(
        unresolved(&m),
        [
            "flake.nix:9:9 host `a`: module `self.nixosModules.missing` is computed at evaluation time"
        ]
    );
}

#[test]
fn a_module_list_it_cannot_follow_is_reported() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: let
    mkHost = { name, extraModules }: nixpkgs.lib.nixosSystem {
      modules = [ ./hosts/${name}.nix ] ++ extraModules;
    };
  in {
    nixosConfigurations.a = mkHost { name = "a"; extraModules = inputs.extra.modules; };
  };
}"#;
    let m = model(&[("flake.nix", flake), ("hosts/a.nix", MODULE)]);
    assert_eq!(modules(&m, "a"), ["hosts/a.nix"]);
    assert!(m.host("a").unwrap().followed);
    assert_eq!(
        unresolved(&m),
        [
            "flake.nix:7:65 host `a`: module list `inputs.extra.modules` is computed at evaluation time"
        ]
    );
}

#[test]
fn a_helper_parameter_default_is_its_value() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: let
    mkHost = { name, extraModules ? [ ./extra.nix ] }: nixpkgs.lib.nixosSystem {
      modules = [ ./hosts/${name}.nix ] ++ extraModules;
    };
  in {
    nixosConfigurations.a = mkHost { name = "a"; };
    nixosConfigurations.b = mkHost { name = "b"; extraModules = [ ]; };
  };
}"#;
    let m = model(&[
        ("flake.nix", flake),
        ("hosts/a.nix", MODULE),
        ("hosts/b.nix", MODULE),
        ("extra.nix", MODULE),
    ]);
    assert_eq!(modules(&m, "a"), ["hosts/a.nix", "extra.nix"]);
    assert_eq!(modules(&m, "b"), ["hosts/b.nix"]);
    assert_eq!(unresolved(&m), Vec::<String>::new());
}

#[test]
fn host_names_it_cannot_read_are_reported() {
    let flake = r#"{
  outputs = { nixpkgs, ... }@inputs: {
    nixosConfigurations = nixpkgs.lib.genAttrs inputs.hostNames (name: { })
      // mkHosts ./hosts;
  };
}"#;
    let m = model(&[("flake.nix", flake)]);
    assert_eq!(names(&m), Vec::<&str>::new());
    assert_eq!(
        unresolved(&m),
        [
            "flake.nix:3:48 host names `inputs.hostNames` of `genAttrs`: not a list of strings that can be read without evaluation (run without --no-eval)",
            "flake.nix:4:10 hosts built by `mkHosts`: needs evaluation (run without --no-eval)",
        ]
    );
}

#[test]
fn a_filtered_read_dir_needs_evaluation() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: {
    nixosConfigurations = nixpkgs.lib.mapAttrs (name: _: mkHost name)
      (nixpkgs.lib.filterAttrs (_: t: t == "directory") (builtins.readDir ./hosts));
  };
}"#;
    let m = model(&[("flake.nix", flake), ("hosts/a/default.nix", MODULE)]);
    assert_eq!(names(&m), Vec::<&str>::new());
    assert_eq!(
        unresolved(&m),
        [
            "flake.nix:4:7 hosts from `builtins.readDir ./hosts` filtered or transformed by Nix code: needs evaluation (run without --no-eval)"
        ]
    );
}

#[test]
fn snowfall_lib_hosts_need_evaluation() {
    let direct = r#"{
  outputs = inputs: inputs.snowfall-lib.mkFlake { inherit inputs; src = ./.; };
}"#;
    let through_lib = r#"{
  outputs = inputs: let
    lib = inputs.snowfall-lib.mkLib { inherit inputs; src = ./.; };
  in lib.mkFlake { };
}"#;
    for (flake, at) in [(direct, "2:21"), (through_lib, "4:6")] {
        let m = model(&[("flake.nix", flake)]);
        assert_eq!(names(&m), Vec::<&str>::new());
        assert_eq!(
            unresolved(&m),
            [format!(
                "flake.nix:{at} hosts built by snowfall-lib's mkFlake: needs evaluation (run without --no-eval)"
            )]
        );
    }
}

#[test]
fn import_tree_modules_need_evaluation() {
    let flake = r#"{
  outputs = inputs: inputs.flake-parts.lib.mkFlake { inherit inputs; } {
    imports = [ (inputs.import-tree ./modules) ];
  };
}"#;
    let m = model(&[("flake.nix", flake)]);
    assert_eq!(
        unresolved(&m),
        [
            "flake.nix:3:17 modules loaded by import-tree from `./modules`: needs evaluation (run without --no-eval)"
        ]
    );
}

#[test]
fn a_module_file_that_does_not_exist_is_reported() {
    let flake = r#"{
  outputs = { nixpkgs, ... }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem { modules = [ ./a.nix ./gone.nix ]; };
  };
}"#;
    let m = model(&[("flake.nix", flake), ("a.nix", MODULE)]);
    assert_eq!(modules(&m, "a"), ["a.nix"]);
    assert_eq!(
        unresolved(&m),
        ["flake.nix:3:75 host `a`: module gone.nix does not exist"]
    );
}
