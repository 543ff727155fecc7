//! `nixpkgs-llama-cpp` (after 0004): the hosts that have a variant do not
//! reference nixpkgs' llama-cpp again, in any form step 0004 rewrites.

use std::path::Path;

use crate::config::Variant;
use crate::error::Result;
use crate::guard::{Finding, Rule, Scope};
use crate::model::Model;
use crate::refs::{LlamaRef, RefKind};

pub const RULE: Rule = Rule {
    id: "nixpkgs-llama-cpp",
    summary: "hosts with a llama.cpp variant must not use nixpkgs' llama-cpp",
    help: "use the host's variant from the overlay, e.g. `pkgs.llama-cpp-cuda`",
    explanation: "\
Step 0004 rewrote every reference to nixpkgs' `llama-cpp` in the modules of
the hosts listed under [hosts] in flake-migrate.toml to the host's upstream
variant (`llama-cpp-cpu`, `-cuda`, `-vulkan`, `-rocm`). A new reference puts
nixpkgs' build, which lags upstream, back on the host.

It finds the same forms 0004 rewrites: `pkgs.llama-cpp`, `llama-cpp` under
`with pkgs;`, `inherit (pkgs) llama-cpp`, `\"${pkgs.llama-cpp}/bin/…\"`,
`(pkgs.llama-cpp.override { … })` (reported by `llama-cpp-override` once step
0005 is applied), and `services.llama-cpp.enable = true` without a `package`
(the module's default package is nixpkgs' build). Look-alikes are fine:
`systemd.services.llama-cpp`, `pkgs.myns.llama-cpp`, strings and comments.
Files of hosts without a variant are not checked. For an intentional
exception, end the line with `# flake-migrate: allow nixpkgs-llama-cpp`, or
put that comment alone on the line before.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let overrides_elsewhere = scope.is_active(super::llama_cpp_override::RULE.id);
    let skip = super::old_override::old_override_files(scope);
    let mut out = Vec::new();
    for file in scope.nix_files() {
        if skip.contains(&file) || file == scope.config.overlay {
            continue;
        }
        let Some(src) = scope.source(&file)? else {
            continue;
        };
        let found: Vec<&LlamaRef> = src
            .llama_refs()
            .iter()
            // Overlays' own `prev.llama-cpp` are old overrides: step 0005
            // and its rule deal with them.
            .filter(|r| !r.in_overlay())
            .filter(|r| !(overrides_elsewhere && matches!(r.kind, RefKind::Override { .. })))
            .collect();
        if found.is_empty() {
            continue;
        }
        // Only now read the hosts: most files have no reference at all.
        let model = scope.model()?;
        for r in found {
            let variants = match &model {
                Some(m) => configured_hosts_at(m, scope, &file, r.range.start),
                // A file that does not parse hides the hosts: report anyway.
                None => Vec::new(),
            };
            if model.is_some() && variants.is_empty() {
                continue;
            }
            out.push(finding(&file, r, &variants));
        }
    }
    Ok(out)
}

/// The configured hosts (with their variants) whose configuration includes
/// `offset` of `file`: every host importing the file, or, in a file that
/// defines hosts, the host whose definition holds the offset.
fn configured_hosts_at(
    model: &Model,
    scope: &Scope,
    file: &Path,
    offset: usize,
) -> Vec<(String, Variant)> {
    let mut hosts: Vec<&str> = model
        .hosts
        .iter()
        .filter(|h| h.files.iter().any(|f| f == file))
        .map(|h| h.name.as_str())
        .collect();
    hosts.extend(
        model
            .hosts_defined_at(file, offset)
            .into_iter()
            .map(|h| h.name.as_str()),
    );
    hosts.sort();
    hosts.dedup();
    hosts
        .into_iter()
        .filter_map(|h| Some((h.to_string(), *scope.config.hosts.get(h)?)))
        .collect()
}

fn finding(file: &Path, r: &LlamaRef, hosts: &[(String, Variant)]) -> Finding {
    let suggestion = match hosts.first() {
        Some((_, v)) if hosts.iter().all(|(_, o)| o == v) => Some(v.package_attr()),
        _ => None,
    };
    let for_hosts = if hosts.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            hosts
                .iter()
                .map(|(h, v)| format!("{h} uses {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let variant = suggestion
        .clone()
        .unwrap_or_else(|| "llama-cpp-<variant>".into());
    let base = r.base.as_deref().unwrap_or("pkgs");
    let (message, label, help) = match &r.kind {
        RefKind::ServiceWithoutPackage => (
            "`services.llama-cpp` is enabled without a `package`".to_string(),
            "its default package is nixpkgs' llama-cpp".to_string(),
            format!("set `services.llama-cpp.package = pkgs.{variant};`{for_hosts}"),
        ),
        RefKind::Override { .. } => (
            "override of nixpkgs' llama-cpp".to_string(),
            "builds nixpkgs' llama-cpp".to_string(),
            format!(
                "use `{base}.{variant}`{for_hosts}; upstream's variants replace the override arguments"
            ),
        ),
        RefKind::Inherit => (
            "nixpkgs' llama-cpp is inherited here".to_string(),
            "nixpkgs' llama-cpp".to_string(),
            format!("use `{base}.{variant}` instead{for_hosts}"),
        ),
        RefKind::Bare | RefKind::Select | RefKind::Interpolation => (
            "reference to nixpkgs' llama-cpp".to_string(),
            "nixpkgs' build, not upstream's".to_string(),
            match r.kind {
                RefKind::Bare => format!("use `{variant}` instead{for_hosts}"),
                _ => format!("use `{base}.{variant}` instead{for_hosts}"),
            },
        ),
    };
    Finding::at(file, r.range.clone(), message)
        .label(label)
        .help(help)
}

#[cfg(test)]
mod tests {
    use crate::guard::rules::testing::findings;

    const FLAKE: &str = r#"{
  outputs = { nixpkgs, ... }: {
    nixosConfigurations = {
      carbon = nixpkgs.lib.nixosSystem { modules = [ ./machines/carbon.nix ]; };
      boron = nixpkgs.lib.nixosSystem { modules = [ ./machines/boron.nix ]; };
    };
  };
}"#;

    #[test]
    fn every_form_in_a_configured_host_fails() {
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
}
