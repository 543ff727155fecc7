//! Machines of every kind in the static reading: nix-darwin hosts and
//! standalone home-manager configurations, written directly, through a
//! helper, or in a flake-parts module, each with its kind and modules.

use super::Model;
use crate::files::MapFiles;
use crate::host_kind::HostKind;

fn kinds(files: &[(&str, &str)]) -> Vec<(String, HostKind, Vec<String>)> {
    let model = Model::read(&MapFiles::of(files)).unwrap();
    assert!(model.unresolved.is_empty(), "{:?}", model.unresolved);
    let mut out: Vec<(String, HostKind, Vec<String>)> = model
        .hosts
        .iter()
        .map(|h| {
            let modules = h
                .direct_modules
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            (h.name.clone(), h.kind, modules)
        })
        .collect();
    out.sort();
    out
}

const MODULE: &str = "{ ... }: { }";

#[test]
fn darwin_and_home_configurations_built_by_helpers_are_hosts() {
    let flake = r#"{
  outputs = { nixpkgs, nix-darwin, home-manager, ... }@inputs: let
    mkMac = name: nix-darwin.lib.darwinSystem { modules = [ ./macs/${name}.nix ]; };
    mkHome = { user, system }: home-manager.lib.homeManagerConfiguration {
      pkgs = nixpkgs.legacyPackages.${system};
      extraSpecialArgs = { inherit inputs; };
      modules = [ ./home/${user}.nix ];
    };
  in {
    darwinConfigurations = nixpkgs.lib.genAttrs [ "air" "studio" ] mkMac;
    homeConfigurations."ada@box" = mkHome { user = "ada"; system = "x86_64-linux"; };
  };
}"#;
    let found = kinds(&[
        ("flake.nix", flake),
        ("macs/air.nix", MODULE),
        ("macs/studio.nix", MODULE),
        ("home/ada.nix", MODULE),
    ]);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        found,
        [
            ("ada@box".into(), HostKind::Home, s(&["home/ada.nix"])),
            ("air".into(), HostKind::Darwin, s(&["macs/air.nix"])),
            ("studio".into(), HostKind::Darwin, s(&["macs/studio.nix"])),
        ]
    );
    let model = Model::read(&MapFiles::of(&[
        ("flake.nix", flake),
        ("macs/air.nix", MODULE),
        ("macs/studio.nix", MODULE),
        ("home/ada.nix", MODULE),
    ]))
    .unwrap();
    assert!(
        model.host("ada@box").unwrap().inputs_in_modules,
        "extraSpecialArgs passes inputs"
    );
}

#[test]
fn darwin_configurations_of_a_flake_parts_module_are_hosts() {
    let flake = r#"{
  outputs = inputs@{ flake-parts, ... }: flake-parts.lib.mkFlake { inherit inputs; } {
    imports = [ ./parts/macs.nix ];
  };
}"#;
    let part = r#"{ inputs, ... }: {
  flake.darwinConfigurations.mac = inputs.nix-darwin.lib.darwinSystem {
    modules = [ ../hosts/mac.nix ];
  };
}"#;
    let found = kinds(&[
        ("flake.nix", flake),
        ("parts/macs.nix", part),
        ("hosts/mac.nix", MODULE),
    ]);
    assert_eq!(
        found,
        [(
            "mac".into(),
            HostKind::Darwin,
            vec!["hosts/mac.nix".to_string()]
        )]
    );
}
