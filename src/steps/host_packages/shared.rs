//! Which hosts share a module's references, and what to do when they need
//! different variants.
//!
//! Importing a module is not sharing its definitions: on nixpkgs' module
//! system a host whose `mkIf` condition is false there, that overrides the
//! value at a higher priority, or that drops the module with
//! `disabledModules` does not get them. Evaluation reports each host's
//! definitions after all three (`definitionsWithLocations`), so where it can
//! see the module's references it says which importers really share them.
//! Only a host with a variant is left out that way: it imports the overlay,
//! so the variant's name in the module is upstream's build there too, and
//! the guard, which never evaluates, agrees. A host without one still
//! counts (the name would be nixpkgs' build on it).

use std::path::Path;

use crate::config::{Build, Config};
use crate::eval::discover::{Discovery, HostFacts};
use crate::model;
use crate::refs::{LlamaRef, RefKind};
use crate::steps::Plan;

/// The importers of `file` that its references `found` reach, and every
/// importer without a variant. Without evaluation, or where it cannot see
/// them all (an interpolation, a callPackage, a host that failed), every
/// importer.
pub(super) fn sharing(
    config: &Config,
    discovery: Option<&Discovery>,
    file: &Path,
    importers: &[String],
    found: &[LlamaRef],
) -> Vec<String> {
    let Some(discovery) = discovery else {
        return importers.to_vec();
    };
    // What evaluation lists: installed packages and the service.
    let visible = found.iter().all(|r| {
        matches!(
            r.kind,
            RefKind::Bare
                | RefKind::Select
                | RefKind::Inherit
                | RefKind::Override { .. }
                | RefKind::ServiceWithoutPackage
        )
    });
    // The service's `enable` stands for the package only where the module
    // leaves `package` to its default (another host may take the service
    // and bring its own package).
    let enable_counts = found
        .iter()
        .any(|r| r.kind == RefKind::ServiceWithoutPackage);
    let reached = |host: &String| match discovery.hosts.get(host) {
        Some(HostFacts::Known(info)) => Some(info.packages.iter().chain(&info.service).any(|d| {
            d.file.as_deref() == Some(file)
                && (enable_counts || d.option != "services.llama-cpp.enable")
        })),
        _ => None,
    };
    let answers: Vec<Option<bool>> = importers.iter().map(reached).collect();
    // Evaluation must know every importer, and see the definitions on one
    // of them at least (else they are of a kind it does not list).
    if !visible || answers.contains(&None) || !answers.contains(&Some(true)) {
        return importers.to_vec();
    }
    importers
        .iter()
        .zip(answers)
        .filter(|(h, a)| *a == Some(true) || !config.hosts.contains_key(*h))
        .map(|(h, _)| h.clone())
        .collect()
}

/// A module whose references reach hosts of different variants: one
/// rewrite cannot suit them all, so the step is refused with a way out.
pub(super) fn shared_conflict(
    file: &Path,
    text: &str,
    first: &LlamaRef,
    hosts: &[(String, Option<Build>)],
) -> Plan {
    let list = hosts
        .iter()
        .map(|(h, v)| {
            format!(
                "{h} ({})",
                v.as_ref().map_or("no variant".into(), |v| v.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Plan::blocked(
        format!(
            "{}: this module references nixpkgs' llama-cpp and is shared by hosts of different variants: {list}",
            model::location(file, text, first.range.start)
        ),
        format!(
            "move the reference out of {} into each host's own module (for example `{}` there), or give those hosts one variant in flake-migrate.toml; then run `flake-migrate up` again",
            file.display(),
            example_definition(file, text, first)
        ),
    )
}

/// The definition a host's own module would hold instead of `r`, in the
/// option `r` is set in (`home.packages` in a home-manager module):
/// `environment.systemPackages = [ pkgs.llama-cpp-<variant> ];` when that
/// option cannot be told.
fn example_definition(file: &Path, text: &str, r: &LlamaRef) -> String {
    let variant = "pkgs.llama-cpp-<variant>";
    let place = crate::syntax::parse(file, text)
        .ok()
        .and_then(|root| super::relocate::place(&root, r));
    match place {
        Some(p) if p.in_list => format!("{} = [ {variant} ];", p.option.join(".")),
        Some(p) => format!("{} = {variant};", p.option.join(".")),
        None => format!("environment.systemPackages = [ {variant} ];"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str) -> String {
        let file = Path::new("common/ai.nix");
        let root = crate::syntax::parse(file, text).unwrap();
        let found = crate::refs::find(&root);
        example_definition(file, text, &found[0])
    }

    #[test]
    fn the_way_out_names_the_option_the_reference_is_set_in() {
        assert_eq!(
            example("{ pkgs, ... }: { home.packages = [ pkgs.llama-cpp ]; }"),
            "home.packages = [ pkgs.llama-cpp-<variant> ];"
        );
        assert_eq!(
            example("{ pkgs, ... }: { programs.x.package = pkgs.llama-cpp; }"),
            "programs.x.package = pkgs.llama-cpp-<variant>;"
        );
        assert_eq!(
            example(
                "{ pkgs, lib, ... }: { environment.systemPackages = lib.optionals true [ pkgs.llama-cpp ]; }"
            ),
            "environment.systemPackages = [ pkgs.llama-cpp-<variant> ];"
        );
    }
}
