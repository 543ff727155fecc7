//! `overlay-imported` (after 0003): every host that has a variant still
//! imports the overlay.
//!
//! A host imports it when a path to the overlay appears in its definition
//! (or, for a host built by a helper such as `mkHost`, anywhere in the file
//! that defines it) or in a module file it imports, as the host model
//! (`crate::model`) follows them.

use crate::error::Result;
use crate::guard::{Finding, Rule, Scope};

pub const RULE: Rule = Rule {
    id: "overlay-imported",
    summary: "each host with a llama.cpp variant must import the overlay",
    help: "add the overlay back to the host's `nixpkgs.overlays`: `(import ./nixos/overlays/llama-cpp.nix { inherit inputs; })`",
    explanation: "\
Step 0003 added the overlay to `nixpkgs.overlays` of each host listed under
[hosts] in flake-migrate.toml, and of no other host. A host that stops
importing it no longer has `llama-cpp-<variant>`, so its configuration fails
to evaluate, or worse, someone \"fixes\" that by going back to nixpkgs'
llama-cpp.

This rule looks for a path to the overlay in the host's definition under
`nixosConfigurations` (anywhere in the defining file when a helper such as
`mkHost` builds the host) and in the module files the host imports. It
points at the host's definition when none names the overlay. Hosts the flake
does not define statically are not checked. In the pre-commit hook it runs
only when the commit changes flake.nix or removes a path from a file.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    if scope.config.hosts.is_empty() {
        return Ok(Vec::new());
    }
    // Only a commit that drops a path can drop an import: this keeps the
    // hook from reading every host's modules on each commit.
    if !scope.paths_changed()?.1 {
        return Ok(Vec::new());
    }
    let Some(model) = scope.model()? else {
        return Ok(Vec::new());
    };
    let overlay = scope.config.overlay.as_path();
    let mut out = Vec::new();
    for name in scope.config.hosts.keys() {
        let Some(host) = model.host(name) else {
            continue;
        };
        if host.imports(&scope.config.overlay) {
            continue;
        }
        let Some(src) = scope.source(&host.def_file)? else {
            continue;
        };
        let start = host.range.start;
        let line_end = src.text[start..]
            .find('\n')
            .map_or(host.range.end, |i| (start + i).min(host.range.end));
        out.push(
            Finding::at(
                host.def_file.clone(),
                start..line_end,
                format!("host `{name}` no longer imports the overlay {}", overlay.display()),
            )
            .label(format!("`{name}` is defined here"))
            .help(format!(
                "add `{{ nixpkgs.overlays = [ (import ./{} {{ inherit inputs; }}) ]; }}` to its modules",
                overlay.display()
            )),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::guard::rules::testing::findings;

    const FLAKE: &str = r#"{
  outputs = { self, nixpkgs, ... }@inputs: {
    nixosConfigurations = {
      carbon = nixpkgs.lib.nixosSystem {
        modules = [
          ./machines/carbon.nix
          { nixpkgs.overlays = [ (import ./nixos/overlays/llama-cpp.nix { inherit inputs; }) ]; }
        ];
      };
      beryllium = nixpkgs.lib.nixosSystem {
        modules = [ ./machines/beryllium.nix ];
      };
      boron = nixpkgs.lib.nixosSystem { modules = [ ./machines/boron.nix ]; };
    };
  };
}"#;

    #[test]
    fn points_at_the_host_that_lost_the_import() {
        let files = [
            ("flake.nix", FLAKE),
            ("machines/carbon.nix", "{ }"),
            ("machines/beryllium.nix", "{ }"),
            ("machines/boron.nix", "{ }"),
        ];
        assert_eq!(
            findings(&super::RULE, &files),
            [
                "flake.nix:10:19: host `beryllium` no longer imports the overlay nixos/overlays/llama-cpp.nix"
            ]
        );
    }

    #[test]
    fn an_import_in_the_host_module_counts() {
        let files = [
            ("flake.nix", FLAKE),
            ("machines/carbon.nix", "{ }"),
            (
                "machines/beryllium.nix",
                "{ inputs, ... }: { nixpkgs.overlays = [ (import ../nixos/overlays/llama-cpp.nix { inherit inputs; }) ]; }",
            ),
        ];
        assert!(findings(&super::RULE, &files).is_empty());
    }

    #[test]
    fn a_helper_built_host_counts_the_helpers_modules() {
        let flake = r#"{
  outputs = inputs: let
    mkHost = name: inputs.nixpkgs.lib.nixosSystem {
      modules = [ ./hosts/${name} { nixpkgs.overlays = [ (import ./nixos/overlays/llama-cpp.nix { inherit inputs; }) ]; } ];
    };
  in {
    nixosConfigurations.carbon = mkHost "carbon";
    nixosConfigurations.beryllium = mkHost "beryllium";
  };
}"#;
        assert!(findings(&super::RULE, &[("flake.nix", flake)]).is_empty());
        let without = flake.replace(
            " { nixpkgs.overlays = [ (import ./nixos/overlays/llama-cpp.nix { inherit inputs; }) ]; }",
            "",
        );
        assert_eq!(findings(&super::RULE, &[("flake.nix", &without)]).len(), 2);
    }
}
