//! `nixpkgs-llama-cpp` (after 0004): no tracked `.nix` file references
//! nixpkgs' llama-cpp, in any form, whichever hosts import it; and a
//! `llama-cpp-<variant>` name is the overlay's for every host that could see
//! it. The hosts only make the help precise, and can spare a reference
//! their own configuration makes upstream's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::Variant;
use crate::error::Result;
use crate::guard::hosts::HostFacts;
use crate::guard::{Finding, Rule, Scope};
use crate::model::Host;
use crate::refs::{LlamaRef, RefKind};

pub const RULE: Rule = Rule {
    id: "nixpkgs-llama-cpp",
    summary: "no file may use nixpkgs' llama-cpp once the hosts have upstream's variants",
    help: "use the host's variant from the overlay, e.g. `pkgs.llama-cpp-cuda`",
    explanation: "\
Step 0004 rewrote every reference to nixpkgs' `llama-cpp` in the modules of
the hosts listed under [hosts] in flake-migrate.toml to the host's upstream
variant (`llama-cpp-cpu`, `-cuda`, `-vulkan`, `-rocm`). A new reference puts
nixpkgs' build, which lags upstream, back on a host.

The rule holds for every tracked `.nix` file, whether or not the guard knows
which hosts import it (directory auto-imports, import-tree, haumea and the
like are not followed statically), so a later change to an `imports` list
cannot bring a reference in unseen. Where the hosts are known, the help says
which variant to use, or that a host has none yet (`flake-migrate init --host
H=VARIANT`, then `up`).

It finds the forms 0004 rewrites: `pkgs.llama-cpp`, `llama-cpp` under `with
pkgs;`, `inherit (pkgs) llama-cpp`, `\"${pkgs.llama-cpp}/bin/…\"`,
`(pkgs.llama-cpp.override { … })` (reported by `llama-cpp-override` once step
0005 is applied), `services.llama-cpp.enable = true` when no module of the
host sets `services.llama-cpp.package` (the default is nixpkgs' build); and
nixpkgs instances no overlay reaches (`nixpkgs.legacyPackages.${system}.llama-cpp`,
`(import inputs.nixpkgs { … }).llama-cpp`), and `callPackage ./pkg.nix { }` of
a file that takes `llama-cpp` as an argument. A host that applies upstream's
own `inputs.llama-cpp.overlays.default` has upstream's build as
`pkgs.llama-cpp`: references only such hosts see are fine.

nixpkgs has its own `llama-cpp-cuda`, `-vulkan` and `-rocm`: such a name is
upstream's only where the overlay defines it, that is for the variants
flake-migrate.toml lists, on hosts that import the overlay.

Look-alikes are fine: `systemd.services.llama-cpp`, `pkgs.myns.llama-cpp`,
strings and comments. Files that deliberately build with nixpkgs' llama-cpp
go under `[guard] exclude = [\"pkgs/legacy/**\"]` in flake-migrate.toml; for
one line, end it with `# flake-migrate: allow nixpkgs-llama-cpp`, or put that
comment alone on the line before.",
    check,
};

fn check(scope: &Scope) -> Result<Vec<Finding>> {
    let overrides_elsewhere = scope.is_active(super::llama_cpp_override::RULE.id);
    let skip = super::old_override::old_override_files(scope);
    let mut out = Vec::new();
    for file in files_to_examine(scope)? {
        if skip.contains(&file) || file == scope.config.overlay {
            continue;
        }
        let Some(src) = scope.source(&file)? else {
            continue;
        };
        let found: Vec<LlamaRef> = scope
            .llama_refs(&src)
            .into_iter()
            // Overlays' own `prev.llama-cpp` are old overrides: step 0005
            // and its rule deal with them.
            .filter(|r| !r.in_overlay())
            .filter(|r| !(overrides_elsewhere && matches!(r.kind, RefKind::Override { .. })))
            .collect();
        let named: Vec<&(Variant, LlamaRef)> = src
            .variant_refs()
            .iter()
            .filter(|(_, r)| !r.in_overlay())
            .collect();
        if found.is_empty() && named.is_empty() {
            continue;
        }
        // Only now read the hosts: most files have no reference at all.
        let model = scope.model()?;
        let seeing = |offset: usize| -> Result<Vec<(&Host, HostFacts)>> {
            let hosts = model
                .as_deref()
                .map(|m| m.hosts_seeing(&file, offset))
                .unwrap_or_default();
            hosts
                .into_iter()
                .map(|h| Ok((h, scope.host_facts(h)?)))
                .collect()
        };
        for r in found {
            let hosts = seeing(r.range.start)?;
            if !hosts.is_empty()
                && hosts
                    .iter()
                    .all(|(_, f)| r.spared_by(f.upstream_overlay, f.service_package))
            {
                continue;
            }
            out.push(reference(scope, &file, &r, &hosts));
        }
        for (variant, r) in named {
            let hosts = seeing(r.range.start)?;
            if let Some(f) = variant_name(scope, &file, *variant, r, &hosts) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// The selected files; in a commit that can change what a host's
/// configuration holds or does (flake.nix, a path added or dropped, an
/// overlay or a llama-cpp setting edited), the hosts' files too: what they
/// mean for a host may have changed although they did not.
fn files_to_examine(scope: &Scope) -> Result<Vec<PathBuf>> {
    let mut files = scope.nix_files().to_vec();
    let Some(changes) = scope.staged() else {
        return Ok(files);
    };
    let (added, removed) = scope.paths_changed()?;
    let mut reach = removed;
    for change in &changes.changes {
        if reach || change.path.extension().is_none_or(|e| e != "nix") {
            continue;
        }
        let mentions = |text: &str| text.contains("overlays") || text.contains("llama-cpp");
        reach = scope
            .source(&change.path)?
            .is_some_and(|s| mentions(&s.text))
            || scope
                .previous_source(&change.path)?
                .is_some_and(|s| mentions(&s.text));
    }
    if !reach && !added {
        return Ok(files);
    }
    // Paths only added: what a host's configuration does can only grow, so
    // only the files the new paths bring in can mean something new.
    if !reach && let Some(reached) = scope.reached_by_added_paths()? {
        let mut all: BTreeSet<PathBuf> = files.drain(..).collect();
        all.extend(reached);
        return Ok(all.into_iter().filter(|f| !scope.is_excluded(f)).collect());
    }
    let Some(model) = scope.model()? else {
        return Ok(files);
    };
    let mut all: BTreeSet<PathBuf> = files.drain(..).collect();
    all.extend(model.flake_files.iter().cloned());
    all.extend(model.hosts.iter().flat_map(|h| h.files.iter().cloned()));
    Ok(all.into_iter().filter(|f| !scope.is_excluded(f)).collect())
}

/// A `llama-cpp-<variant>` name that is nixpkgs' build for some host that
/// could see it.
fn variant_name(
    scope: &Scope,
    file: &Path,
    variant: Variant,
    r: &LlamaRef,
    hosts: &[(&Host, HostFacts)],
) -> Option<Finding> {
    let name = variant.package_attr();
    let configured = scope.config.variants();
    let listed = || {
        configured
            .iter()
            .map(|v| v.package_attr())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (message, help) = if !r.through_host_pkgs() {
        let base = r.base.as_deref().unwrap_or("pkgs");
        (
            format!("`{base}.{name}` is nixpkgs' build"),
            format!(
                "the overlay is applied to the host's `pkgs`, not to `{base}`: use `pkgs.{name}`"
            ),
        )
    } else if !configured.contains(&variant) {
        (
            format!("`{name}` is nixpkgs' build: the overlay does not define it"),
            format!(
                "the overlay defines {} (the variants in flake-migrate.toml); to use {variant}, give the hosts that need it that variant (`flake-migrate init --host H={variant}`) and run `flake-migrate up`",
                if configured.is_empty() {
                    "nothing".to_string()
                } else {
                    listed()
                }
            ),
        )
    } else {
        let without: Vec<&str> = hosts
            .iter()
            .filter(|(_, f)| !f.overlay)
            .map(|(h, _)| h.name.as_str())
            .collect();
        if without.is_empty() {
            return None;
        }
        (
            format!(
                "`{name}` is nixpkgs' build on {}, which do{} not import the overlay",
                without.join(", "),
                if without.len() == 1 { "es" } else { "" }
            ),
            format!(
                "give {} a variant in flake-migrate.toml and run `flake-migrate up` (step 0003 imports the overlay), or keep this file out of {} imports",
                without.join(", "),
                if without.len() == 1 { "its" } else { "their" }
            ),
        )
    };
    Some(
        Finding::at(file, r.range.clone(), message)
            .label("nixpkgs' build, not upstream's")
            .help(help),
    )
}

fn reference(scope: &Scope, file: &Path, r: &LlamaRef, hosts: &[(&Host, HostFacts)]) -> Finding {
    let with_variant: Vec<(&str, crate::config::Build)> = hosts
        .iter()
        .filter_map(|(h, _)| Some((h.name.as_str(), scope.config.build(&h.name)?)))
        .collect();
    let without: Vec<&str> = hosts
        .iter()
        .filter(|(h, _)| !scope.config.hosts.contains_key(&h.name))
        .map(|(h, _)| h.name.as_str())
        .collect();
    let suggestion = match with_variant.first() {
        Some((_, v)) if with_variant.iter().all(|(_, o)| o == v) => Some(v.package_attr()),
        _ => None,
    };
    let variant = suggestion
        .clone()
        .unwrap_or_else(|| "llama-cpp-<variant>".into());
    let mut why = Vec::new();
    if !with_variant.is_empty() {
        why.push(
            with_variant
                .iter()
                .map(|(h, v)| format!("{h} uses {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if !without.is_empty() {
        let hs = without.join(", ");
        let eg = without[0];
        why.push(format!(
            "{hs} ha{} no variant: run `flake-migrate init --host {eg}=VARIANT` and `flake-migrate up`",
            if without.len() == 1 { "s" } else { "ve" }
        ));
    }
    if hosts.is_empty() {
        why.push(format!(
            "no host is known to import {}; if it deliberately builds with nixpkgs' llama-cpp, list it under `[guard] exclude` in flake-migrate.toml",
            file.display()
        ));
    }
    let for_hosts = format!(" ({})", why.join("; "));
    let base = match (&r.base, r.through_host_pkgs()) {
        (Some(b), true) => b.as_str(),
        _ => "pkgs",
    };
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
        RefKind::CallPackage { target } => (
            format!(
                "callPackage of {}, which takes nixpkgs' llama-cpp as `llama-cpp`",
                target.display()
            ),
            "callPackage passes nixpkgs' llama-cpp".to_string(),
            format!(
                "build on the overlay's variant instead: pass `{{ llama-cpp = pkgs.{variant}; }}` and drop what only nixpkgs' package accepts{for_hosts}"
            ),
        ),
        RefKind::Bare | RefKind::Select | RefKind::Interpolation => (
            if r.own_instance {
                "reference to nixpkgs' llama-cpp through an instance of its own".to_string()
            } else {
                "reference to nixpkgs' llama-cpp".to_string()
            },
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
mod tests;
