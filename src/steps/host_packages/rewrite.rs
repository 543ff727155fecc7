//! Rewriting each form of reference to the variant's package, with a note
//! where the rewrite drops or adds something.

use std::path::Path;

use rnix::ast;

use super::leftovers::Leftover;
use super::old_attrs;
use super::override_args::covered;
use super::pkgs_scope::pkgs_in_scope;
use crate::config::Build;
#[cfg(test)]
use crate::config::Variant;
use crate::edit::{self, Splice};
use crate::model;
use crate::pinned_src::Revisions;
use crate::record::NotCarried;
use crate::refs::{self, LlamaRef, RefKind};

/// What a rewrite tells the user: notes, the references it had to leave,
/// and what the old overrides it replaces did that is not carried over.
#[derive(Default)]
pub(super) struct Said {
    pub notes: Vec<String>,
    pub left: Vec<Leftover>,
    pub not_carried: Vec<NotCarried>,
}

/// What the references become: the hosts' build, and the revisions the
/// flake's inputs name.
pub(super) struct Target<'a> {
    pub build: &'a Build,
    /// The configured hosts the references belong to.
    pub hosts: Vec<String>,
    pub revisions: &'a Revisions,
}

/// Splices that turn each reference into `variant`'s package.
pub(super) fn rewrite(
    file: &Path,
    text: &str,
    root: &ast::Root,
    found: &[LlamaRef],
    target: &Target,
    module_file: bool,
    said: &mut Said,
) -> Vec<Splice> {
    let Said {
        notes,
        left,
        not_carried,
    } = said;
    let build = target.build;
    let name = build.package_attr();
    // The overlay is in the host's `pkgs`, not in a second instance such as
    // `unstable`: every qualified reference becomes `pkgs.<variant>`.
    let qualified = |base: &Option<String>| match base {
        Some(_) => format!("pkgs.{name}"),
        None => name.clone(),
    };
    let mut splices = Vec::new();
    for r in found {
        let at = model::location(file, text, r.range.start);
        let needs_pkgs = matches!(r.kind, RefKind::ServiceWithoutPackage)
            || r.base.as_deref().is_some_and(|b| !b.starts_with("pkgs"));
        if needs_pkgs {
            match pkgs_in_scope(text, root, r.range.start, module_file) {
                Ok(add) => splices.extend(add),
                Err(()) => {
                    left.push(Leftover::new(
                        file,
                        text,
                        r,
                        format!("`pkgs` is not in scope here to name {name}"),
                    ));
                    continue;
                }
            }
        }
        match &r.kind {
            RefKind::Bare | RefKind::Select => {
                splices.push(Splice::replace(r.range.clone(), qualified(&r.base)))
            }
            RefKind::Interpolation => {
                splices.push(Splice::replace(r.range.clone(), qualified(&r.base)));
                notes.push(format!("{at}: the string interpolation now uses {name}"));
            }
            RefKind::Override { args, attrs } => {
                splices.push(Splice::replace(r.range.clone(), qualified(&r.base)));
                let uncovered: Vec<&String> = args.iter().filter(|a| !covered(build, a)).collect();
                if !uncovered.is_empty() {
                    not_carried.push(NotCarried::new(
                        uncovered
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        &at,
                        target.hosts.clone(),
                    ));
                    notes.push(format!(
                        "{at}: override arguments not covered by {} were dropped: {}",
                        if build.options.is_empty() && build.base.package_args().is_empty() {
                            format!("upstream's {} build", build.upstream_package())
                        } else {
                            name.clone()
                        },
                        uncovered
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if *attrs {
                    let (carried, dropped) =
                        old_attrs::split(&text[r.range.clone()], build, target.revisions);
                    if !carried.is_empty() {
                        notes.push(format!(
                            "{at}: carried into {name}: {}",
                            how_carried(&carried)
                        ));
                    }
                    if !dropped.is_empty() || carried.is_empty() {
                        not_carried.push(NotCarried::new(
                            if dropped.is_empty() {
                                "an overrideAttrs (nothing recognised)".to_string()
                            } else {
                                dropped.join(", ")
                            },
                            &at,
                            target.hosts.clone(),
                        ));
                        notes.push(format!(
                            "{at}: not carried: {}: an overrideAttrs of nixpkgs' llama-cpp was dropped; re-apply it to {name} if it is still needed",
                            if dropped.is_empty() { "(nothing recognised)".to_string() } else { dropped.join(", ") }
                        ));
                    }
                }
            }
            RefKind::Inherit => splices.push(rewrite_inherit(text, r, &name)),
            RefKind::ServiceWithoutPackage => {
                splices.push(service_package(text, r, &name));
                notes.push(format!("{at}: services.llama-cpp now sets `package` to {name} (its default is nixpkgs' build)"));
            }
            RefKind::CallPackage { target } => {
                match super::call_package::pass_variant(text, root, r, &qualified(&r.base)) {
                    Some(splice) => {
                        splices.push(splice);
                        notes.push(format!(
                            "{at}: {} now gets {name} as its `llama-cpp` (callPackage gave it nixpkgs' build)",
                            target.display()
                        ));
                    }
                    None => left.push(Leftover::new(
                        file,
                        text,
                        r,
                        format!(
                            "it calls {} with callPackage, whose arguments are not a set written here to pass {name} in",
                            target.display()
                        ),
                    )),
                }
            }
        }
    }
    splices
}

/// `GGML_NATIVE=ON (flake-migrate.toml's options); src=b6500 (the input's
/// revision)`: a `src` and its `version` are carried only by the input.
fn how_carried(carried: &[String]) -> String {
    let (by_input, by_options): (Vec<&String>, Vec<&String>) = carried
        .iter()
        .partition(|c| c.starts_with("src") || c.starts_with("version="));
    let list = |items: &[&String]| {
        items
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !by_options.is_empty() {
        parts.push(format!(
            "{} (flake-migrate.toml's options)",
            list(&by_options)
        ));
    }
    if !by_input.is_empty() {
        parts.push(format!("{} (the input's revision)", list(&by_input)));
    }
    parts.join("; ")
}

/// `inherit (pkgs) llama-cpp;` → `llama-cpp = pkgs.llama-cpp-cuda;`, keeping
/// any other names inherited alongside.
fn rewrite_inherit(text: &str, r: &LlamaRef, name: &str) -> Splice {
    let binding = format!("{} = pkgs.{name};", refs::PACKAGE);
    let node_text = &text[r.range.clone()];
    let inner = node_text.trim_end_matches(';').trim_end();
    let words: Vec<&str> = inner
        .rsplit_once(')')
        .map(|(_, names)| names.split_whitespace().collect())
        .unwrap_or_default();
    if words == [refs::PACKAGE] {
        return Splice::replace(r.range.clone(), binding);
    }
    let kept: Vec<&str> = words.into_iter().filter(|w| *w != refs::PACKAGE).collect();
    let head = &inner[..inner.rfind(')').map_or(0, |i| i + 1)];
    Splice::replace(
        r.range.clone(),
        format!("{head} {}; {binding}", kept.join(" ")),
    )
}

/// Adds `package = pkgs.<name>;` beside `services.llama-cpp.enable`: on
/// its own line, or inline when the set is written on one line.
fn service_package(text: &str, r: &LlamaRef, name: &str) -> Splice {
    let entry = &text[r.range.clone()];
    let path = entry.split_once('=').map_or("enable", |(p, _)| p.trim());
    let line = format!(
        "{}package = pkgs.{name};",
        path.strip_suffix("enable").unwrap_or("")
    );
    let end = r.range.end;
    let rest = text[end..].lines().next().unwrap_or("").trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Splice::insert(end, format!(" {line}"));
    }
    edit::after_entry_range(text, r.range.clone(), &[line])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax;

    fn rewritten(src: &str, variant: Variant) -> (String, Vec<String>) {
        rewritten_refs(src, variant, refs::find)
    }

    fn host_refs(root: &ast::Root) -> Vec<LlamaRef> {
        super::super::host_refs(
            &crate::files::WorkTree::new(Path::new("/nonexistent"), Vec::new()),
            Path::new("m.nix"),
            root,
        )
    }

    /// `rewrite` applied to the references `find` picks out of `src`.
    fn rewritten_refs(
        src: &str,
        variant: Variant,
        find: fn(&ast::Root) -> Vec<LlamaRef>,
    ) -> (String, Vec<String>) {
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let found = find(&root);
        let mut said = Said::default();
        let splices = rewrite(
            Path::new("m.nix"),
            src,
            &root,
            &found,
            &Target {
                build: &variant.into(),
                hosts: Vec::new(),
                revisions: &Revisions::default(),
            },
            true,
            &mut said,
        );
        let notes = said.notes;
        (
            edit::apply(Path::new("m.nix"), src, splices).unwrap(),
            notes,
        )
    }

    #[test]
    fn every_form_becomes_the_variant() {
        let (out, notes) = rewritten(
            "{ pkgs, ... }:\nlet\n  llama = (pkgs.llama-cpp.override { cudaSupport = true; rpcSupport = true; });\nin {\n  environment.systemPackages = with pkgs; [\n    llama-cpp # the old one\n    (llama-cpp.override { cudaSupport = true; })\n    llama\n  ];\n  environment.etc.x.text = \"${pkgs.llama-cpp}/bin\";\n  z = { inherit (pkgs) git llama-cpp; };\n}\n",
            Variant::Cuda,
        );
        assert_eq!(
            out,
            "{ pkgs, ... }:\nlet\n  llama = pkgs.llama-cpp-cuda;\nin {\n  environment.systemPackages = with pkgs; [\n    llama-cpp-cuda # the old one\n    llama-cpp-cuda\n    llama\n  ];\n  environment.etc.x.text = \"${pkgs.llama-cpp-cuda}/bin\";\n  z = { inherit (pkgs) git; llama-cpp = pkgs.llama-cpp-cuda; };\n}\n"
        );
        assert!(
            notes.iter().any(|n| n.contains("rpcSupport = true")),
            "{notes:?}"
        );
        assert!(
            !notes.iter().any(|n| n.contains("cudaSupport")),
            "{notes:?}"
        );
    }

    #[test]
    fn an_enabled_service_gets_a_package_and_the_module_gets_pkgs() {
        let (out, _) = rewritten(
            "{ config, ... }:\n{\n  services.llama-cpp.enable = true;\n  services.llama-cpp.model = \"/m.gguf\";\n}\n",
            Variant::Vulkan,
        );
        assert_eq!(
            out,
            "{ config, pkgs, ... }:\n{\n  services.llama-cpp.enable = true;\n  services.llama-cpp.package = pkgs.llama-cpp-vulkan;\n  services.llama-cpp.model = \"/m.gguf\";\n}\n"
        );
        let (out, _) = rewritten(
            "{ pkgs, ... }: { services.llama-cpp = { enable = true; port = 8080; }; }",
            Variant::Cpu,
        );
        assert_eq!(
            out,
            "{ pkgs, ... }: { services.llama-cpp = { enable = true; package = pkgs.llama-cpp-cpu; port = 8080; }; }"
        );
    }

    #[test]
    fn an_overlays_own_prev_llama_cpp_is_left_to_step_0005() {
        let src = "{ pkgs, ... }: {\n  nixpkgs.overlays = [ (final: prev: { llama-cpp-cuda = prev.llama-cpp.override { cudaSupport = true; }; }) ];\n  environment.systemPackages = [ pkgs.llama-cpp ];\n}\n";
        let (out, _) = rewritten_refs(src, Variant::Cuda, host_refs);
        assert!(
            out.contains("prev.llama-cpp.override { cudaSupport = true; }"),
            "{out}"
        );
        assert!(out.contains("[ pkgs.llama-cpp-cuda ]"), "{out}");
    }

    #[test]
    fn a_second_instance_becomes_pkgs_and_the_module_gets_pkgs() {
        let (out, _) = rewritten(
            "{ unstable, ... }: { environment.systemPackages = [ unstable.llama-cpp ]; }",
            Variant::Cuda,
        );
        assert_eq!(
            out,
            "{ unstable, pkgs, ... }: { environment.systemPackages = [ pkgs.llama-cpp-cuda ]; }"
        );
    }
}
