//! Walking a file's syntax tree for the ways a reference is written: a
//! select path (`pkgs.llama-cpp`), a bare name under `with pkgs;`, an
//! `inherit (pkgs) llama-cpp;`, and a nixpkgs instance of its own
//! (`nixpkgs.legacyPackages.${system}.llama-cpp`,
//! `(import inputs.nixpkgs { … }).llama-cpp`).

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::classify::{classify, is_override_attr, override_chain};
use super::instance::own_instance;
use super::scope::with_package_set;
use super::service::services_without_package;
use super::{LlamaRef, PACKAGE, RefKind, is_package_set};
use crate::syntax::{self, end, start};

/// All references to nixpkgs' llama-cpp in a parsed file, in source order.
pub fn find(root: &ast::Root) -> Vec<LlamaRef> {
    let mut refs: Vec<LlamaRef> = walk(root, &|n| n == PACKAGE)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    refs.extend(services_without_package(root));
    refs.sort_by_key(|r| r.range.start);
    refs
}

/// References to a package of nixpkgs whose name `is_name` accepts, in the
/// same forms as [`find`] (without the service), each with the name.
pub fn find_named(root: &ast::Root, is_name: &dyn Fn(&str) -> bool) -> Vec<(String, LlamaRef)> {
    let mut refs = walk(root, is_name);
    refs.sort_by_key(|(_, r)| r.range.start);
    refs
}

fn walk(root: &ast::Root, is_name: &dyn Fn(&str) -> bool) -> Vec<(String, LlamaRef)> {
    let mut refs = Vec::new();
    for node in root.syntax().descendants() {
        match node.kind() {
            SyntaxKind::NODE_SELECT => {
                let Some(select) = ast::Select::cast(node.clone()) else {
                    continue;
                };
                if is_inner_select(&node) {
                    continue;
                }
                let path = syntax::select_path(&ast::Expr::Select(select.clone()));
                let at = path.as_ref().and_then(|p| package_position(p, is_name));
                let (name, base, rest, own) = match (at, own_instance(&select, is_name)) {
                    (Some(at), _) => {
                        let path = path.expect("a path");
                        (
                            path[at].clone(),
                            path[..at].join("."),
                            path[at + 1..].to_vec(),
                            false,
                        )
                    }
                    (None, Some(found)) => (found.name, found.base, found.rest, true),
                    (None, None) => continue,
                };
                let r = if rest.is_empty() {
                    classify(&node, Some(base))
                } else if is_override_attr(&rest[0]) {
                    override_chain(&node, Some(base))
                } else {
                    continue;
                };
                refs.push((
                    name,
                    LlamaRef {
                        own_instance: own,
                        ..r
                    },
                ));
            }
            SyntaxKind::NODE_IDENT => {
                let name = node.text().to_string();
                if !is_name(&name) || !is_expression_ident(&node) {
                    continue;
                }
                if let Some(set) = with_package_set(&node, &name) {
                    // Under `with pkgs;` the bare name stays bare; under
                    // another instance the rewrite must name `pkgs`.
                    let base = (set != "pkgs").then_some(set);
                    let parent = node.parent();
                    let is_override = parent
                        .as_ref()
                        .and_then(|p| ast::Select::cast(p.clone()))
                        .and_then(|s| s.attrpath())
                        .and_then(|p| syntax::attrpath_names(&p))
                        .is_some_and(|names| is_override_attr(&names[0]));
                    if is_override {
                        refs.push((name, override_chain(parent.as_ref().unwrap(), base)));
                    } else {
                        let mut r = classify(&node, None);
                        r.base = base;
                        refs.push((name, r));
                    }
                }
            }
            SyntaxKind::NODE_INHERIT => {
                let Some(inherit) = ast::Inherit::cast(node.clone()) else {
                    continue;
                };
                let from_pkgs = inherit
                    .from()
                    .and_then(|f| f.expr())
                    .and_then(|e| syntax::select_path(&e))
                    .is_some_and(|p| p.len() == 1 && is_package_set(&p[0]));
                let named = inherit
                    .attrs()
                    .filter_map(|a| syntax::attr_name(&a))
                    .find(|n| is_name(n));
                if let (true, Some(name)) = (from_pkgs, named) {
                    refs.push((
                        name,
                        LlamaRef {
                            kind: RefKind::Inherit,
                            range: start(&node)..end(&node),
                            base: inherit
                                .from()
                                .and_then(|f| f.expr())
                                .map(|e| e.syntax().to_string()),
                            own_instance: false,
                        },
                    ));
                }
            }
            _ => {}
        }
    }
    refs
}

/// Where `llama-cpp` stands in a select path when it is a reference:
/// `pkgs.llama-cpp` (1), or `pkgs.unstable.llama-cpp` (2, an overlay's
/// second instance).
fn package_position(path: &[String], is_name: &dyn Fn(&str) -> bool) -> Option<usize> {
    if path.len() >= 2 && is_package_set(&path[0]) && is_name(&path[1]) {
        return Some(1);
    }
    let second_instance = path.len() >= 3
        && path[0] == "pkgs"
        && matches!(path[1].as_str(), "stable" | "unstable" | "master")
        && is_name(&path[2]);
    second_instance.then_some(2)
}

/// A Select that is the `expr` of another Select cannot occur in rnix
/// (chains are flattened), but one used as an Apply's function is the start
/// of an override chain handled by its own match.
fn is_inner_select(node: &SyntaxNode) -> bool {
    node.parent().is_some_and(|p| {
        p.kind() == SyntaxKind::NODE_SELECT && p.first_child().as_ref() == Some(node)
    })
}

/// An identifier used as a value, not an attribute name or a parameter.
fn is_expression_ident(node: &SyntaxNode) -> bool {
    !node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            SyntaxKind::NODE_ATTRPATH
                | SyntaxKind::NODE_PAT_ENTRY
                | SyntaxKind::NODE_PAT_BIND
                | SyntaxKind::NODE_IDENT_PARAM
                | SyntaxKind::NODE_INHERIT
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(RefKind, String)> {
        let root = rnix::Root::parse(src).tree();
        find(&root)
            .into_iter()
            .map(|r| (r.kind, src[r.range].to_string()))
            .collect()
    }

    #[test]
    fn finds_every_form() {
        let src = r#"{ pkgs, ... }: let
  z = { inherit (pkgs) llama-cpp; };
  llama = (pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (o: { });
in {
  environment.systemPackages = with pkgs; [ llama-cpp (llama-cpp.override { vulkanSupport = true; }) pkgs.llama-cpp ];
  systemd.services.x.script = "${pkgs.llama-cpp}/bin/llama-server";
  services.llama-cpp.enable = true;
}"#;
        let found = kinds(src);
        assert_eq!(found.len(), 7, "{found:#?}");
        assert_eq!(
            found[0],
            (RefKind::Inherit, "inherit (pkgs) llama-cpp;".into())
        );
        // A `let`-inherited name shadows `with`: the inherit is the reference.
        let shadowed = "let inherit (pkgs) llama-cpp; in with pkgs; [ llama-cpp ]";
        assert_eq!(kinds(shadowed).len(), 1);
        assert_eq!(
            found[1],
            (
                RefKind::Override {
                    args: vec!["cudaSupport = true".into()],
                    attrs: true
                },
                "(pkgs.llama-cpp.override { cudaSupport = true; }).overrideAttrs (o: { })".into()
            )
        );
        assert_eq!(found[2], (RefKind::Bare, "llama-cpp".into()));
        assert_eq!(
            found[3],
            (
                RefKind::Override {
                    args: vec!["vulkanSupport = true".into()],
                    attrs: false
                },
                "(llama-cpp.override { vulkanSupport = true; })".into()
            )
        );
        assert_eq!(found[4], (RefKind::Select, "pkgs.llama-cpp".into()));
        assert_eq!(found[5], (RefKind::Interpolation, "pkgs.llama-cpp".into()));
        assert_eq!(found[6].0, RefKind::ServiceWithoutPackage);
    }

    #[test]
    fn second_nixpkgs_instances_are_references_too() {
        let src = "{ pkgs, unstable, pkgs-unstable, ... }: { a = [ unstable.llama-cpp pkgs-unstable.llama-cpp pkgs.unstable.llama-cpp ]; b = with unstable; [ llama-cpp ]; }";
        let found: Vec<(Option<String>, String)> = find(&rnix::Root::parse(src).tree())
            .into_iter()
            .map(|r| (r.base, src[r.range].to_string()))
            .collect();
        assert_eq!(
            found,
            vec![
                (Some("unstable".into()), "unstable.llama-cpp".into()),
                (
                    Some("pkgs-unstable".into()),
                    "pkgs-unstable.llama-cpp".into()
                ),
                (
                    Some("pkgs.unstable".into()),
                    "pkgs.unstable.llama-cpp".into()
                ),
                (Some("unstable".into()), "llama-cpp".into()),
            ]
        );
    }

    #[test]
    fn look_alikes_are_not_references() {
        let src = r#"{ pkgs, config, inputs, self, ... }: {
  systemd.services.llama-cpp.serviceConfig.Nice = 5;
  environment.systemPackages = [ pkgs.myns.llama-cpp self.packages.x86_64-linux.llama-cpp pkgs.llama-cpp-cuda inputs.llama-cpp.packages.x86_64-linux.default ];
  environment.etc."llama-cpp".text = "llama-cpp"; # pkgs.llama-cpp in a comment
  x = config.services.llama-cpp.enable;
  services.llama-cpp = { enable = true; package = pkgs.llama-cpp-vulkan; };
  y = let llama-cpp = 1; in with pkgs; [ llama-cpp ];
}"#;
        assert_eq!(kinds(src), vec![]);
    }

    #[test]
    fn nested_service_enable_without_package_is_found() {
        let src = "{ lib, ... }: { config = lib.mkIf true { services = { llama-cpp = { enable = true; model = \"/m\"; }; }; }; }";
        let found = kinds(src);
        assert_eq!(
            found,
            vec![(RefKind::ServiceWithoutPackage, "enable = true;".into())]
        );
    }
}
