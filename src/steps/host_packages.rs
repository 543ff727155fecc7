//! 0004: in every module a host imports, references to nixpkgs' llama-cpp
//! become the host's variant (`pkgs.llama-cpp-cuda`). A module shared by
//! hosts of different variants is refused, with a way out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rnix::ast;
use rowan::ast::AstNode;

use super::{Changeset, Context, Plan};
use crate::config::Variant;
use crate::edit::{self, Splice};
use crate::error::Result;
use crate::model::{self, Model};
use crate::refs::{self, LlamaRef, RefKind};
use crate::syntax;

pub fn plan(ctx: &Context) -> Result<Plan> {
    let model = Model::read(ctx.files)?;
    if let Some(missing) = super::missing_host(ctx.config, &model) {
        return Ok(missing);
    }
    let skip = crate::old_override::files(ctx.files, ctx.config)?;
    let mut notes = Vec::new();
    let mut changes = Changeset::default();
    let file_hosts = model.file_hosts();

    // Module files: every file of a configured host.
    let mut owners: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (file, hosts) in &file_hosts {
        if hosts.iter().any(|h| ctx.config.hosts.contains_key(h)) && !skip.contains(file) {
            owners.insert(file.clone(), hosts.clone());
        }
    }
    for (file, hosts) in &owners {
        let Some(text) = ctx.files.read(file)? else {
            continue;
        };
        let root = syntax::parse(file, &text)?;
        let found = host_refs(&root);
        if found.is_empty() {
            continue;
        }
        let variants: Vec<(String, Option<Variant>)> = hosts
            .iter()
            .map(|h| (h.clone(), ctx.config.hosts.get(h).copied()))
            .collect();
        let first = variants[0].1;
        if variants.iter().any(|(_, v)| *v != first) {
            return Ok(shared_conflict(file, &text, &found[0], &variants));
        }
        // Home-manager has its own pkgs without the system's overlays
        // unless `useGlobalPkgs`: the variant would not exist there.
        if let Some(host) = hosts
            .iter()
            .filter_map(|h| model.host(h))
            .find(|h| h.home_files.contains(file) && !h.home_manager_global_pkgs)
        {
            return Ok(Plan::blocked(
                format!(
                    "{}: host {}'s home-manager user uses nixpkgs' llama-cpp, but home-manager.useGlobalPkgs is not true, so the overlay does not reach it",
                    model::location(file, &text, found[0].range.start),
                    host.name
                ),
                format!(
                    "set `home-manager.useGlobalPkgs = true;` for {} (or add the overlay to that user's `nixpkgs.overlays`), then run `flake-migrate up`",
                    host.name
                ),
            ));
        }
        let variant = first.expect("a configured host owns every file here");
        let splices = rewrite(file, &text, &root, &found, variant, true, &mut notes);
        changes
            .files
            .insert(file.clone(), Some(edit::apply(file, &text, splices)?));
    }

    // Inline modules in the files that define hosts: by position.
    for def_file in &model.flake_files {
        let Some(text) = ctx.files.read(def_file)? else {
            continue;
        };
        let root = syntax::parse(def_file, &text)?;
        let mut by_variant: BTreeMap<Variant, Vec<LlamaRef>> = BTreeMap::new();
        for r in host_refs(&root) {
            let hosts = model.hosts_defined_at(def_file, r.range.start);
            let variants: Vec<Option<Variant>> = hosts
                .iter()
                .map(|h| ctx.config.hosts.get(&h.name).copied())
                .collect();
            match variants.first() {
                Some(Some(v)) if variants.iter().all(|x| *x == Some(*v)) => {
                    by_variant.entry(*v).or_default().push(r)
                }
                Some(_) => {} // a host without a variant: untouched
                None => notes.push(format!(
                    "{}: a reference to nixpkgs' llama-cpp outside any host definition was left as is",
                    model::location(def_file, &text, r.range.start)
                )),
            }
        }
        if by_variant.is_empty() {
            continue;
        }
        let mut splices = Vec::new();
        for (variant, found) in by_variant {
            splices.extend(rewrite(
                def_file, &text, &root, &found, variant, false, &mut notes,
            ));
        }
        changes.files.insert(
            def_file.clone(),
            Some(edit::apply(def_file, &text, splices)?),
        );
    }

    if changes.files.is_empty() {
        return Ok(Plan::Satisfied);
    }
    for u in &model.unresolved {
        notes.push(format!(
            "{}:{}:{}: {} (not followed; check it by hand)",
            u.file.display(),
            u.line,
            u.column,
            u.what
        ));
    }
    changes.notes = notes;
    Ok(Plan::Changes(changes))
}

fn shared_conflict(
    file: &Path,
    text: &str,
    first: &LlamaRef,
    hosts: &[(String, Option<Variant>)],
) -> Plan {
    let list = hosts
        .iter()
        .map(|(h, v)| format!("{h} ({})", v.map_or("no variant".into(), |v| v.to_string())))
        .collect::<Vec<_>>()
        .join(", ");
    Plan::blocked(
        format!(
            "{}: this module references nixpkgs' llama-cpp and is shared by hosts of different variants: {list}",
            model::location(file, text, first.range.start)
        ),
        format!(
            "move the reference out of {} into each host's own module (for example `environment.systemPackages = [ pkgs.llama-cpp-<variant> ];` there), or give those hosts one variant in flake-migrate.toml; then run `flake-migrate up` again",
            file.display()
        ),
    )
}

/// Splices that turn each reference into `variant`'s package.
fn rewrite(
    file: &Path,
    text: &str,
    root: &ast::Root,
    found: &[LlamaRef],
    variant: Variant,
    module_file: bool,
    notes: &mut Vec<String>,
) -> Vec<Splice> {
    let name = variant.package_attr();
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
                    notes.push(format!(
                        "{at}: left as is: `pkgs` is not in scope here to name {name}; change it by hand"
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
                let uncovered: Vec<&String> =
                    args.iter().filter(|a| !covered(variant, a)).collect();
                if !uncovered.is_empty() {
                    notes.push(format!(
                        "{at}: override arguments not covered by upstream's {} build were dropped: {}",
                        variant.upstream_package(),
                        uncovered.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                if *attrs {
                    notes.push(format!("{at}: an overrideAttrs of nixpkgs' llama-cpp was dropped; re-apply it to {name} if it is still needed"));
                }
            }
            RefKind::Inherit => splices.push(rewrite_inherit(text, r, &name)),
            RefKind::ServiceWithoutPackage => {
                splices.push(service_package(text, r, &name));
                notes.push(format!("{at}: services.llama-cpp now sets `package` to {name} (its default is nixpkgs' build)"));
            }
        }
    }
    splices
}

/// Whether an override argument (`name = value`) is what the variant
/// already does upstream.
fn covered(variant: Variant, arg: &str) -> bool {
    let Some((name, value)) = arg.split_once(" = ") else {
        return false;
    };
    let flag = |v: Variant| match v {
        Variant::Cuda => Some("cudaSupport"),
        Variant::Vulkan => Some("vulkanSupport"),
        Variant::Rocm => Some("rocmSupport"),
        Variant::Cpu => None,
    };
    let value = value.trim();
    if Some(name) == flag(variant) {
        return value == "true";
    }
    let other_flag = Variant::ALL
        .iter()
        .any(|v| *v != variant && flag(*v) == Some(name));
    (other_flag && value == "false") || (name == "blasSupport" && value == "true")
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

/// The references 0004 rewrites: not an overlay's own `prev.llama-cpp`
/// (an old override, which 0005 removes).
fn host_refs(root: &ast::Root) -> Vec<LlamaRef> {
    refs::find(root)
        .into_iter()
        .filter(|r| !r.in_overlay())
        .collect()
}

/// Code at `offset` that will say `pkgs.…` needs `pkgs` bound: by the
/// innermost module function around it (added to its formals when
/// missing), or, for a module file that is a plain set, a new
/// `{ pkgs, ... }:`. `Err` where there is no module function to add it to.
fn pkgs_in_scope(
    text: &str,
    root: &ast::Root,
    offset: usize,
    module_file: bool,
) -> Result<Option<Splice>, ()> {
    let token = root
        .syntax()
        .token_at_offset((offset as u32).into())
        .right_biased()
        .ok_or(())?;
    let pattern = token
        .parent_ancestors()
        .filter_map(ast::Lambda::cast)
        .find_map(|l| match l.param()? {
            ast::Param::Pattern(p) => Some(p),
            ast::Param::IdentParam(_) => None,
        });
    match (pattern, root.expr().map(syntax::unparen)) {
        (Some(p), _) => Ok(edit::add_formal(text, &p, "pkgs")),
        (None, Some(ast::Expr::AttrSet(set))) if module_file => Ok(Some(Splice::insert(
            syntax::start(set.syntax()),
            "{ pkgs, ... }:\n",
        ))),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(src: &str, variant: Variant) -> (String, Vec<String>) {
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let found = refs::find(&root);
        let mut notes = Vec::new();
        let splices = rewrite(
            Path::new("m.nix"),
            src,
            &root,
            &found,
            variant,
            true,
            &mut notes,
        );
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
        let root = syntax::parse(Path::new("m.nix"), src).unwrap();
        let found = host_refs(&root);
        let mut notes = Vec::new();
        let splices = rewrite(
            Path::new("m.nix"),
            src,
            &root,
            &found,
            Variant::Cuda,
            true,
            &mut notes,
        );
        let out = edit::apply(Path::new("m.nix"), src, splices).unwrap();
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

    #[test]
    fn coverage_of_override_arguments() {
        assert!(covered(Variant::Cuda, "cudaSupport = true"));
        assert!(covered(Variant::Vulkan, "cudaSupport = false"));
        assert!(!covered(Variant::Cpu, "blasSupport = false"));
        assert!(!covered(Variant::Cuda, "rpcSupport = true"));
    }
}
